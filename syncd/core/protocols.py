"""The two sides the synchroniser drives: a :class:`Source` of hub pages and a :class:`Sink` per instance.

The engine (:mod:`syncd.core.sync`) knows them only through these protocols;
the hub client and the instance store implement them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from syncd.core.listing import KeyListing
from syncd.core.models import HubRow, Page, Position, RawRow, Resource
from syncd.core.results import ApplyResult, FinishState, Rejection
from syncd.core.watermark import CursorState

__all__ = ["Sink", "Source"]


class Source(Protocol):
    def fetch_page(
        self, resource: Resource, *, limit: int, after: Position | None = None, since: str | None = None
    ) -> Page: ...

    def iter_keys(self, resource: Resource, *, limit: int) -> Iterator[list[RawRow]]: ...

    @property
    def requests_sent(self) -> int: ...


class Sink(Protocol):
    name: str

    def cursor(self, resource: Resource) -> CursorState: ...

    def apply_page(
        self,
        resource: Resource,
        rows: Sequence[HubRow],
        rejected: list[Rejection],
        state: CursorState,
        hub_date: datetime | None,
    ) -> ApplyResult:
        """Apply a page with its cursor; returns the counts of what this call committed."""

    def commit(self) -> ApplyResult:
        """Commit pages applied but not yet committed (``apply_page`` may group them).

        ``apply_page`` and ``commit`` return what they committed, so counts never
        include rows that a failure rolled back.
        """

    def retry_parked(self, resource: Resource) -> ApplyResult: ...

    def reconcile(self, resource: Resource, listing: KeyListing) -> ApplyResult: ...

    def finish(self, hub_date: datetime | None) -> FinishState: ...

    def record_failure(self, message: str) -> None: ...
