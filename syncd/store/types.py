"""Column types that read and write datetimes the way LaminDB (Django) does on each dialect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from syncd.core.timestamps import parse_stored
from syncd.store.dialects import ADAPTERS

__all__ = ["UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; Django's storage form in the database.

    SQLite keeps UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (Django's form, which
    also sorts correctly as text); PostgreSQL keeps ``timestamp with time zone``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(ADAPTERS[dialect.name].datetime_storage())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; pass a timezone-aware value")
        return ADAPTERS[dialect.name].bind_datetime(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return parse_stored(str(value))
