"""``column IN (keys)`` with the whole key set bound as one parameter.

A page looks up a thousand hub ids at a time. ``column.in_(keys)`` renders one
bound parameter per key on every execution (SQLAlchemy expands the list, and
psycopg then re-parses a statement too long for its cache); on a full sync that
cost more than the lookups themselves. Here the keys travel as one value: a
JSON array, read with PostgreSQL's ``json_array_elements_text`` or SQLite's
``json_each`` (plain ``IN`` where SQLite lacks the JSON functions). The
statement's shape no longer depends on the number of keys, so it is compiled
once.

:func:`fetch_rows` reads a lookup's rows the same way round: on SQLite as one
JSON array. Python's sqlite3 gives up the GIL around every step, one per row,
and takes it back after; while the fetch thread validates the next page, each
of those re-acquisitions can wait out a whole switch interval. One aggregated
value costs one step. :class:`Lookups` goes one further: several lookups in
one statement, so a page's lookups cost one SQLite step, or one PostgreSQL
round trip (``json_agg``), in all; built once per connection with
:func:`keyed` conditions (:func:`prepared`), it takes each page's key sets as
parameters (:func:`key_set`). :func:`fetch_many` runs such a statement once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar
from typing import cast as cast_any

from sqlalchemy import BindParameter, ColumnElement, Connection, Select, Text, bindparam
from sqlalchemy.sql.selectable import TableValuedAlias

from syncd.store.dialects import dialect_for

__all__ = ["Lookups", "among", "fetch_many", "fetch_rows", "key_rows", "key_set", "keyed", "prepared"]


def among(
    conn: Connection, column: ColumnElement[Any], keys: Collection[str] | Collection[int]
) -> ColumnElement[bool]:
    """A condition true where ``column`` is one of ``keys`` (strings or integers, not mixed)."""
    values = list(keys)
    integers = bool(values) and isinstance(values[0], int)
    dialect = dialect_for(conn)
    if dialect.packs_keys(conn):
        packed = json.dumps(values, separators=(",", ":"))
        return dialect.one_of(column, bindparam(None, packed, type_=_KEY_SET), integers)
    return column.in_(values)


def keyed(
    conn: Connection, column: ColumnElement[Any], name: str, *, integers: bool = False
) -> ColumnElement[bool]:
    """:func:`among` with the keys bound at execution, as parameter ``name`` (see :func:`key_set`).

    A statement built with it is the same for every key set, so it can be built
    once (:func:`prepared`) instead of once per page.
    """
    dialect = dialect_for(conn)
    if dialect.packs_keys(conn):
        packed: BindParameter[str] = bindparam(name, type_=_KEY_SET)
        return dialect.one_of(column, packed, integers)
    return column.in_(bindparam(name, expanding=True))


def key_rows(conn: Connection, name: str) -> TableValuedAlias | None:
    """The key set bound as parameter ``name`` (see :func:`key_set`) as rows of one text column,
    ``value``, to select from; None where key sets do not travel packed."""
    dialect = dialect_for(conn)
    if not dialect.packs_keys(conn):
        return None
    return dialect.key_rows(bindparam(name, type_=_KEY_SET))


def key_set(conn: Connection, keys: Iterable[Any]) -> str | list[Any]:
    """The value to bind for a :func:`keyed` parameter."""
    values = list(keys)
    return json.dumps(values, separators=(",", ":")) if dialect_for(conn).packs_keys(conn) else values


_KEY_SET = Text()


_S = TypeVar("_S")


def prepared(conn: Connection, name: str, build: Callable[[Connection], _S]) -> _S:
    """``build(conn)``, built once per database connection and kept with it.

    For statements of the hot path: building a SQLAlchemy statement and its
    cache key costs more Python than running it on a page. They depend on the connection (its
    database's adapter, whether SQLite has the JSON functions), so they live in its
    ``info``, which ends with it.
    """
    key = f"syncd.prepared.{name}"
    found = conn.info.get(key)
    if found is None:
        found = conn.info[key] = build(conn)
    return cast_any(_S, found)


def fetch_rows(conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of ``query`` as a tuple; its columns must be text or integers (JSON round trip)."""
    return dialect_for(conn).fetch_rows(conn, query)


class Lookups:
    """Several lookups that run as one statement: one SQLite step, or one PostgreSQL round trip.

    Each query's rows come back as one JSON array (``json_group_array`` on
    SQLite, ``json_agg`` on PostgreSQL); where SQLite lacks the JSON functions,
    the queries run one after the other. Build it once (:func:`prepared`) and
    :meth:`run` it with the parameters of its :func:`keyed` conditions.
    """

    def __init__(self, conn: Connection, *queries: Select[Any]) -> None:
        self._queries = queries
        self._packed: Select[Any] | None = None
        self._loads: Callable[[Any], Any] = json.loads
        packed = dialect_for(conn).packed_lookups(conn, queries)
        if packed is not None:
            self._packed, self._loads = packed

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[list[tuple[Any, ...]]]:
        """The rows of each query, in order."""
        if self._packed is None:
            return [[tuple(row) for row in conn.execute(q, params)] for q in self._queries]
        values = conn.execute(self._packed, params).one()
        return [[tuple(row) for row in (self._loads(value) if value is not None else ())] for value in values]


def fetch_many(conn: Connection, *queries: Select[Any]) -> list[list[tuple[Any, ...]]]:
    """:func:`fetch_rows` of each query, all of them in one statement (see :class:`Lookups`)."""
    if not queries:
        return []
    return Lookups(conn, *queries).run(conn)
