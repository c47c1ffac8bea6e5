"""SQLite's bulk insert: one ``INSERT ... SELECT ... FROM (VALUES (...), (...), ...)`` per chunk of rows.

``executemany`` steps SQLite once per row and takes the GIL back after every
step; with other threads running (the next page's fetch, other instances'
appliers) each of those re-acquisitions waits its turn. One statement with a
row of placeholders per row runs in a single step, without the GIL, and needs
no parsing of its values (an ``INSERT ... SELECT`` over ``json_each`` took
longer for the same rows: SQLite parses each row's JSON once per column).

Preparing such a statement costs more than running it. Its text depends on the
number of rows, which differs from page to page (a page's tombstones and known
blocks are not inserted), so a statement per row count would be prepared anew
for nearly every page. Instead a chunk is padded with rows of NULLs up to one
of a few sizes (_SHAPES), and the statement inserts only the rows in which a
NOT NULL column (never one a real row leaves NULL: the database would refuse
that row) is set: a handful of statements per table, prepared once per
connection and then taken from sqlite3's statement cache (see the adapter's
engine). The padding costs a bound NULL per column and row. Every chunk's
count of inserted rows is checked. A table written without such a column gets
statements of exactly its rows' count.
"""

from __future__ import annotations

import functools
import sqlite3
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table

from syncd.errors import StoreError

__all__ = ["LARGE_STATEMENT_ROWS", "SMALL_STATEMENT_ROWS", "insert_values"]

# The rows one statement takes at most is the connection's (the adapter's engine, store.share): a
# prepared statement keeps the values last bound to it for as long as the connection caches it,
# a megabyte or more for a thousand ten-column rows of half-kilobyte text, so a connection that
# must stay small gets 250 rows, four statements a page instead of one; each statement is a step
# that gives up the GIL and must take it back, which with other threads busy is a wait
SMALL_STATEMENT_ROWS, LARGE_STATEMENT_ROWS = 250, 1000
_SHAPES = (1000, 250, 100, 10)  # the row counts a chunk is padded to (capped at what one statement may bind)


def insert_values(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    fixed: dict[str, int],
    per_statement: int = SMALL_STATEMENT_ROWS,
) -> None:
    """Insert ``rows`` with ``fixed`` columns written into the statement as literals, at most
    ``per_statement`` rows a statement."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    width = len(columns)
    # at most SQLite's limit of bound parameters per statement (32,766 by default since 3.32)
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(per_statement, limit // width))
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
