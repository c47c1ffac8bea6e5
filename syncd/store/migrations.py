"""Upgrades of syncd's own ``syncd_`` tables from the layout an older syncd wrote.

``syncd_meta.schema_version`` says which layout an instance has. Opening an
instance written by an older syncd runs each step from that version up, in the
transaction that checks the schema, so an instance is either wholly upgraded
or untouched. LaminDB's tables are never altered. A newer version than this
syncd knows is refused (:mod:`syncd.store.bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy import Connection, MetaData, Table, insert, select, text

from syncd.store.schema import block_map

__all__ = ["MIGRATIONS"]



def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.store")  # type: ignore[no-any-return]


def _rebuild(conn: Connection, target: Table) -> int:
    """Recreate ``target`` in its current layout, keeping its rows (same column names); returns how many.

    The rows are copied inside the database (``INSERT ... SELECT`` into a new
    table, which then takes the old one's name), never through Python: a map
    of millions of rows costs no memory here.
    """
    staging = target.to_metadata(MetaData(), name=f"{target.name}_next")
    staging.create(conn)
    columns = [c.name for c in target.c]
    moved = conn.execute(insert(staging).from_select(columns, select(*target.c))).rowcount
    target.drop(conn)
    quote = conn.dialect.identifier_preparer.quote
    conn.execute(text(f"ALTER TABLE {quote(staging.name)} RENAME TO {quote(target.name)}"))
    return int(moved)


def _v1_to_v2(conn: Connection) -> None:
    # v1 keyed syncd_block_map by hub_id, with unique indexes on local_id and uid as well
    rows = _rebuild(conn, block_map)
    _log().info("store.migrated", table=block_map.name, to_version="2", rows=rows)


MIGRATIONS: dict[str, tuple[str, Callable[[Connection], None]]] = {
    # from version: (to version, step)
    "1": ("2", _v1_to_v2),
}
