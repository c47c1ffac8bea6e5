"""Runs a sync: one hub group, or every configured group, with real clients and stores.

This is the one code path shared by ``syncd run-once``, ``syncd demo`` and the
daemon's scheduled jobs. Failures never escape as exceptions: each instance's
:class:`~syncd.core.report.InstanceReport` says what happened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import structlog

from syncd.core.models import Resource
from syncd.core.observe import NullObserver, Observer
from syncd.core.report import InstanceReport, RunReport
from syncd.core.sync import RESOURCES, Sink, SyncOptions
from syncd.core.sync import sync_group as _sync_group
from syncd.errors import InstanceLockedError, StoreError
from syncd.hub.client import HubClient
from syncd.settings import HubGroup, InstanceSettings, Settings
from syncd.store.freshness import peek_in_step
from syncd.store.instance import InstanceStore
from syncd.store.session import Keepalive
from syncd.store.share import share_of

__all__ = ["WhenLocked", "run_sync", "sync_group"]

WhenLocked = Literal["wait", "skip"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _opened(store: InstanceStore, report: InstanceReport, when_locked: WhenLocked, log: Any) -> bool:
    """Open one instance; a failure fails (or, when another replica holds it, skips) it alone."""
    try:
        store.open()
    except InstanceLockedError as exc:
        if when_locked == "skip":
            _skipped(report, store.instance, log)
        else:
            _failed(report, str(exc), exc.kind, log)
        return False
    except StoreError as exc:
        _failed(report, str(exc), exc.kind, log)
        return False
    except Exception as exc:  # a bug while opening one instance: it fails that instance alone
        log.exception("sync.open_crashed", instance=report.name, error_type=type(exc).__name__)
        message = f"internal error ({type(exc).__name__}); see the log for the traceback"
        _failed(report, message, "internal", log)
        return False
    return True


def _skipped(report: InstanceReport, inst: InstanceSettings, log: Any) -> None:
    report.outcome = "skipped"
    report.in_step = peek_in_step(inst.url.reveal(), password=inst.password)
    log.debug(
        "sync.instance_skipped",
        instance=inst.name,
        reason="held by another replica",
        in_step_by=None if report.in_step is None else report.in_step.replica,
    )


def _failed(report: InstanceReport, message: str, kind: str, log: Any) -> None:
    report.outcome, report.error, report.error_kind = "failed", message, kind
    log.error("sync.instance_failed", instance=report.name, error=message, kind=kind)


def sync_group(
    group: HubGroup,
    settings: Settings,
    *,
    full: bool = False,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    observer: Observer | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = _utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    replica: str | None = None,
    when_locked: WhenLocked = "wait",
    resources: tuple[Resource, ...] = RESOURCES,
) -> list[InstanceReport]:
    """Sync one hub group once (all resources, or the named ones); never raises for hub or store failures.

    ``when_locked``: an instance whose lock another process holds is waited for
    (``lock_timeout_seconds``, then it fails as ``locked``), or, for replicas
    sharing instances, ``"skip"``: left to the holder at once, reported as
    ``skipped`` with the freshness that holder recorded.
    """
    obs = observer if observer is not None else NullObserver()
    log = structlog.get_logger("syncd.run").bind(hub=group.hub.url)
    reports = {i.name: InstanceReport(i.name) for i in group.instances}
    started = monotonic()
    stores: list[InstanceStore] = []
    sync_settings = settings.sync
    if when_locked == "skip":
        sync_settings = replace(sync_settings, lock_timeout_seconds=0.0)
    try:
        for inst in group.instances:
            store = InstanceStore(
                inst, sync_settings, clock=clock, sleep=sleep, monotonic=monotonic, replica=replica,
                share=share_of(len(group.instances)),
            )
            if not _opened(store, reports[inst.name], when_locked, log):
                continue
            if store.bootstrapped:
                log.info("store.bootstrapped", instance=inst.name, url=inst.display_url)
            stores.append(store)
        if stores:
            with (
                Keepalive(stores, every_seconds=settings.sync.lease_seconds / 3),
                HubClient(
                    group.hub, transport=transport, sleep=sleep, observer=obs, monotonic=monotonic,
                    max_body_bytes=settings.sync.max_response_bytes,
                ) as client,
            ):
                sinks: list[Sink] = list(stores)
                options = SyncOptions(
                    page_size=settings.sync.page_size,
                    lookback=timedelta(seconds=settings.sync.lookback_seconds),
                    full=full,
                    stop=stop if stop is not None else threading.Event(),
                    clock_skew=timedelta(seconds=settings.sync.clock_skew_seconds),
                    clock=clock,
                    deadline_seconds=settings.sync.run_deadline_seconds,
                    resources=resources,
                )
                _sync_group(client, sinks, reports, options, observer=obs, monotonic=monotonic)
    except Exception as exc:  # the job boundary: a bug fails this group, not the process
        log.exception("sync.group_crashed", error_type=type(exc).__name__)
        for report in reports.values():
            if report.outcome == "ok":
                report.outcome, report.error_kind = "failed", "internal"
                report.error = f"internal error ({type(exc).__name__}); see the log for the traceback"
    finally:
        for store in stores:
            store.close()
    finished = clock()
    for report in reports.values():
        report.finished_at = finished
        if report.duration_seconds == 0.0:
            report.duration_seconds = monotonic() - started
        obs.instance_done(report)
        log.info(
            "sync.instance_done",
            instance=report.name,
            outcome=report.outcome,
            changed=report.changed,
            deferred=report.deferred,
            quarantined=report.quarantined,
            held=report.held,
            error=report.error,
            seconds=round(report.duration_seconds, 3),
        )
    return [reports[i.name] for i in group.instances]


def run_sync(
    settings: Settings,
    *,
    instance_names: list[str] | None = None,
    full: bool = False,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    observer: Observer | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> RunReport:
    """Sync every (or the named) instance once, group after group."""
    reports: list[InstanceReport] = []
    for group in settings.groups(instance_names):
        reports.extend(
            sync_group(
                group,
                settings,
                full=full,
                transport=transport,
                sleep=sleep,
                observer=observer,
                stop=stop,
                clock=clock,
            )
        )
        if stop is not None and stop.is_set():
            break
    order = {i.name: n for n, i in enumerate(settings.instances)}
    reports.sort(key=lambda r: order.get(r.name, 0))
    return RunReport(reports, full=full)
