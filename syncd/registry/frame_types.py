"""The dtypes LaminDB 2.12's ``to_dataframe`` gives, whichever pandas 2.x or 3.x is installed.

LaminDB builds its frames with pandas 2 semantics: text columns are ``object``,
datetimes ``datetime64[ns, UTC]``. pandas 3 would infer ``str`` and
``datetime64[us, UTC]`` from the same values, so both are fixed here. A
datetime column holding an instant that nanoseconds cannot represent (a stored
year 9999 or 0001) stays an ``object`` column of aware ``datetime`` values,
which is what pandas 2 makes of such a column for LaminDB.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["as_lamindb_dtypes", "datetimes"]

DATETIME_DTYPE = "datetime64[ns, UTC]"


def _aware(value: Any) -> datetime | None:
    """A stored datetime (SQLite text, or a driver's datetime) as an aware UTC datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def datetimes(pd: ModuleType, values: list[Any]) -> pd.Series:
    """A datetime column: ``datetime64[ns, UTC]``, or ``object`` when a value is outside its range."""
    raw = pd.Series(values, dtype=object)
    try:
        parsed = pd.to_datetime(raw, utc=True, format="ISO8601")
        return parsed.astype(DATETIME_DTYPE)
    except pd.errors.OutOfBoundsDatetime:
        return pd.Series([_aware(v) for v in values], dtype=object)


def as_lamindb_dtypes(pd: ModuleType, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text columns as ``object`` (pandas 3 infers its ``str`` dtype for them)."""
    for name, dtype in frame.dtypes.items():
        if dtype is not object and str(dtype) != "object" and pd.api.types.is_string_dtype(dtype):
            frame[name] = frame[name].astype(object)
    return frame
