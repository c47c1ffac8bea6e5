"""One adapter per database: everything SQLite and PostgreSQL do differently.

:func:`dialect_for` answers with the adapter (:class:`Dialect`) of an instance
URL, engine, connection or SQLAlchemy dialect; callers resolve it once (per
store, per connection, per statement they build) and call its methods instead
of comparing database names. :data:`SUPPORTED` names the databases syncd
writes and reads. Adding a database is one module here, implementing
:class:`Dialect`, and one line in :data:`_ADAPTERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import JSON, BigInteger, Connection, Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import Dialect as SQLAlchemyDialect
from sqlalchemy.types import TypeEngine

from syncd.errors import StoreError
from syncd.store.dialects.base import Dialect, EngineOptions
from syncd.store.dialects.postgresql import PostgreSQL
from syncd.store.dialects.sqlite import SQLite

__all__ = [
    "ADAPTERS", "SUPPORTED", "Dialect", "EngineOptions", "UnsupportedDatabase",
    "dialect_for", "json_type", "row_id_type",
]

_ADAPTERS: dict[str, Dialect] = {adapter.name: adapter for adapter in (SQLite(), PostgreSQL())}

#: every adapter by backend name (a plain lookup, for the per-value paths of column types)
ADAPTERS: Mapping[str, Dialect] = MappingProxyType(_ADAPTERS)

#: the backend names (URL schemes) syncd supports, in the order error messages list them
SUPPORTED: tuple[str, ...] = tuple(_ADAPTERS)


class UnsupportedDatabase(StoreError, LookupError):
    """A URL or connection for a database no adapter knows (``name``: its backend name)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"syncd supports {' and '.join(SUPPORTED)} databases, not {name!r}")
        self.name = name


def dialect_for(source: str | URL | Engine | Connection | SQLAlchemyDialect) -> Dialect:
    """The adapter for a backend name, a URL (text or parsed), an engine, a connection or a dialect."""
    # cheapest first: names and connections (the store asks with its connection a few times per page)
    if isinstance(source, str):
        name = make_url(source).get_backend_name() if ":" in source else source
    elif isinstance(source, Connection | Engine):
        name = source.dialect.name
    elif isinstance(source, URL):
        name = source.get_backend_name()
    else:
        name = source.name
    try:
        return _ADAPTERS[name]
    except KeyError:
        raise UnsupportedDatabase(name) from None


def row_id_type() -> TypeEngine[int]:
    """The type of an integer primary key: BIGINT, or the database's own (SQLite's rowid alias INTEGER)."""
    kind: TypeEngine[int] = BigInteger()
    for adapter in _ADAPTERS.values():
        if adapter.row_id_type is not None:
            kind = kind.with_variant(adapter.row_id_type, adapter.name)
    return kind


def json_type() -> TypeEngine[Any]:
    """The type of LaminDB's JSON fields (``null`` stored as SQL NULL): JSON, or the database's own."""
    kind: TypeEngine[Any] = JSON(none_as_null=True)
    for adapter in _ADAPTERS.values():
        if adapter.json_type is not None:
            kind = kind.with_variant(adapter.json_type, adapter.name)
    return kind
