"""Query values checked and converted per field type, as Django prepares them for LaminDB.

Integer fields (ids, foreign keys, date parts) take anything ``int()`` takes
(``"3"`` finds id 3, ``"abc"`` raises :class:`InvalidArgument`, LaminDB's
``ValueError``); boolean fields take ``True``/``False``, ``1``/``0`` and
``"t"``/``"True"``/``"1"``/``"f"``/``"False"``/``"0"`` (anything else raises
:class:`ValidationError`); text fields compare with ``str(value)``; datetime
fields take datetimes, dates and ISO strings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.types import TypeEngine

from syncd.registry.errors import ArgumentTypeError, InvalidArgument, ValidationError
from syncd.store.types import UTCDateTime

__all__ = ["prepare", "prepare_datetime"]

_TRUE = ("t", "True", "1")
_FALSE = ("f", "False", "0")


def prepare_int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"Field '{field}' expected a number but got {value!r}.") from None


def _prepare_bool(value: Any) -> bool:
    if value in (True, False):
        return bool(value)
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationError(f"“{value}” value must be either True or False.")


def prepare_datetime(value: Any, field: str) -> datetime:
    """An aware UTC datetime; dates are midnight UTC, naive datetimes are taken as UTC."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                f"“{text}” value has an invalid format for {field}. It must be in "
                "YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format.") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, datetime):
        raise ArgumentTypeError(f"{field} compares with datetimes, not {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def prepare(column_type: TypeEngine[Any] | None, value: Any, field: str) -> Any:
    """``value`` as the field's type holds it; ``None`` stays ``None``. ``column_type`` None: an integer."""
    if value is None:
        return None
    if column_type is None or (isinstance(column_type, Integer) and not isinstance(column_type, Boolean)):
        return prepare_int(value, field)
    if isinstance(column_type, Boolean):
        return _prepare_bool(value)
    if isinstance(column_type, UTCDateTime):
        return prepare_datetime(value, field)
    if isinstance(column_type, String | Text):
        return value if isinstance(value, str) else str(value)
    return value
