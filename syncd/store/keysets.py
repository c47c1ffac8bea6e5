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

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar
from typing import cast as cast_any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    Text,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError

__all__ = ["Lookups", "among", "fetch_many", "fetch_rows", "key_set", "keyed", "prepared", "sqlite_has_json"]


def among(
    conn: Connection, column: ColumnElement[Any], keys: Collection[str] | Collection[int]
) -> ColumnElement[bool]:
    """A condition true where ``column`` is one of ``keys`` (strings or integers, not mixed)."""
    values = list(keys)
    integers = bool(values) and isinstance(values[0], int)
    if _packs_keys(conn):
        return _one_of(conn, column, bindparam(None, key_set(conn, values), type_=_KEY_SET), integers)
    return column.in_(values)


def keyed(
    conn: Connection, column: ColumnElement[Any], name: str, *, integers: bool = False
) -> ColumnElement[bool]:
    """:func:`among` with the keys bound at execution, as parameter ``name`` (see :func:`key_set`).

    A statement built with it is the same for every key set, so it can be built
    once (:func:`prepared`) instead of once per page.
    """
    if _packs_keys(conn):
        return _one_of(conn, column, bindparam(name, type_=_KEY_SET), integers)
    return column.in_(bindparam(name, expanding=True))


def key_set(conn: Connection, keys: Iterable[Any]) -> str | list[Any]:
    """The value to bind for a :func:`keyed` parameter."""
    values = list(keys)
    return orjson.dumps(values).decode() if _packs_keys(conn) else values


_KEY_SET = Text()


def _packs_keys(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" or (conn.dialect.name == "sqlite" and sqlite_has_json(conn))


def _one_of(
    conn: Connection, column: ColumnElement[Any], packed: BindParameter[str], integers: bool
) -> ColumnElement[bool]:
    """``column IN`` the elements of the JSON array bound as ``packed``."""
    if conn.dialect.name == "postgresql":
        # one JSON text that the server unpacks: psycopg dumps a list parameter element by element
        # in Python, at many times the client CPU of encoding one text with orjson.
        # Elements are compared as text or bigint, never cast to the column's own varchar(n): that
        # cast would cut a longer key to the column's length and match a row by its prefix.
        element: ColumnElement[Any] = func.json_array_elements_text(cast(packed, JSON))
        if integers:
            element = cast(element, BigInteger)
        return column.in_(select(element))
    each = func.json_each(packed).table_valued("value")
    return column.in_(select(each.c.value))


_S = TypeVar("_S")


def prepared(conn: Connection, name: str, build: Callable[[Connection], _S]) -> _S:
    """``build(conn)``, built once per database connection and kept with it.

    For statements of the hot path: building a SQLAlchemy statement and its
    cache key costs more Python than running it on a page (about half of a
    page's lookups on SQLite). They depend on the connection (its
    dialect, whether SQLite has the JSON functions), so they live in its
    ``info``, which ends with it.
    """
    key = f"syncd.prepared.{name}"
    found = conn.info.get(key)
    if found is None:
        found = conn.info[key] = build(conn)
    return cast_any(_S, found)


def fetch_rows(conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of ``query`` as a tuple; its columns must be text or integers (JSON round trip)."""
    if conn.dialect.name == "sqlite" and sqlite_has_json(conn):
        rows = query.subquery()
        packed = conn.execute(select(func.json_group_array(func.json_array(*rows.c)))).scalar_one()
        return [tuple(row) for row in orjson.loads(packed)]
    return [tuple(row) for row in conn.execute(query)]


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
        if conn.dialect.name == "sqlite" and sqlite_has_json(conn):
            self._packed = select(
                *(
                    select(func.json_group_array(func.json_array(*sub.c))).scalar_subquery()
                    for sub in (q.subquery() for q in queries)
                )
            )
            self._loads: Callable[[Any], Any] = orjson.loads
        elif conn.dialect.name == "postgresql":
            # json_agg is NULL over no rows; the driver reads each json value into lists
            self._packed = select(
                *(
                    select(func.json_agg(func.json_build_array(*sub.c))).scalar_subquery()
                    for sub in (q.subquery() for q in queries)
                )
            )
            self._loads = _as_read

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[list[tuple[Any, ...]]]:
        """The rows of each query, in order."""
        if self._packed is None:
            return [[tuple(row) for row in conn.execute(q, params)] for q in self._queries]
        values = conn.execute(self._packed, params).one()
        return [[tuple(row) for row in (self._loads(value) if value is not None else ())] for value in values]


def _as_read(value: Any) -> Any:
    return value


def fetch_many(conn: Connection, *queries: Select[Any]) -> list[list[tuple[Any, ...]]]:
    """:func:`fetch_rows` of each query, all of them in one statement (see :class:`Lookups`)."""
    if not queries:
        return []
    return Lookups(conn, *queries).run(conn)


def sqlite_has_json(conn: Connection) -> bool:
    """Whether this SQLite connection has the JSON functions (built in since SQLite 3.38)."""
    known = conn.info.get("syncd.sqlite_json")
    if known is None:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("SELECT json_extract('[1]', '$[0]')")
            known = True
        except DBAPIError:
            known = False
        conn.info["syncd.sqlite_json"] = known
    return bool(known)
