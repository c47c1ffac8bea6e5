"""Pages grouped in one open transaction, with the cursors they move and what they did.

:class:`syncd.store.instance.InstanceStore` lets consecutive pages share a
transaction. The cursor of each resource is written once, the last page's,
just before the commit, so it always moves together with the rows it covers;
a pull that read up to the hub's empty page is recorded as in step in the same
transaction (:mod:`syncd.store.freshness`). What the pages did is reported only
once it is committed.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime

from sqlalchemy import Connection, RootTransaction
from sqlalchemy.exc import SQLAlchemyError

from syncd.core.models import Resource
from syncd.core.results import ApplyResult
from syncd.core.watermark import CursorState
from syncd.store.cursors import save_cursor
from syncd.store.freshness import PullStart, record_pull

__all__ = ["PageBatch"]


@dataclasses.dataclass(slots=True)
class PageBatch:
    """The pages applied in ``transaction`` since it began at ``started`` (a monotonic reading)."""

    transaction: RootTransaction
    started: float
    rows: int = 0
    """Rows applied or rejected in it so far."""
    done: ApplyResult = dataclasses.field(default_factory=ApplyResult)
    cursors: dict[Resource, tuple[CursorState, datetime | None, datetime]] = dataclasses.field(
        default_factory=dict
    )
    """Each resource's cursor after its last page: state, the page's hub ``Date``, the local time."""

    def add(
        self,
        resource: Resource,
        result: ApplyResult,
        rows: int,
        state: CursorState,
        hub_date: datetime | None,
        now: datetime,
    ) -> None:
        """Count one applied page and remember the cursor it leads to."""
        self.done.merge(result)
        self.rows += rows
        self.cursors[resource] = (state, hub_date, now)

    def commit(
        self, conn: Connection, pull_starts: dict[Resource, PullStart], *, replica: str, hub: str
    ) -> ApplyResult:
        """Write the cursors (and completed pulls, taken from ``pull_starts``), commit; what it did."""
        for resource, (state, hub_date, now) in self.cursors.items():
            save_cursor(conn, resource, state, hub_date=hub_date, now=now)
            start = pull_starts.get(resource)
            if start is not None and state.pass_pos is None and state.complete_before is not None:
                # the pull read up to the hub's empty page: the instance is in step as of its start
                record_pull(conn, resource, start, finished_at=now, replica=replica, hub=hub)
                del pull_starts[resource]
        self.transaction.commit()
        return self.done

    def rollback(self) -> None:
        """Roll back (best effort: the connection may be what failed)."""
        with contextlib.suppress(SQLAlchemyError):
            self.transaction.rollback()
