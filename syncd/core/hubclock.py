"""How far the hub's clock is trusted: its ``Date`` header and the ``updated_at`` stamps it serves.

Cursors move with the hub's ``Date`` (see :mod:`syncd.core.watermark`), so one
response dated in the far future would move them past every row the hub will
ever stamp. The hub's clock is therefore checked against the local one:

* a ``Date`` later than the local clock by more than ``tolerance`` is not
  trusted: the page is handled as if it had no ``Date``, which advances no
  watermark past the rows actually read, and the skew is reported;
* a row stamped later than the trusted clock (the ``Date`` when it is
  trusted, else the local clock) by more than ``tolerance`` is rejected to
  quarantine: its stamp is one the hub cannot have written yet.

A ``Date`` behind the local clock is trusted: it only makes cursors more
cautious. Pure functions; the local time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.core.timestamps import format_canonical

__all__ = ["DateCheck", "check_date", "future_stamp"]


@dataclass(frozen=True, slots=True)
class DateCheck:
    """The verdict on one response's ``Date``.

    ``trusted`` is the ``Date`` to use (None when absent or not trusted);
    ``ahead_seconds`` is how far an untrusted ``Date`` was ahead of the local
    clock; ``rows_not_after`` is the latest ``updated_at`` a row may carry.
    """

    trusted: datetime | None
    ahead_seconds: float | None
    rows_not_after: datetime
    reference: str  # what rows_not_after was measured from, for the rejection reason


def check_date(hub_date: datetime | None, *, now: datetime, tolerance: timedelta) -> DateCheck:
    """Whether to trust ``hub_date`` given the local clock ``now``."""
    if hub_date is not None and hub_date - now > tolerance:
        ahead = (hub_date - now).total_seconds()
        return DateCheck(None, ahead, now + tolerance, "the local clock")
    if hub_date is None:
        return DateCheck(None, None, now + tolerance, "the local clock")
    return DateCheck(hub_date, None, hub_date + tolerance, "the hub's Date")


def future_stamp(stamp: datetime, check: DateCheck) -> str:
    """The rejection reason of a row stamped ``stamp``, later than ``check.rows_not_after``.

    It names no clock reading, so the same row version keeps the same reason from run to run.
    """
    return (
        f"updated_at: {format_canonical(stamp)} is later than {check.reference} by more than the "
        "tolerance ([sync] clock_skew_seconds): a stamp the hub cannot have written yet"
    )
