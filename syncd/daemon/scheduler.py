"""The daemon's APScheduler: how it is built and how jobs are put on it.

The only module that knows APScheduler: the service (:mod:`syncd.daemon.service`)
puts one :class:`~syncd.daemon.schedule.GroupJob` per hub group and the
heartbeat on the scheduler through these functions, and reschedules a group
when its interval changes (backoff, a reloaded configuration).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from syncd.daemon.schedule import GroupJob
from syncd.settings import Settings

__all__ = ["BackgroundScheduler", "add_group_job", "add_heartbeat", "group_trigger", "make_scheduler"]


def make_scheduler(workers: int) -> BackgroundScheduler:
    """The daemon's scheduler: ``workers`` threads for sync runs and one for the heartbeat."""
    return BackgroundScheduler(
        executors={
            "default": ThreadPoolExecutor(max_workers=workers),
            # its own thread: the heartbeat keeps beating while every worker is busy syncing
            "heartbeat": ThreadPoolExecutor(max_workers=1),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )


def add_heartbeat(scheduler: BackgroundScheduler, beat: Callable[[], None], seconds: float) -> None:
    """Call ``beat`` every ``seconds`` on the heartbeat's own thread, the first time one period from now."""
    scheduler.add_job(
        beat,
        IntervalTrigger(seconds=seconds),
        id="heartbeat",
        executor="heartbeat",
        max_instances=1,
        coalesce=True,
        # first beat one period in: READY=1 goes out before any WATCHDOG=1
        next_run_time=datetime.now(UTC) + timedelta(seconds=seconds),
    )


def add_group_job(scheduler: BackgroundScheduler, job: GroupJob, settings: Settings, delay: float) -> None:
    """Run ``job`` at the configured interval, the first time ``delay`` seconds from now."""
    # the scheduler runs on the real clock; the injected one is for staleness and reconciles
    first = datetime.now(UTC) + timedelta(seconds=delay)
    scheduler.add_job(
        job.run,
        group_trigger(settings, settings.schedule.interval_seconds),
        id=job.key,
        name=job.group.name,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=first,
    )


def group_trigger(settings: Settings, seconds: float) -> IntervalTrigger:
    """Every ``seconds``, with the configured jitter (at most half the interval)."""
    jitter = min(settings.schedule.jitter_seconds, seconds / 2)
    return IntervalTrigger(seconds=seconds, jitter=jitter or None)
