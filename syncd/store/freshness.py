"""When an instance was last brought in step with the hub, and by whom: ``syncd_in_step``.

Each completed pull of a resource (read up to the hub's empty page) is recorded
in the transaction that saves the cursor it completed, so the record and the
data never disagree. Every replica reads it, whichever replica pulled, so
``/readyz``, ``/metrics`` and ``syncd status`` of any replica tell the same
staleness (:meth:`syncd.core.report.InStep.staleness`).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import Connection, insert, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from syncd.core.models import Resource
from syncd.core.report import InStep
from syncd.core.timestamps import format_canonical, parse_stored
from syncd.secrets import Secret
from syncd.store.dialects import dialect_for
from syncd.store.schema import in_step

__all__ = ["PullStart", "peek_in_step", "read_in_step", "record_pull"]


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.store")  # type: ignore[no-any-return]


class PullStart:
    """The hub's clock and the local clock at a pull's first page."""

    __slots__ = ("hub", "local")

    def __init__(self, hub: datetime | None, local: datetime) -> None:
        self.hub = hub if hub is not None else local  # a hub without a Date: trust the local clock
        self.local = local

    @property
    def offset_seconds(self) -> float:
        return (self.hub - self.local).total_seconds()


def record_pull(
    conn: Connection, resource: Resource, start: PullStart, *, finished_at: datetime, replica: str, hub: str
) -> None:
    """Record a completed pull of ``resource`` (call in the transaction that saves its cursor)."""
    values = {
        "pull_started": format_canonical(start.hub),
        "hub_offset_seconds": start.offset_seconds,
        "finished_at": format_canonical(finished_at),
        "replica": replica[:200],
        "hub": hub[:500],
    }
    done = conn.execute(update(in_step).where(in_step.c.resource == resource.value).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(in_step).values(resource=resource.value, **values))


def read_in_step(conn: Connection) -> InStep | None:
    """The instance's record: the oldest of its resources' last pulls; None until each resource has one."""
    rows = {r.resource: r for r in conn.execute(select(in_step))}
    if any(r.value not in rows for r in Resource):
        return None
    oldest = min((rows[r.value] for r in Resource), key=lambda row: row.pull_started)
    return InStep(
        pull_started=parse_stored(oldest.pull_started),
        hub_offset_seconds=float(oldest.hub_offset_seconds),
        finished_at=max(parse_stored(rows[r.value].finished_at) for r in Resource),
        replica=oldest.replica,
        hub=oldest.hub,
    )


def peek_in_step(url: str, *, password: Secret | None = None, connect_timeout: float = 5.0) -> InStep | None:
    """Read the record of an instance another process is syncing, without its lock.

    ``password`` is the instance's PostgreSQL password when it is kept out of the
    URL (``password_file``, ``password_credential``). Best effort: a database that
    cannot be read now (or was never synced) gives None.
    """
    parsed = make_url(url)
    engine = dialect_for(parsed).read_only_engine(parsed, password=password, connect_timeout=connect_timeout)
    if engine is None:
        return None  # never create a file by looking
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(in_step.name):
                return None
            return read_in_step(conn)
    except SQLAlchemyError as exc:
        _log().warning("store.in_step_unreadable", error=type(exc).__name__)
        return None
    finally:
        engine.dispose()
