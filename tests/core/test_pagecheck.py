"""A page checked once before any instance sees it: Date judged, rows split, the position kept."""

from __future__ import annotations

import uuid
from datetime import timedelta

from syncd.core.models import Page, Resource
from syncd.core.pagecheck import check_page, row_position
from tests.support.builders import T0, space_row, stamp

SKEW = timedelta(seconds=300)


def test_valid_rows_pass_and_the_position_is_the_last_row() -> None:
    page = Page(Resource.SPACE, [space_row(1, at=1), space_row(2, at=2)], hub_date=T0 + timedelta(seconds=5))
    checked = check_page(page, now=T0, tolerance=SKEW)
    assert [str(r.id) for r in checked.valid] == [str(uuid.UUID(int=1)), str(uuid.UUID(int=2))]
    assert checked.rejected == []
    assert checked.last is not None and checked.last.id == uuid.UUID(int=2)
    assert checked.page.hub_date == T0 + timedelta(seconds=5)
    assert checked.date.trusted == T0 + timedelta(seconds=5)


def test_an_invalid_row_is_rejected_but_still_moves_the_position() -> None:
    bad = space_row(2, at=2) | {"name": None}
    checked = check_page(Page(Resource.SPACE, [space_row(1, at=1), bad], hub_date=T0), now=T0, tolerance=SKEW)
    assert [r.payload for r in checked.rejected] == [bad]
    assert len(checked.valid) == 1
    assert checked.last is not None and checked.last.id == uuid.UUID(int=2)


def test_a_date_too_far_ahead_is_dropped_and_rows_are_judged_by_the_local_clock() -> None:
    ahead = T0 + timedelta(hours=2)
    future = space_row(2, at=3600)  # an hour ahead of the local clock: the hub cannot have written it yet
    checked = check_page(Page(Resource.SPACE, [space_row(1), future], hub_date=ahead), now=T0, tolerance=SKEW)
    assert checked.page.hub_date is None
    assert checked.date.ahead_seconds == 7200.0
    (rejection,) = checked.rejected
    assert rejection.payload == future and not rejection.stamp_trusted
    assert "later than the local clock" in rejection.reason


def test_a_page_without_a_placeable_row_has_no_position() -> None:
    rows = [{"id": "not-a-uuid", "updated_at": stamp(1)}, {"id": str(uuid.UUID(int=3))}]
    checked = check_page(Page(Resource.SPACE, rows, hub_date=T0), now=T0, tolerance=SKEW)
    assert checked.last is None
    assert len(checked.rejected) == 2
    assert [row_position(r) for r in rows] == [None, None]
