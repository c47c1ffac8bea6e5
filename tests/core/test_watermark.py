"""The late-commit cursor arithmetic: what a pass proves complete, and where the next one starts."""

import uuid
from datetime import UTC, datetime, timedelta

from syncd.core.models import Position
from syncd.core.watermark import CursorState, PassTracker, Start, earliest_start

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
L = timedelta(seconds=120)


def pos(seconds: float, n: int = 1) -> Position:
    moment = T + timedelta(seconds=seconds)
    return Position(moment, moment.isoformat(), uuid.UUID(int=n))


def test_a_quiet_pass_proves_everything_older_than_the_window() -> None:
    tracker = PassTracker(Start(), L)
    tracker.page(pos(0), hub_date=T + timedelta(hours=1))
    done = tracker.finish(hub_date=T + timedelta(hours=1))
    # one second of slack for the Date header's resolution
    assert done == T + timedelta(hours=1) - L - timedelta(seconds=1)


def test_rows_read_inside_the_window_keep_the_floor_at_their_region() -> None:
    tracker = PassTracker(Start(since=T), L)
    # a page whose rows are younger than Date - lookback: a late row could still land among them
    tracker.page(pos(50), hub_date=T + timedelta(seconds=60))
    tracker.page(pos(55), hub_date=T + timedelta(seconds=61))
    done = tracker.finish(hub_date=T + timedelta(seconds=62))
    assert done == T  # the whole region from the start must be re-read next time


def test_bulk_import_is_reread_only_while_inside_the_window() -> None:
    # 5000 rows stamped over 60 s, first read 61 s later: all possibly incomplete
    first = PassTracker(Start(), L)
    for i in range(5):
        first.page(pos(i * 12, i), hub_date=T + timedelta(seconds=61 + i))
    c1 = first.finish(hub_date=T + timedelta(seconds=70))
    assert c1 is not None and c1 <= T
    # re-read once the hub clock is past the window: the floor moves beyond the import
    second = PassTracker(Start(since=c1), L)
    for i in range(5):
        second.page(pos(i * 12, i), hub_date=T + timedelta(seconds=400))
    c2 = second.finish(hub_date=T + timedelta(seconds=400))
    assert c2 is not None and c2 > T + timedelta(seconds=48)
    # and a third pass from there is one empty page
    third = PassTracker(Start(since=c2), L)
    assert third.finish(hub_date=T + timedelta(seconds=460)) == T + timedelta(seconds=460) - L - timedelta(
        seconds=1
    )


def test_without_a_date_header_nothing_is_proven_beyond_the_start() -> None:
    tracker = PassTracker(Start(since=T), L)
    tracker.page(pos(10), hub_date=None)
    assert tracker.finish(hub_date=None) == T


def test_an_unfinished_pass_is_resumed_and_keeps_its_floor() -> None:
    before = CursorState(complete_before=T, pass_pos=pos(30), pass_floor=T + timedelta(seconds=5))
    assert before.start == Start(after=pos(30))
    tracker = PassTracker(before.start, L)
    tracker.page(pos(40), hub_date=T + timedelta(hours=1))
    mid = tracker.state_for(before)
    assert mid.pass_pos == pos(40) and mid.pass_floor == T + timedelta(seconds=5)
    final = tracker.state_for(before, finished_at=T + timedelta(minutes=50), done=True)
    assert final == CursorState(complete_before=T + timedelta(seconds=5))


def test_complete_before_never_moves_backwards() -> None:
    before = CursorState(complete_before=T + timedelta(hours=2))
    tracker = PassTracker(Start(since=T), L)
    assert tracker.state_for(before, finished_at=T, done=True).complete_before == T + timedelta(hours=2)


def test_the_group_starts_where_the_least_advanced_instance_stands() -> None:
    fresh = CursorState()
    current = CursorState(complete_before=T + timedelta(hours=1))
    lagging = CursorState(complete_before=T)
    resuming = CursorState(complete_before=T, pass_pos=pos(30))
    assert earliest_start([current, lagging]) == Start(since=T)
    assert earliest_start([current, fresh]) == Start()
    assert earliest_start([current, resuming]) == Start(after=pos(30))
    assert earliest_start([lagging, resuming]) == Start(since=T)
