"""A stand-in for the sync engine, for tests of the daemon and its scheduled jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from syncd.core.models import Resource
from syncd.core.observe import Observer
from syncd.core.report import InstanceReport, InStep
from syncd.settings import HubGroup, Settings


class FakeEngine:
    """Stands in for syncd.runner.sync_group: records calls, answers with scripted outcomes."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bool]] = []
        self.resources: list[tuple[Resource, ...] | None] = []  # what each call named (None: all)
        self.fail: set[str] = set()
        self.block: threading.Event | None = None  # when set: wait for it (or for stop) before answering
        self.ignore_stop = False
        self.started = threading.Event()

    def __call__(
        self, group: HubGroup, settings: Settings, *, full: bool = False,
        sleep: Callable[[float], None] = time.sleep, observer: Observer | None = None,
        stop: threading.Event | None = None, resources: tuple[Resource, ...] | None = None,
    ) -> list[InstanceReport]:
        self.calls.append(([i.name for i in group.instances], full))
        self.resources.append(resources)
        self.started.set()
        if self.block is not None:
            while not self.block.wait(0.01):
                if stop is not None and stop.is_set() and not self.ignore_stop:
                    break
        reports = []
        for inst in group.instances:
            if stop is not None and stop.is_set():
                report = InstanceReport(inst.name, outcome="interrupted", error="interrupted",
                                        error_kind="interrupted")
            elif inst.name in self.fail:
                report = InstanceReport(inst.name, outcome="failed", error="hub down",
                                        error_kind="hub_unavailable")
            else:
                now = datetime.now(UTC)
                # what the real engine reads back from the instance after a completed pull
                report = InstanceReport(inst.name, deferred=1, in_step=InStep(
                    pull_started=now, hub_offset_seconds=0.0, finished_at=now, replica="fake:1",
                    hub=group.hub.url))
            report.finished_at = datetime.now(UTC)
            if observer is not None:
                observer.instance_done(report)
            reports.append(report)
        return reports
