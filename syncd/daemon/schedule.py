"""One hub group's scheduled sync: the job the daemon's scheduler runs, with backoff and full reconciles.

A :class:`GroupJob` wraps the engine's ``sync_group`` (the very code path of
``run-once``) for one group. It never overlaps itself, binds the run's context
to every log event, turns a crash into failed instance reports (a process
boundary: one broken group never takes the scheduler down), feeds the health
state, decides when the next full key reconciliation is due, and tells the
scheduler which interval to use next: the configured one, or a doubled one
per consecutive failure of the whole group, capped at ``max_backoff_seconds``.

:meth:`GroupJob.pull` is the Realtime doorbell's way in: the same engine call
(incremental, named resources only) under the same per-group lock, so a
doorbell pull and the scheduled run never overlap. A scheduled run that finds
a doorbell pull in flight waits for it instead of being skipped; the poll
schedule, backoff and full reconciles are the scheduled run's alone.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from syncd.core.models import Resource
from syncd.core.observe import Observer
from syncd.core.report import InstanceReport
from syncd.daemon.health import HealthState
from syncd.settings import HubGroup, ScheduleSettings, Settings

__all__ = ["ActiveRuns", "GroupJob", "SyncGroup", "backoff_interval", "group_key"]

log = structlog.get_logger(__name__)


class SyncGroup(Protocol):
    """The engine's ``syncd.runner.sync_group``."""

    def __call__(
        self, group: HubGroup, settings: Settings, *, full: bool = ..., sleep: Callable[[float], None] = ...,
        observer: Observer | None = ..., stop: threading.Event | None = ...,
        resources: tuple[Resource, ...] = ...,
    ) -> list[InstanceReport]: ...


def group_key(group: HubGroup) -> str:
    """A stable, secret-free identifier of a group: its hub URL and instance names (not its token)."""
    text = group.hub.url + "\0" + "\0".join(i.name for i in group.instances)
    return "group-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def backoff_interval(schedule: ScheduleSettings, failures: int) -> float:
    """Seconds until the next run after ``failures`` consecutive failed runs of a whole group."""
    if failures <= 0:
        return schedule.interval_seconds
    # cap the exponent: 2**failures overflows a float long before a group stops failing
    return min(schedule.max_backoff_seconds, schedule.interval_seconds * 2.0 ** min(failures, 30))


class ActiveRuns:
    """Counts sync runs in flight so shutdown can wait for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def __enter__(self) -> ActiveRuns:
        with self._cond:
            self._count += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    @property
    def count(self) -> int:
        with self._cond:
            return self._count

    def wait_idle(self, timeout: float) -> bool:
        """True once no run is in flight; False if ``timeout`` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=max(timeout, 0.0))


def _utc_now() -> datetime:
    return datetime.now(UTC)


# how often a waiter for the group's lock looks at the stop event
_LOCK_POLL_SECONDS = 0.2


