"""Apply validated ``space_block`` rows to ``lamindb_spaceblock`` in one transaction.

Rows are written in bulk: new blocks and their map rows through
:mod:`syncd.store.bulk` (a multi-row ``INSERT`` on SQLite, ``COPY`` on PostgreSQL,
ids allocated up front), changed blocks with one ``executemany`` UPDATE. A page's
lookups run as one statement, built once per connection
(:class:`syncd.store.keysets.Lookups`). A
block whose space is not known locally yet is deferred, kept with its payload,
and applied as soon as the space arrives. A tombstone deletes the local block.
Blocks live on branch 1 (main), as LaminDB's own defaults do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Connection, bindparam, delete, select, update

from syncd.core.models import Resource
from syncd.core.resources.space_block import HubBlock
from syncd.core.results import ApplyResult, Rejection
from syncd.core.timestamps import sqlite_from_canonical
from syncd.store.bulk import allocate_ids, insert_rows
from syncd.store.context import ApplyContext, latest_per_id
from syncd.store.keysets import Lookups, among, key_set, keyed, prepared
from syncd.store.parking import Deferral, defer_rows, parked_probes, quarantine_rows, release
from syncd.store.schema import block_map, space_gone, space_map, spaceblock, user
from syncd.store.unseen import remember_unseen
from syncd.store.users import resolve_users

__all__ = ["apply_blocks", "remove_blocks"]

R = Resource.SPACE_BLOCK


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.store")  # type: ignore[no-any-return]


@dataclass(slots=True)
class _Lookups:
    """What the page's lookup found besides maps and spaces."""

    taken: dict[str, int]
    """Local id by uid, for the page's uids that exist in ``lamindb_spaceblock``."""
    users: list[tuple[str, int]]
    """(uid, local id) of the page's creators that exist in ``lamindb_user``."""


class _Mapped(NamedTuple):
    """A block's row in ``syncd_block_map``."""

    hub_id: str
    local_id: int
    uid: str
    hub_updated_at: str


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
    # every lookup of the page in one statement, built once per connection: see keysets.Lookups
    statement = prepared(conn, "block_page", _page_lookups)
    map_rows, known_spaces, gone_spaces, uids, creators, *parked = statement.run(
        conn,
        {
            "blocks": key_set(conn, [r.key for r in rows]),
            "spaces": key_set(conn, {r.space_key for r in rows}),
            "uids": key_set(conn, [r.lnid for r in rows]),
            "creators": key_set(conn, {r.created_by.lnid for r in rows}),
        },
    )
    maps = {m[0]: _Mapped(*m) for m in map_rows}
    spaces: dict[str, int] = {h: int(i) for h, i in known_spaces}
    gone = {h for (h,) in gone_spaces} - set(spaces)
    lookups = _Lookups(taken={u: int(i) for u, i in uids}, users=creators)
    versions: dict[str, str] = {}
    rejected: list[Rejection] = []
    to_defer: list[Deferral] = []
    writes: list[HubBlock] = []
    deletes: list[str] = []
    homeless: list[str] = []  # live on the hub, in a deleted space
    restamped = _restamped(conn, rows, maps, spaces)
    for row in rows:
        hub_id, stamp = row.key, row.stamp
        mapped = maps.get(hub_id)
        if hub_id in restamped or (mapped is not None and mapped.hub_updated_at == stamp):
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
        elif row.deleted_at is not None or row.space_key in gone:
            # a tombstone; or its space was deleted on the hub, so the block cannot exist here (one
            # synced before, in the space it was moved out of, goes as a tombstoned one would)
            versions[hub_id] = stamp
            if row.deleted_at is None:
                homeless.append(hub_id)
            if mapped is not None:
                deletes.append(hub_id)
            else:
                result.add(R, "unchanged")
        elif row.space_key not in spaces:
            to_defer.append(
                Deferral(
                    hub_id,
                    stamp,
                    f"space {row.space_id} is not known here yet",
                    dict(row.raw),
                    waiting_for=row.space_key,
                )
            )
        else:
            writes.append(row)
    _delete(conn, deletes, maps, lookups)
    result.add(R, "deleted", len(deletes))
    if homeless:
        # live hub rows this instance lacks on purpose: a --full listing must not re-read the stream
        remember_unseen(conn, R, homeless)
    if writes:
        _write(conn, writes, maps, spaces, lookups, ctx, result, rejected, versions)
    quarantine_rows(conn, R, rejected, ctx.now)
    result.add(R, "rejected", len(rejected))
    defer_rows(conn, R, to_defer, ctx.now)
    result.add(R, "deferred", len(to_defer))
    release(conn, R, versions, parked)
    return result


