"""A page from the hub checked before any instance sees it: its ``Date`` judged, its rows validated.

Done once per page, in the fetch thread, for every instance of a group.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from syncd.core.hubclock import DateCheck, check_date, future_stamp
from syncd.core.models import HubRow, Page, Position, RawRow
from syncd.core.resources import parse_row
from syncd.core.results import Rejection
from syncd.core.timestamps import parse_rfc3339
from syncd.errors import RowRejected

__all__ = ["CheckedPage", "check_page", "row_position"]


@dataclass(frozen=True, slots=True)
class CheckedPage:
    """``page`` with its ``Date`` replaced by None when not trusted, split into valid and rejected rows.

    ``last`` is the keyset position of the page's last placeable row (None
    when no row has one); ``date`` is the verdict on the hub's ``Date``.
    """

    page: Page
    valid: list[HubRow]
    rejected: list[Rejection]
    last: Position | None
    date: DateCheck


def row_position(raw: RawRow) -> Position | None:
    """The keyset position of a raw row, even when other fields are invalid."""
    try:
        stamp = raw["updated_at"]
        return Position(parse_rfc3339(stamp), str(stamp), uuid.UUID(str(raw["id"])))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def check_page(page: Page, *, now: datetime, tolerance: timedelta) -> CheckedPage:
    """Judge the page's ``Date`` against ``now`` (:mod:`syncd.core.hubclock`) and validate each row.

    Rows stamped later than the hub's clock allows are rejected like invalid
    ones; every row, rejected or not, still counts for the page's position, so
    pagination moves past it.
    """
    date = check_date(page.hub_date, now=now, tolerance=tolerance)
    if date.trusted is None and page.hub_date is not None:
        page = replace(page, hub_date=None)
    valid: list[HubRow] = []
    rejected: list[Rejection] = []
    not_after = date.rows_not_after
    for raw in page.rows:
        try:
            row = parse_row(page.resource, raw)
        except RowRejected as exc:
            rejected.append(Rejection(raw, exc.reason))
            continue
        if row.updated_at > not_after:
            rejected.append(Rejection(raw, future_stamp(row.updated_at, date), stamp_trusted=False))
            continue
        valid.append(row)
    last = next((p for p in map(row_position, reversed(page.rows)) if p is not None), None)
    return CheckedPage(page, valid, rejected, last, date)
