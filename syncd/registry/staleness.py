"""How current an instance's data is: when syncd last brought it in step with the hub, and from which hub.

syncd records each completed pull in the instance itself (``syncd_in_step``,
:mod:`syncd.store.freshness`): the hub's clock when the pull began, the hub's
URL and the replica that pulled. Every change the hub showed at that moment is
in the instance. An instance last synced by a syncd that did not keep that
record yet has only the end of its last successful run in ``syncd_meta``
(``last_success``, and the hub's ``Date`` of that run); then that is the best
answer, and the hub is the configured one when the instance was opened through
syncd's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from syncd.core.report import InStep
from syncd.core.timestamps import parse_stored
from syncd.registry.errors import StaleDataError
from syncd.store.freshness import read_in_step
from syncd.store.schema import meta

__all__ = ["Freshness", "check_staleness", "read_freshness"]

_KEYS = ("last_success", "last_success_hub_date")


@dataclass(frozen=True)
class Freshness:
    """When the instance was last brought in step with the hub (``None``: syncd never synced it).

    ``in_step`` is the record of the last completed pull (None for an instance
    synced only by an older syncd); ``synced_at`` and ``hub_date`` are when
    syncd last finished a successful run, by its clock and by the hub's.
    """

    synced_at: datetime | None
    hub_date: datetime | None
    hub: str | None
    in_step: InStep | None = None

    @property
    def in_step_since(self) -> datetime | None:
        """The hub's clock when the last completed pull began: every change it showed then is here."""
        return None if self.in_step is None else self.in_step.pull_started

    @property
    def replica(self) -> str | None:
        """The syncd replica that pulled last, when recorded."""
        return None if self.in_step is None else self.in_step.replica

    def age(self, now: datetime) -> timedelta | None:
        """How old the data may be at ``now``: hub-clock time since the last completed pull began
        (else since the last successful run ended); ``None`` when syncd never synced the instance."""
        if self.in_step is not None:
            return timedelta(seconds=self.in_step.staleness(now))
        return None if self.synced_at is None else now - self.synced_at


def read_freshness(conn: Connection, *, tables: frozenset[str], hub: str | None) -> Freshness:
    """The freshness recorded in syncd's tables (every field ``None`` when syncd never ran on it)."""
    if "syncd_meta" not in tables:
        return Freshness(None, None, hub)
    try:
        record = read_in_step(conn) if "syncd_in_step" in tables else None
        wanted = select(meta.c.key, meta.c.value).where(meta.c.key.in_(_KEYS))
        rows = {str(key): str(value) for key, value in conn.execute(wanted)}
    except DBAPIError:
        # the tables may be there but unreadable in a half-migrated database: nothing is known
        return Freshness(None, None, hub)
    stamps = {k: parse_stored(v) if v else None for k, v in rows.items()}
    recorded_hub = record.hub if record is not None else hub
    return Freshness(stamps.get("last_success"), stamps.get("last_success_hub_date"), recorded_hub, record)


def check_staleness(freshness: Freshness, max_staleness: timedelta, now: datetime, instance: str) -> None:
    """Raise :class:`StaleDataError` when the data is older than ``max_staleness`` (or of unknown age)."""
    age = freshness.age(now)
    if age is None:
        raise StaleDataError(
            f"{instance}: syncd never synced this instance, so its data may be older than the allowed "
            f"staleness of {max_staleness}; run `syncd run` or open it without max_staleness")
    if age > max_staleness:
        since = freshness.in_step_since or freshness.synced_at
        assert since is not None
        raise StaleDataError(
            f"{instance}: data last brought in step with the hub at {since.isoformat()} "
            f"({age} ago), older than the allowed staleness of {max_staleness}; "
            "check that syncd runs (`syncd status`)")
