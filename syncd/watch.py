"""Hub changes and the time they take to land in instances: for ``syncd demo --watch`` and benchmarks.

:func:`make_change` makes one change on an emulator store (a rename, a new
block, an edited block, or a tombstone) and returns a :class:`Probe`: how to
tell, from an instance database, that the change has landed. A
:class:`Tracker` polls every instance for every outstanding probe and
reports each landing with its latency (from the change on the hub to the
row being readable).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from syncd.core.models import Resource
from syncd.hubsim.store import HubStore

__all__ = ["Landing", "Probe", "Tracker", "make_change"]

_KINDS = ("rename", "new block", "edit block", "tombstone")


class Probe(NamedTuple):
    """One change on the hub: what it was, and the query whose answer says it has landed."""

    what: str
    sql: str
    params: dict[str, str]
    expect: str | None  # the one value the query must return; None: no row at all


class Landing(NamedTuple):
    number: int
    probe: Probe
    instance: str
    seconds: float


def _live(store: HubStore, resource: Resource) -> list[dict[str, object]]:
    return [r for r in store.rows(resource) if r["deleted_at"] is None]


def make_change(
    store: HubStore, rng: random.Random, number: int, *, kinds: tuple[str, ...] = _KINDS,
    touched: set[object] | None = None,
) -> Probe:
    """Make change ``number`` on ``store`` (its kind cycles through ``kinds``); returns its probe.

    A row in ``touched`` is not renamed, edited or tombstoned again (a second
    change of one row would hide the first from its probe); the row changed is
    added to it.
    """
    seen = touched if touched is not None else set()
    spaces = _live(store, Resource.SPACE)
    live = {r["id"] for r in spaces}
    blocks = [b for b in _live(store, Resource.SPACE_BLOCK)
              if b["space_id"] in live and b["is_latest"] and b["id"] not in seen]
    fresh_spaces = [r for r in spaces if r["id"] not in seen] or spaces
    kind = kinds[number % len(kinds)]
    if kind in ("edit block", "tombstone") and len(blocks) < 2:
        kind = "new block"
    if kind == "rename":
        space = rng.choice(fresh_spaces)
        seen.add(space["id"])
        name = f"Watched space {number}-{rng.randrange(16**6):06x}"  # names are unique on the hub
        store.rename_space(str(space["id"]), name)
        return Probe(f"rename space {space['lnid']} to {name!r}",
                     "SELECT name FROM lamindb_space WHERE uid = :uid", {"uid": str(space["lnid"])}, name)
    if kind == "new block":
        space = rng.choice(spaces)
        block = store.create_block(str(space["id"]), f"# Watched block {number}\n", kind="comment")
        return Probe(f"new block {block['lnid']} in space {space['lnid']}",
                     "SELECT uid FROM lamindb_spaceblock WHERE uid = :uid", {"uid": str(block["lnid"])},
                     str(block["lnid"]))
    block = rng.choice(blocks)
    seen.add(block["id"])
    if kind == "edit block":
        content = f"# Edited {number}\n"
        store.update_block(str(block["id"]), content=content)
        return Probe(f"edit block {block['lnid']}",
                     "SELECT content FROM lamindb_spaceblock WHERE uid = :uid", {"uid": str(block["lnid"])},
                     content)
    store.soft_delete(Resource.SPACE_BLOCK, str(block["id"]))
    return Probe(f"tombstone block {block['lnid']}",
                 "SELECT uid FROM lamindb_spaceblock WHERE uid = :uid", {"uid": str(block["lnid"])}, None)


class Tracker:
    """Outstanding probes over named instance databases; :meth:`poll` reports what landed since."""

    def __init__(self, instances: dict[str, str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._engines: dict[str, Engine] = {name: create_engine(url) for name, url in instances.items()}
        self._clock = clock
        self._waiting: dict[tuple[int, str], tuple[Probe, float]] = {}

    def add(self, number: int, probe: Probe, started: float) -> None:
        for name in self._engines:
            self._waiting[(number, name)] = (probe, started)

    @property
    def outstanding(self) -> list[tuple[int, str, float]]:
        """``(number, instance, started)`` of every probe not yet landed."""
        return [(n, name, started) for (n, name), (_, started) in self._waiting.items()]

    def poll(self) -> list[Landing]:
        landed = []
        for (number, name), (probe, started) in list(self._waiting.items()):
            if self._landed(self._engines[name], probe):
                del self._waiting[(number, name)]
                landed.append(Landing(number, probe, name, self._clock() - started))
        return landed

    def drop(self, number: int, name: str) -> None:
        self._waiting.pop((number, name), None)

    @staticmethod
    def _landed(engine: Engine, probe: Probe) -> bool:
        try:
            with engine.connect() as conn:
                rows = conn.execute(text(probe.sql), probe.params).all()
        except SQLAlchemyError:
            return False  # not created yet, or locked for a moment by a writer
        if probe.expect is None:
            return not rows
        return len(rows) == 1 and rows[0][0] == probe.expect

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
