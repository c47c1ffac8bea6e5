"""Rows that cannot be applied yet (deferred) or at all (quarantined), kept with their payload.

Deferred rows wait for something that will come (a block for its space, a
space for a name another space still holds) and are retried every run.
Quarantined rows broke the contract; they stay until the hub sends a newer,
valid version of the same row. Neither holds up the rest of a page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from syncd.models import Resource
from syncd.rows import row_key
from syncd.store.keysets import among
from syncd.store.schema import deferred, quarantine
from syncd.timestamps import format_canonical, parse_stamp

__all__ = [
    "Deferral",
    "Rejection",
    "count_parked",
    "defer_rows",
    "load_deferred",
    "quarantine_rows",
    "release",
]


class Deferral(msgspec.Struct, frozen=True):
    hub_id: str
    hub_updated_at: str
    reason: str
    payload: Mapping[str, Any]
    waiting_for: str | None = None


class Rejection(msgspec.Struct, frozen=True):
    payload: object
    reason: str


def _dump(payload: object) -> str:
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate (the reason such a row is quarantined) cannot be stored as text: escape it
        text = json.dumps(payload, ensure_ascii=True, sort_keys=True, default=str)
    return text


def defer_rows(conn: Connection, resource: Resource, items: list[Deferral], now: datetime) -> None:
    """Park rows to retry later; an entry is replaced by any other version of the row.

    The version served last is the hub's current state, even when a late commit
    stamped it older than the parked one.
    """
    if not items:
        return
    stamp = format_canonical(now)
    current = {
        r.hub_id: (r.hub_updated_at, r.reason)
        for r in conn.execute(
            select(deferred.c.hub_id, deferred.c.hub_updated_at, deferred.c.reason).where(
                deferred.c.resource == resource.value,
                among(conn, deferred.c.hub_id, [i.hub_id for i in items]),
            )
        )
    }
    for item in items:
        old = current.get(item.hub_id)
        if old is None:
            conn.execute(
                insert(deferred).values(
                    resource=resource.value,
                    hub_id=item.hub_id,
                    hub_updated_at=item.hub_updated_at,
                    reason=item.reason,
                    payload=_dump(item.payload),
                    waiting_for=item.waiting_for,
                    first_seen=stamp,
                    last_seen=stamp,
                )
            )
        elif old != (item.hub_updated_at, item.reason):
            conn.execute(
                update(deferred)
                .where(
                    deferred.c.resource == resource.value,
                    deferred.c.hub_id == item.hub_id,
                )
                .values(
                    hub_updated_at=item.hub_updated_at,
                    reason=item.reason,
                    waiting_for=item.waiting_for,
                    payload=_dump(item.payload),
                    last_seen=stamp,
                )
            )


def load_deferred(
    conn: Connection, resource: Resource, hub_ids: Iterable[str] | None = None
) -> list[Mapping[str, Any]]:
    """Deferred payloads of ``resource`` (all, or only the given hub ids)."""
    query = select(deferred.c.payload).where(deferred.c.resource == resource.value)
    if hub_ids is not None:
        ids = list(hub_ids)
        if not ids:
            return []
        query = query.where(among(conn, deferred.c.hub_id, ids))
    return [json.loads(p) for p in conn.execute(query.order_by(deferred.c.hub_id)).scalars()]


# whether anything of a resource is deferred, and whether anything is quarantined: asked for every
# page, so built once, and one statement for both (every statement costs the applying thread another
# wait for the GIL)
_PARKED_TABLES = ((deferred, deferred.c.hub_id), (quarantine, quarantine.c.row_key))
_ANY_PARKED = select(
    *(
        select(key).where(table.c.resource == bindparam("resource")).limit(1).scalar_subquery()
        for table, key in _PARKED_TABLES
    )
)


def release(conn: Connection, resource: Resource, versions: Mapping[str, str]) -> None:
    """Forget deferred and quarantined entries superseded by these ``{hub_id: updated_at}``.

    ``versions`` are versions just applied (or found already applied): the hub's
    current state of those rows, so every parked version of them is superseded,
    whatever its stamp (a late commit can re-stamp a row older).
    """
    if not versions:
        return
    ids = list(versions)
    parked = conn.execute(_ANY_PARKED, {"resource": resource.value}).one()
    for (table, key), some in zip(_PARKED_TABLES, parked, strict=True):
        if some is None:
            continue  # the common case: nothing parked, so no need to look up a thousand ids
        query = select(key).where(table.c.resource == resource.value, among(conn, key, ids))
        stale = list(conn.execute(query).scalars())
        if stale:
            conn.execute(delete(table).where(table.c.resource == resource.value, among(conn, key, stale)))


def _instant(stamp: object) -> str | None:
    """``stamp`` in canonical UTC form, which compares as text as the instants do; None if it is none.

    The hub may spell an instant with any offset, and a row can be quarantined for
    its very ``updated_at``: such an entry gives way to any valid version. Entries
    written before quarantine kept the canonical form hold the hub's spelling; this
    reads those too.
    """
    try:
        return parse_stamp(stamp)[1]
    except ValueError:
        return None


def quarantine_rows(conn: Connection, resource: Resource, items: list[Rejection], now: datetime) -> None:
    """Keep rejected rows with their raw payload and the reason."""
    if not items:
        return
    stamp = format_canonical(now)
    keyed = {row_key(i.payload): i for i in items}
    existing = {
        r.row_key: (r.hub_updated_at, r.reason)
        for r in conn.execute(
            select(quarantine.c.row_key, quarantine.c.hub_updated_at, quarantine.c.reason).where(
                quarantine.c.resource == resource.value, among(conn, quarantine.c.row_key, list(keyed))
            )
        )
    }
    for key, item in keyed.items():
        updated = item.payload.get("updated_at") if isinstance(item.payload, Mapping) else None
        updated_text = _instant(updated)
        values = {
            "hub_updated_at": updated_text,
            "reason": item.reason,
            "payload": _dump(item.payload),
            "last_seen": stamp,
        }
        if key not in existing:
            conn.execute(
                insert(quarantine).values(resource=resource.value, row_key=key, first_seen=stamp, **values)
            )
        elif existing[key] != (updated_text, item.reason):
            conn.execute(
                update(quarantine)
                .where(quarantine.c.resource == resource.value, quarantine.c.row_key == key)
                .values(**values)
            )


def count_parked(conn: Connection) -> tuple[int, int]:
    """(deferred, quarantined) row counts."""
    n_deferred = conn.execute(select(func.count()).select_from(deferred)).scalar_one()
    n_quarantined = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
    return int(n_deferred), int(n_quarantined)