def _restamped(
    conn: Connection, rows: list[HubBlock], maps: dict[str, _Mapped], spaces: dict[str, int]
) -> dict[str, str]:
    """Versions stamped older than the one applied here that hold the same content: ``{hub_id: stamp}``.

    A late commit stamps its transaction's start, so the hub's current state can
    carry an older stamp than a version served before. It is applied all the
    same when it differs (the rest of :func:`apply_blocks` does that); when it
    does not, only its stamp is recorded.
    """
    if not maps:  # none of the page's blocks is here yet (a first load)
        return {}
    older = [r for r in rows if (m := maps.get(r.key)) is not None and m.hub_updated_at > r.stamp]
    if not older:
        return {}
    held = _local_contents(conn, [maps[r.key].local_id for r in older])
    same: dict[str, str] = {}
    for row in older:
        mapped = maps[row.key]
        if row.deleted_at is None and held.get(mapped.local_id) == _content(row, spaces.get(row.space_key)):
            same[row.key] = row.stamp
        else:
            _log().info(
                "sync.older_stamp_applied",
                resource=R.value,
                hub_id=row.key,
                applied_stamp=mapped.hub_updated_at,
                served_stamp=row.stamp,
            )
    if same:
        conn.execute(
            update(block_map)
            .where(block_map.c.hub_id == bindparam("_hub_id"))
            .values(hub_updated_at=bindparam("_stamp")),
            [{"_hub_id": h, "_stamp": s} for h, s in same.items()],
        )
    return same


def _content(row: HubBlock, space_id: int | None) -> tuple[Any, ...]:
    """What a block holds in ``lamindb_spaceblock``, as :func:`_local_contents` reads it back."""
    return (
        row.lnid,
        row.version_tag,
        row.is_latest,
        row.content,
        row.hash,
        row.kind,
        row.created_at,
        space_id,
        row.created_by.lnid,
    )


