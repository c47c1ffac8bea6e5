"""Runs a sync: one hub group, or every configured group, with real clients and stores.

This is the one code path shared by ``syncd run-once``, ``syncd demo`` and the
daemon's scheduled jobs. Failures never escape as exceptions: each instance's
:class:`~syncd.report.InstanceReport` says what happened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from syncd.errors import (
    IncompatibleSchemaError,
    InstanceLockedError,
    InstanceUnreachableError,
    StoreError,
)
from syncd.hub.client import HubClient
from syncd.models import Resource
from syncd.observe import NullObserver, Observer
from syncd.report import InstanceReport, RunReport
from syncd.settings import HubGroup, Settings
from syncd.store.instance import InstanceStore
from syncd.sync import RESOURCES, Sink, SyncOptions
from syncd.sync import sync_group as _sync_group

__all__ = ["run_sync", "sync_group"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _store_error_kind(exc: StoreError) -> str:
    if isinstance(exc, InstanceLockedError):
        return "locked"
    if isinstance(exc, IncompatibleSchemaError):
        return "incompatible_schema"
    if isinstance(exc, InstanceUnreachableError):
        return "unreachable"
    return "store"


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
    resources: tuple[Resource, ...] = RESOURCES,
) -> list[InstanceReport]:
    """Sync one hub group once (all resources, or the named ones); never raises for hub or store failures."""
    obs = observer if observer is not None else NullObserver()
    log = structlog.get_logger("syncd.run").bind(hub=group.hub.url)
    reports = {i.name: InstanceReport(i.name) for i in group.instances}
    started = monotonic()
    stores: list[InstanceStore] = []
    try:
        for inst in group.instances:
            store = InstanceStore(inst, settings.sync, clock=clock, sleep=sleep, monotonic=monotonic)
            try:
                store.open()
            except StoreError as exc:
                report = reports[inst.name]
                report.outcome, report.error = "failed", str(exc)
                report.error_kind = _store_error_kind(exc)
                log.error("sync.instance_failed", instance=inst.name, error=str(exc), kind=report.error_kind)
                continue
            if store.bootstrapped:
                log.info("store.bootstrapped", instance=inst.name, url=inst.display_url)
            stores.append(store)
        if stores:
            with HubClient(
                group.hub, transport=transport, sleep=sleep, observer=obs, monotonic=monotonic
            ) as client:
                sinks: list[Sink] = list(stores)
                options = SyncOptions(
                    page_size=settings.sync.page_size,
                    lookback=timedelta(seconds=settings.sync.lookback_seconds),
                    full=full,
                    stop=stop if stop is not None else threading.Event(),
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
