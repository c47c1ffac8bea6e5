"""How current an instance's data is: when syncd last brought it in step with the hub.

syncd records the end of every successful run in its own ``syncd_meta`` table
(``last_success``: the local clock; ``last_success_hub_date``: the hub's
``Date`` of that run). The store does not record which hub it synced from;
:attr:`Freshness.hub` is the hub URL of syncd's configuration when the instance
was opened through it (``connect(config=..., instance=...)``), else ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from syncd.registry.errors import StaleDataError
from syncd.store.schema import meta
from syncd.timestamps import parse_stored

__all__ = ["Freshness", "check_staleness", "read_freshness"]

_KEYS = ("last_success", "last_success_hub_date")


@dataclass(frozen=True)
class Freshness:
    """When syncd last finished a run on the instance (``None``: never), by its clock and by the hub's."""

    synced_at: datetime | None
    hub_date: datetime | None
    hub: str | None

    def age(self, now: datetime) -> timedelta | None:
        """How long ago the last successful run ended; ``None`` when syncd never synced the instance."""
        return None if self.synced_at is None else now - self.synced_at


def read_freshness(conn: Connection, *, has_bookkeeping: bool, hub: str | None) -> Freshness:
    """The freshness recorded in ``syncd_meta`` (every field ``None`` when syncd never ran on it)."""
    if not has_bookkeeping:
        return Freshness(None, None, hub)
    try:
        wanted = select(meta.c.key, meta.c.value).where(meta.c.key.in_(_KEYS))
        rows = {str(key): str(value) for key, value in conn.execute(wanted)}
    except DBAPIError:
        # the table may be there but unreadable in a half-migrated database: nothing is known
        return Freshness(None, None, hub)
    stamps = {k: parse_stored(v) if v else None for k, v in rows.items()}
    return Freshness(stamps.get("last_success"), stamps.get("last_success_hub_date"), hub)


def check_staleness(freshness: Freshness, max_staleness: timedelta, now: datetime, instance: str) -> None:
    """Raise :class:`StaleDataError` when the data is older than ``max_staleness`` (or of unknown age)."""
    if freshness.synced_at is None:
        raise StaleDataError(
            f"{instance}: syncd never synced this instance, so its data may be older than the allowed "
            f"staleness of {max_staleness}; run `syncd run` or open it without max_staleness")
    age = now - freshness.synced_at
    if age > max_staleness:
        raise StaleDataError(
            f"{instance}: data last brought in step with the hub at {freshness.synced_at.isoformat()} "
            f"({age} ago), older than the allowed staleness of {max_staleness}; "
            "check that syncd runs (`syncd status`)")
