"""``syncd status``: each instance's sync state, read from its own database."""

from __future__ import annotations

from typing import TextIO

from syncd.doorbell_status import print_doorbells
from syncd.errors import StoreError
from syncd.settings import Settings
from syncd.store.status import read_status

__all__ = ["print_status"]


def print_status(settings: Settings, out: TextIO) -> int:
    """Print every instance's cursors and parked rows; 1 when an instance cannot be read."""
    code = 0
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
        if status["last_error"]:
            out.write(f"  last error:   {status['last_error']['at']}: {status['last_error']['error']}\n")
        for resource, cur in sorted(status["cursors"].items()):
            extra = " (a pass is in progress)" if cur["pass_in_progress"] else ""
            out.write(f"  {resource}: complete before {cur['complete_before']}{extra}\n")
        out.write(
            f"  deferred: {status['deferred']}   quarantined: {status['quarantined']}   "
            f"held spaces: {len(status['held_spaces'])}\n"
        )
        for entry in status["deferred_by_reason"]:
            out.write(f"    deferred {entry['resource']} x{entry['rows']}: {entry['reason']}\n")
        for entry in status["quarantine_sample"]:
            out.write(f"    quarantined {entry['resource']} {entry['key']}: {entry['reason']}\n")
    print_doorbells(settings, out)
    return code
