"""What an instance records and tells about a run: streams sent back, its end, deferred indexes.

A successful run stamps ``last_success`` (and the hub's clock) in
``syncd_meta`` and reports what is parked, which spaces are held and the
oldest watermark; a failed one leaves its error as ``last_error``. The first
successful run of a database syncd bootstrapped then builds the indexes the
bootstrap deferred (:mod:`syncd.store.indexes`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from syncd.core.models import Resource
from syncd.core.results import ApplyResult, FinishState
from syncd.core.timestamps import format_canonical
from syncd.store.bootstrap import build_deferred_indexes
from syncd.store.cursors import load_cursor, write_meta
from syncd.store.freshness import read_in_step
from syncd.store.parking import count_parked, count_quarantined_since
from syncd.store.schema import space_map

__all__ = ["announce_rescans", "build_deferred", "record_error", "record_success"]


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.store")  # type: ignore[no-any-return]


def announce_rescans(instance: str, result: ApplyResult) -> None:
    """Log each stream ``result`` sent back to the beginning, naming the instance and why."""
    for rescan in result.rescans:
        _log().info(
            "sync.stream_restarted",
            instance=instance,
            resource=rescan.resource.value,
            reason=rescan.reason,
            rows=len(rescan.hub_ids),
            sample=list(rescan.hub_ids[:5]),
        )


def record_success(
    conn: Connection, *, now: datetime, hub_date: datetime | None, opened_at: str
) -> FinishState:
    """Stamp a successful run; parked rows (those quarantined since ``opened_at``), held spaces, watermark."""
    write_meta(conn, "last_success", format_canonical(now))
    if hub_date is not None:
        write_meta(conn, "last_success_hub_date", format_canonical(hub_date))
    n_deferred, n_quarantined = count_parked(conn)
    fresh = count_quarantined_since(conn, opened_at) if n_quarantined else 0
    held = list(
        conn.execute(
            select(space_map.c.uid).where(space_map.c.tombstoned_at.is_not(None)).order_by(space_map.c.uid)
        ).scalars()
    )
    marks = [load_cursor(conn, r).complete_before for r in Resource]
    oldest = None if any(m is None for m in marks) else min(m for m in marks if m is not None)
    return FinishState(n_deferred, n_quarantined, held, oldest, read_in_step(conn), newly_quarantined=fresh)


def record_error(conn: Connection, *, at: datetime, message: str) -> None:
    """Remember the last error and when it happened."""
    write_meta(conn, "last_error", json.dumps({"at": format_canonical(at), "error": message}))


def build_deferred(
    conn: Connection,
    *,
    instance: str,
    monotonic: Callable[[], float],
    describe: Callable[[BaseException], str],
) -> bool:
    """Build the indexes a bootstrap deferred, in a transaction of their own; whether that worked.

    They only make reads faster: a build that fails (a lock not granted in
    time, a full disk) is logged and left to the next run, and never fails
    this one. ``describe`` words the error without the instance's secrets.
    """
    started = monotonic()
    try:
        with conn.begin():
            built = build_deferred_indexes(conn)
    except SQLAlchemyError as exc:
        _log().warning(
            "store.indexes_not_built", instance=instance, error=describe(exc), retry="at the next run"
        )
        return False
    _log().info(
        "store.indexes_built", instance=instance, indexes=built, seconds=round(monotonic() - started, 3)
    )
    return True