def _local_contents(conn: Connection, local_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """The content of these local blocks, keyed by local id, in :func:`_content`'s form."""
    query = (
        select(
            spaceblock.c.id,
            spaceblock.c.uid,
            spaceblock.c.version_tag,
            spaceblock.c.is_latest,
            spaceblock.c.content,
            spaceblock.c.hash,
            spaceblock.c.kind,
            spaceblock.c.created_at,
            spaceblock.c.space_id,
            user.c.uid,
        )
        .outerjoin(user, user.c.id == spaceblock.c.created_by_id)
        .where(among(conn, spaceblock.c.id, local_ids))
    )
    return {int(r[0]): (r[1], r[2], bool(r[3]), *r[4:]) for r in conn.execute(query)}


def _delete(conn: Connection, hub_ids: list[str], maps: dict[str, _Mapped], lookups: _Lookups) -> None:
    if not hub_ids:
        return
    local_ids = [maps[h].local_id for h in hub_ids]
    conn.execute(delete(spaceblock).where(among(conn, spaceblock.c.id, local_ids)))
    conn.execute(delete(block_map).where(among(conn, block_map.c.hub_id, hub_ids)))
    freed = set(local_ids)  # their uids are free again for this page's new blocks
    lookups.taken = {u: i for u, i in lookups.taken.items() if i not in freed}


def _page_lookups(conn: Connection) -> Lookups:
    """A page's lookups: its map rows, spaces (known, deleted), uids taken, creators, and parked rows."""
    return Lookups(
        conn,
        select(
            block_map.c.hub_id, block_map.c.local_id, block_map.c.uid, block_map.c.hub_updated_at
        ).where(keyed(conn, block_map.c.hub_id, "blocks")),
        select(space_map.c.hub_id, space_map.c.local_id).where(keyed(conn, space_map.c.hub_id, "spaces")),
        select(space_gone.c.hub_id).where(keyed(conn, space_gone.c.hub_id, "spaces")),
        select(spaceblock.c.uid, spaceblock.c.id).where(keyed(conn, spaceblock.c.uid, "uids")),
        select(user.c.uid, user.c.id).where(keyed(conn, user.c.uid, "creators")),
        *parked_probes(R),
    )


_BLOCK_COLUMNS = (
    "version_tag",
    "is_latest",
    "id",
    "uid",
    "content",
    "hash",
    "kind",
    "created_at",
    "space_id",
    "created_by_id",
)
# the same in every block syncd writes: written into the statement, not bound per row
_BLOCK_FIXED = {"_status_code": 0, "branch_id": 1, "created_on_id": 1}
_MAP_COLUMNS = ("hub_id", "local_id", "uid", "hub_updated_at")


def _write(
    conn: Connection,
    rows: list[HubBlock],
    maps: dict[str, _Mapped],
    spaces: dict[str, int],
    lookups: _Lookups,
    ctx: ApplyContext,
    result: ApplyResult,
    rejected: list[Rejection],
    versions: dict[str, str],
) -> None:
    users = resolve_users(conn, [r.created_by for r in rows], lookups.users)
    fresh = [r for r in rows if r.key not in maps]
    known = [r for r in rows if r.key in maps]
    adopt: list[tuple[HubBlock, int]] = []
    if fresh:
        fresh = _claimable(conn, fresh, lookups.taken, ctx, adopt, rejected)
    if known or adopt:
        params = [
            {"_id": maps[r.key].local_id, **_values(r, spaces[r.space_key], users[r.created_by.lnid])}
            for r in known
        ]
        params += [
            {"_id": local, **_values(r, spaces[r.space_key], users[r.created_by.lnid])} for r, local in adopt
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
                [{"_hub_id": r.key, "_stamp": r.stamp} for r in known],
            )
    new_maps = [(r.key, local, r.lnid, r.stamp) for r, local in adopt]
    if fresh:
        text_timestamps = ctx.dialect.text_timestamps
        # ids in uid order: the uid index then takes the page's rows in key order, which SQLite
        # writes faster than in hub order
        fresh.sort(key=lambda r: r.lnid)
        new_ids = allocate_ids(conn, spaceblock, len(fresh))
        insert_rows(
            conn,
            spaceblock,
            _BLOCK_COLUMNS,
            [
                (
                    r.version_tag,
                    r.is_latest,
                    local,
                    r.lnid,
                    r.content,
                    r.hash,
                    r.kind,
                    # SQLite stores Django's text form; PostgreSQL's binary COPY takes the datetime
                    sqlite_from_canonical(r.created_text) if text_timestamps else r.created_at,
                    spaces[r.space_key],
                    users[r.created_by.lnid],
                )
                for r, local in zip(fresh, new_ids, strict=True)
            ],
            _BLOCK_FIXED,
        )
        new_maps += [(r.key, local, r.lnid, r.stamp) for r, local in zip(fresh, new_ids, strict=True)]
        result.add(R, "inserted", len(fresh))
    insert_rows(conn, block_map, _MAP_COLUMNS, new_maps)
    for row in [*known, *fresh, *(r for r, _ in adopt)]:
        versions[row.key] = row.stamp


def _claimable(
    conn: Connection,
    fresh: list[HubBlock],
    uids: dict[str, int],
    ctx: ApplyContext,
    adopt: list[tuple[HubBlock, int]],
    rejected: list[Rejection],
) -> list[HubBlock]:
    """The new blocks whose uid is free; the others are adopted or rejected.

    ``uids`` maps the uids of the page's blocks that exist locally to their local ids.
    """
    wanted = {r.lnid for r in fresh}
    taken = {u: i for u, i in uids.items() if u in wanted}
    if not taken:
        return fresh
    mapped_locals = set(
        conn.execute(
            select(block_map.c.local_id).where(among(conn, block_map.c.local_id, list(taken.values())))
        ).scalars()
    )
    keep: list[HubBlock] = []
    for row in fresh:
        local = taken.get(row.lnid)
        if local is None:
            keep.append(row)
        elif local in mapped_locals:
            reason = f"lnid: {row.lnid} already belongs to another hub block"
            rejected.append(Rejection(dict(row.raw), reason))
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
    return keep


def remove_blocks(
    conn: Connection, result: ApplyResult, ctx: ApplyContext, gone: list[tuple[str, int, str]]
) -> None:
    """Delete blocks the hub dropped without a tombstone (``(hub_id, local_id, uid)`` each)."""
    if gone:
        conn.execute(delete(spaceblock).where(among(conn, spaceblock.c.id, [local for _, local, _ in gone])))
        conn.execute(delete(block_map).where(among(conn, block_map.c.hub_id, [h for h, _, _ in gone])))
        result.add(R, "deleted", len(gone))
