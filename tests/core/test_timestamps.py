from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.timestamps import (
    format_canonical,
    format_sqlite,
    parse_rfc3339,
    parse_stamp,
    parse_stored,
    sqlite_from_canonical,
)

INSTANT = datetime(2026, 3, 1, 12, 0, 0, 120000, tzinfo=UTC)


@pytest.mark.parametrize(
    "spelling",
    [
        "2026-03-01T12:00:00.12Z",
        "2026-03-01T12:00:00.120000+00:00",
        "2026-03-01T12:00:00.120000Z",
        "2026-03-01T14:00:00.12+02:00",
        "2026-03-01T06:30:00.120-05:30",
        "2026-03-01 12:00:00.12z",
        "2026-03-01t12:00:00.1200+00:00",
    ],
)
def test_every_spelling_of_one_instant_parses_to_the_same_utc_instant(spelling: str) -> None:
    assert parse_rfc3339(spelling) == INSTANT
    assert parse_rfc3339(spelling).tzinfo is UTC


@pytest.mark.parametrize("digits", range(7))
def test_zero_to_six_fractional_digits_are_accepted(digits: int) -> None:
    frac = "." + "1" * digits if digits else ""
    parsed = parse_rfc3339(f"2026-03-01T12:00:00{frac}Z")
    assert parsed.microsecond == (int(("1" * digits).ljust(6, "0")) if digits else 0)


@pytest.mark.parametrize(
    "bad",
    [
        "2026-03-01T12:00:00",  # no offset
        "2026-03-01T12:00:00.1234567Z",  # 7 digits
        "2026-02-30T12:00:00Z",  # no such day
        "2026-02-30T12:00:00.000000+00:00",  # no such day, in the spelling the hub sends
        "2026-13-01T12:00:00.000000+00:00",  # no such month, likewise
        "0001-01-01T00:00:00+01:00",  # before the first instant Python can hold in UTC
        "9999-12-31T23:59:59-01:00",  # after the last
        "2026-03-01",  # a date only
        "yesterday",
        20260301,
        None,
    ],
)
def test_malformed_timestamps_are_refused_with_the_value_named(bad: object) -> None:
    with pytest.raises(ValueError, match="RFC 3339|valid date|representable range"):
        parse_rfc3339(bad)


@pytest.mark.parametrize(
    "spelling",
    [
        "2026-03-01T12:00:00.120000+00:00",  # canonical already: kept as spelled
        "2026-03-01T12:00:00.12Z",
        "2026-03-01T14:00:00.12+02:00",
        "2026-03-01t12:00:00.1200+00:00",
    ],
)
def test_parse_stamp_gives_the_instant_and_its_canonical_text(spelling: str) -> None:
    moment, text = parse_stamp(spelling)
    assert moment == INSTANT and moment.tzinfo is UTC
    assert text == "2026-03-01T12:00:00.120000+00:00" == format_canonical(moment)


def test_parse_stamp_text_is_canonical_even_for_hour_24() -> None:
    # RFC 3339 has no hour 24; Python 3.11 refuses it, later Pythons read it as the next midnight.
    # Either way the text must never be kept as spelled: one instant, one canonical text.
    try:
        moment, text = parse_stamp("2026-03-01T24:00:00.000000+00:00")
    except ValueError:
        return
    assert text == format_canonical(moment) == "2026-03-02T00:00:00.000000+00:00"


@pytest.mark.parametrize("bad", ["2026-02-30T12:00:00.000000+00:00", "2026-03-01T12:00:00", None])
def test_parse_stamp_refuses_what_parse_rfc3339_refuses(bad: object) -> None:
    with pytest.raises(ValueError, match="RFC 3339|valid date"):
        parse_stamp(bad)


@given(st.datetimes(timezones=st.just(UTC)))
def test_the_sqlite_form_sliced_from_the_canonical_text_is_format_sqlites(moment: datetime) -> None:
    assert sqlite_from_canonical(format_canonical(moment)) == format_sqlite(moment)


def test_stored_forms_round_trip_and_sort_like_instants() -> None:
    assert format_canonical(INSTANT) == "2026-03-01T12:00:00.120000+00:00"
    assert format_sqlite(INSTANT) == "2026-03-01 12:00:00.120000"
    assert parse_stored(format_sqlite(INSTANT)) == INSTANT
    assert parse_stored(format_canonical(INSTANT)) == INSTANT
    # Django's other SQLite shapes
    assert parse_stored("2026-03-01 12:00:00.120") == INSTANT
    assert parse_stored("2026-03-01 12:00:00") == INSTANT.replace(microsecond=0)


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_canonical_text_orders_like_the_instants(a: datetime, b: datetime) -> None:
    assert (format_canonical(a) < format_canonical(b)) == (a < b)
