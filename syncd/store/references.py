"""Which LaminDB records still point at a space (and so keep a tombstoned hub space alive).

The set of tables with a ``space_id`` foreign key differs between instances
(modules such as bionty add their own), so it is read from the catalog once
per connection. The tables of the resources that go with their space
(:func:`syncd.store.resources.dependents`: blocks) are always among them, even
while a new PostgreSQL database still waits for their foreign key
(:mod:`syncd.store.indexes`); their rows that syncd itself synced from the hub
do not count: they are removed together with their space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, exists, select, text

from syncd.store.dialects import dialect_for

if TYPE_CHECKING:
    from syncd.store.binding import StoreResource

__all__ = ["SpaceReferences"]


class SpaceReferences:
    """Finds records referencing a space, using a catalog read once per instance."""

    def __init__(self, dependents: Sequence[StoreResource]) -> None:
        self.dependents = tuple(dependents)
        """The resources whose hub-synced rows go with their space (and so do not hold it)."""
        self._columns: list[tuple[str, str]] | None = None

    def _discover(self, conn: Connection) -> list[tuple[str, str]]:
        if self._columns is None:
            found = {(str(t), str(c)) for t, c in conn.execute(dialect_for(conn).space_foreign_keys)}
            own = {(d.table.name, d.parent_key) for d in self.dependents if d.parent_key is not None}
            self._columns = sorted(found | own)
        return self._columns

    def referencing(self, conn: Connection, space_local_id: int) -> list[str]:
        """Tables holding records that point at the space (rows synced from the hub excluded)."""
        synced = {(d.table.name, d.parent_key): d for d in self.dependents}
        found: list[str] = []
        preparer = conn.dialect.identifier_preparer
        for table, column in self._discover(conn):
            dependent = synced.get((table, column))
            if dependent is not None:
                if _local_rows(conn, dependent, column, space_local_id):
                    found.append(table)
                continue
            query = text(
                f"SELECT 1 FROM {preparer.quote(table)} "  # noqa: S608 - names come from the catalog
                f"WHERE {preparer.quote(column)} = :id LIMIT 1"
            )
            if conn.execute(query, {"id": space_local_id}).first() is not None:
                found.append(table)
        return found


def _local_rows(conn: Connection, dependent: StoreResource, column: str, space_local_id: int) -> bool:
    """Whether rows of ``dependent``'s table that did not come from the hub point at the space."""
    table, mapping = dependent.table, dependent.map_table
    local = (
        select(table.c.id)
        .where(table.c[column] == space_local_id)
        .where(~exists().where(mapping.c.local_id == table.c.id))
        .limit(1)
    )
    return conn.execute(local).first() is not None
