"""One hub group's scheduled job: backoff, full reconciles, crashes, overlap, doorbell pulls, shutdown.

The engine is a fake and the clock an injected one; nothing here waits on the
wall clock (threads meet on events).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from syncd.core.models import Resource
from syncd.core.report import InstanceReport
from syncd.daemon.health import HealthState
from syncd.daemon.metrics import Metrics
from syncd.daemon.schedule import ActiveRuns, GroupJob, backoff_interval, group_key
from syncd.settings import ScheduleSettings, Settings, parse_settings
from tests.support.engine_fakes import FakeEngine

ENV = {"SYNCD_HUB_TOKEN": "tok-schedule-test-1"}
DEADLINE = 10.0


def _settings(names: list[str], **schedule: float) -> Settings:
    return parse_settings({
        "hub": {"url": "http://127.0.0.1:9"},
        "schedule": {"interval_seconds": 10, "max_backoff_seconds": 100, "full_reconcile_hours": 1,
                     **schedule},
        "instances": [{"name": n, "url": f"sqlite:////tmp/{n}.db"} for n in names],
    }, ENV)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _job(settings: Settings, engine: Callable[..., list[InstanceReport]], clock: Clock,
         reschedules: list[float], *, stop: threading.Event | None = None,
         active: ActiveRuns | None = None) -> tuple[GroupJob, HealthState, Metrics]:
    health = HealthState([i.name for i in settings.instances], 30.0, clock=clock)
    metrics = Metrics()
    job = GroupJob(settings.groups()[0], settings, sync=engine, observer=metrics, health=health,
                   stop=stop if stop is not None else threading.Event(),
                   active=active if active is not None else ActiveRuns(),
                   reschedule=lambda j, s: reschedules.append(s), clock=clock, rng=random.Random(3))
    return job, health, metrics


def test_backoff_doubles_up_to_the_cap() -> None:
    schedule = ScheduleSettings(interval_seconds=10, max_backoff_seconds=100)
    assert [backoff_interval(schedule, n) for n in range(6)] == [10, 20, 40, 80, 100, 100]
    assert backoff_interval(schedule, 10_000) == 100


def test_a_failing_group_backs_off_and_recovers() -> None:
    settings = _settings(["lab-a", "lab-b"])
    engine, clock, reschedules = FakeEngine(), Clock(), []
    engine.fail = {"lab-a", "lab-b"}
    job, health, _ = _job(settings, engine, clock, reschedules)
    for _ in range(4):
        job.run()
    assert reschedules == [20, 40, 80, 100]
    engine.fail = {"lab-b"}  # one instance fails, the other works: no backoff for the group
    job.run()
    assert reschedules == [20, 40, 80, 100, 10]
    entry = health.instance("lab-b")
    assert entry is not None
    assert entry.consecutive_failures == 5


def test_full_reconcile_comes_due_on_the_injected_clock() -> None:
    settings = _settings(["lab-a"])
    engine, clock, reschedules = FakeEngine(), Clock(), []
    job, _, _ = _job(settings, engine, clock, reschedules)
    job.run()
    clock.now += timedelta(minutes=29)  # the first one is due between 30 and 60 minutes after start
    job.run()
    clock.now += timedelta(minutes=32)
    job.run()
    job.run()
    assert [full for _, full in engine.calls] == [False, False, True, False]
    assert timedelta(minutes=54) <= job.next_full - clock.now <= timedelta(minutes=66)


def test_a_crash_fails_the_run_not_the_scheduler() -> None:
    settings = _settings(["lab-a"])
    clock, reschedules = Clock(), []

    def crashing(*args: object, **kwargs: object) -> list[InstanceReport]:
        raise KeyError("boom")

    job, health, metrics = _job(settings, crashing, clock, reschedules)
    (report,) = job.run()
    assert (report.outcome, report.error_kind) == ("failed", "internal")
    assert report.error == "internal error: KeyError"
    assert reschedules == [20]
    assert b'syncd_runs_total{instance="lab-a",outcome="failed"} 1.0' in metrics.exposition()
    entry = health.instance("lab-a")
    assert entry is not None
    assert entry.error_kind == "internal"


def test_a_job_never_overlaps_itself() -> None:
    settings = _settings(["lab-a"])
    engine, clock, reschedules = FakeEngine(), Clock(), []
    engine.block = threading.Event()
    job, _, _ = _job(settings, engine, clock, reschedules)
    first = threading.Thread(target=job.run)
    first.start()
    assert engine.started.wait(DEADLINE)
    assert job.run() == []  # skipped while the first is in flight
    engine.block.set()
    first.join(DEADLINE)
    assert len(engine.calls) == 1


def test_backoff_is_the_interval_while_nothing_fails() -> None:
    schedule = ScheduleSettings(interval_seconds=10, max_backoff_seconds=100)
    assert backoff_interval(schedule, 0) == backoff_interval(schedule, -1) == 10


def test_the_group_key_names_hub_and_instances_but_not_the_token() -> None:
    settings = _settings(["lab-a", "lab-b"])
    group = settings.groups()[0]
    key = group_key(group)
    assert key.startswith("group-") and len(key) == len("group-") + 12
    assert "tok-schedule" not in key
    other_token = parse_settings({
        "hub": {"url": "http://127.0.0.1:9"},
        "instances": [{"name": n, "url": f"sqlite:////tmp/{n}.db"} for n in ["lab-a", "lab-b"]],
    }, {"SYNCD_HUB_TOKEN": "another-token-2"})
    assert group_key(other_token.groups()[0]) == key
    assert group_key(_settings(["lab-a"]).groups()[0]) != key


def test_active_runs_count_the_runs_in_flight() -> None:
    active = ActiveRuns()
    assert active.count == 0 and active.wait_idle(0.0)
    with active:
        assert active.count == 1
        assert not active.wait_idle(0.0)
    assert active.count == 0 and active.wait_idle(0.0)


def test_a_run_is_counted_as_active_while_it_is_in_flight() -> None:
    settings = _settings(["lab-a"])
    active = ActiveRuns()
    seen: list[int] = []

    def engine(*args: object, **kwargs: object) -> list[InstanceReport]:
        seen.append(active.count)
        return []

    job, _, _ = _job(settings, engine, Clock(), [], active=active)
    job.run()
    assert seen == [1]
    assert active.count == 0


def test_no_run_starts_after_shutdown_began() -> None:
    settings = _settings(["lab-a"])
    engine, stop = FakeEngine(), threading.Event()
    job, _, _ = _job(settings, engine, Clock(), [], stop=stop)
    stop.set()
    assert job.run() == []
    assert job.pull((Resource.SPACE,)) == []
    assert engine.calls == []


def test_a_run_interrupted_by_shutdown_neither_backs_off_nor_reschedules() -> None:
    settings = _settings(["lab-a"])
    stop, reschedules = threading.Event(), []

    def engine(*args: object, **kwargs: object) -> list[InstanceReport]:
        stop.set()  # shutdown arrives during the run
        return [InstanceReport("lab-a", outcome="failed", error="interrupted", error_kind="hub_unavailable")]

    job, _, _ = _job(settings, engine, Clock(), reschedules, stop=stop)
    job.run()
    assert (job.failures, reschedules) == (0, [])


def test_retry_waits_in_the_engine_end_when_shutdown_begins() -> None:
    settings = _settings(["lab-a"])
    stop = threading.Event()
    slept: list[float] = []

    def engine(*args: object, sleep: Callable[[float], None], **kwargs: object) -> list[InstanceReport]:
        stop.set()
        sleep(3600.0)  # returns at once: the stop event is set
        slept.append(3600.0)
        return []

    job, _, _ = _job(settings, engine, Clock(), [], stop=stop)
    job.run()
    assert slept == [3600.0]


def test_a_failed_full_run_leaves_the_full_reconcile_due() -> None:
    settings = _settings(["lab-a"])
    engine, clock = FakeEngine(), Clock()
    job, _, _ = _job(settings, engine, clock, [])
    clock.now += timedelta(hours=1)  # past the first due time
    engine.fail = {"lab-a"}
    job.run()
    job.run()
    engine.fail = set()
    job.run()
    job.run()
    assert [full for _, full in engine.calls] == [True, True, True, False]


def test_a_reloaded_schedule_sets_the_next_intervals() -> None:
    settings = _settings(["lab-a"])
    engine, reschedules = FakeEngine(), []
    engine.fail = {"lab-a"}
    job, _, _ = _job(settings, engine, Clock(), reschedules)
    job.run()
    reloaded = _settings(["lab-a"], interval_seconds=30, max_backoff_seconds=1000)
    job.update(reloaded.groups()[0], reloaded)
    job.run()
    assert reschedules == [20, 120]
    assert job.settings is reloaded


def test_a_doorbell_pull_is_incremental_for_the_named_resources_and_feeds_health() -> None:
    settings = _settings(["lab-a"])
    engine, clock, reschedules = FakeEngine(), Clock(), []
    job, health, _ = _job(settings, engine, clock, reschedules)
    (report,) = job.pull((Resource.SPACE_BLOCK,))
    assert report.outcome == "ok"
    assert engine.calls == [(["lab-a"], False)]
    assert engine.resources == [(Resource.SPACE_BLOCK,)]
    entry = health.instance("lab-a")
    assert entry is not None and entry.last_success is not None
    # the poll schedule and backoff belong to the scheduled run alone
    assert (job.failures, reschedules) == (0, [])


def test_a_crash_in_a_doorbell_pull_fails_that_pull_only() -> None:
    settings = _settings(["lab-a"])
    reschedules: list[float] = []

    def crashing(*args: object, **kwargs: object) -> list[InstanceReport]:
        raise RuntimeError("boom")

    job, health, _ = _job(settings, crashing, Clock(), reschedules)
    (report,) = job.pull((Resource.SPACE,))
    assert (report.outcome, report.error) == ("failed", "internal error: RuntimeError")
    assert (job.failures, reschedules) == (0, [])
    entry = health.instance("lab-a")
    assert entry is not None and entry.error_kind == "internal"


class _WatchedLock:
    """The job's lock, telling when a run found it taken (the moment it decides to wait or skip)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.found_taken = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._lock.acquire(blocking, timeout)
        if not got and not blocking:
            self.found_taken.set()
        return got

    def release(self) -> None:
        self._lock.release()


def test_a_scheduled_run_waits_for_a_doorbell_pull_instead_of_skipping() -> None:
    settings = _settings(["lab-a"])
    engine = FakeEngine()
    engine.block = threading.Event()
    job, _, _ = _job(settings, engine, Clock(), [])
    lock = _WatchedLock()
    job._running = lock  # type: ignore[assignment]
    pull = threading.Thread(target=job.pull, args=((Resource.SPACE,),))
    pull.start()
    assert engine.started.wait(DEADLINE)
    scheduled: list[list[InstanceReport]] = []
    run = threading.Thread(target=lambda: scheduled.append(job.run()))
    run.start()
    assert lock.found_taken.wait(DEADLINE)  # the run met the pull in flight
    engine.block.set()
    pull.join(DEADLINE)
    run.join(DEADLINE)
    assert not run.is_alive()
    assert len(scheduled) == 1 and len(scheduled[0]) == 1  # it ran after the pull, not skipped
    assert engine.resources == [(Resource.SPACE,), None]
