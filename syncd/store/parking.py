"""Rows that cannot be applied yet (deferred) or at all (quarantined), kept with their payload.

Deferred rows wait for something that will come (a block for its space, a
space for a name another space still holds) and are retried every run.
Quarantined rows broke the contract; they stay until the hub sends a newer,
valid version of the same row. Neither holds up the rest of a page.

A quarantined payload is kept whole up to :data:`QUARANTINE_PAYLOAD_BYTES`;
a larger one is kept as its first bytes and the sha256 of the whole, and the
entry's reason says so. Each row version is logged once, when it is first
quarantined (``sync.row_rejected``), never again while it stays the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Select, bindparam, delete, func, insert, select, update

from syncd.core.models import Resource
from syncd.core.results import Rejection
from syncd.core.rows import row_key
from syncd.core.timestamps import format_canonical, parse_stamp
from syncd.store.keysets import among
from syncd.store.schema import deferred, quarantine

__all__ = [
    "QUARANTINE_PAYLOAD_BYTES",
    "Deferral",
    "count_parked",
    "count_quarantined_since",
    "defer_rows",
    "load_deferred",
    "quarantine_rows",
    "release",
]


@dataclass(frozen=True, slots=True)
class Deferral:
    hub_id: str
    hub_updated_at: str
    reason: str
    payload: Mapping[str, Any]
    waiting_for: str | None = None




QUARANTINE_PAYLOAD_BYTES = 64 * 1024
"""The most of a rejected row's payload (as JSON, in UTF-8) a quarantine entry keeps."""
_REASON_CHARS = 1000  # a reason may quote a value the hub sent; it is kept this short
_LOGGED_CHARS = 200  # the most of a name or uid a log event quotes


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


def parked_probes(resource: Resource) -> tuple[Select[Any], ...]:
    """Queries that say whether anything of ``resource`` is parked: at most one row each.

    A page adds them to its own lookups (:class:`syncd.store.keysets.Lookups`)
    and passes their rows to :func:`release` as ``parked``, which then needs no
    statement of its own when nothing is parked.
    """
    return tuple(
        select(key).where(table.c.resource == resource.value).limit(1) for table, key in _PARKED_TABLES
    )


def release(
    conn: Connection,
    resource: Resource,
    versions: Mapping[str, str],
    parked: Sequence[Sequence[object]] | None = None,
) -> None:
    """Forget deferred and quarantined entries superseded by these ``{hub_id: updated_at}``.

    ``versions`` are versions just applied (or found already applied): the hub's
    current state of those rows, so every parked version of them is superseded,
    whatever its stamp (a late commit can re-stamp a row older). ``parked`` holds
    the rows of :func:`parked_probes`, run earlier in the same transaction, before
    the page parked anything (a page never parks a row it applies); without them
    this asks the database itself.
    """
    if not versions:
        return
    ids = list(versions)
    if parked is None:
        found = conn.execute(_ANY_PARKED, {"resource": resource.value}).one()
        parked = [[] if some is None else [some] for some in found]
    for (table, key), some in zip(_PARKED_TABLES, parked, strict=True):
        if not some:
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


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters in all)"


def _quarantined_payload(payload: object) -> tuple[str, str]:
    """The payload to store and what to add to the reason (nothing when it is kept whole)."""
    text = _dump(payload)
    if len(text) <= QUARANTINE_PAYLOAD_BYTES // 4:  # four UTF-8 bytes a character at most
        return text, ""
    data = text.encode("utf-8")
    if len(data) <= QUARANTINE_PAYLOAD_BYTES:
        return text, ""
    digest = hashlib.sha256(data).hexdigest()
    kept = {
        "truncated": True,
        "bytes": len(data),
        "sha256": digest,
        "prefix": data[:QUARANTINE_PAYLOAD_BYTES].decode("utf-8", "ignore"),
    }
    note = (
        f" [payload of {len(data)} bytes: stored as its first {QUARANTINE_PAYLOAD_BYTES} bytes "
        f"and its sha256 {digest}]"
    )
    return json.dumps(kept, ensure_ascii=True), note


def _log_rejected(resource: Resource, key: str, payload: object, reason: str) -> None:
    fields: dict[str, Any] = {}
    if isinstance(payload, Mapping):
        for field, value in (("uid", payload.get("lnid")), ("name", payload.get("name"))):
            if isinstance(value, str):
                fields[field] = _bounded(value, _LOGGED_CHARS)
    structlog.get_logger("syncd.store").warning(
        "sync.row_rejected",
        # the instance store binds its name around every page it applies
        instance=structlog.contextvars.get_contextvars().get("instance"),
        resource=resource.value,
        hub_id=key,
        reason=reason,
        **fields,
    )


def quarantine_rows(conn: Connection, resource: Resource, items: list[Rejection], now: datetime) -> None:
    """Keep rejected rows with their raw payload (bounded) and the reason.

    A row version quarantined for the first time, or for another reason than
    before, is logged as ``sync.row_rejected``; one already kept as it is is not.
    """
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
        updated_text = _instant(updated) if item.stamp_trusted else None
        payload, note = _quarantined_payload(item.payload)
        reason = _bounded(item.reason, _REASON_CHARS) + note
        if key in existing and existing[key] == (updated_text, reason):
            continue  # this very version is quarantined already, and was reported then
        values = {"hub_updated_at": updated_text, "reason": reason, "payload": payload, "last_seen": stamp}
        if key not in existing:
            conn.execute(
                insert(quarantine).values(resource=resource.value, row_key=key, first_seen=stamp, **values)
            )
        else:
            conn.execute(
                update(quarantine)
                .where(quarantine.c.resource == resource.value, quarantine.c.row_key == key)
                .values(**values)
            )
        _log_rejected(resource, key, item.payload, reason)


def count_parked(conn: Connection) -> tuple[int, int]:
    """(deferred, quarantined) row counts."""
    n_deferred = conn.execute(select(func.count()).select_from(deferred)).scalar_one()
    n_quarantined = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
    return int(n_deferred), int(n_quarantined)


def count_quarantined_since(conn: Connection, stamp: str) -> int:
    """Quarantine entries written (new, or a new version) at or after the canonical ``stamp``."""
    query = select(func.count()).select_from(quarantine).where(quarantine.c.last_seen >= stamp)
    return int(conn.execute(query).scalar_one())
