"""Apply validated ``space_block`` rows to ``lamindb_spaceblock`` in one transaction.

Rows are written in bulk (one multi-row INSERT with RETURNING, one executemany
UPDATE). A block whose space is not known locally yet is deferred, kept with
its payload, and applied as soon as the space arrives. A tombstone deletes the
local block. Blocks live on branch 1 (main), as LaminDB's own defaults do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from syncd.models import HubBlock, Resource
from syncd.store.context import ApplyContext, ApplyResult, latest_per_id
from syncd.store.parking import Deferral, Rejection, defer_rows, quarantine_rows, release
from syncd.store.schema import block_map, space_gone, space_map, spaceblock
from syncd.store.users import resolve_users
from syncd.timestamps import format_canonical

__all__ = ["apply_blocks"]

R = Resource.SPACE_BLOCK


def _values(row: HubBlock, space_id: int, user_id: int) -> dict[str, Any]:
    return {
        "version_tag": row.version_tag,
        "is_latest": row.is_latest,
        "content": row.content,
        "hash": row.hash,
        "kind": row.kind,
        "created_at": row.created_at,
        "space_id": space_id,
        "created_by_id": user_id,
    }


def apply_blocks(conn: Connection, rows: list[HubBlock], ctx: ApplyContext) -> ApplyResult:
    """Apply a page of validated blocks; returns counts per action."""
    rows = latest_per_id(rows)
    result = ApplyResult()
    if not rows:
        return result
    ids = [str(r.id) for r in rows]
    maps = {
        m.hub_id: m
        for m in conn.execute(
            select(
                block_map.c.hub_id, block_map.c.local_id, block_map.c.uid, block_map.c.hub_updated_at
            ).where(block_map.c.hub_id.in_(ids))
        )
    }
    wanted = {str(r.space_id) for r in rows}
    spaces: dict[str, int] = {
        h: int(i)
        for h, i in conn.execute(
            select(space_map.c.hub_id, space_map.c.local_id).where(space_map.c.hub_id.in_(wanted))
        )
    }
    unknown = {str(r.space_id) for r in rows} - set(spaces)
    gone = (
        set(conn.execute(select(space_gone.c.hub_id).where(space_gone.c.hub_id.in_(unknown))).scalars())
        if unknown
        else set()
    )
    versions: dict[str, str] = {}
    rejected: list[Rejection] = []
    to_defer: list[Deferral] = []
    writes: list[HubBlock] = []
    deletes: list[str] = []
    for row in rows:
        hub_id, stamp = str(row.id), format_canonical(row.updated_at)
        mapped = maps.get(hub_id)
        if mapped is not None and mapped.hub_updated_at >= stamp:
            versions[hub_id] = stamp
            result.add(R, "unchanged")
        elif mapped is not None and mapped.uid != row.lnid:
            rejected.append(
                Rejection(
                    dict(row.raw),
                    f"lnid: changed from {mapped.uid} to {row.lnid} "
                    f"for block {hub_id}; a block's lnid must never change",
                )
            )
        elif row.deleted_at is not None:
            versions[hub_id] = stamp
            if mapped is not None:
                deletes.append(hub_id)
            else:
                result.add(R, "unchanged")
        elif str(row.space_id) in gone:
            # its space was deleted on the hub: the block cannot exist locally
            versions[hub_id] = stamp
            result.add(R, "unchanged")
        elif str(row.space_id) not in spaces:
            to_defer.append(
                Deferral(
                    hub_id,
                    stamp,
                    f"space {row.space_id} is not known here yet",
                    dict(row.raw),
                    waiting_for=str(row.space_id),
                )
            )
        else:
            writes.append(row)
    if deletes:
        local_ids = [maps[h].local_id for h in deletes]
        conn.execute(delete(spaceblock).where(spaceblock.c.id.in_(local_ids)))
        conn.execute(delete(block_map).where(block_map.c.hub_id.in_(deletes)))
        result.add(R, "deleted", len(deletes))
    if writes:
        _write(conn, writes, maps, spaces, ctx, result, rejected, versions)
    quarantine_rows(conn, R, rejected, ctx.now)
    result.add(R, "rejected", len(rejected))
    defer_rows(conn, R, to_defer, ctx.now)
    result.add(R, "deferred", len(to_defer))
    release(conn, R, versions)
    return result


def _write(
    conn: Connection,
    rows: list[HubBlock],
    maps: dict[str, Any],
    spaces: dict[str, int],
    ctx: ApplyContext,
    result: ApplyResult,
    rejected: list[Rejection],
    versions: dict[str, str],
) -> None:
    users = resolve_users(conn, [r.created_by for r in rows])
    fresh = [r for r in rows if str(r.id) not in maps]
    known = [r for r in rows if str(r.id) in maps]
    adopt: list[tuple[HubBlock, int]] = []
    if fresh:
        taken: dict[str, int] = {
            u: int(i)
            for u, i in conn.execute(
                select(spaceblock.c.uid, spaceblock.c.id).where(spaceblock.c.uid.in_([r.lnid for r in fresh]))
            )
        }
        mapped_locals = (
            set(
                conn.execute(
                    select(block_map.c.local_id).where(block_map.c.local_id.in_(list(taken.values())))
                ).scalars()
            )
            if taken
            else set()
        )
        keep: list[HubBlock] = []
        for row in fresh:
            local = taken.get(row.lnid)
            if local is None:
                keep.append(row)
            elif local in mapped_locals:
                rejected.append(
                    Rejection(dict(row.raw), f"lnid: {row.lnid} already belongs to another hub block")
                )
            elif ctx.on_name_conflict == "adopt":
                adopt.append((row, local))
            else:
                rejected.append(
                    Rejection(
                        dict(row.raw),
                        (
                            f"lnid: {row.lnid} is already the uid of local block {local}, which did "
                            'not come from the hub; set on_name_conflict = "adopt" to take it over'
                        ),
                    )
                )
        fresh = keep
    if known or adopt:
        params = [
            {"_id": maps[str(r.id)].local_id, **_values(r, spaces[str(r.space_id)], users[r.created_by.lnid])}
            for r in known
        ]
        params += [
            {"_id": local, **_values(r, spaces[str(r.space_id)], users[r.created_by.lnid])}
            for r, local in adopt
        ]
        conn.execute(
            update(spaceblock)
            .where(spaceblock.c.id == bindparam("_id"))
            .values({k: bindparam(k) for k in params[0] if k != "_id"}),
            params,
        )
        result.add(R, "updated", len(params))
        if known:
            conn.execute(
                update(block_map)
                .where(block_map.c.hub_id == bindparam("_hub_id"))
                .values(hub_updated_at=bindparam("_stamp")),
                [{"_hub_id": str(r.id), "_stamp": format_canonical(r.updated_at)} for r in known],
            )
    new_maps: list[dict[str, Any]] = [
        {
            "hub_id": str(r.id),
            "local_id": local,
            "uid": r.lnid,
            "hub_updated_at": format_canonical(r.updated_at),
        }
        for r, local in adopt
    ]
    if fresh:
        # RETURNING without a parameter order lets SQLAlchemy batch the rows into multi-row INSERTs;
        # the uid (unique, equal to the hub's lnid) ties each new id back to its row
        rows_out = conn.execute(
            insert(spaceblock).returning(spaceblock.c.uid, spaceblock.c.id),
            [
                {
                    "uid": r.lnid,
                    "_status_code": 0,
                    "branch_id": 1,
                    "created_on_id": 1,
                    **_values(r, spaces[str(r.space_id)], users[r.created_by.lnid]),
                }
                for r in fresh
            ],
        )
        created = {str(uid): int(local) for uid, local in rows_out}
        new_maps += [
            {
                "hub_id": str(r.id),
                "local_id": created[r.lnid],
                "uid": r.lnid,
                "hub_updated_at": format_canonical(r.updated_at),
            }
            for r in fresh
        ]
        result.add(R, "inserted", len(fresh))
    if new_maps:
        conn.execute(insert(block_map), new_maps)
    for row in [*known, *fresh, *(r for r, _ in adopt)]:
        versions[str(row.id)] = format_canonical(row.updated_at)
