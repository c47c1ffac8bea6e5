"""PullQueue: rings become coalesced pulls, an empty event pull is repeated once, and no more."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from syncd.core.models import Resource
from syncd.core.report import InstanceReport
from syncd.daemon.doorbell import DoorbellCollector, Doorbells, PullQueue
from syncd.daemon.metrics import Metrics

DEADLINE = 10.0
BOTH = (Resource.SPACE, Resource.SPACE_BLOCK)


def until(predicate: Callable[[], object], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        threading.Event().wait(0.01)


class Engine:
    """A pull that records what it was asked, optionally blocks, and says what it changed."""

    def __init__(self) -> None:
        self.calls: list[tuple[Resource, ...]] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.changes: dict[Resource, int] = {}

    def __call__(self, resources: tuple[Resource, ...]) -> list[InstanceReport]:
        self.calls.append(resources)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(DEADLINE)
        report = InstanceReport("a")
        for resource in resources:
            report.counts[(resource, "updated")] = self.changes.get(resource, 0)
        return [report]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def running(queue: PullQueue) -> threading.Thread:
    thread = threading.Thread(target=queue.run, daemon=True)
    thread.start()
    return thread


def test_a_burst_during_a_pull_costs_exactly_one_more_pull() -> None:
    engine = Engine()
    engine.gate = threading.Event()
    engine.changes = {Resource.SPACE_BLOCK: 1}
    queue = PullQueue(engine, retry_seconds=3600.0)
    thread = running(queue)
    queue.ring((Resource.SPACE_BLOCK,), "event")
    assert engine.entered.wait(DEADLINE)
    for _ in range(100_000):
        queue.ring((Resource.SPACE_BLOCK,), "event")
    queue.ring((Resource.SPACE,), "event")
    engine.gate.set()
    until(lambda: len(engine.calls) == 2, "the second pull")
    queue.close()
    thread.join(DEADLINE)
    assert engine.calls == [(Resource.SPACE_BLOCK,), BOTH]  # spaces first, as a scheduled run
    assert queue.pulls["event"] == 2


def test_an_event_pull_that_changed_nothing_is_repeated_once_about_a_second_later() -> None:
    clock = Clock()
    engine = Engine()
    queue = PullQueue(engine, retry_seconds=1.0, monotonic=clock)
    thread = running(queue)
    queue.ring((Resource.SPACE,), "event")
    until(lambda: len(engine.calls) == 1, "the event pull")
    until(lambda: queue._retry_at, "the retry to be planned")
    assert queue._retry_at[Resource.SPACE] == 1.0
    clock.now = 1.0
    queue.ring((), "event")  # wakes the worker so it sees the clock moved
    until(lambda: len(engine.calls) == 2, "the repeat")
    clock.now = 5.0
    queue.ring((), "event")
    queue.close()
    thread.join(DEADLINE)
    assert engine.calls == [(Resource.SPACE,), (Resource.SPACE,)]
    assert queue.pulls == {"event": 1, "subscribed": 0, "retry": 1}
    assert not queue._retry_at  # the repeat found nothing either: no third pull


def test_no_repeat_when_the_pull_changed_something_or_was_for_a_subscription() -> None:
    clock = Clock()
    engine = Engine()
    engine.changes = {Resource.SPACE_BLOCK: 2}
    queue = PullQueue(engine, retry_seconds=1.0, monotonic=clock)
    thread = running(queue)
    queue.ring((Resource.SPACE_BLOCK,), "event")
    until(lambda: len(engine.calls) == 1, "the event pull")
    queue.ring(BOTH, "subscribed")
    until(lambda: len(engine.calls) == 2, "the subscription pull")
    queue.close()
    thread.join(DEADLINE)
    assert not queue._retry_at
    assert queue.pulls == {"event": 1, "subscribed": 1, "retry": 0}


def test_a_crashing_pull_does_not_end_the_worker() -> None:
    calls: list[tuple[Resource, ...]] = []

    def pull(resources: tuple[Resource, ...]) -> list[InstanceReport]:
        calls.append(resources)
        if len(calls) == 1:
            raise RuntimeError("bug")
        return [InstanceReport("a", counts={})]

    queue = PullQueue(pull, retry_seconds=3600.0)
    thread = running(queue)
    queue.ring(BOTH, "subscribed")
    until(lambda: len(calls) == 1, "the first pull")
    queue.ring(BOTH, "subscribed")
    until(lambda: len(calls) == 2, "the second pull")
    queue.close()
    thread.join(DEADLINE)
    assert not thread.is_alive()


def test_metrics_show_doorbells_from_their_snapshot() -> None:
    class Bells(Doorbells):
        def snapshot(self) -> dict[str, dict[str, Any]]:
            return {
                "group-a": {"state": "up", "up": True, "events": 5, "reconnects": 1,
                            "pulls_by_reason": {"event": 3, "subscribed": 1, "retry": 0}},
                "group-b": {"state": "disabled", "up": False},
            }

    metrics = Metrics()
    metrics.registry.register(DoorbellCollector(Bells()))
    text = metrics.exposition().decode()
    assert 'syncd_doorbell_up{group="group-a"} 1.0' in text
    assert 'syncd_doorbell_up{group="group-b"} 0.0' in text
    assert 'syncd_doorbell_events_total{group="group-a"} 5.0' in text
    assert 'syncd_doorbell_pulls_total{group="group-a",reason="event"} 3.0' in text
    assert 'syncd_doorbell_reconnects_total{group="group-a"} 1.0' in text


def _status_settings() -> Any:
    from syncd.settings import parse_settings

    return parse_settings({"hub": {"url": "http://127.0.0.1:9"}, "instances": [
        {"name": "a", "url": "sqlite:////tmp/doorbell-status-a.db"}]}, {"SYNCD_HUB_TOKEN": "t"}, source="<t>")


def test_status_lines_come_from_the_running_daemon() -> None:
    import io

    import httpx

    from syncd.daemon.doorbell_status import print_doorbells

    body = {"doorbell": {
        "group-1": {"hub": "http://127.0.0.1:9", "state": "up", "up": True, "events": 4, "pulls": 2,
                    "reconnects": 1, "last_error": None},
        "group-2": {"state": "disabled", "up": False}}}
    out = io.StringIO()
    print_doorbells(_status_settings(), out,
                    transport=httpx.MockTransport(lambda request: httpx.Response(503, json=body)))
    assert out.getvalue().splitlines() == [
        "doorbell group-1 (http://127.0.0.1:9): up; events 4, pulls 2, reconnects 1",
        'doorbell group-2: off by setting ([hub] realtime = "off")',
    ]


def test_status_says_when_it_cannot_know() -> None:
    import io

    import httpx

    from syncd.daemon.doorbell_status import print_doorbells

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    out = io.StringIO()
    print_doorbells(_status_settings(), out, transport=httpx.MockTransport(refuse))
    assert out.getvalue().startswith("doorbell: unknown (no running daemon answered at http://127.0.0.1:8787/readyz")


class _WatchedJob:
    """A GroupJob whose wait for a doorbell pull in flight is observable."""

    @staticmethod
    def make(engine: Any) -> Any:
        from syncd.core.observe import NullObserver
        from syncd.daemon.health import HealthState
        from syncd.daemon.schedule import ActiveRuns, GroupJob

        class Job(GroupJob):
            waiting = threading.Event()

            def _wait_for_pull(self) -> bool:
                self.waiting.set()
                return super()._wait_for_pull()

        settings = _status_settings()
        group = settings.groups()[0]
        health = HealthState([i.name for i in group.instances], 60.0)
        return Job(group, settings, sync=engine, observer=NullObserver(), health=health,
                   stop=threading.Event(), active=ActiveRuns())


class _GroupEngine:
    def __init__(self) -> None:
        self.calls: list[tuple[bool, tuple[Resource, ...] | None]] = []
        self.inside = 0
        self.most_inside = 0
        self.gate = threading.Event()
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, group: Any, settings: Any, *, full: bool = False, sleep: Any = None,
                 observer: Any = None, stop: Any = None,
                 resources: tuple[Resource, ...] | None = None) -> list[InstanceReport]:
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            self.calls.append((full, resources))
        self.entered.set()
        assert self.gate.wait(DEADLINE)
        with self._lock:
            self.inside -= 1
        return [InstanceReport(i.name) for i in group.instances]


def test_a_scheduled_run_waits_for_a_doorbell_pull_instead_of_being_skipped() -> None:
    engine = _GroupEngine()
    job = _WatchedJob.make(engine)
    pull = threading.Thread(target=job.pull, args=((Resource.SPACE_BLOCK,),))
    pull.start()
    assert engine.entered.wait(DEADLINE)
    results: list[list[InstanceReport]] = []
    run = threading.Thread(target=lambda: results.append(job.run()))
    run.start()
    assert job.waiting.wait(DEADLINE)
    engine.gate.set()
    pull.join(DEADLINE)
    run.join(DEADLINE)
    assert engine.calls == [(False, (Resource.SPACE_BLOCK,)), (False, None)]  # the run pulls everything
    assert engine.most_inside == 1 and len(results[0]) == 1


def test_a_doorbell_pull_waits_for_the_scheduled_run_in_flight() -> None:
    engine = _GroupEngine()
    job = _WatchedJob.make(engine)
    run = threading.Thread(target=job.run)
    run.start()
    assert engine.entered.wait(DEADLINE)
    results: list[list[InstanceReport]] = []
    pull = threading.Thread(target=lambda: results.append(job.pull((Resource.SPACE,))))
    pull.start()
    until(lambda: pull.is_alive(), "the pull to start")
    engine.gate.set()
    run.join(DEADLINE)
    pull.join(DEADLINE)
    assert [c[1] for c in engine.calls] == [None, (Resource.SPACE,)]
    assert engine.most_inside == 1 and len(results[0]) == 1
