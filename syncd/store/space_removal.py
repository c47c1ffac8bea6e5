"""Spaces the hub deleted: removed here, or held while LaminDB records still reference them.

A removed space takes with it the hub-synced rows of each resource that goes
with its space (blocks: :func:`syncd.store.resources.dependents`); all are
remembered as gone, so that rows waiting for the space stop waiting and a
``--full`` listing does not take them for rows the stream missed. A held space is
removed by a later run (:func:`retry_held_spaces`) once nothing references it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, delete, insert, select, update

from syncd.core.models import Resource
from syncd.core.results import ApplyResult
from syncd.store.context import ApplyContext
from syncd.store.keysets import among
from syncd.store.schema import deferred, space, space_gone, space_map
from syncd.store.unseen import remember_unseen

__all__ = ["hold_or_remove", "mark_gone", "retry_held_spaces"]

R = Resource.SPACE


def hold_or_remove(
    conn: Connection,
    result: ApplyResult,
    ctx: ApplyContext,
    *,
    hub_id: str,
    local_id: int,
    uid: str,
    stamp: str,
) -> None:
    """Remove a space the hub deleted, or hold it while LaminDB records still reference it."""
    if ctx.references.referencing(conn, local_id):
        conn.execute(
            update(space_map)
            .where(space_map.c.hub_id == hub_id)
            .values(hub_updated_at=stamp, tombstoned_at=stamp)
        )
        result.held.append(uid)
        return
    _remove_space(conn, result, ctx, hub_id, local_id, stamp)


def mark_gone(conn: Connection, gone: Mapping[str, str]) -> None:
    """Remember hub spaces as deleted (``{hub_id: stamp}``) and forget the rows that waited for them."""
    if not gone:
        return
    ids = list(gone)
    waiting: dict[Resource, list[str]] = {}
    query = select(deferred.c.resource, deferred.c.hub_id).where(among(conn, deferred.c.waiting_for, ids))
    for resource, hub_id in conn.execute(query):
        waiting.setdefault(Resource(resource), []).append(hub_id)
    if waiting:
        conn.execute(delete(deferred).where(among(conn, deferred.c.waiting_for, ids)))
        # rows that waited for them (blocks) may stay live on the hub: not rows the stream missed
        for resource, hub_ids in waiting.items():
            remember_unseen(conn, resource, hub_ids)
    known = set(conn.scalars(select(space_gone.c.hub_id).where(among(conn, space_gone.c.hub_id, ids))))
    fresh = [{"hub_id": h, "hub_updated_at": stamp} for h, stamp in gone.items() if h not in known]
    if fresh:
        conn.execute(insert(space_gone), fresh)


def _remove_space(
    conn: Connection, result: ApplyResult, ctx: ApplyContext, hub_id: str, local_id: int, stamp: str
) -> None:
    for dependent in ctx.references.dependents:
        table, mapping = dependent.table, dependent.map_table
        assert dependent.parent_key is not None
        mapped = conn.execute(
            select(mapping.c.local_id, mapping.c.hub_id)
            .join(table, table.c.id == mapping.c.local_id)
            .where(table.c[dependent.parent_key] == local_id)
        ).all()
        rows = [local for local, _ in mapped]
        if rows:
            conn.execute(delete(table).where(among(conn, table.c.id, rows)))
            conn.execute(delete(mapping).where(among(conn, mapping.c.local_id, rows)))
            # they may stay live on the hub: a --full listing must not take them for rows the stream missed
            remember_unseen(conn, dependent.description.resource, [h for _, h in mapped])
            result.add(dependent.description.resource, "deleted", len(rows))
    conn.execute(delete(space).where(space.c.id == local_id))
    conn.execute(delete(space_map).where(space_map.c.hub_id == hub_id))
    mark_gone(conn, {hub_id: stamp})
    result.add(R, "deleted")


def retry_held_spaces(conn: Connection, ctx: ApplyContext) -> ApplyResult:
    """Delete tombstoned spaces that nothing references any more; report those still held."""
    result = ApplyResult()
    held = conn.execute(
        select(space_map.c.hub_id, space_map.c.local_id, space_map.c.uid, space_map.c.tombstoned_at).where(
            space_map.c.tombstoned_at.is_not(None)
        )
    ).all()
    for hub_id, local_id, uid, stamp in held:
        if ctx.references.referencing(conn, local_id):
            result.held.append(uid)
        else:
            _remove_space(conn, result, ctx, hub_id, local_id, stamp)
    return result
