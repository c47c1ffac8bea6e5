"""The state of one batch of hub spaces while :mod:`syncd.store.spaces` plans it.

A batch reads once what its planning needs: the map rows of its spaces, every
local space with the key of its name in LaminDB's unique index (``lower(name)``
as the database computes it), which spaces came from the hub, which are held
and which are stuck in quarantine. Plans, deferrals and rejections collect on it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Connection, func, select

from syncd.core.models import Resource
from syncd.core.resources.space import HubSpace
from syncd.core.results import ApplyResult, Rejection
from syncd.store.context import ApplyContext
from syncd.store.dialects import dialect_for
from syncd.store.keysets import among
from syncd.store.parking import Deferral
from syncd.store.schema import quarantine, space, space_map, user

__all__ = ["Batch", "LocalSpace", "Plan"]

R = Resource.SPACE


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.store")  # type: ignore[no-any-return]


@dataclass(slots=True)
class LocalSpace:
    id: int
    uid: str
    name: str


@dataclass(slots=True)
class Plan:
    row: HubSpace
    local_id: int | None
    kind: str  # "insert" | "update" | "adopt"


class Batch:
    """The state of one batch while it is being planned."""

    def __init__(
        self, conn: Connection, rows: list[HubSpace], ctx: ApplyContext, parked: set[tuple[str, str]]
    ) -> None:
        self.conn = conn
        self.ctx = ctx
        self.parked = parked
        self.result = ApplyResult()
        self.rejected: list[Rejection] = []
        self.deferred: list[Deferral] = []
        self.versions: dict[str, str] = {}
        # versions the hub re-stamped older without changing what this instance holds: {hub_id: stamp}
        self.restamped: dict[str, str] = {}
        self.gone: dict[str, str] = {}  # tombstones of spaces never synced here: {hub_id: stamp}
        ids = [r.key for r in rows]
        mapped = conn.execute(select(space_map).where(among(conn, space_map.c.hub_id, ids)))
        self.maps = {m.hub_id: m for m in mapped}
        self.synced_ids: set[int] = set()
        self.held_ids: set[int] = set()  # deleted on the hub, kept for the records that reference them
        self.stuck_ids: set[int] = set()  # their newest hub version is quarantined
        stuck_keys = set(
            conn.execute(select(quarantine.c.row_key).where(quarantine.c.resource == R.value)).scalars()
        )
        query = select(space_map.c.local_id, space_map.c.tombstoned_at, space_map.c.hub_id)
        for local_id, tombstoned_at, hub_id in conn.execute(query):
            self.synced_ids.add(local_id)
            if tombstoned_at is not None:
                self.held_ids.add(local_id)
            if hub_id in stuck_keys:
                self.stuck_ids.add(local_id)
        self.evicted: dict[int, str] = {}  # held spaces renamed to free a name: {local id: new name}
        self.locals: dict[int, LocalSpace] = {}
        # each name's key in LaminDB's unique index, lower(name), as this database computes it
        self.keys: dict[str, str] = {}
        for r in conn.execute(select(space.c.id, space.c.uid, space.c.name, func.lower(space.c.name))):
            self.locals[r.id] = LocalSpace(r.id, r.uid, r.name)
            self.keys[r.name] = r[3]
        self.keys.update(_lowered(conn, {r.name for r in rows if r.name is not None} - self.keys.keys()))
        self.by_uid = {loc.uid: loc for loc in self.locals.values()}
        self.contents: dict[int, tuple[Any, ...]] | None = None

    def key(self, name: str) -> str:
        return self.keys[name]

    def content(self, local_id: int) -> tuple[Any, ...] | None:
        """(name, description, created_at, creator uid) of a local space, as LaminDB reads it."""
        if self.contents is None:
            # only read when the hub serves a version stamped older than the one applied here
            query = select(
                space.c.id, space.c.name, space.c.description, space.c.created_at, user.c.uid
            ).outerjoin(user, user.c.id == space.c.created_by_id)
            self.contents = {r[0]: tuple(r[1:]) for r in self.conn.execute(query)}
        return self.contents.get(local_id)

    def reject(self, row: HubSpace, reason: str) -> None:
        self.rejected.append(Rejection(dict(row.raw), reason))
        self.result.add(R, "rejected")

    def defer(self, row: HubSpace, reason: str) -> None:
        stamp = row.stamp
        self.deferred.append(Deferral(row.key, stamp, reason, dict(row.raw)))
        if (row.key, stamp) not in self.parked:  # still waiting is not news
            self.result.add(R, "deferred")

    def evict(self, local_id: int, occupied: dict[str, int]) -> None:
        """Rename a held space so that a live hub space can take its name (see :func:`_resolve_names`)."""
        loc = self.locals[local_id]
        n = 0
        while True:
            tag = f" (deleted on the hub, {loc.uid})" if n == 0 else f" (deleted on the hub, {loc.uid}, {n})"
            name = loc.name[: 100 - len(tag)] + tag
            self.keys.update(_lowered(self.conn, [name]))
            if self.keys[name] not in occupied:
                break
            n += 1
        del occupied[self.keys[loc.name]]
        occupied[self.keys[name]] = local_id
        self.evicted[local_id] = name
        _log().warning("sync.held_space_renamed", uid=loc.uid, local_id=local_id, name=loc.name, renamed=name)
        loc.name = name

    def describe(self, local_id: int) -> str:
        loc = self.locals[local_id]
        return f"{loc.name!r} (id {loc.id}, uid {loc.uid})"


def _lowered(conn: Connection, names: Collection[str]) -> dict[str, str]:
    """``lower(name)`` of each name, computed by the database as its unique index computes it.

    Python's ``str.lower`` is not it: SQLite's ``lower()`` folds ASCII letters
    only, and PostgreSQL's follows the database's character type, which differs
    from Python for a dotted capital I (``İ``) or a word-final sigma, among others.
    A rename planned on Python's keys could then trip the index (or defer a
    space whose name the index does not see as taken).
    """
    return dialect_for(conn).lowered(conn, names) if names else {}
