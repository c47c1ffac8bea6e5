"""Cursor arithmetic for late commits: where a pass starts and how far it proves completeness.

The hub may commit a row up to 60 seconds after its ``updated_at`` (by the
hub's clock). A page read when the hub's ``Date`` was ``D`` is therefore
complete for every stamp earlier than ``D - lookback``; later stamps in the
page's key range may still arrive. Each instance keeps, per resource:

* ``complete_before`` (C): every row stamped before C has been applied;
* a pass in progress: the last position applied (``pass_pos``) and
  ``pass_floor``, the earliest stamp the pages read so far may have missed.

A pass starts at the position of an unfinished pass, else at ``updated_at >=
C``, else at the beginning. When it ends on an empty page, C moves to the
earliest stamp that may still be missing. So a quiet hub costs one request per
resource, and a bulk import is re-read only while it is inside the window.
Only the hub's clock is used; the local clock never enters a cursor. It only
decides whether a response's ``Date`` is trusted at all (:mod:`syncd.core.hubclock`):
one that is not reaches the tracker as no ``Date``, which proves nothing past
the rows actually read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from syncd.core.models import Position

__all__ = ["CursorState", "PassTracker", "Start", "earliest_start"]

# The Date header has one-second resolution and is written after the query's
# snapshot was taken: treat the hub's clock as one second earlier than it says.
_DATE_SLACK = timedelta(seconds=1)
_NIL = uuid.UUID(int=0)
_MIN = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CursorState:
    """One instance's cursor for one resource (see the module docstring)."""

    complete_before: datetime | None = None
    pass_pos: Position | None = None
    pass_floor: datetime | None = None

    @property
    def start(self) -> Start:
        if self.pass_pos is not None:
            return Start(after=self.pass_pos)
        if self.complete_before is not None:
            return Start(since=self.complete_before)
        return Start()


@dataclass(frozen=True, slots=True)
class Start:
    """Where a pass begins: after a position, at a stamp (inclusive), or at the beginning."""

    after: Position | None = None
    since: datetime | None = None

    def sort_key(self) -> tuple[int, datetime, int, uuid.UUID]:
        if self.after is not None:
            return (1, self.after.updated_at, 1, self.after.id)
        if self.since is not None:
            return (1, self.since, 0, _NIL)
        return (0, _MIN, 0, _NIL)

    @property
    def region_start(self) -> datetime | None:
        """The smallest stamp the first page can return (None: unbounded)."""
        if self.after is not None:
            return self.after.updated_at
        return self.since


def earliest_start(states: list[CursorState]) -> Start:
    """The start that covers every given cursor: a group's pages serve all its instances."""
    return min((s.start for s in states), key=Start.sort_key)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


@dataclass(slots=True)
class PassTracker:
    """Follows one pass of pages and computes the floor of possibly missed stamps."""

    start: Start
    lookback: timedelta
    floor: datetime | None = None
    position: Position | None = None

    def __post_init__(self) -> None:
        self.position = self.start.after

    @property
    def _region_start(self) -> datetime | None:
        return self.position.updated_at if self.position is not None else self.start.region_start

    def _safe_before(self, hub_date: datetime | None) -> datetime | None:
        return None if hub_date is None else hub_date - _DATE_SLACK - self.lookback

    def page(self, last: Position, hub_date: datetime | None) -> None:
        """A non-empty page ending at ``last`` was read at ``hub_date``."""
        region_start = self._region_start
        safe = self._safe_before(hub_date)
        if safe is None:
            candidate = region_start if region_start is not None else _MIN
            self.floor = _earlier(self.floor, candidate)
        elif last.updated_at >= safe:
            self.floor = _earlier(self.floor, _later(region_start, safe))
        self.position = last

    def finish(self, hub_date: datetime | None) -> datetime | None:
        """An empty page was read at ``hub_date``: the new ``complete_before`` (None: unknown)."""
        region_start = self._region_start
        safe = self._safe_before(hub_date)
        end = region_start if safe is None else _later(region_start, safe)
        return _earlier(self.floor, end)

    def state_for(
        self, before: CursorState, *, finished_at: datetime | None = None, done: bool = False
    ) -> CursorState:
        """The cursor an instance that followed this pass now has.

        ``before`` is that instance's cursor when the pass began: what it already
        had before the pass's start stays valid, and an unfinished pass of its own
        keeps its floor.
        """
        own_floor = before.pass_floor if before.pass_pos is not None else None
        if not done:
            floor = _earlier(own_floor, self.floor)
            return replace(before, pass_pos=self.position, pass_floor=floor)
        new_complete = _earlier(own_floor, finished_at)
        if new_complete is None:
            complete = before.complete_before
        elif before.complete_before is None:
            complete = new_complete
        else:
            complete = max(before.complete_before, new_complete)
        return CursorState(complete_before=complete, pass_pos=None, pass_floor=None)
