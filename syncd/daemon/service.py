"""``syncd serve``: the one place where the daemon is wired together.

:func:`serve` loads the settings, starts the health server, schedules one
:class:`~syncd.daemon.schedule.GroupJob` per hub group on an APScheduler 3.x
``BackgroundScheduler`` (:mod:`syncd.daemon.scheduler`) plus a heartbeat job
(``/livez`` and the systemd watchdog), tells systemd ``READY=1``, and then
waits for signals (:mod:`syncd.daemon.signals`) on the main thread:

- SIGTERM/SIGINT: stop scheduling, ask the runs in flight to stop after the
  page transaction they are in, wait up to ``shutdown_grace_seconds``, exit 0.
  A second signal exits at once (128 + signal number).
- SIGHUP: reload the settings file; a bad file is logged and the old
  configuration keeps running.

Beside the scheduler, each hub group with ``[hub] realtime = "auto"`` keeps a
Realtime doorbell (:mod:`syncd.daemon.doorbell`) on threads of its own; a reload
that changes a group's hub URL or token reconnects it, and shutdown closes it.

Everything with an effect outside the process (clock, scheduler, server,
signals, exit) is a keyword parameter with the real thing as default.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from wsgiref.simple_server import WSGIServer
from wsgiref.types import WSGIApplication

import structlog

from syncd.core.timestamps import utc_now
from syncd.daemon.doorbell import DoorbellCollector, Doorbells
from syncd.daemon.health import HealthState, health_app, start_health_server
from syncd.daemon.metrics import Metrics
from syncd.daemon.notify import Notifier, watchdog_interval
from syncd.daemon.runtime_state import record_listen_state, remove_listen_state
from syncd.daemon.schedule import ActiveRuns, GroupJob, SyncGroup, backoff_interval
from syncd.daemon.scheduler import (
    BackgroundScheduler,
    add_group_job,
    add_heartbeat,
    group_trigger,
    make_scheduler,
)
from syncd.daemon.signals import install_signal_handlers
from syncd.daemon.wakeup import Wakeup
from syncd.errors import ConfigError
from syncd.logs import configure_logging, configure_logging_for, register_settings_secrets
from syncd.settings import InstanceSettings, Settings, load_settings
from syncd.shard import apply_shard, format_shard
from syncd.store.placement import sqlite_on_network_filesystems
from syncd.store.replica import default_replica_id

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK", "Daemon", "serve"]

log = structlog.get_logger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
_HEARTBEAT_SECONDS = 5.0
# the part of the shutdown grace the doorbells' threads may take to end (their sockets are closed)
_DOORBELL_CLOSE_SECONDS = 5.0
# the longest the main loop sleeps without looking at its stop and reload flags
_LOOP_TICK_SECONDS = 1.0


def _default_sync(replica: str) -> SyncGroup:
    from syncd.runner import sync_group

    # replicas share instances: one held by another replica is left to it, not waited for
    return functools.partial(sync_group, replica=replica, when_locked="skip")


@dataclass(slots=True)
class _Server:
    server: WSGIServer
    thread: threading.Thread


ServerFactory = Callable[[WSGIApplication, str, int], tuple[WSGIServer, threading.Thread]]


class Daemon:
    """The running service. ``serve`` drives it; tests may drive it directly."""

    def __init__(
        self,
        settings_path: Path,
        environ: Mapping[str, str],
        *,
        shard: tuple[int, int] | None = None,
        sync: SyncGroup | None = None,
        load: Callable[[Path, Mapping[str, str]], Settings] = load_settings,
        configure_logs: Callable[[Settings], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        notifier: Notifier | None = None,
        server_factory: ServerFactory = start_health_server,
        scheduler_factory: Callable[[int], BackgroundScheduler] | None = None,
        hard_exit: Callable[[int], NoReturn] = os._exit,
        rng: random.Random | None = None,
        heartbeat_seconds: float | None = None,
        replica: str | None = None,
        placement: Callable[[Iterable[InstanceSettings]], list[str]] = sqlite_on_network_filesystems,
        doorbells: Doorbells | None = None,
        wakeup: Wakeup | None = None,
    ) -> None:
        self._placement = placement
        self._path = settings_path
        self.replica = replica or environ.get("SYNCD_REPLICA_ID") or default_replica_id()
        self._environ = environ
        self._shard = shard
        self._sync = sync
        self._load = load
        self._configure_logs = configure_logs
        self._clock = clock
        self._monotonic = monotonic
        self._notifier = notifier if notifier is not None else Notifier.from_environ(environ)
        self._server_factory = server_factory
        self._scheduler_factory = scheduler_factory or make_scheduler
        self._hard_exit = hard_exit
        self._rng = rng if rng is not None else random.Random()
        watchdog = watchdog_interval(environ)
        self._heartbeat = heartbeat_seconds or min(_HEARTBEAT_SECONDS, watchdog or _HEARTBEAT_SECONDS)
        self._watchdog = watchdog is not None

        self.metrics = Metrics()
        self.doorbells = doorbells if doorbells is not None else Doorbells()
        self.metrics.registry.register(DoorbellCollector(self.doorbells))
        self.stop_event = threading.Event()
        self.active = ActiveRuns()
        self.jobs: dict[str, GroupJob] = {}
        self.health: HealthState | None = None
        self.settings: Settings | None = None
        self.server: _Server | None = None
        self._scheduler: BackgroundScheduler | None = None
        # owned (and closed with the daemon) unless the caller passed one it outlives
        self._owns_wakeup = wakeup is None
        self._wakeup = wakeup if wakeup is not None else Wakeup()
        self._stop_signals = 0
        self._reload_requested = False
        # reentrant: a reload holds it and reschedules a kept group whose interval changed
        self._sched_lock = threading.RLock()
        self._state_path: Path | None = None

    # -- start -----------------------------------------------------------------------------------

    def _read_settings(self) -> Settings:
        settings = apply_shard(self._load(self._path, self._environ), self._shard)
        register_settings_secrets(settings)
        problems = self._placement(settings.instances)
        if problems:
            raise ConfigError(problems)
        return settings

    def start(self) -> int | None:
        """Load settings, listen, schedule, notify READY; an exit code when start-up failed."""
        try:
            settings = self._read_settings()
        except ConfigError as exc:
            log.error("config.invalid", path=str(self._path), problems=exc.problems)
            return EXIT_CONFIG
        self.settings = settings
        if self._configure_logs is not None:
            self._configure_logs(settings)
        self.health = HealthState(
            [i.name for i in settings.instances],
            settings.staleness_seconds,
            liveness_timeout=max(30.0, 6 * self._heartbeat),
            clock=self._clock,
            monotonic=self._monotonic,
        )
        self.health.doorbells = self.doorbells.snapshot
        host, port = settings.health.listen_host, settings.health.listen_port
        try:
            server, thread = self._server_factory(health_app(self.health, self.metrics), host, port)
        except OSError as exc:
            log.error("health.listen_failed", host=host, port=port, error=exc.strerror or str(exc))
            return EXIT_FAILURE
        self.server = _Server(server, thread)
        self._state_path = record_listen_state(self._path, self._environ, host, self.port)
        workers = max(8, len(settings.groups()))
        scheduler = self._scheduler_factory(workers)
        self._scheduler = scheduler
        add_heartbeat(scheduler, self._beat, self._heartbeat)
        self._schedule_groups(settings)
        scheduler.start()
        self.doorbells.follow(dict(self.jobs))
        self.health.set_phase("running")
        if not settings.instances:
            log.warning("shard.empty", shard=format_shard(settings.schedule.shard))
        log.info(
            "daemon.started",
            listen=f"{host}:{self.port}",
            instances=[i.name for i in settings.instances],
            shard=format_shard(settings.schedule.shard),
            interval_seconds=settings.schedule.interval_seconds,
            watchdog=self._watchdog,
        )
        self._notifier.ready(f"syncing {len(settings.instances)} instance(s)")
        return None

    @property
    def port(self) -> int:
        return int(self.server.server.server_port) if self.server else 0

    def _beat(self) -> None:
        if self.health is not None:
            self.health.heartbeat()
        if self._watchdog:
            self._notifier.watchdog()

    def _sync_fn(self) -> SyncGroup:
        if self._sync is None:
            self._sync = _default_sync(self.replica)
        return self._sync

    def _schedule_groups(self, settings: Settings) -> None:
        """Add, keep or remove one job per hub group of ``settings``."""
        assert self._scheduler is not None
        assert self.health is not None
        wanted: dict[str, GroupJob] = {}
        for group in settings.groups():
            job = GroupJob(
                group,
                settings,
                sync=self._sync_fn(),
                observer=self.metrics,
                health=self.health,
                stop=self.stop_event,
                active=self.active,
                reschedule=self._reschedule,
                clock=self._clock,
                rng=self._rng,
            )
            old = self.jobs.get(job.key)
            if old is not None:
                interval_changed = old.settings.schedule != settings.schedule
                old.update(group, settings)
                wanted[job.key] = old
                if interval_changed:
                    self._reschedule(old, backoff_interval(settings.schedule, old.failures))
                continue
            wanted[job.key] = job
            delay = self._rng.uniform(0, settings.schedule.jitter_seconds)
            add_group_job(self._scheduler, job, settings, delay)
        for key in set(self.jobs) - set(wanted):
            self._scheduler.remove_job(key)
        self.jobs = wanted

    def _reschedule(self, job: GroupJob, seconds: float) -> None:
        with self._sched_lock:
            scheduler = self._scheduler
            if scheduler is None or self.stop_event.is_set() or self.jobs.get(job.key) is not job:
                return
            scheduler.reschedule_job(job.key, trigger=group_trigger(job.settings, seconds))

    # -- signals ---------------------------------------------------------------------------------

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """First call: graceful shutdown. A later call: exit at once. Safe in a signal handler."""
        self._stop_signals += 1
        if self._stop_signals > 1:
            self._hard_exit(128 + signum)
        self._wakeup.ring()

    def request_reload(self) -> None:
        """Reload the settings file on the main loop. Safe in a signal handler."""
        self._reload_requested = True
        self._wakeup.ring()

    def wakeup_fd(self) -> int:
        """The descriptor that wakes the main loop, for ``signal.set_wakeup_fd``."""
        return self._wakeup.fileno()

    # -- main loop -------------------------------------------------------------------------------

    def run(self) -> int:
        """Start, then block until asked to stop; returns the exit code."""
        failed = self.start()
        if failed is not None:
            self._close()
            return failed
        while True:
            # bounded: the flags are looked at every tick even if a wake-up went astray
            self._wakeup.wait(_LOOP_TICK_SECONDS)
            if self._stop_signals:
                break
            if self._reload_requested:
                self._reload_requested = False
                self.reload()
        return self.shutdown()

    def reload(self) -> bool:
        """Re-read the settings file; keep the running configuration when the new one is bad."""
        assert self.health is not None
        assert self.settings is not None
        self._notifier.reloading(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)
        try:
            new = self._read_settings()
        except ConfigError as exc:
            log.error(
                "config.reload_failed",
                path=str(self._path),
                problems=exc.problems,
                keeping="previous configuration",
            )
            self._notifier.ready("reload failed; previous configuration kept")
            return False
        old = self.settings
        if new.health != old.health and (new.health.listen_host, new.health.listen_port) != (
            old.health.listen_host,
            old.health.listen_port,
        ):
            log.warning("config.reload_ignored", key="health.listen", reason="takes effect on restart",
                        listening=f"{old.health.listen_host}:{self.port}")
        if new.log != old.log and self._configure_logs is not None:
            self._configure_logs(new)
        self.settings = new
        for name in self.health.configure([i.name for i in new.instances], new.staleness_seconds):
            self.metrics.forget(name)
        with self._sched_lock:
            self._schedule_groups(new)
            self.doorbells.follow(dict(self.jobs))
        log.info("config.reloaded", path=str(self._path), instances=[i.name for i in new.instances])
        self._notifier.ready(f"syncing {len(new.instances)} instance(s)")
        return True

    def shutdown(self) -> int:
        """Stop scheduling, let runs in flight finish their page within the grace, close."""
        assert self.settings is not None
        assert self.health is not None
        grace = self.settings.schedule.shutdown_grace_seconds
        self.health.set_phase("stopping")
        self._notifier.stopping()
        log.info("daemon.stopping", in_flight=self.active.count, grace_seconds=grace)
        started = time.monotonic()
        with self._sched_lock:
            self.stop_event.set()
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
        if not self.doorbells.close(min(grace, _DOORBELL_CLOSE_SECONDS)):
            log.warning("doorbell.close_slow", grace_seconds=grace)
        if not self.active.wait_idle(grace - (time.monotonic() - started)):
            # the page transaction still open is rolled back by the database when the process ends
            log.warning("daemon.grace_expired", in_flight=self.active.count, grace_seconds=grace)
            self._close()
            self._hard_exit(EXIT_OK)
        self._close()
        log.info("daemon.stopped")
        return EXIT_OK

    def _close(self) -> None:
        if self._state_path is not None:
            remove_listen_state(self._state_path)
            self._state_path = None
        self.doorbells.close(0.0)  # already closed on a normal shutdown: this is for failed starts
        if self.server is not None:
            self.server.server.shutdown()
            self.server.server.server_close()
            self.server = None
        self._notifier.close()
        if self._owns_wakeup:
            self._wakeup.close()


def serve(
    settings_path: Path,
    environ: Mapping[str, str],
    *,
    shard: tuple[int, int] | None,
    install_signals: Callable[[Daemon], Callable[[], None]] = install_signal_handlers,
    initial_logs: Callable[[], None] | None = configure_logging,
    **daemon_options: Any,
) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the exit code (0 stopped, 1 failed, 2 configuration).

    Logging starts with the defaults (so a bad configuration file is reported
    in the same format) and follows the file's ``[log]`` once it is loaded.
    """
    if initial_logs is not None:
        initial_logs()
    daemon_options.setdefault("configure_logs", configure_logging_for)
    # outlives the daemon: the interpreter writes to it until the handlers are restored
    with Wakeup() as wakeup:
        daemon = Daemon(settings_path, environ, shard=shard, wakeup=wakeup, **daemon_options)
        restore = install_signals(daemon)
        try:
            return daemon.run()
        finally:
            restore()
