"""Which LaminDB records still point at a space (and so keep a tombstoned hub space alive).

The set of tables with a ``space_id`` foreign key differs between instances
(modules such as bionty add their own), so it is read from the catalog once
per connection. ``lamindb_spaceblock.space_id`` is always among them, even
while a new PostgreSQL database still waits for that foreign key
(:mod:`syncd.store.indexes`). Blocks that syncd itself synced from the hub do
not count: they are removed together with their space.
"""

from __future__ import annotations

from sqlalchemy import Connection, exists, select, text

from syncd.store.dialects import dialect_for
from syncd.store.schema import block_map, spaceblock

__all__ = ["SpaceReferences"]

class SpaceReferences:
    """Finds records referencing a space, using a catalog read once per instance."""

    def __init__(self) -> None:
        self._columns: list[tuple[str, str]] | None = None

    def _discover(self, conn: Connection) -> list[tuple[str, str]]:
        if self._columns is None:
            found = {(str(t), str(c)) for t, c in conn.execute(dialect_for(conn).space_foreign_keys)}
            self._columns = sorted(found | {(spaceblock.name, spaceblock.c.space_id.name)})
        return self._columns

    def referencing(self, conn: Connection, space_local_id: int) -> list[str]:
        """Tables holding records that point at the space (hub-synced blocks excluded)."""
        found: list[str] = []
        preparer = conn.dialect.identifier_preparer
        for table, column in self._discover(conn):
            if table == "lamindb_spaceblock":
                local_block = (
                    select(spaceblock.c.id)
                    .where(spaceblock.c.space_id == space_local_id)
                    .where(~exists().where(block_map.c.local_id == spaceblock.c.id))
                    .limit(1)
                )
                if conn.execute(local_block).first() is not None:
                    found.append(table)
                continue
            query = text(
                f"SELECT 1 FROM {preparer.quote(table)} "  # noqa: S608 - names come from the catalog
                f"WHERE {preparer.quote(column)} = :id LIMIT 1"
            )
            if conn.execute(query, {"id": space_local_id}).first() is not None:
                found.append(table)
        return found
