"""Bulk writes on the hot path: multi-row ``INSERT`` on SQLite, ``COPY`` on PostgreSQL.

A page of new blocks is a thousand rows. Written through SQLAlchemy Core as a
multi-row ``INSERT ... RETURNING``, each page is rendered into a statement of
some 12,000 parameters that the driver then parses again; most of a full sync
went there. Here new local ids are allocated up front instead, so the rows can
be written with the driver's own bulk path and no ``RETURNING``:

* SQLite: under ``BEGIN IMMEDIATE`` syncd holds the write lock, so the ids
  after the table's largest (and after its ``AUTOINCREMENT`` high-water mark)
  are free until the transaction ends;
* PostgreSQL: the ids come from the column's own sequence (``nextval``), the
  way LaminDB's inserts get them, so concurrent writers never collide. Rows
  go as binary ``COPY``, so values must be of their column's Python type
  (``datetime`` for a ``timestamptz``, ``int`` for integers, ``str`` for text).

Both run in the caller's transaction. Driver errors are raised as SQLAlchemy
errors, as everywhere else in the store.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

from syncd.errors import StoreError

__all__ = ["allocate_ids", "insert_rows"]


def allocate_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """``n`` unused values for ``table.id``, in ascending order."""
    if n <= 0:
        return []
    if conn.dialect.name == "sqlite":
        top = _sqlite_top_id(conn, table)
        return list(range(top + 1, top + 1 + n))
    # the sequence's name, looked up once per connection: pg_get_serial_sequence() in the select
    # list runs a catalog lookup per id
    key = f"syncd.sequence.{table.name}"
    sequence = conn.info.get(key)
    if sequence is None:
        sequence = conn.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)
        ).scalar_one()
        conn.info[key] = sequence
    # one row holding an array: reading a thousand ids row by row costs the client several times
    # the CPU of reading one array
    ids = conn.exec_driver_sql(
        "SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)", (sequence, n)
    ).scalar_one()
    return sorted(int(i) for i in ids)


def _column_types(conn: Connection, table: Table, columns: Sequence[str]) -> list[int]:
    """The PostgreSQL type (oid) of each of ``columns`` in the database, looked up once per connection.

    Taken from the catalog rather than syncd's table definitions: a binary value
    must have exactly its column's type (an ``integer`` id where syncd would say
    ``bigint`` is read as garbage or refused).
    """
    key = f"syncd.column_types.{table.name}"
    known: dict[str, int] | None = conn.info.get(key)
    if known is None:
        found = conn.exec_driver_sql(
            "SELECT attname, atttypid::int FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table.name,),
        ).all()
        known = conn.info[key] = {str(name): int(oid) for name, oid in found}
    missing = [c for c in columns if table.c[c].name not in known]
    if missing:
        raise StoreError(f"{table.name} has no column {', '.join(missing)}")
    return [known[table.c[c].name] for c in columns]


def _sqlite_top_id(conn: Connection, table: Table) -> int:
    """The largest id ``table`` has used: its largest row, or its ``AUTOINCREMENT`` mark if higher."""
    quote = conn.dialect.identifier_preparer.quote
    top = f"SELECT coalesce(max({quote(table.c.id.name)}), 0) FROM {quote(table.name)}"  # noqa: S608
    # once committed, sqlite_sequence stays (SQLite never drops it; here the bootstrap, committed
    # before any id is allocated, creates it): remember it per connection
    if not conn.info.get("syncd.sqlite_sequence"):
        found = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
        ).first()
        if found is None:
            return int(conn.exec_driver_sql(top).scalar_one())
        conn.info["syncd.sqlite_sequence"] = True
    both = f"SELECT max(({top}), coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0))"  # noqa: S608
    return int(conn.exec_driver_sql(both, (table.name,)).scalar_one())


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    fixed: Mapping[str, int] | None = None,
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``.

    ``fixed`` gives columns whose value is the same integer in every row; on
    SQLite they are written into the statement instead of being bound once per
    row (binding is most of the statement's cost in Python).
    """
    if not rows:
        return
    fixed = dict(fixed or {})
    if any(type(v) is not int for v in fixed.values()):
        raise TypeError(f"fixed column values must be integers: {fixed!r}")
    if conn.dialect.name == "sqlite":
        _insert_values(conn, table, tuple(columns), rows, fixed)
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[c].name) for c in (*columns, *fixed))
    # binary COPY, each value in its column's own binary form (types read off the catalog): text
    # COPY cost 5-7 us of client CPU per block, most of it escaping the content, on the lane
    # that the others wait for in a load into SQLite and PostgreSQL together
    statement = f"COPY {quote(table.name)} ({names}) FROM STDIN (FORMAT BINARY)"
    driver = conn.connection.driver_connection
    assert driver is not None
    dbapi = conn.dialect.loaded_dbapi
    tail = tuple(fixed.values())
    types = _column_types(conn, table, (*columns, *fixed))
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            if tail:
                for row in rows:
                    copy.write_row(row + tail)
            else:
                for row in rows:
                    copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


