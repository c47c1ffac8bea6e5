"""``syncd status``: each instance's sync state, read from its own database."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from syncd.core.timestamps import format_canonical, parse_stored, utc_now
from syncd.daemon.doorbell_status import print_doorbells
from syncd.errors import StoreError
from syncd.settings import Settings
from syncd.store.status import read_status

__all__ = ["print_status"]


def _ahead(cursor: Mapping[str, Any], limit: datetime) -> str | None:
    """The latest of a cursor's instants when it lies after ``limit``, else None."""
    moments = [parse_stored(v) for v in (cursor["complete_before"], cursor.get("pass_at")) if v]
    latest = max(moments, default=None)
    return None if latest is None or latest <= limit else latest.isoformat()


def print_status(
    settings: Settings,
    out: TextIO,
    *,
    clock: Callable[[], datetime] = utc_now,
    state_path: Path | None = None,
) -> int:
    """Print every instance's cursors and parked rows; 1 when an instance cannot be read.

    A cursor later than the local clock (beyond ``[sync] clock_skew_seconds``)
    is flagged with a warning: it was moved by a hub clock that ran ahead, and
    rows stamped before it would not be read until ``syncd reset-cursor``.
    """
    code = 0
    limit = clock() + timedelta(seconds=settings.sync.clock_skew_seconds)
    for inst in settings.instances:
        out.write(f"{inst.name} ({inst.display_url})\n")
        try:
            status = read_status(inst)
        except StoreError as exc:
            out.write(f"  unreadable: {exc}\n")
            code = 1
            continue
        if not status["synced"]:
            out.write("  never synced\n")
            continue
        out.write(f"  last success: {status['last_success'] or 'never'}\n")
        record = status["in_step"]
        if record is not None:
            out.write(
                f"  in step with the hub as of {format_canonical(record.pull_started)} "
                f"(staleness {record.staleness(clock()):.0f} s; "
                f"pulled by {record.replica} from {record.hub})\n"
            )
        if status["last_error"]:
            out.write(f"  last error:   {status['last_error']['at']}: {status['last_error']['error']}\n")
        for resource, cur in sorted(status["cursors"].items()):
            extra = " (a pass is in progress)" if cur["pass_in_progress"] else ""
            out.write(f"  {resource}: complete before {cur['complete_before']}{extra}\n")
            ahead = _ahead(cur, limit)
            if ahead is not None:
                out.write(
                    f"  WARNING: the {resource} cursor ({ahead}) is ahead of the local clock; rows the hub "
                    f"stamps before it are not read. Check the clocks, then run "
                    f"`syncd reset-cursor --instance {inst.name}`\n"
                )
        out.write(
            f"  deferred: {status['deferred']}   quarantined: {status['quarantined']}   "
            f"held spaces: {len(status['held_spaces'])}\n"
        )
        for entry in status["deferred_by_reason"]:
            out.write(f"    deferred {entry['resource']} x{entry['rows']}: {entry['reason']}\n")
        for entry in status["quarantine_sample"]:
            out.write(f"    quarantined {entry['resource']} {entry['key']}: {entry['reason']}\n")
    print_doorbells(settings, out, state_path=state_path)
    return code
