"""HTTP dates: the hub's ``Date`` header and ``Retry-After``.

Pure functions; the moment to measure a ``Retry-After`` date against is passed in.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["parse_http_date", "retry_after_seconds"]

_DELTA_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Mon, 23 Nov 2026 09:00:00 GMT``) as aware UTC, or None when absent or unparsable."""
    if value is None or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        # "-0000" parses naive; HTTP dates are always GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """How long a ``Retry-After`` header asks to wait, in seconds, or None when absent or unparsable.

    The header is either delta-seconds or an HTTP date; a date is measured
    against ``now`` (the response's own ``Date`` when it has one). A date in
    the past means "now": 0.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    moment = parse_http_date(text)
    if moment is None:
        return None
    return max(0.0, (moment - now).total_seconds())
