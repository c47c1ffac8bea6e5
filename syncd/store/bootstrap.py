"""Make an instance database ready for syncd, or refuse it with a clear reason.

* An empty database (a new SQLite file, an empty PostgreSQL database) gets
  LaminDB's own DDL and seed rows for the four tables syncd needs. With
  ``defer_indexes``, the plain indexes of ``lamindb_spaceblock`` wait until the
  first load is written (:mod:`syncd.store.indexes`; :func:`build_deferred_indexes`).
* An existing LaminDB instance is checked, never altered: only syncd's own
  ``syncd_*`` tables are added.
* Anything else (another application's tables, a LaminDB schema without the
  columns syncd writes) is refused with :class:`IncompatibleSchemaError`.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, select

from syncd.errors import IncompatibleSchemaError
from syncd.store import ddl
from syncd.store.dialects import dialect_for
from syncd.store.indexes import build_pending, deferrable, mark_pending
from syncd.store.migrations import MIGRATIONS
from syncd.store.resources import BINDINGS
from syncd.store.schema import SCHEMA_VERSION, bookkeeping, meta, user

__all__ = ["REQUIRED_COLUMNS", "build_deferred_indexes", "prepare_schema"]

REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    # blocks refer to branches: syncd reads only these columns of it
    "lamindb_branch": frozenset({"id", "name", "uid"}),
    # every column syncd's own view of these tables reads or writes (every resource's included,
    # wherever its binding declared it, so a synced table's entry replaces a read-only one above;
    # and its map table exists once the bindings are loaded)
    **{t.name: frozenset(c.name for c in t.c) for t in (user, *(b.table for b in BINDINGS.values()))},
}


def prepare_schema(conn: Connection, *, defer_indexes: bool = False) -> bool:
    """Check or bootstrap the schema inside the caller's transaction; True when bootstrapped."""
    tables = set(inspect(conn).get_table_names())
    lamindb_tables = {t for t in tables if t.startswith("lamindb_")}
    bootstrapped = False
    if not lamindb_tables:
        own = ("syncd_", *dialect_for(conn).system_table_prefixes)
        foreign = sorted(t for t in tables if not t.startswith(own))
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise IncompatibleSchemaError(
                f"not a LaminDB instance and not empty: it has tables {shown}; "
                "point syncd at a LaminDB instance database or at an empty database"
            )
        _bootstrap(conn, defer_indexes=defer_indexes)
        bootstrapped = True
    else:
        _check(conn, lamindb_tables)
    bookkeeping.create_all(conn, checkfirst=True)
    _check_version(conn)
    if bootstrapped and defer_indexes:
        mark_pending(conn)
    return bootstrapped


def build_deferred_indexes(conn: Connection) -> int:
    """Build the indexes a bootstrap deferred, if any are pending; returns how many it built."""
    return build_pending(conn, dialect_for(conn).lamindb_ddl)


def _bootstrap(conn: Connection, *, defer_indexes: bool) -> None:
    dialect = dialect_for(conn)
    statements = dialect.lamindb_ddl
    for statement in deferrable(statements, dialect)[0] if defer_indexes else statements:
        conn.exec_driver_sql(statement)
    for statement in (*ddl.SEED_STATEMENTS, *dialect.after_seed):
        conn.exec_driver_sql(statement)


def _check(conn: Connection, present: set[str]) -> None:
    problems: list[str] = []
    inspector = inspect(conn)
    for table, needed in REQUIRED_COLUMNS.items():
        if table not in present:
            problems.append(f"table {table} is missing")
            continue
        columns = {c["name"] for c in inspector.get_columns(table)}
        missing = sorted(needed - columns)
        if missing:
            problems.append(f"{table} lacks column(s) {', '.join(missing)}")
    if problems:
        raise IncompatibleSchemaError(
            "incompatible LaminDB schema (syncd needs lamindb 2.x): " + "; ".join(problems)
        )


def _check_version(conn: Connection) -> None:
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    if row is None:
        conn.execute(meta.insert().values(key="schema_version", value=SCHEMA_VERSION))
        return
    version = str(row.value)
    while version in MIGRATIONS and version != SCHEMA_VERSION:
        version, step = MIGRATIONS[version]
        step(conn)
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=version))
    if version != SCHEMA_VERSION:
        raise IncompatibleSchemaError(
            f"syncd bookkeeping tables are version {version}; this syncd writes version "
            f"{SCHEMA_VERSION}: upgrade syncd (or restore the matching version)"
        )
