"""The instances of a group during one run, and what befalls each: counts, commits, failure, the end.

An instance that fails leaves the run (``alive`` turns false) and nothing more
is applied to it; the others go on. Every function here takes the members the
synchroniser (:mod:`syncd.core.sync`) keeps, and records outcomes in their reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from syncd.core.lanes import Lanes
from syncd.core.models import Resource
from syncd.core.observe import Observer
from syncd.core.protocols import Sink
from syncd.core.report import InstanceReport
from syncd.core.results import ApplyResult
from syncd.errors import StoreError

__all__ = [
    "Member",
    "commit",
    "commit_everywhere",
    "count",
    "drain",
    "fail",
    "fail_all",
    "finish",
    "interrupt_all",
    "retry_parked",
]


def _log() -> structlog.typing.FilteringBoundLogger:
    # the engine's events keep one logger name, whichever of its modules sends them
    return structlog.get_logger("syncd.core.sync")  # type: ignore[no-any-return]


_INTERRUPTED_MESSAGE = "interrupted by shutdown; the next run resumes from the last committed page"


@dataclass(slots=True)
class Member:
    """One instance of the group in this run: its sink, its report, and whether it is still in the run."""

    sink: Sink
    report: InstanceReport
    started: float
    alive: bool = True


def finish(member: Member, last_date: datetime | None) -> None:
    """Record the run in the instance and fill in its parked rows, held spaces and lag."""
    member.report.hub_date = last_date
    if not member.alive:
        return
    try:
        state = member.sink.finish(last_date)
    except StoreError as exc:
        fail(member, str(exc), exc.kind)
        return
    member.report.deferred, member.report.quarantined = state.deferred, state.quarantined
    member.report.held_spaces, member.report.held = state.held, len(state.held)
    member.report.in_step = state.in_step
    member.report.newly_quarantined = state.newly_quarantined
    if last_date is not None and state.complete_before is not None:
        # how far the proven-complete watermark trails the hub's clock
        member.report.lag_seconds = max(0.0, (last_date - state.complete_before).total_seconds())


def fail_all(members: list[Member], message: str, kind: str) -> None:
    for m in members:
        if m.alive:
            fail(m, message, kind)


def interrupt_all(members: list[Member]) -> None:
    """A shutdown stopped the run: not a failure, so nothing is recorded as the instance's last error."""
    for m in members:
        if m.alive:
            m.alive = False
            m.report.outcome = "interrupted"
            m.report.error = _INTERRUPTED_MESSAGE
            m.report.error_kind = "interrupted"
            _log().info("sync.instance_interrupted", instance=m.sink.name, error=_INTERRUPTED_MESSAGE)


def fail(member: Member, message: str, kind: str) -> None:
    member.alive = False
    member.report.outcome = "failed"
    member.report.error = message
    member.report.error_kind = kind
    member.sink.record_failure(message)
    _log().error("sync.instance_failed", instance=member.sink.name, error=message, kind=kind)


def count(member: Member, result: ApplyResult, obs: Observer) -> None:
    member.report.counts.update(result.counts)
    member.report.rereads.extend(f"{r.resource.value}: {r.reason}" for r in result.rescans)
    for (resource, action), n in result.counts.items():
        obs.rows_applied(member.sink.name, resource, action, n)


def drain(lanes: Lanes[Member] | None) -> None:
    if lanes is not None:
        lanes.drain()


def commit_everywhere(members: list[Member], obs: Observer, lanes: Lanes[Member] | None = None) -> None:
    if lanes is not None:
        # each instance commits on its own lane, all at once: a commit waits on the disk (or the
        # server), and one after the other those waits added up with the number of instances
        lanes.commit_all()
        return
    for m in members:
        commit(m, obs)


def commit(member: Member, obs: Observer) -> None:
    if not member.alive:
        return
    try:
        count(member, member.sink.commit(), obs)
    except StoreError as exc:
        fail(member, str(exc), exc.kind)


def retry_parked(members: list[Member], resource: Resource, obs: Observer) -> None:
    for m in members:
        if not m.alive:
            continue
        try:
            count(m, m.sink.retry_parked(resource), obs)
        except StoreError as exc:
            fail(m, str(exc), exc.kind)
