"""Pages grouped in one open transaction, with the cursors they move and what they did.

:class:`syncd.store.instance.InstanceStore` lets consecutive pages share a
transaction. The cursor of each resource is written once, the last page's,
just before the commit, so it always moves together with the rows it covers;
a pull that read up to the hub's empty page is recorded as in step in the same
transaction (:mod:`syncd.store.freshness`). What the pages did is reported only
once it is committed.

Consecutive pages of one resource are also applied together (in a small
group: :mod:`syncd.store.share`), once they hold :data:`APPLY_ROWS` rows, or
before the commit, or when a page of another resource comes: a page's lookups,
id allocation and bulk writes are then a handful of statements for four
thousand rows rather than for each thousand (every statement is a round trip,
or a step that gives up the GIL and waits to take it back). Rows of the pages
held are applied in the order they were served, so the last version served of
a row is the one applied, as page by page; a rejected version that a later
page serves valid is not quarantined (page by page, that page would release
it).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RootTransaction
from sqlalchemy.exc import SQLAlchemyError

from syncd.core.models import HubRow, Resource
from syncd.core.results import ApplyResult, Rejection
from syncd.core.rows import row_key
from syncd.core.watermark import CursorState
from syncd.store.context import ApplyContext
from syncd.store.cursors import save_cursor
from syncd.store.freshness import PullStart, record_pull
from syncd.store.parking import quarantine_rows
from syncd.store.resources import apply_rows

__all__ = ["APPLY_ROWS", "PageBatch"]

APPLY_ROWS = 4000
"""Held pages are applied together once they hold this many rows (valid and rejected), in an
instance with a roomy memory share (:mod:`syncd.store.share`)."""


@dataclasses.dataclass(slots=True)
class _Held:
    """A page taken but not applied yet."""

    resource: Resource
    rows: Sequence[HubRow]
    rejected: list[Rejection]
    state: CursorState
    hub_date: datetime | None
    now: datetime


@dataclasses.dataclass(slots=True)
class PageBatch:
    """The pages applied in ``transaction`` since it began at ``started`` (a monotonic reading)."""

    transaction: RootTransaction
    started: float
    apply_rows: int = APPLY_ROWS
    """Held pages are applied once they hold this many rows (0: every page as it comes)."""
    rows: int = 0
    """Rows applied or rejected in it so far."""
    done: ApplyResult = dataclasses.field(default_factory=ApplyResult)
    cursors: dict[Resource, tuple[CursorState, datetime | None, datetime]] = dataclasses.field(
        default_factory=dict
    )
    """Each resource's cursor after its last page: state, the page's hub ``Date``, the local time."""
    held: list[_Held] = dataclasses.field(default_factory=list)
    """Pages of one resource taken (their rows counted in :attr:`rows`) but not applied yet."""
    held_rows: int = 0

    def take(
        self,
        conn: Connection,
        ctx: ApplyContext,
        resource: Resource,
        rows: Sequence[HubRow],
        rejected: list[Rejection],
        state: CursorState,
        hub_date: datetime | None,
    ) -> None:
        """Take one page: held, and applied with the pages held before it once they are enough."""
        if self.held and self.held[0].resource is not resource:
            self.apply_held(conn, ctx)
        self.held.append(_Held(resource, rows, rejected, state, hub_date, ctx.now))
        self.held_rows += len(rows) + len(rejected)
        self.rows += len(rows) + len(rejected)
        if self.held_rows >= self.apply_rows:
            self.apply_held(conn, ctx)

    def apply_held(self, conn: Connection, ctx: ApplyContext) -> None:
        """Apply the pages held, all in one go, and move their resource's cursor past the last one."""
        if not self.held:
            return
        held, self.held, self.held_rows = self.held, [], 0
        resource, last = held[0].resource, held[-1]
        rows = [row for page in held for row in page.rows]
        result = apply_rows(conn, resource, rows, ctx)
        rejected = _not_superseded(held)
        quarantine_rows(conn, resource, rejected, ctx.now)
        result.add(resource, "rejected", len(rejected))
        self.done.merge(result)
        self.cursors[resource] = (last.state, last.hub_date, last.now)

    def commit(
        self, conn: Connection, pull_starts: dict[Resource, PullStart], *, replica: str, hub: str
    ) -> ApplyResult:
        """Write the cursors (and completed pulls, taken from ``pull_starts``), commit; what it did.

        The pages held must have been applied (:meth:`apply_held`).
        """
        assert not self.held
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


def _not_superseded(held: list[_Held]) -> list[Rejection]:
    """The held pages' rejected rows, but those a later held page serves as a valid row."""
    kept: list[Rejection] = []
    later: set[str] = set()  # keys of valid rows served after the page being looked at
    for page in reversed(held):
        kept[:0] = [r for r in page.rejected if row_key(r.payload) not in later]
        later.update(row.key for row in page.rows)
    return kept