# -- SQLite: one INSERT ... SELECT ... FROM (VALUES (...), (...), ...) per chunk of rows -----------
#
# ``executemany`` steps SQLite once per row and takes the GIL back after every
# step; with other threads running (the next page's fetch, other instances'
# appliers) each of those re-acquisitions waits its turn. One statement with a
# row of placeholders per row runs in a single step, without the GIL, and needs
# no parsing of its values (an ``INSERT ... SELECT`` over ``json_each`` is slower
# for the same rows: SQLite parses each row's JSON once per column).
#
# Preparing such a statement for a thousand rows costs more than running it.
# Its text depends on the number of rows, which differs from page to page (a page's tombstones and known
# blocks are not inserted), so a statement per row count would be prepared anew
# for nearly every page. Instead a chunk is padded with rows of NULLs up to one
# of a few sizes (_SHAPES), and the statement inserts only the rows in which a
# NOT NULL column (never one a real row leaves NULL: the database would refuse
# that row) is set: a handful of statements per table, prepared once per
# connection and then taken from sqlite3's statement cache (see engine.py). The
# padding costs a bound NULL per column and row, well under a millisecond a
# page. Every chunk's count of inserted rows is checked. A table written without
# such a column gets statements of exactly its rows' count.

_ROWS_PER_STATEMENT = 1000  # a full page
_SHAPES = (1000, 100, 10)  # the row counts a chunk is padded to (capped at what one statement may bind)


def _insert_values(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    fixed: dict[str, int],
) -> None:
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    width = len(columns)
    # at most SQLite's limit of bound parameters per statement (32,766 by default since 3.32)
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(_ROWS_PER_STATEMENT, limit // width))
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[c].name) for c in (*columns, *fixed))
    literals = "".join(f", {int(v)}" for v in fixed.values())
    # the padding rows' marker: a column that every real row sets (NOT NULL, not the rowid,
    # which SQLite fills in itself when given NULL)
    marker = next(
        (n for n, c in enumerate(columns, 1) if not table.c[c].nullable and not table.c[c].primary_key), None
    )
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        shape = _shape(len(chunk), per) if marker is not None else len(chunk)
        padding = (None,) * (width * (shape - len(chunk)))
        statement = _padded_statement(quote(table.name), names, width, literals, shape, marker)
        inserted = conn.exec_driver_sql(statement, (*chain.from_iterable(chunk), *padding)).rowcount
        if inserted != len(chunk):  # all the real rows, only them: never expected to fail
            raise StoreError(f"{table.name}: inserted {inserted} rows of {len(chunk)}")


def _shape(count: int, per: int) -> int:
    """The row count a chunk of ``count`` rows is padded to: the smallest size that holds it."""
    return min((s for s in (*_SHAPES, per) if count <= s <= per), default=per)


@functools.lru_cache(maxsize=32)
def _padded_statement(
    table: str, names: str, width: int, literals: str, shape: int, marker: int | None
) -> str:
    selected = ", ".join(f"column{i}" for i in range(1, width + 1))  # SQLite's names for VALUES columns
    row = "(" + ", ".join("?" * width) + ")"
    where = f" WHERE column{marker} IS NOT NULL" if marker is not None else ""
    return (
        f"INSERT INTO {table} ({names}) SELECT {selected}{literals} "  # noqa: S608 - names from syncd's schema
        f"FROM (VALUES {', '.join([row] * shape)}){where}"
    )
