"""What a new database's ``lamindb_spaceblock`` gets only after its first load.

When syncd bootstraps an empty database, its first run writes every block the
hub has. Keeping LaminDB's non-unique indexes of ``lamindb_spaceblock`` (ten on
SQLite, fourteen on PostgreSQL) up to date row by row costs far more than
building them once afterwards: writing 100,000 blocks into SQLite took 5.3-6.4 s
with them in place, 3.0-4.0 s without, and building them then took 0.5-0.9 s
(``docs/benchmarks.md``). On PostgreSQL the same goes for the table's four
foreign keys: each row written queues one check per key, run one by one at
commit (about 40 ms per 5,000 rows), where adding the constraint afterwards
checks the whole table in one join. So the bootstrap leaves exactly those
indexes (and, on PostgreSQL, those foreign keys) out and records that in
``syncd_meta``, in the same transaction. :func:`build_pending` creates them and
clears the record, again in one transaction, after the first run that
succeeds, or when the instance is next opened if that run failed. They are
built from the statements of LaminDB 2.12 (:mod:`syncd.store.ddl`), the same
ones a bootstrap without deferral runs. SQLite declares foreign keys inside
``CREATE TABLE``, so there they are in place from the start.

Uniqueness is never deferred, nor any other table's foreign key. Until the
build, readers see the same rows; their queries just run without those
indexes, and syncd checks itself that every block it writes has its space,
creator and branch (in the transaction that writes it). While the build runs
(0.4-1.2 s per 100,000 blocks in the benchmarks), LaminDB's writes to these
tables wait for it. A build that cannot run (a lock not granted within 5 s on
PostgreSQL or within the busy timeout on SQLite, a full disk, or a block that
some other writer left pointing at no space during the window) fails
nothing: the instance logs ``store.indexes_not_built`` with the reason and the
next run tries again.

A database that syncd did not bootstrap is never touched here.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, delete, inspect

from syncd.store.cursors import read_meta, write_meta
from syncd.store.schema import meta

__all__ = ["PENDING_KEY", "build_pending", "deferrable", "indexes_pending", "mark_pending"]

PENDING_KEY = "indexes_pending"

_TABLE = "lamindb_spaceblock"
_PG_LOCK_TIMEOUT = "5s"
# LaminDB writes CREATE INDEX "name" ON "table" (SQLite), CREATE INDEX name ON table USING (PostgreSQL)
_PLAIN_INDEX = re.compile(r'CREATE INDEX "?(?P<name>\w+)"? ON "?(?P<table>\w+)"? ')
# and, on PostgreSQL only, ALTER TABLE ONLY table ADD CONSTRAINT name FOREIGN KEY (...)
_FOREIGN_KEY = re.compile(r"ALTER TABLE ONLY (?P<table>\w+)\s+ADD CONSTRAINT (?P<name>\w+) FOREIGN KEY ")


def _deferred_name(statement: str) -> str | None:
    """The index or foreign key a statement creates, if it is one that may wait for the first load."""
    found = _PLAIN_INDEX.match(statement) or _FOREIGN_KEY.match(statement)
    return found["name"] if found is not None and found["table"] == _TABLE else None


def deferrable(statements: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Split bootstrap DDL into what runs now and what waits (``lamindb_spaceblock``'s plain indexes
    and PostgreSQL foreign keys)."""
    now = [s for s in statements if _deferred_name(s) is None]
    later = [s for s in statements if _deferred_name(s) is not None]
    return now, later


def mark_pending(conn: Connection) -> None:
    """Record that the deferred indexes are still to be built (in the bootstrap's transaction)."""
    write_meta(conn, PENDING_KEY, _TABLE)


def indexes_pending(conn: Connection) -> bool:
    """Whether a bootstrap left indexes to build."""
    return read_meta(conn, PENDING_KEY) is not None


def build_pending(conn: Connection, statements: tuple[str, ...]) -> int:
    """Build the deferred indexes and foreign keys that are missing and clear the record.

    Returns how many were built.

    Runs in the caller's transaction, so the indexes and the cleared record
    commit together. A no-op (one lookup) when nothing is pending.
    """
    if not indexes_pending(conn):
        return 0
    if conn.dialect.name == "postgresql":
        # CREATE INDEX waits for every open transaction that wrote to the table: give up after a
        # while (the next run tries again) rather than queue LaminDB's writers behind the wait
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_PG_LOCK_TIMEOUT}'")
    inspector = inspect(conn)
    present = {str(i["name"]) for i in inspector.get_indexes(_TABLE)}
    present |= {str(k["name"]) for k in inspector.get_foreign_keys(_TABLE)}
    built = 0
    for statement in deferrable(statements)[1]:
        if _deferred_name(statement) not in present:
            conn.exec_driver_sql(statement)
            built += 1
    conn.execute(delete(meta).where(meta.c.key == PENDING_KEY))
    return built
