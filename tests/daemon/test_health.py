"""Liveness, readiness and metrics endpoints, and `syncd check`'s exit codes."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncd.core.report import InstanceReport, InStep
from syncd.daemon.health import HealthState, check, health_app, start_health_server
from syncd.daemon.metrics import Metrics
from syncd.logs import MASK, register_secret
from syncd.settings import HealthSettings, Settings, parse_settings

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.mono = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


def _state(clock: Clock, names: tuple[str, ...] = ("lab-a", "lab-b")) -> HealthState:
    return HealthState(names, 180.0, liveness_timeout=30.0, clock=clock, monotonic=clock.monotonic)


def _in_step(clock: Clock, *, replica: str = "here:1", offset: float = 0.0) -> InStep:
    """A pull that began now (local clock), on a hub ``offset`` seconds ahead."""
    return InStep(pull_started=clock() + timedelta(seconds=offset), hub_offset_seconds=offset,
                  finished_at=clock(), replica=replica, hub="http://127.0.0.1:9")


def _ok(name: str, clock: Clock, **kw: object) -> InstanceReport:
    kw.setdefault("in_step", _in_step(clock))
    return InstanceReport(name, finished_at=clock(), **kw)  # type: ignore[arg-type]


def test_readiness_needs_running_and_a_fresh_success_for_every_instance() -> None:
    clock = Clock()
    state = _state(clock)
    ready, body = state.readiness()
    assert not ready
    assert body["status"] == "not ready"
    assert "daemon is starting" in body["reasons"]
    state.set_phase("running")
    state.record(_ok("lab-a", clock, lag_seconds=2.0, deferred=3, quarantined=1))
    ready, body = state.readiness()
    assert not ready
    assert body["reasons"] == ["lab-b: no completed pull recorded in the instance yet"]
    state.record(_ok("lab-b", clock))
    ready, body = state.readiness()
    assert ready
    assert body["instances"]["lab-a"] == {
        "ready": True, "staleness_seconds": 0.0, "in_step_since": "2026-11-23T09:00:00Z",
        "in_step_by": "here:1", "last_success": "2026-11-23T09:00:00Z", "seconds_since_success": 0.0,
        "last_attempt": "2026-11-23T09:00:00Z", "cursor_lag_seconds": 2.0, "last_error": None,
        "error_kind": None, "consecutive_failures": 0, "deferred": 3, "quarantined": 1, "held": 0,
    }
    clock.advance(181)
    ready, body = state.readiness()
    assert not ready
    assert body["reasons"] == ["lab-a: last completed pull began 181s ago (by here:1)",
                               "lab-b: last completed pull began 181s ago (by here:1)"]
    state.set_phase("stopping")
    assert "daemon is stopping" in state.readiness()[1]["reasons"]


def test_a_failure_is_reported_with_its_reason_but_without_secrets() -> None:
    register_secret("tok-health-canary-91")
    clock = Clock()
    state = _state(clock, ("lab-a",))
    state.set_phase("running")
    state.record(InstanceReport("lab-a", outcome="failed", error="hub refused tok-health-canary-91",
                                error_kind="auth", finished_at=clock()))
    ready, body = state.readiness()
    assert not ready
    assert body["reasons"] == [
        f"lab-a: no completed pull recorded in the instance yet; last error (auth): hub refused {MASK}"]
    assert body["instances"]["lab-a"]["consecutive_failures"] == 1
    # a success clears the error; a later failure keeps the last success time
    state.record(_ok("lab-a", clock))
    clock.advance(10)
    state.record(InstanceReport("lab-a", outcome="failed", error="down", error_kind="hub_unavailable",
                                finished_at=clock()))
    ready, body = state.readiness()
    assert ready  # still within the staleness bound
    assert body["instances"]["lab-a"]["last_error"] == "down"
    assert body["instances"]["lab-a"]["last_success"] == "2026-11-23T09:00:00Z"


def test_an_interrupted_run_is_neither_a_success_nor_a_failure() -> None:
    clock = Clock()
    state = _state(clock, ("lab-a",))
    state.set_phase("running")
    state.record(_ok("lab-a", clock))
    clock.advance(10)
    state.record(InstanceReport("lab-a", outcome="interrupted", error="interrupted by shutdown",
                                error_kind="interrupted", finished_at=clock()))
    entry = state.readiness()[1]["instances"]["lab-a"]
    assert (entry["last_success"], entry["last_error"], entry["consecutive_failures"]) == (
        "2026-11-23T09:00:00Z", None, 0)
    assert entry["last_attempt"] == "2026-11-23T09:00:10Z"


def test_liveness_follows_the_heartbeat_not_the_instances() -> None:
    clock = Clock()
    state = _state(clock)
    assert state.liveness()[0]
    clock.advance(31)
    alive, body = state.liveness()
    assert not alive
    assert body["status"] == "stalled"
    state.heartbeat()
    assert state.liveness()[0]


def test_reconfigure_adds_and_drops_instances() -> None:
    clock = Clock()
    state = _state(clock)
    state.record(_ok("lab-a", clock))
    assert state.configure(["lab-a", "lab-c"], 60.0) == ["lab-b"]
    assert state.instance("lab-b") is None
    last = state.instance("lab-a")
    assert last is not None
    assert last.last_success == T0
    state.record(_ok("lab-b", clock))  # a run of a dropped instance that was in flight: ignored
    assert state.instance("lab-b") is None


@pytest.fixture
def served() -> Iterator[tuple[str, HealthState, Metrics, Clock]]:
    clock = Clock()
    state, metrics = _state(clock, ("lab-a",)), Metrics()
    server, thread = start_health_server(health_app(state, metrics), "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.server_port}", state, metrics, clock
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_endpoints_over_http(served: tuple[str, HealthState, Metrics, Clock]) -> None:
    base, state, metrics, clock = served
    with httpx.Client(base_url=base, timeout=5) as client:
        assert client.get("/livez").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/json"
        state.set_phase("running")
        report = _ok("lab-a", clock)
        state.record(report)
        metrics.instance_done(report)
        assert client.get("/readyz").json()["status"] == "ready"
        text = client.get("/metrics").text
        assert 'syncd_runs_total{instance="lab-a",outcome="ok"} 1.0' in text
        assert client.get("/nope").status_code == 404
        assert client.post("/readyz").status_code == 405
        assert client.head("/readyz").status_code == 200


def _settings(port: int, host: str = "127.0.0.1") -> Settings:
    base = parse_settings({"hub": {"url": "http://127.0.0.1:9", "token_env": "T"},
                           "instances": [{"name": "lab-a", "url": "sqlite:////tmp/a.db"}]}, {"T": "tok-1234"})
    return replace(base, health=HealthSettings(listen_host=host, listen_port=port))


def test_check_exit_codes_against_a_live_server(served: tuple[str, HealthState, Metrics, Clock]) -> None:
    base, state, _metrics, clock = served
    port = int(base.rsplit(":", 1)[1])
    out = io.StringIO()
    assert check(_settings(port), out=out) == 1
    assert "daemon is starting" in out.getvalue()
    state.set_phase("running")
    state.record(_ok("lab-a", clock))
    out = io.StringIO()
    assert check(_settings(port, host="0.0.0.0"), out=out) == 0  # the wildcard is asked on loopback
    assert out.getvalue().startswith("ready")


def test_check_cannot_ask_when_nothing_listens() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = io.StringIO()
    assert check(_settings(port), out=out, timeout=2) == 2
    assert "cannot ask" in out.getvalue()


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [(200, {"instances": {}, "reasons": []}, 0), (503, {"reasons": ["x"]}, 1), (500, {}, 2)],
)
def test_check_maps_answers(status: int, body: dict[str, object], code: int) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=json.dumps(body)))
    assert check(_settings(8787), transport=transport, out=io.StringIO()) == code


def test_check_rejects_a_non_json_answer() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503, content=b"<html>"))
    assert check(_settings(8787), transport=transport, out=io.StringIO()) == 2


def test_listen_address_can_come_from_the_environment() -> None:
    data = {"hub": {"url": "http://127.0.0.1:9", "token_env": "T"}, "health": {"listen": "127.0.0.1:8787"},
            "instances": [{"name": "lab-a", "url": "sqlite:////tmp/a.db"}]}
    settings = parse_settings(data, {"T": "tok-1234", "SYNCD_HEALTH_LISTEN": "0.0.0.0:9999"})
    assert (settings.health.listen_host, settings.health.listen_port) == ("0.0.0.0", 9999)
    assert parse_settings(data, {"T": "tok-1234"}).health.listen_port == 8787
