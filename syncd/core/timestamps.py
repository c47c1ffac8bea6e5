"""RFC 3339 timestamps as the hub spells them, and the forms syncd stores.

The hub may write ``Z``, ``+00:00`` or any other offset, with 0 to 6
fractional digits; two spellings of one instant are the same instant. Inside
syncd every datetime is timezone-aware UTC with microsecond precision.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = [
    "format_canonical",
    "format_sqlite",
    "parse_rfc3339",
    "parse_stamp",
    "parse_stored",
    "sqlite_from_canonical",
    "utc_now",
]

# hours 00-23 only: a Python that reads "T24:00" as the next midnight must not keep that spelling
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):\d{2}:\d{2}\.\d{6}\+00:00")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2})")


def parse_rfc3339(value: object) -> datetime:
    """Parse one RFC 3339 timestamp with an offset into an aware UTC datetime.

    Raises ``ValueError`` naming the value when it is not such a timestamp
    (no offset, more than 6 fractional digits, impossible date, not a string).
    """
    return _parse(value)[0]


def parse_stamp(value: object) -> tuple[datetime, str]:
    """:func:`parse_rfc3339`, and the instant in :func:`format_canonical`'s form.

    A value already spelled canonically (what the hub sends) is its own
    canonical form; only the date and time still need checking.
    """
    moment, canonical = _parse(value)
    if canonical and isinstance(value, str):
        return moment, value
    return moment, format_canonical(moment)


def _parse(value: object) -> tuple[datetime, bool]:
    """The instant, and whether ``value`` is spelled canonically (then it is a ``str``)."""
    if not isinstance(value, str):
        raise ValueError(f"not an RFC 3339 timestamp with offset: {value!r}")
    canonical = _CANONICAL.fullmatch(value) is not None  # the hub's own spelling: UTC already
    if not canonical and _RFC3339.fullmatch(value) is None:
        raise ValueError(f"not an RFC 3339 timestamp with offset: {value!r}")
    text = value
    if not canonical:
        text = (value[:-1] + "+00:00" if value[-1] in "Zz" else value).replace("t", "T")
    try:
        parsed = datetime.fromisoformat(text)
        return (parsed, True) if canonical else (parsed.astimezone(UTC), False)
    except ValueError:
        raise ValueError(f"not a valid date or time: {value!r}") from None
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable instant
        raise ValueError(f"outside the representable range (years 1 to 9999 in UTC): {value!r}") from None


def format_canonical(moment: datetime) -> str:
    """``2024-05-01T12:00:00.000000+00:00``: sortable as text, exact to the microsecond."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def format_sqlite(moment: datetime) -> str:
    """The UTC text form LaminDB (Django) stores in SQLite: ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    # isoformat is faster than strftime; the first 26 characters drop the "+00:00"
    return moment.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def sqlite_from_canonical(text: str) -> str:
    """:func:`format_sqlite` of an instant given in :func:`format_canonical`'s form (a slice, no parsing)."""
    return f"{text[:10]} {text[11:26]}"


def parse_stored(value: str) -> datetime:
    """Read back a timestamp written by :func:`format_canonical` or :func:`format_sqlite`."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def utc_now() -> datetime:
    """The wall clock as an aware UTC datetime (the default ``clock``)."""
    return datetime.now(UTC)
