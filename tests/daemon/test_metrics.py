"""Prometheus metrics: the Observer hooks move the right series, and the names pass promtool."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from syncd.core.models import Resource
from syncd.core.report import InstanceReport
from syncd.daemon.metrics import Metrics, sample_exposition
from tests.support.tools import require_tool


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_observer_hooks_move_the_series() -> None:
    m = Metrics()
    m.hub_request("space", "200", 0.25)
    m.hub_request("space", "200", 0.5)
    m.hub_request("space_block", "timeout", 30.0)
    m.hub_retry("timeout", 2.0)
    m.rows_applied("lab-a", Resource.SPACE, "inserted", 5)
    m.rows_applied("lab-a", Resource.SPACE_BLOCK, "updated", 2)
    m.rows_applied("lab-a", Resource.SPACE_BLOCK, "rejected", 1)
    m.rows_applied("lab-a", Resource.SPACE, "unchanged", 0)
    finished = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    m.instance_done(InstanceReport("lab-a", duration_seconds=1.5, finished_at=finished, lag_seconds=3.0,
                                   deferred=4, quarantined=1, held=2))
    m.instance_done(InstanceReport("lab-b", outcome="failed", error="hub down", error_kind="hub_unavailable",
                                   duration_seconds=0.1, finished_at=finished))
    s = _samples(m)
    assert s[("syncd_hub_requests_total", (("resource", "space"), ("status", "200")))] == 2
    assert s[("syncd_hub_requests_total", (("resource", "space_block"), ("status", "timeout")))] == 1
    assert s[("syncd_hub_request_duration_seconds_count", (("resource", "space"),))] == 2
    assert s[("syncd_hub_retries_total", (("reason", "timeout"),))] == 1
    assert s[("syncd_rows_applied_total",
              (("action", "inserted"), ("instance", "lab-a"), ("resource", "space")))] == 5
    assert s[("syncd_rows_applied_total",
              (("action", "updated"), ("instance", "lab-a"), ("resource", "space_block")))] == 2
    assert ("syncd_rows_applied_total",
            (("action", "unchanged"), ("instance", "lab-a"), ("resource", "space"))) not in s
    assert s[("syncd_rows_rejected_total", (("instance", "lab-a"), ("resource", "space_block")))] == 1
    assert s[("syncd_runs_total", (("instance", "lab-a"), ("outcome", "ok")))] == 1
    assert s[("syncd_runs_total", (("instance", "lab-b"), ("outcome", "failed")))] == 1
    assert s[("syncd_run_errors_total", (("instance", "lab-b"), ("kind", "hub_unavailable")))] == 1
    assert s[("syncd_sync_duration_seconds_count", (("instance", "lab-a"),))] == 1
    assert s[("syncd_last_success_timestamp_seconds", (("instance", "lab-a"),))] == finished.timestamp()
    assert ("syncd_last_success_timestamp_seconds", (("instance", "lab-b"),)) not in s
    assert s[("syncd_cursor_lag_seconds", (("instance", "lab-a"),))] == 3.0
    assert s[("syncd_deferred_rows", (("instance", "lab-a"),))] == 4
    assert s[("syncd_quarantined_rows", (("instance", "lab-a"),))] == 1
    assert s[("syncd_held_spaces", (("instance", "lab-a"),))] == 2


def test_registries_are_not_shared() -> None:
    a, b = Metrics(), Metrics()
    a.hub_retry("status_503", 1.0)
    assert ("syncd_hub_retries_total", (("reason", "status_503"),)) not in _samples(b)


def test_forget_drops_an_instances_gauges() -> None:
    m = Metrics()
    m.instance_done(InstanceReport("gone", finished_at=datetime(2026, 1, 1, tzinfo=UTC), deferred=3))
    m.forget("gone")
    m.forget("never-seen")
    assert ("syncd_deferred_rows", (("instance", "gone"),)) not in _samples(m)


def test_names_follow_prometheus_conventions() -> None:
    families = list(text_string_to_metric_families(sample_exposition().decode()))
    assert families
    for family in families:
        assert family.name.startswith("syncd_")
        assert family.documentation
        if family.type == "counter":
            assert not family.name.endswith("_total")  # the parser strips it; the samples carry it
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if family.type == "gauge":
            assert not family.name.endswith("_total")


def test_promtool_check_metrics_passes() -> None:
    promtool = require_tool("promtool", "apt-get install prometheus; .ci/ops-checks installs it")
    result = subprocess.run([promtool, "check", "metrics"], input=sample_exposition(),
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_an_interrupted_run_is_counted_as_such_not_as_an_error() -> None:
    m = Metrics()
    m.instance_done(InstanceReport("lab-a", outcome="interrupted", error="interrupted by shutdown",
                                   error_kind="interrupted", finished_at=datetime(2026, 1, 1, tzinfo=UTC)))
    s = _samples(m)
    assert s[("syncd_runs_total", (("instance", "lab-a"), ("outcome", "interrupted")))] == 1
    assert not [key for key in s if key[0] == "syncd_run_errors_total"]
    assert ("syncd_last_success_timestamp_seconds", (("instance", "lab-a"),)) not in s
