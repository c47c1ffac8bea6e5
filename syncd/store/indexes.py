"""What a new database's ``lamindb_spaceblock`` gets only after its first load.

When syncd bootstraps an empty database, its first run writes every block the
hub has. Keeping LaminDB's non-unique indexes of ``lamindb_spaceblock`` up to
date row by row costs far more than building them once afterwards when their
keys are spread (the hash, the space, the creator, the version tag, the
creation time): each new row lands on a random index page, and a first
load with every index in place takes much longer than one without them plus
the build afterwards (``docs/benchmarks.md``). On PostgreSQL the same goes
for the table's four foreign keys: each row written queues one check per
key, run one by one at commit, where adding the constraint afterwards checks
the whole table in one join. So the bootstrap leaves those indexes (and, on
PostgreSQL, those foreign keys) out and records that in ``syncd_meta``, in
the same transaction.
:func:`build_pending` creates them and clears the record, again in one
transaction, after the first run that succeeds, or when the instance is next
opened if that run failed. They are built from the statements of LaminDB
2.12 (:mod:`syncd.store.ddl`), the same ones a bootstrap without deferral
runs. SQLite declares foreign keys inside ``CREATE TABLE``, so there they are
in place from the start.

On SQLite, indexes whose columns hold the same few values in nearly every
block (``_status_code``, ``branch_id``, ``created_on_id``, ``is_latest``,
``kind``) are not deferred: a new row's entry goes to the end of its value's
run, on a page already in memory, so keeping them costs little, while
building each afterwards reads the whole table again: measured, keeping them
made the builds at the end of a first load and the whole run shorter.
PostgreSQL defers those six too (``kind`` has a second, ``varchar_pattern_ops``
index there): there copying blocks into a table that had them cost more
server time than copying without them and building all six afterwards, and
in a first load PostgreSQL's instance is the one the others wait for.

Uniqueness is never deferred, nor any other table's foreign key. Until the
build, readers see the same rows; their queries just run without those
indexes. syncd writes a block only for a space in its own map of synced
spaces, with a creator it has looked up or created and the main branch, in
the transaction that writes the block; what no key checks in that window is
a LaminDB client deleting a synced space meanwhile (its blocks would then
point at no space, and the build waits until they are fixed, see below).
While the build runs, LaminDB's writes to these tables wait for it. A build
that cannot run (a lock not granted within 5 s on PostgreSQL or within the
busy timeout on SQLite, a full disk, or a block that some other writer left
pointing at no space during the window) fails
nothing: the instance logs ``store.indexes_not_built`` with the reason and the
next run tries again.

A database that syncd did not bootstrap is never touched here.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, delete, inspect

from syncd.store.cursors import read_meta, write_meta
from syncd.store.dialects import Dialect, dialect_for
from syncd.store.schema import meta

__all__ = ["PENDING_KEY", "build_pending", "deferrable", "indexes_pending", "mark_pending"]

PENDING_KEY = "indexes_pending"

_TABLE = "lamindb_spaceblock"
# LaminDB writes CREATE INDEX "name" ON "table" (SQLite), CREATE INDEX name ON table USING (PostgreSQL)
_PLAIN_INDEX = re.compile(r'CREATE INDEX "?(?P<name>\w+)"? ON "?(?P<table>\w+)"? ')
# and, on PostgreSQL only, ALTER TABLE ONLY table ADD CONSTRAINT name FOREIGN KEY (...)
_FOREIGN_KEY = re.compile(r"ALTER TABLE ONLY (?P<table>\w+)\s+ADD CONSTRAINT (?P<name>\w+) FOREIGN KEY ")



def _deferrable_name(statement: str) -> str | None:
    """The plain index or foreign key of ``lamindb_spaceblock`` a statement creates, if it does.

    Any of them may be missing from a database whose first load has not
    finished: a bootstrap by an earlier syncd deferred every plain index.
    """
    found = _FOREIGN_KEY.match(statement) or _PLAIN_INDEX.match(statement)
    return found["name"] if found is not None and found["table"] == _TABLE else None


def _deferred_name(statement: str, dialect: Dialect) -> str | None:
    """:func:`_deferrable_name`, unless the database makes that one at once (SQLite: steady columns)."""
    name = _deferrable_name(statement)
    return name if name is not None and dialect.defers_index(statement) else None


def deferrable(statements: tuple[str, ...], dialect: Dialect) -> tuple[list[str], list[str]]:
    """Split bootstrap DDL into what runs now and what waits: ``lamindb_spaceblock``'s plain indexes
    (on SQLite those on spread-out columns only) and its PostgreSQL foreign keys."""
    now = [s for s in statements if _deferred_name(s, dialect) is None]
    later = [s for s in statements if _deferred_name(s, dialect) is not None]
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
    # PostgreSQL: CREATE INDEX waits for every open transaction that wrote to the table; give up
    # after a while (the next run tries again) rather than queue LaminDB's writers behind the wait
    dialect_for(conn).before_index_build(conn)
    inspector = inspect(conn)
    present = {str(i["name"]) for i in inspector.get_indexes(_TABLE)}
    present |= {str(k["name"]) for k in inspector.get_foreign_keys(_TABLE)}
    # the foreign keys first: a block left pointing at no space fails the build in one join,
    # before any index is built only to be rolled back (it is tried again every run until fixed)
    ordered = sorted(statements, key=lambda statement: _FOREIGN_KEY.match(statement) is None)
    built = 0
    for statement in ordered:
        name = _deferrable_name(statement)
        if name is not None and name not in present:  # an earlier syncd may have deferred more
            conn.exec_driver_sql(statement)
            built += 1
    conn.execute(delete(meta).where(meta.c.key == PENDING_KEY))
    return built
