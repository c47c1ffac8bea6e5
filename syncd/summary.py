"""A run's summary: a table for people, one structured event for machines."""

from __future__ import annotations

from typing import Any

from syncd.core.models import Resource
from syncd.core.report import Action, InstanceReport, RunReport

__all__ = ["render_table", "summary_event"]

_COLUMNS: tuple[Action, ...] = ("inserted", "updated", "deleted", "deferred", "rejected")


def summary_event(report: RunReport) -> dict[str, Any]:
    """The fields of the ``sync.summary`` log event."""
    instances = []
    for inst in report.instances:
        entry: dict[str, Any] = {
            "instance": inst.name,
            "outcome": inst.outcome,
            "seconds": round(inst.duration_seconds, 3),
            "deferred_total": inst.deferred,
            "quarantined_total": inst.quarantined,
            "held_spaces": inst.held_spaces,
            "rereads": inst.rereads,
            "hub_requests": inst.hub_requests,
            "newly_quarantined": inst.newly_quarantined,
            "untrusted_dates": inst.untrusted_dates,
            "hub_clock_ahead_seconds": inst.hub_clock_ahead_seconds,
        }
        for resource in Resource:
            entry[resource.value] = {a: inst.count(resource, a) for a in _COLUMNS}
        if inst.error:
            entry["error"] = inst.error
            entry["error_kind"] = inst.error_kind
        instances.append(entry)
    return {"ok": report.ok, "full": report.full, "instances": instances}


def render_table(report: RunReport) -> str:
    """A fixed-width table: one line per instance and resource, then failures and parked rows."""
    header = ["instance", "resource", *_COLUMNS, "seconds", "status"]
    rows: list[list[str]] = []
    for inst in report.instances:
        status = {"ok": "ok", "interrupted": "interrupted", "skipped": "skipped"}.get(inst.outcome, "FAILED")
        for n, resource in enumerate(Resource):
            rows.append(
                [
                    inst.name if n == 0 else "",
                    resource.value,
                    *(str(inst.count(resource, a)) for a in _COLUMNS),
                    f"{inst.duration_seconds:.2f}" if n == 0 else "",
                    status if n == 0 else "",
                ]
            )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    for inst in report.instances:
        out.extend(_notes(inst))
    rejected = sum(i.newly_quarantined for i in report.instances)
    if rejected:
        out.append(
            f"{rejected} row(s) newly rejected to quarantine by this run (logged as `sync.row_rejected`); "
            "`syncd status` lists the quarantined rows and why"
        )
    return "\n".join(out)


def _notes(inst: InstanceReport) -> list[str]:
    """The lines under the table about one instance: its failure, parked rows, rereads, clocks."""
    notes: list[str] = []
    if inst.outcome == "interrupted":
        notes.append(f"{inst.name}: {inst.error}")
    elif inst.outcome == "skipped":
        notes.append(f"{inst.name}: skipped, another syncd process holds it")
    elif inst.error:
        notes.append(f"{inst.name}: FAILED ({inst.error_kind}): {inst.error}")
    if inst.deferred or inst.quarantined:
        notes.append(
            f"{inst.name}: {inst.deferred} row(s) deferred, {inst.quarantined} quarantined "
            "(see `syncd status`)"
        )
    if inst.held_spaces:
        notes.append(
            f"{inst.name}: {len(inst.held_spaces)} space(s) deleted on the hub but kept because "
            f"LaminDB records reference them: {', '.join(inst.held_spaces[:10])}"
        )
    if inst.rereads:
        notes.append(
            f"{inst.name}: read again from the beginning: {', '.join(sorted(set(inst.rereads)))} "
            "(rows the change stream could not show; see `sync.stream_restarted` in the log)"
        )
    if inst.untrusted_dates:
        ahead = inst.hub_clock_ahead_seconds or 0.0
        notes.append(
            f"{inst.name}: the hub's Date was up to {ahead:.0f} s ahead of the "
            f"local clock on {inst.untrusted_dates} response(s), beyond [sync] clock_skew_seconds: those "
            "responses advanced no cursor (check the clocks of the hub and of this host)"
        )
    return notes
