"""Bulk writes on the hot path: the driver's own bulk path, with ids allocated up front.

A page of new blocks is a thousand rows. Written through SQLAlchemy Core as a
multi-row ``INSERT ... RETURNING``, each page is rendered into a statement of
some 12,000 parameters that the driver then parses again; most of a full sync
went there. Here new local ids are allocated up front instead, so the rows can
be written with the driver's own bulk path and no ``RETURNING``: how each
database allocates ids and writes rows is its adapter's
(:meth:`~syncd.store.dialects.Dialect.allocate_ids`,
:meth:`~syncd.store.dialects.Dialect.insert_rows`): multi-row ``INSERT`` on
SQLite, binary ``COPY`` on PostgreSQL.

Both run in the caller's transaction. Driver errors are raised as SQLAlchemy
errors, as everywhere else in the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table

from syncd.store.dialects import dialect_for

__all__ = ["allocate_ids", "insert_rows"]


def allocate_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """``n`` unused values for ``table.id``, in ascending order."""
    if n <= 0:
        return []
    return dialect_for(conn).allocate_ids(conn, table, n)


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
    dialect_for(conn).insert_rows(conn, table, columns, rows, fixed)
