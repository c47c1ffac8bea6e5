"""HTTP dates: the hub's Date header and Retry-After, measured against a moment passed in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.hub.dates import parse_http_date, retry_after_seconds

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Mon, 23 Nov 2026 09:00:00 GMT", NOW), ("Mon, 23 Nov 2026 09:00:00 -0000", NOW),
     ("Mon, 23 Nov 2026 10:00:00 +0100", NOW), (None, None), ("", None), ("  ", None), ("yesterday", None)],
)
def test_an_http_date_is_aware_utc_or_none(value: str | None, expected: datetime | None) -> None:
    parsed = parse_http_date(value)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (" 1.5 ", 1.5), ("Mon, 23 Nov 2026 09:00:30 GMT", 30.0),
     ("Mon, 23 Nov 2026 08:00:00 GMT", 0.0), (None, None), ("-5", None), ("soon", None)],
)
def test_retry_after_is_seconds_or_a_date_measured_against_now(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == expected
