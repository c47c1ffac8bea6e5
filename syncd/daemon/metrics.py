"""Prometheus metrics: an :class:`~syncd.core.observe.Observer` that counts what the sync engine reports.

Every metric lives in the registry given to :class:`Metrics` (a fresh one by
default), never in ``prometheus_client``'s global registry, so tests and
several daemons in one process do not share counters. Names follow the
Prometheus conventions that ``promtool check metrics`` enforces: ``syncd_``
prefix, base units in the name (``_seconds``), ``_total`` only on counters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import syncd
from syncd.core.models import Resource
from syncd.core.report import Action, InstanceReport, InStep

__all__ = ["DURATION_BUCKETS", "Metrics", "sample_exposition"]

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Staleness(Collector):
    """``syncd_instance_staleness_seconds``, computed when scraped from each instance's freshness record."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, InStep] = {}

    def update(self, instance: str, record: InStep) -> None:
        with self._lock:
            self._records[instance] = record

    def forget(self, instance: str) -> None:
        with self._lock:
            self._records.pop(instance, None)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "syncd_instance_staleness_seconds",
            "Hub-clock seconds since the start of the instance's last completed pull, by any replica: "
            "every change the hub showed then is in the instance.",
            labels=["instance", "replica"],
        )
        now = self._clock()
        with self._lock:
            records = dict(self._records)
        for instance, record in sorted(records.items()):
            family.add_metric([instance, record.replica], record.staleness(now))
        yield family


class Metrics:
    """The daemon's metrics; pass it as the ``observer`` of a sync run."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.staleness = _Staleness(clock)
        r.register(self.staleness)
        self.info = Gauge("syncd_build_info", "syncd version; always 1.", ["version"], registry=r)
        self.info.labels(version=syncd.__version__).set(1)
        self.runs = Counter(
            "syncd_runs",
            "Sync runs per instance and outcome (ok, failed, interrupted; skipped: another replica had it).",
            ["instance", "outcome"], registry=r)
        self.run_errors = Counter(
            "syncd_run_errors", "Failed sync runs per instance and error kind.",
            ["instance", "kind"], registry=r)
        self.rows = Counter(
            "syncd_rows_applied", "Hub rows applied per instance, resource and action.",
            ["instance", "resource", "action"], registry=r)
        self.rejected = Counter(
            "syncd_rows_rejected", "Hub rows that failed validation and went to quarantine.",
            ["instance", "resource"], registry=r)
        self.requests = Counter(
            "syncd_hub_requests", "HTTP requests to the hub per resource and status code or error kind.",
            ["resource", "status"], registry=r)
        self.request_duration = Histogram(
            "syncd_hub_request_duration_seconds", "Duration of hub HTTP requests.",
            ["resource"], buckets=DURATION_BUCKETS, registry=r)
        self.retries = Counter(
            "syncd_hub_retries", "Hub requests retried after a transient failure, per reason.",
            ["reason"], registry=r)
        self.duration = Histogram(
            "syncd_sync_duration_seconds", "Duration of one instance's part of a sync run.",
            ["instance"], buckets=DURATION_BUCKETS, registry=r)
        self.last_success = Gauge(
            "syncd_last_success_timestamp_seconds", "Unix time of the instance's last successful sync.",
            ["instance"], registry=r)
        self.lag = Gauge(
            "syncd_cursor_lag_seconds",
            "How far the instance's proven-complete watermark trails the hub's clock: the lookback window "
            "on a quiet hub, not the age of the data (see syncd_instance_staleness_seconds).",
            ["instance"], registry=r)
        self.deferred = Gauge(
            "syncd_deferred_rows", "Blocks parked until their space arrives.",
            ["instance"], registry=r)
        self.quarantined = Gauge(
            "syncd_quarantined_rows", "Hub rows held in quarantine because they broke the contract.",
            ["instance"], registry=r)
        self.held = Gauge(
            "syncd_held_spaces", "Tombstoned spaces kept because LaminDB records still reference them.",
            ["instance"], registry=r)

    # -- Observer -------------------------------------------------------------------------------

    def hub_request(self, resource: str, status: str, seconds: float) -> None:
        self.requests.labels(resource=resource, status=status).inc()
        self.request_duration.labels(resource=resource).observe(max(seconds, 0.0))

    def hub_retry(self, reason: str, delay: float, message: str = "") -> None:
        self.retries.labels(reason=reason).inc()

    def rows_applied(self, instance: str, resource: Resource, action: Action, count: int) -> None:
        if count <= 0:
            return
        if action == "rejected":
            self.rejected.labels(instance=instance, resource=str(resource)).inc(count)
        else:
            self.rows.labels(instance=instance, resource=str(resource), action=action).inc(count)

    def instance_done(self, report: InstanceReport) -> None:
        name = report.name
        self.runs.labels(instance=name, outcome=report.outcome).inc()
        if report.in_step is not None:
            self.staleness.update(name, report.in_step)
        if report.outcome == "skipped":
            return
        self.duration.labels(instance=name).observe(max(report.duration_seconds, 0.0))
        if report.outcome == "interrupted":
            return
        if report.outcome != "ok":
            self.run_errors.labels(instance=name, kind=report.error_kind or "error").inc()
            return
        if report.finished_at is not None:
            self.last_success.labels(instance=name).set(report.finished_at.timestamp())
        if report.lag_seconds is not None:
            self.lag.labels(instance=name).set(report.lag_seconds)
        self.deferred.labels(instance=name).set(report.deferred)
        self.quarantined.labels(instance=name).set(report.quarantined)
        self.held.labels(instance=name).set(report.held)

    # -- exposition -----------------------------------------------------------------------------

    def forget(self, instance: str) -> None:
        """Drop an instance's gauges (it left the configuration on reload)."""
        self.staleness.forget(instance)
        for gauge in (self.last_success, self.lag, self.deferred, self.quarantined, self.held):
            try:
                gauge.remove(instance)
            except KeyError:
                continue

    def exposition(self) -> bytes:
        """The text exposition format, as served on ``/metrics``."""
        return bytes(generate_latest(self.registry))


def sample_exposition() -> bytes:
    """The exposition after one request, retry, applied page and run of each kind: for ``promtool`` checks."""
    metrics = Metrics()
    metrics.hub_request("space", "200", 0.2)
    metrics.hub_request("space_block", "503", 1.5)
    metrics.hub_retry("status_503", 1.0)
    metrics.rows_applied("lab-a", Resource.SPACE, "inserted", 3)
    metrics.rows_applied("lab-a", Resource.SPACE_BLOCK, "rejected", 1)
    ok = InstanceReport("lab-a", duration_seconds=2.0, deferred=1, quarantined=1, lag_seconds=0.5,
                        finished_at=datetime(2026, 1, 1, tzinfo=UTC))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    ok.in_step = InStep(pull_started=at, hub_offset_seconds=0.0, finished_at=at, replica="host:1", hub="x")
    metrics.instance_done(ok)
    metrics.instance_done(InstanceReport("lab-b", outcome="failed", error_kind="hub_unavailable"))
    return metrics.exposition()
