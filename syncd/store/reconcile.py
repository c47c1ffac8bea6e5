"""Hard deletes: rows the hub dropped without a tombstone, found by comparing key listings.

Only called with a complete listing (every page read up to an empty one); an
incomplete or failed listing deletes nothing. Spaces still referenced by
LaminDB records are kept and held, exactly as for tombstones.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from syncd.core.models import Resource
from syncd.core.results import ApplyResult
from syncd.core.timestamps import format_canonical
from syncd.store.context import ApplyContext
from syncd.store.keysets import among
from syncd.store.schema import block_map, deferred, space_map, spaceblock
from syncd.store.spaces import hold_or_remove

__all__ = ["remove_vanished"]


def remove_vanished(
    conn: Connection, resource: Resource, live_ids: set[str], ctx: ApplyContext
) -> ApplyResult:
    result = ApplyResult()
    table = space_map if resource is Resource.SPACE else block_map
    synced = conn.execute(select(table.c.hub_id, table.c.local_id, table.c.uid)).all()
    gone = [(h, local, uid) for h, local, uid in synced if h not in live_ids]
    if resource is Resource.SPACE:
        stamp = format_canonical(ctx.now)
        for hub_id, local_id, uid in gone:
            hold_or_remove(conn, result, ctx, hub_id=hub_id, local_id=local_id, uid=uid, stamp=stamp)
    elif gone:
        local_ids = [local for _, local, _ in gone]
        conn.execute(delete(spaceblock).where(among(conn, spaceblock.c.id, local_ids)))
        conn.execute(delete(block_map).where(among(conn, block_map.c.hub_id, [h for h, _, _ in gone])))
        result.add(resource, "deleted", len(gone))
    parked = conn.execute(select(deferred.c.hub_id).where(deferred.c.resource == resource.value)).scalars()
    stale = [h for h in parked if h not in live_ids]
    if stale:
        conn.execute(
            delete(deferred).where(
                deferred.c.resource == resource.value, among(conn, deferred.c.hub_id, stale)
            )
        )
    return result
