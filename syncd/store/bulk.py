"""Bulk writes on the hot path: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

A page of new blocks is a thousand rows. Written through SQLAlchemy Core as a
multi-row ``INSERT ... RETURNING``, each page is rendered into a statement of
some 12,000 parameters that the driver then parses again; most of a full sync
went there. Here new local ids are allocated up front instead, so the rows can
be written with the driver's own bulk path and no ``RETURNING``:

* SQLite: under ``BEGIN IMMEDIATE`` syncd holds the write lock, so the ids
  after the table's largest (and after its ``AUTOINCREMENT`` high-water mark)
  are free until the transaction ends;
* PostgreSQL: the ids come from the column's own sequence (``nextval``), the
  way LaminDB's inserts get them, so concurrent writers never collide.

Both run in the caller's transaction. Driver errors are raised as SQLAlchemy
errors, as everywhere else in the store.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Executable, String, Table, bindparam, func, insert, select
from sqlalchemy.exc import DBAPIError

from syncd.store.keysets import sqlite_has_json

__all__ = ["allocate_ids", "insert_rows"]


def allocate_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """``n`` unused values for ``table.id``, in ascending order."""
    if n <= 0:
        return []
    if conn.dialect.name == "sqlite":
        top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        has_sequence = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
        ).first()
        if has_sequence is not None:
            seq = conn.exec_driver_sql(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)
            ).scalar_one_or_none()
            top = max(int(top), int(seq or 0))
        return list(range(int(top) + 1, int(top) + 1 + n))
    ids = conn.exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", (table.name, n)
    ).scalars()
    return sorted(int(i) for i in ids)


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        if sqlite_has_json(conn):
            from_json = _insert_from_json(table, tuple(columns))
            for chunk in _chunks(rows):
                conn.execute(from_json, {"rows": chunk})
        else:
            _insert_many(conn, table, tuple(columns), rows)
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[c].name) for c in columns)
    statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    dbapi = conn.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


def _insert_many(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """``executemany`` of the driver-level values, in the order SQLAlchemy renders the columns."""
    compiled = insert(table).values({c: bindparam(c) for c in columns}).compile(dialect=conn.dialect)
    order = [columns.index(name) for name in compiled.positiontup or ()]
    conn.exec_driver_sql(compiled.string, [tuple(row[i] for i in order) for row in rows])


# -- SQLite: one INSERT ... SELECT over a JSON array per chunk -----------------------------------
#
# ``executemany`` steps SQLite once per row and takes the GIL back after every
# step; with several instances applied in parallel threads, each of those
# re-acquisitions waits behind the other threads. One ``INSERT ... SELECT``
# over ``json_each`` of the whole chunk runs in a single step, without the GIL,
# and binds one parameter instead of a dozen per row.

_CHUNK_BYTES = 32 * 1024 * 1024  # far below SQLite's 1 GB limit on one value


@functools.lru_cache(maxsize=16)
def _insert_from_json(table: Table, columns: tuple[str, ...]) -> Executable:
    each = func.json_each(bindparam("rows", type_=String)).table_valued("value")
    picked = [func.json_extract(each.c.value, f"$[{i}]") for i in range(len(columns))]
    return insert(table).from_select(list(columns), select(*picked).select_from(each))


def _chunks(rows: list[tuple[Any, ...]]) -> Iterator[str]:
    """``rows`` as JSON arrays, halved until each is at most ``_CHUNK_BYTES``."""
    encoded = orjson.dumps(rows)
    if len(encoded) <= _CHUNK_BYTES or len(rows) == 1:
        yield encoded.decode()
        return
    middle = len(rows) // 2
    yield from _chunks(rows[:middle])
    yield from _chunks(rows[middle:])