class GroupJob:
    """The scheduled job of one hub group; ``run`` is what the scheduler calls."""

    def __init__(
        self,
        group: HubGroup,
        settings: Settings,
        *,
        sync: SyncGroup,
        observer: Observer,
        health: HealthState,
        stop: threading.Event,
        active: ActiveRuns,
        reschedule: Callable[[GroupJob, float], None] = lambda job, seconds: None,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.key = group_key(group)
        self.group = group
        self.settings = settings
        self._sync = sync
        self._observer = observer
        self._health = health
        self._stop = stop
        self._active = active
        self._reschedule = reschedule
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._running = threading.Lock()
        self._pulling = False  # a doorbell pull holds ``_running``, or is about to
        self.failures = 0
        self.interval = settings.schedule.interval_seconds
        self.next_full = clock() + self._full_period() * self._rng.uniform(0.5, 1.0)

    def update(self, group: HubGroup, settings: Settings) -> None:
        """Follow a reloaded configuration (same key: same hub URL and instances)."""
        self.group, self.settings = group, settings

    def _full_period(self) -> timedelta:
        return timedelta(hours=self.settings.schedule.full_reconcile_hours)

    def _interruptible_sleep(self, seconds: float) -> None:
        # retry back-off inside the engine ends early on shutdown
        self._stop.wait(seconds)

    def run(self) -> list[InstanceReport]:
        """One scheduled run; returns the instance reports (empty when skipped)."""
        if self._stop.is_set():
            return []
        if not self._running.acquire(blocking=False) and not (self._pulling and self._wait_for_pull()):
            log.warning("sync.skipped", reason="previous run still in flight", group=self.key)
            return []
        try:
            with self._active, structlog.contextvars.bound_contextvars(
                run_id=uuid.uuid4().hex[:12], group=self.key,
            ):
                return self._run_locked()
        finally:
            self._running.release()

    def _wait_for_pull(self) -> bool:
        """Wait for the doorbell pull in flight to end; True once the lock is ours, False on stop."""
        while not self._running.acquire(timeout=_LOCK_POLL_SECONDS):
            if self._stop.is_set():
                return False
        return True

    def pull(self, resources: tuple[Resource, ...]) -> list[InstanceReport]:
        """An incremental pull of ``resources`` now, after any run in flight; empty on shutdown."""
        # set before taking the lock, so that no scheduled run starting meanwhile takes it for a
        # run in flight and skips its tick (doorbell pulls of one group come from one thread)
        self._pulling = True
        try:
            while not self._running.acquire(timeout=_LOCK_POLL_SECONDS):
                if self._stop.is_set():
                    return []
            try:
                if self._stop.is_set():
                    return []
                with self._active, structlog.contextvars.bound_contextvars(
                    run_id=uuid.uuid4().hex[:12], group=self.key, trigger="doorbell",
                ):
                    return self._pull_locked(resources)
            finally:
                self._running.release()
        finally:
            self._pulling = False

    def _pull_locked(self, resources: tuple[Resource, ...]) -> list[InstanceReport]:
        group, settings = self.group, self.settings
        started = time.monotonic()
        try:
            reports = self._sync(
                group, settings, full=False, sleep=self._interruptible_sleep,
                observer=self._observer, stop=self._stop, resources=resources,
            )
        except Exception as exc:  # the job boundary, as for a scheduled run
            log.exception("sync.crashed", error_type=type(exc).__name__)
            reports = self._crash_reports(group, exc, time.monotonic() - started)
        for report in reports:
            self._health.record(report)
        return reports

    def _run_locked(self) -> list[InstanceReport]:
        group, settings = self.group, self.settings
        now = self._clock()
        full = now >= self.next_full
        started = time.monotonic()
        log.info("sync.started", full=full, instances=[i.name for i in group.instances])
        try:
            reports = self._sync(
                group, settings, full=full, sleep=self._interruptible_sleep,
                observer=self._observer, stop=self._stop,
            )
        except Exception as exc:  # the job boundary: a crash fails this run, never the scheduler
            log.exception("sync.crashed", error_type=type(exc).__name__)
            reports = self._crash_reports(group, exc, time.monotonic() - started)
        for report in reports:
            self._health.record(report)
        self._after(reports, full)
        return reports

    def _crash_reports(self, group: HubGroup, exc: Exception, seconds: float) -> list[InstanceReport]:
        reports = []
        for inst in group.instances:
            report = InstanceReport(
                name=inst.name, outcome="failed", error=f"internal error: {type(exc).__name__}",
                error_kind="internal", duration_seconds=seconds, finished_at=self._clock(),
            )
            # the engine never reached its own instance_done for these
            self._observer.instance_done(report)
            reports.append(report)
        return reports

    def _after(self, reports: list[InstanceReport], full: bool) -> None:
        failed = [r for r in reports if r.outcome == "failed"]
        interrupted = self._stop.is_set()
        log.info(
            "sync.finished", full=full, ok=sum(r.outcome == "ok" for r in reports),
            skipped=[r.name for r in reports if r.outcome == "skipped"],
            failed={r.name: r.error_kind or "error" for r in failed}, interrupted=interrupted,
        )
        if interrupted:
            return
        whole_group_failed = bool(reports) and len(failed) == len(reports)
        if full and not whole_group_failed:
            self.next_full = self._clock() + self._full_period() * self._rng.uniform(0.9, 1.1)
        self.failures = self.failures + 1 if whole_group_failed else 0
        interval = backoff_interval(self.settings.schedule, self.failures)
        if interval != self.interval:
            log.info("sync.backoff" if self.failures else "sync.recovered",
                     failures=self.failures, next_in_seconds=interval)
            self.interval = interval
            self._reschedule(self, interval)
