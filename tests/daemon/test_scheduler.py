"""The daemon's APScheduler: its executors, the heartbeat job, a group's job and its trigger."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

from syncd.daemon.health import HealthState
from syncd.daemon.metrics import Metrics
from syncd.daemon.schedule import ActiveRuns, GroupJob
from syncd.daemon.scheduler import add_group_job, add_heartbeat, group_trigger, make_scheduler
from syncd.settings import Settings, parse_settings
from tests.support.engine_fakes import FakeEngine

ENV = {"SYNCD_HUB_TOKEN": "tok-scheduler-test-1"}


def _settings(**schedule: float) -> Settings:
    return parse_settings({
        "hub": {"url": "http://127.0.0.1:9"},
        "schedule": {"interval_seconds": 60, **schedule},
        "instances": [{"name": "lab-a", "url": "sqlite:////tmp/lab-a.db"}],
    }, ENV)


def test_the_heartbeat_has_an_executor_of_its_own() -> None:
    scheduler = make_scheduler(3)
    beats: list[int] = []
    before = datetime.now(UTC)
    add_heartbeat(scheduler, lambda: beats.append(1), 5.0)
    after = datetime.now(UTC)
    (job,) = scheduler.get_jobs()
    assert (job.id, job.executor, job.trigger.interval) == ("heartbeat", "heartbeat", timedelta(seconds=5))
    # the first beat is one period away, so READY=1 goes out before any WATCHDOG=1
    assert before + timedelta(seconds=5) <= job.next_run_time <= after + timedelta(seconds=5)
    job.func()
    assert beats == [1]


def test_a_group_job_runs_the_job_at_the_interval_after_its_first_delay() -> None:
    settings = _settings(jitter_seconds=0)
    health = HealthState(["lab-a"], 30.0)
    job = GroupJob(settings.groups()[0], settings, sync=FakeEngine(), observer=Metrics(), health=health,
                   stop=threading.Event(), active=ActiveRuns(), rng=random.Random(1))
    scheduler = make_scheduler(2)
    before = datetime.now(UTC)
    add_group_job(scheduler, job, settings, 3600.0)
    after = datetime.now(UTC)
    (scheduled,) = scheduler.get_jobs()
    assert (scheduled.id, scheduled.name, scheduled.executor) == (job.key, job.group.name, "default")
    assert scheduled.trigger.interval == timedelta(seconds=60)
    assert before + timedelta(hours=1) <= scheduled.next_run_time <= after + timedelta(hours=1)
    assert scheduled.func == job.run


def test_the_jitter_is_at_most_half_the_interval() -> None:
    assert group_trigger(_settings(jitter_seconds=10), 60).jitter == 10
    assert group_trigger(_settings(jitter_seconds=10), 8).jitter == 4
    assert group_trigger(_settings(jitter_seconds=0), 60).jitter is None
