"""The daemon's side of the Realtime doorbell: one connection per hub group, coalesced pulls.

:class:`PullQueue` turns doorbell rings into pulls for one group. A ring
names the resources to pull; a worker thread runs one pull at a time through
:meth:`syncd.daemon.schedule.GroupJob.pull` (so never beside the scheduled run), for
every resource rung since the last pull began. Rings during a pull make
exactly one more pull after it: a burst of any size costs a few pulls. A pull
rung by a change event that changed nothing for a resource is repeated once,
``retry_seconds`` later (the event may come before the row is visible to
REST), and no more.

:class:`GroupDoorbell` is one group's :class:`~syncd.hub.realtime.RealtimeClient`
with its queue and two threads; :class:`Doorbells` keeps one per group whose
hub has ``realtime = "auto"``, follows reloads (a changed hub URL or token
reconnects) and reports their state for ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from syncd.core.models import Resource
from syncd.core.report import InstanceReport
from syncd.core.sync import RESOURCES
from syncd.hub.realtime import RealtimeClient, RealtimeTimings, Socket, connect_websocket

__all__ = ["DoorbellCollector", "Doorbells", "GroupDoorbell", "PullQueue", "Reason"]

log = structlog.get_logger(__name__)

Reason = Literal["event", "subscribed", "retry"]
_CHANGES = ("inserted", "updated", "deleted")


class _Pullable(Protocol):
    """What the doorbell needs of a :class:`~syncd.daemon.schedule.GroupJob`."""

    key: str

    def pull(self, resources: tuple[Resource, ...]) -> list[InstanceReport]: ...


def _changed(reports: list[InstanceReport], resource: Resource) -> bool:
    return any(r.counts[(resource, action)] for r in reports for action in _CHANGES)  # type: ignore[index]


class PullQueue:
    """One group's pending pulls; :meth:`run` is the worker thread's loop, :meth:`close` ends it."""

    def __init__(
        self,
        pull: Callable[[tuple[Resource, ...]], list[InstanceReport]],
        *,
        retry_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pull = pull
        self._retry_seconds = retry_seconds
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._pending: dict[Resource, Reason] = {}
        self._retry_at: dict[Resource, float] = {}
        self._closed = False
        self._pulling = False
        self.pulls: dict[Reason, int] = {"event": 0, "subscribed": 0, "retry": 0}

    def ring(self, resources: tuple[Resource, ...], reason: Reason) -> None:
        """Ask for a pull of ``resources``; returns at once."""
        with self._cond:
            for resource in resources:
                # an event's pull may be repeated once; a subscription's pull never is
                if self._pending.get(resource) != "event":
                    self._pending[resource] = reason
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def idle(self) -> bool:
        """No pull running, asked for, or planned to be repeated."""
        with self._cond:
            return not (self._pulling or self._pending or self._retry_at)

    def _take(self) -> dict[Resource, Reason] | None:
        """Wait for work: what to pull now and why; None once closed."""
        with self._cond:
            while not self._closed:
                now = self._monotonic()
                for resource, due in list(self._retry_at.items()):
                    if due <= now:
                        del self._retry_at[resource]
                        self._pending.setdefault(resource, "retry")
                if self._pending:
                    taken, self._pending = self._pending, {}
                    self._pulling = True
                    return taken
                timeout = min(self._retry_at.values(), default=now + 60.0) - now
                self._cond.wait(timeout=max(timeout, 0.0))
            return None

    def run(self) -> None:
        while (taken := self._take()) is not None:
            resources = tuple(r for r in RESOURCES if r in taken)
            why = set(taken.values())
            reason: Reason = "event" if "event" in why else "subscribed" if "subscribed" in why else "retry"
            self.pulls[reason] += 1
            try:
                reports = self._pull(resources)
            except Exception as exc:  # the thread's boundary: a bug in one pull must not end the doorbell
                log.exception("doorbell.pull_crashed", error_type=type(exc).__name__)
                reports = []
            all_ok = bool(reports) and all(x.outcome == "ok" for x in reports)
            again = [r for r in resources if taken[r] == "event" and all_ok and not _changed(reports, r)]
            with self._cond:
                self._pulling = False
                due = self._monotonic() + self._retry_seconds
                for resource in again:
                    self._retry_at.setdefault(resource, due)


ClientFactory = Callable[..., RealtimeClient]


class GroupDoorbell:
    """One hub group's doorbell: the connection thread and the pull thread."""

    def __init__(
        self,
        job: _Pullable,
        hub_url: str,
        token: str,
        *,
        timings: RealtimeTimings | None = None,
        connect: Callable[[str, RealtimeTimings], Socket] = connect_websocket,
        retry_seconds: float = 1.0,
    ) -> None:
        self.key = job.key
        self.hub_url = hub_url
        self.token = token
        self.queue = PullQueue(job.pull, retry_seconds=retry_seconds)
        self.client = RealtimeClient(
            hub_url, token, _Ringer(self.queue), timings=timings, connect=connect, label=job.key
        )
        self._threads = [
            threading.Thread(target=self.client.run, name=f"syncd-doorbell-{job.key}", daemon=True),
            threading.Thread(target=self.queue.run, name=f"syncd-doorbell-pull-{job.key}", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Ask both threads to end (a pull in flight ends with the daemon's stop event)."""
        self.client.close()
        self.queue.close()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for both threads; True when they ended."""
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def snapshot(self) -> dict[str, Any]:
        c = self.client
        return {
            "hub": self.hub_url,
            "state": c.state,
            "up": c.state == "up",
            "events": c.events,
            "pulls": sum(self.queue.pulls.values()),
            "pulls_by_reason": dict(self.queue.pulls),
            "reconnects": c.reconnects,
            "last_error": c.last_error,
        }


class _Ringer:
    def __init__(self, queue: PullQueue) -> None:
        self._queue = queue

    def subscribed(self) -> None:
        self._queue.ring(RESOURCES, "subscribed")

    def changed(self, resources: tuple[Resource, ...]) -> None:
        self._queue.ring(resources, "event")


class _Job(_Pullable, Protocol):
    @property
    def group(self) -> Any: ...


class Doorbells:
    """The doorbells of every group whose hub offers one; thread-safe snapshots."""

    def __init__(
        self,
        *,
        timings: RealtimeTimings | None = None,
        connect: Callable[[str, RealtimeTimings], Socket] = connect_websocket,
        retry_seconds: float = 1.0,
    ) -> None:
        self._timings = timings
        self._connect = connect
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._bells: dict[str, GroupDoorbell] = {}
        self._disabled: set[str] = set()

    def follow(self, jobs: dict[str, _Job]) -> None:
        """Start, keep, restart (hub URL or token changed) or stop doorbells to match ``jobs``."""
        with self._lock:
            old, self._bells = self._bells, {}
            self._disabled = set()
            for key, job in jobs.items():
                hub = job.group.hub
                if hub.realtime == "off":
                    self._disabled.add(key)
                    continue
                token = hub.token.reveal()
                bell = old.pop(key, None)
                if bell is not None and (bell.hub_url, bell.token) == (hub.url, token):
                    self._bells[key] = bell
                    continue
                if bell is not None:
                    log.info("doorbell.reconnecting", group=key, reason="hub or token changed")
                    bell.close()
                bell = GroupDoorbell(
                    job, hub.url, token, timings=self._timings, connect=self._connect,
                    retry_seconds=self._retry_seconds,
                )
                self._bells[key] = bell
                bell.start()
            for bell in old.values():
                bell.close()

    def close(self, timeout: float) -> bool:
        """Close every doorbell and wait up to ``timeout`` seconds for their threads."""
        with self._lock:
            bells, self._bells = list(self._bells.values()), {}
        for bell in bells:
            bell.close()
        end = time.monotonic() + timeout
        return all(bell.join(max(0.0, end - time.monotonic())) for bell in bells)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per group key: the doorbell's state and counters (``state: "disabled"`` when off by setting)."""
        with self._lock:
            bells = dict(self._bells)
            disabled = set(self._disabled)
        out: dict[str, dict[str, Any]] = {key: bell.snapshot() for key, bell in bells.items()}
        for key in disabled:
            out[key] = {"state": "disabled", "up": False}
        return out


class DoorbellCollector:
    """``/metrics`` for the doorbells, read from :meth:`Doorbells.snapshot` at each scrape."""

    def __init__(self, doorbells: Doorbells) -> None:
        self._doorbells = doorbells

    def collect(self) -> Iterator[Metric]:
        snap = self._doorbells.snapshot()
        up = GaugeMetricFamily("syncd_doorbell_up", "1 while the group's Realtime doorbell is subscribed.",
                               labels=["group"])
        events = CounterMetricFamily("syncd_doorbell_events", "Realtime change events received.",
                                     labels=["group"])
        pulls = CounterMetricFamily("syncd_doorbell_pulls", "Pulls the doorbell ran, per reason.",
                                    labels=["group", "reason"])
        reconnects = CounterMetricFamily("syncd_doorbell_reconnects", "Realtime connections opened again.",
                                         labels=["group"])
        for key, entry in sorted(snap.items()):
            up.add_metric([key], 1.0 if entry["up"] else 0.0)
            if entry["state"] == "disabled":
                continue
            events.add_metric([key], entry["events"])
            reconnects.add_metric([key], entry["reconnects"])
            for reason, n in sorted(entry["pulls_by_reason"].items()):
                pulls.add_metric([key, reason], n)
        yield from (up, events, pulls, reconnects)
