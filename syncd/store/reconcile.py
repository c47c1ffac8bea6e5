"""Hard deletes: rows the hub dropped without a tombstone, found by comparing key listings.

Only called with a complete listing (every page read up to an empty one); an
incomplete or failed listing deletes nothing. Spaces still referenced by
LaminDB records are kept and held, exactly as for tombstones.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from syncd.core.models import Resource
from syncd.core.results import ApplyResult
from syncd.store.context import ApplyContext
from syncd.store.keysets import among
from syncd.store.resources import binding
from syncd.store.schema import deferred

__all__ = ["remove_vanished"]


def remove_vanished(
    conn: Connection, resource: Resource, live_ids: set[str], ctx: ApplyContext
) -> ApplyResult:
    result = ApplyResult()
    bound = binding(resource)
    table = bound.map_table
    synced = conn.execute(select(table.c.hub_id, table.c.local_id, table.c.uid)).all()
    gone = [(h, local, uid) for h, local, uid in synced if h not in live_ids]
    bound.remove(conn, result, ctx, gone)
    parked = conn.execute(select(deferred.c.hub_id).where(deferred.c.resource == resource.value)).scalars()
    stale = [h for h in parked if h not in live_ids]
    if stale:
        conn.execute(
            delete(deferred).where(
                deferred.c.resource == resource.value, among(conn, deferred.c.hub_id, stale)
            )
        )
    return result
