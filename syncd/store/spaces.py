"""Apply validated ``space`` rows to ``lamindb_space`` in one transaction.

Identity: ``syncd_space_map`` links hub id, uid (the hub's lnid) and the local
id, which never changes once given. Renames update rows in place; names that
move between spaces within one batch go through a temporary name so the unique
index on ``lower(name)`` never trips. A name still held by another hub space
(whose rename has not arrived yet) defers the row; a name or uid held by a
local-only space rejects it, unless ``on_name_conflict = "adopt"``. The
built-in space ``all`` (id 1) is never touched. A space that is live again
after it was removed here (or skipped while deleted) sends the block stream
back to the beginning: the hub does not re-stamp its blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from syncd.core.models import Resource
from syncd.core.resources import DESCRIPTIONS
from syncd.core.resources.space import HubSpace, parse_space
from syncd.core.results import ApplyResult, Rescan
from syncd.core.timestamps import format_canonical
from syncd.errors import RowRejected
from syncd.store.context import ApplyContext, latest_per_id
from syncd.store.cursors import restart_cursor
from syncd.store.keysets import among
from syncd.store.parking import defer_rows, load_deferred, quarantine_rows, release
from syncd.store.schema import BUILTIN_SPACE_ID, space, space_gone, space_map
from syncd.store.space_batch import Batch, Plan
from syncd.store.space_removal import hold_or_remove, mark_gone, retry_held_spaces
from syncd.store.users import resolve_users

__all__ = ["apply_spaces", "hold_or_remove", "remove_spaces", "retry_held_spaces"]

R = Resource.SPACE
# the resources whose rows refer to a space (blocks): their streams restart when a space comes back
_DEPENDENTS = tuple(d.resource for d in DESCRIPTIONS if d.depends_on is R)


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.store")  # type: ignore[no-any-return]


def _with_parked(conn: Connection, rows: list[HubSpace]) -> tuple[list[HubSpace], set[tuple[str, str]]]:
    """Add the deferred spaces to a batch: a rename waiting for another space's rename may be
    the other half of a swap that this batch completes."""
    parked: list[HubSpace] = []
    for payload in load_deferred(conn, R):
        try:
            parked.append(parse_space(payload))
        except RowRejected:
            continue  # it was valid when deferred; the retry path quarantines it if not
    # a served row is the hub's current state: it replaces a parked version of the same space
    # whatever the stamps say (a late commit can re-stamp a row older)
    merged = list({r.key: r for r in [*parked, *latest_per_id(rows)]}.values())
    return merged, {(p.key, p.stamp) for p in parked}


def apply_spaces(conn: Connection, rows: list[HubSpace], ctx: ApplyContext) -> ApplyResult:
    """Apply a page of validated spaces; returns counts and held tombstones."""
    if not rows:
        return ApplyResult()
    rows, parked = _with_parked(conn, rows)
    batch = Batch(conn, rows, ctx, parked)
    plans: list[Plan] = []
    tombstones: list[HubSpace] = []
    for row in rows:
        _classify(batch, row, plans, tombstones)
    plans = _resolve_names(batch, plans)
    _write(batch, plans)
    _restamp(conn, batch.restamped)
    for row in tombstones:
        _tombstone(batch, row)
    mark_gone(conn, batch.gone)
    quarantine_rows(conn, R, batch.rejected, ctx.now)
    defer_rows(conn, R, batch.deferred, ctx.now)
    release(conn, R, batch.versions)
    return batch.result


def _classify(batch: Batch, row: HubSpace, plans: list[Plan], tombstones: list[HubSpace]) -> None:
    stamp = row.stamp
    mapped = batch.maps.get(row.key)
    if mapped is not None and (
        mapped.hub_updated_at == stamp or (mapped.hub_updated_at > stamp and _holds(batch, mapped, row))
    ):
        # the version applied here, or one the hub re-stamped older with the same content (a late
        # commit stamps its transaction's start): nothing to write but the stamp
        if mapped.hub_updated_at != stamp:
            batch.restamped[row.key] = stamp
        batch.versions[row.key] = stamp
        batch.result.add(R, "unchanged")
        return
    if mapped is not None and mapped.hub_updated_at > stamp:
        # what the hub serves is the row's current state, whatever its stamp says: converge to it
        _log().info(
            "sync.older_stamp_applied",
            resource=R.value,
            hub_id=row.key,
            applied_stamp=mapped.hub_updated_at,
            served_stamp=stamp,
        )
    if mapped is not None and mapped.uid != row.lnid:
        batch.reject(
            row,
            f"lnid: changed from {mapped.uid} to {row.lnid} for space {row.id}; "
            "a space's lnid must never change",
        )
        return
    if row.deleted_at is not None:
        tombstones.append(row)
        return
    if mapped is not None:
        plans.append(Plan(row, mapped.local_id, "update"))
        return
    holder = batch.by_uid.get(row.lnid)
    if holder is None:
        plans.append(Plan(row, None, "insert"))
    elif holder.id == BUILTIN_SPACE_ID:
        batch.reject(row, f"lnid: {row.lnid} is the uid of the built-in space 'all'")
    elif holder.id in batch.synced_ids:
        batch.reject(row, f"lnid: {row.lnid} already belongs to another hub space (local id {holder.id})")
    elif batch.ctx.on_name_conflict == "adopt":
        plans.append(Plan(row, holder.id, "adopt"))
    else:
        batch.reject(
            row,
            f"lnid: {row.lnid} is already the uid of local space {batch.describe(holder.id)}, "
            'which did not come from the hub; set on_name_conflict = "adopt" to take it over',
        )


def _holds(batch: Batch, mapped: Any, row: HubSpace) -> bool:
    """Whether the instance already holds exactly what ``row`` says (content, not stamps)."""
    if row.deleted_at is not None or mapped.tombstoned_at is not None:
        return row.deleted_at is not None and mapped.tombstoned_at is not None
    if mapped.uid != row.lnid:
        return False
    local = batch.content(mapped.local_id)
    creator = row.created_by.lnid if row.created_by is not None else None
    return local == (row.name, row.description, row.created_at, creator)


def _resolve_names(batch: Batch, plans: list[Plan]) -> list[Plan]:
    """Drop (defer or reject) plans whose name cannot be taken; repeat until stable."""
    occupied = {batch.key(loc.name): loc.id for loc in batch.locals.values()}
    active = list(plans)
    while True:
        moving = {p.local_id for p in active if p.local_id is not None}
        held = {k: v for k, v in occupied.items() if v not in moving}
        claims: dict[str, Plan] = {}
        dropped = False
        for plan in active:
            key = batch.key(plan.row.name)
            holder = held.get(key)
            if key in claims:
                other = claims[key].row
                batch.defer(
                    plan.row,
                    f"name: {plan.row.name!r} is also the name of hub space {other.lnid} "
                    "in the same batch (the hub's names should be unique)",
                )
            elif holder is None or holder == plan.local_id:
                claims[key] = plan
                continue
            elif holder in batch.held_ids:
                # the hub deleted that space, and gave its name to a live one: the name is the live
                # space's now; the deleted one is only kept for the records that reference it
                batch.evict(holder, occupied)
                dropped = True
                break
            elif holder in batch.synced_ids:
                waiting = (
                    "whose newest hub version is quarantined; waiting for the hub to fix it"
                    if holder in batch.stuck_ids
                    else "waiting for its rename"
                )
                batch.defer(
                    plan.row,
                    f"name: {plan.row.name!r} is still held locally by hub space "
                    f"{batch.describe(holder)}, {waiting}",
                )
            elif holder == BUILTIN_SPACE_ID:
                batch.reject(plan.row, f"name: {plan.row.name!r} is the name of the built-in space 'all'")
            elif plan.kind == "insert" and batch.ctx.on_name_conflict == "adopt":
                plan.local_id, plan.kind = holder, "adopt"
                dropped = True
                break
            else:
                batch.reject(
                    plan.row,
                    f"name: {plan.row.name!r} collides with local space "
                    f"{batch.describe(holder)}, which did not come from the hub; set "
                    'on_name_conflict = "adopt" to take it over',
                )
            active.remove(plan)
            dropped = True
            break
        if not dropped:
            return active


def _space_values(row: HubSpace, users: dict[str, int]) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "created_at": row.created_at,
        "created_by_id": users[row.created_by.lnid] if row.created_by else None,
    }


def _write(batch: Batch, plans: list[Plan]) -> None:
    conn = batch.conn
    if batch.evicted:  # names of held spaces that live hub spaces take (see _resolve_names)
        conn.execute(
            update(space).where(space.c.id == bindparam("_id")).values(name=bindparam("_name")),
            [{"_id": local_id, "_name": name} for local_id, name in batch.evicted.items()],
        )
    if not plans:
        return
    users = resolve_users(conn, [p.row.created_by for p in plans if p.row.created_by])
    existing = [p for p in plans if p.local_id is not None]
    targets = {batch.key(p.row.name): p for p in plans}
    # phase 1: free names that another row of this batch takes
    parked = [
        {"_id": p.local_id, "_name": f"~syncd-rename-{p.local_id}-{p.row.id.hex[:12]}"}
        for p in existing
        if p.local_id is not None
        and (claimant := targets.get(batch.key(batch.locals[p.local_id].name))) is not None
        and claimant is not p
    ]
    if parked:
        conn.execute(
            update(space).where(space.c.id == bindparam("_id")).values(name=bindparam("_name")), parked
        )
    # phase 2: rewrite existing rows in place, then insert new ones
    for plan in existing:
        assert plan.local_id is not None
        values = _space_values(plan.row, users)
        if plan.kind == "adopt":
            values["uid"] = plan.row.lnid
        conn.execute(update(space).where(space.c.id == plan.local_id).values(**values))
        batch.result.add(R, "updated")
    fresh = [p for p in plans if p.local_id is None]
    if fresh:
        created = {
            str(uid): int(local)
            for uid, local in conn.execute(
                insert(space).returning(space.c.uid, space.c.id),
                [{"uid": p.row.lnid, **_space_values(p.row, users)} for p in fresh],
            )
        }
        for plan in fresh:
            plan.local_id = created[plan.row.lnid]
        batch.result.add(R, "inserted", len(fresh))
    _write_maps(batch, plans)


def _write_maps(batch: Batch, plans: list[Plan]) -> None:
    conn = batch.conn
    new_maps: list[dict[str, Any]] = []
    changed_maps: list[dict[str, Any]] = []
    for plan in plans:
        stamp = plan.row.stamp
        batch.versions[plan.row.key] = stamp
        values = {
            "hub_id": plan.row.key,
            "local_id": plan.local_id,
            "uid": plan.row.lnid,
            "hub_updated_at": stamp,
            "tombstoned_at": None,
            "adopted": plan.kind == "adopt",
        }
        (changed_maps if plan.row.key in batch.maps else new_maps).append(values)
    if new_maps:
        conn.execute(insert(space_map), new_maps)
        _back_from_gone(batch, [m["hub_id"] for m in new_maps])
    for values in changed_maps:
        conn.execute(
            update(space_map)
            .where(space_map.c.hub_id == values["hub_id"])
            .values(hub_updated_at=values["hub_updated_at"], tombstoned_at=None)
        )


def _restamp(conn: Connection, stamps: Mapping[str, str]) -> None:
    """Record the stamps of versions the hub re-stamped older without changing them."""
    if stamps:
        conn.execute(
            update(space_map).where(space_map.c.hub_id == bindparam("_hub_id")).values(
                hub_updated_at=bindparam("_stamp")
            ),
            [{"_hub_id": h, "_stamp": s} for h, s in stamps.items()],
        )


def _back_from_gone(batch: Batch, hub_ids: list[str]) -> None:
    """Spaces live again after being removed here (or skipped while deleted) get their blocks back.

    Their blocks were removed or skipped while the space was gone, and the hub
    need not re-stamp them when it restores the space: the block cursor is
    already past them. So the block stream (and that of any other resource
    depending on spaces) goes back to the beginning, in this transaction;
    spaces are read before blocks, so they return in the same run.
    """
    conn = batch.conn
    gone = select(space_gone.c.hub_id).where(among(conn, space_gone.c.hub_id, hub_ids))
    back = sorted(conn.scalars(gone))
    if not back:
        return
    conn.execute(delete(space_gone).where(among(conn, space_gone.c.hub_id, back)))
    for dependent in _DEPENDENTS:
        restart_cursor(conn, dependent, now=batch.ctx.now)
        batch.result.rescans.append(Rescan(dependent, "space_restored", tuple(back)))


def _tombstone(batch: Batch, row: HubSpace) -> None:
    conn = batch.conn
    hub_id, stamp = row.key, row.stamp
    batch.versions[hub_id] = stamp
    mapped = batch.maps.get(hub_id)
    if mapped is None:
        # never synced here: remember it is gone and forget whatever waited for it (for the whole
        # batch at once, after the loop: a first sync meets every deleted space of the hub)
        batch.gone[hub_id] = stamp
        batch.result.add(R, "unchanged")
        return
    hold_or_remove(
        conn, batch.result, batch.ctx, hub_id=hub_id, local_id=mapped.local_id, uid=mapped.uid, stamp=stamp
    )


def remove_spaces(
    conn: Connection, result: ApplyResult, ctx: ApplyContext, gone: list[tuple[str, int, str]]
) -> None:
    """Remove (or hold) spaces the hub dropped without a tombstone (``(hub_id, local_id, uid)`` each)."""
    stamp = format_canonical(ctx.now)
    for hub_id, local_id, uid in gone:
        hold_or_remove(conn, result, ctx, hub_id=hub_id, local_id=local_id, uid=uid, stamp=stamp)
