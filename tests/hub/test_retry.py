"""Transient hub failures: which are retried, how long the client waits, and when it gives up."""

from __future__ import annotations

import random
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from syncd.core.models import Resource
from syncd.errors import HubTransientError, HubUnavailableError
from syncd.hub import HubClient
from syncd.hub.retry import RetryPolicy
from tests.support.hub_fakes import (
    FakeClock,
    RecordingObserver,
    Reply,
    ScriptedHub,
    always,
    hub_settings,
    make_client,
    ok,
    raising,
)

ROWS = [{"id": "0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d", "extra": 1}]
MOMENT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)




TRANSIENT: list[tuple[str, Reply]] = [
    *[
        (str(s), httpx.Response(s, json={"code": "X", "message": "busy"}))
        for s in (408, 425, 429, 500, 502, 503, 504)
    ],
    ("connect", raising(httpx.ConnectError, "[Errno 111] Connection refused")),
    ("timeout", raising(httpx.ConnectTimeout, "timed out")),
    ("timeout", raising(httpx.ReadTimeout, "timed out")),
    ("network", raising(httpx.ReadError, "[Errno 104] Connection reset by peer")),
    ("protocol", raising(httpx.RemoteProtocolError, "Server disconnected without sending a response.")),
    ("bad_body", httpx.Response(200, content=b'[{"id": "0b0e1c2a-5d6f')),
    ("bad_body", httpx.Response(200, json={"rows": []})),
    ("bad_body", httpx.Response(200, json=[{"id": 1}, [1, 2]])),
    ("bad_body", httpx.Response(200, json="[]")),
    ("bad_body", httpx.Response(200, content=b"\xff\xfe[]")),
    ("bad_body", httpx.Response(204)),
]


@pytest.mark.parametrize(
    ("reason", "failure"), TRANSIENT, ids=[f"{r}-{i}" for i, (r, _) in enumerate(TRANSIENT)],
)
def test_transient_failure_is_retried_then_succeeds(reason: str, failure: Reply) -> None:
    clock = FakeClock()
    observer = RecordingObserver()
    hub = ScriptedHub(failure, ok(ROWS))
    with make_client(hub, clock, observer=observer) as client:
        page = client.fetch_page(Resource.SPACE, limit=10)
        assert client.requests_sent == 2
    assert page.rows == ROWS
    assert len(clock.sleeps) == 1
    assert 0.25 <= clock.sleeps[0] <= 0.5  # first backoff: half to all of 0.5 s
    assert observer.retries == [(reason, clock.sleeps[0])]
    assert [status for _, status, _ in observer.requests] == [reason, "200"]
    assert hub.urls[0] == hub.urls[1]


def test_retry_is_logged(logs: list[MutableMapping[str, Any]]) -> None:
    clock = FakeClock()
    hub = ScriptedHub(httpx.Response(503, headers={"Retry-After": "3"}), ok())
    with make_client(hub, clock) as client:
        client.fetch_keys(Resource.SPACE_BLOCK, limit=10)
    assert [e for e in logs if e["event"] == "hub.retry"] == [
        {"event": "hub.retry", "log_level": "warning", "resource": "space_block", "status": 503,
         "reason": "503", "error": "space_block: 127.0.0.1:9 answered HTTP 503", "attempt": 1, "delay": 3.0},
    ]
    requests = [(e["status"], e["attempt"]) for e in logs if e["event"] == "hub.request"]
    assert requests == [("503", 1), ("200", 2)]


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("0", 0.0), ("600", 120.0), ("2.5", 2.5)])
def test_retry_after_seconds_is_honoured_and_capped(status: int, header: str, expected: float) -> None:
    clock = FakeClock()
    hub = ScriptedHub(httpx.Response(status, headers={"Retry-After": header}), ok(ROWS))
    with make_client(hub, clock) as client:
        assert client.fetch_page(Resource.SPACE, limit=10).rows == ROWS
    assert clock.sleeps == [expected]


@pytest.mark.parametrize(("ahead", "expected"), [(30, 30.0), (-30, 0.0), (3600, 120.0)])
def test_retry_after_date_is_measured_against_the_response_date(ahead: int, expected: float) -> None:
    clock = FakeClock()
    headers = {"Date": http_date(MOMENT), "Retry-After": http_date(MOMENT + timedelta(seconds=ahead))}
    hub = ScriptedHub(httpx.Response(429, headers=headers), ok(ROWS))
    # a wall clock far off the hub's: the hub's own Date must win
    with HubClient(hub_settings(), transport=httpx.MockTransport(hub), sleep=clock.sleep,
                   monotonic=clock.monotonic, clock=lambda: MOMENT - timedelta(days=1)) as client:
        client.fetch_page(Resource.SPACE, limit=10)
    assert clock.sleeps == [expected]


def test_retry_after_date_without_a_date_header_uses_the_injected_wall_clock() -> None:
    clock = FakeClock()
    retry_at = http_date(MOMENT + timedelta(seconds=45))
    hub = ScriptedHub(httpx.Response(503, headers={"Retry-After": retry_at}), ok())
    with HubClient(hub_settings(), transport=httpx.MockTransport(hub), sleep=clock.sleep,
                   monotonic=clock.monotonic, clock=lambda: MOMENT) as client:
        client.fetch_page(Resource.SPACE, limit=10)
    assert clock.sleeps == [45.0]


@pytest.mark.parametrize("header", ["soon", "-5", ""])
def test_unusable_retry_after_falls_back_to_backoff(header: str) -> None:
    clock = FakeClock()
    hub = ScriptedHub(httpx.Response(429, headers={"Retry-After": header}), ok())
    with make_client(hub, clock) as client:
        client.fetch_page(Resource.SPACE, limit=10)
    assert len(clock.sleeps) == 1
    assert 0.25 <= clock.sleeps[0] <= 0.5


def test_retry_after_is_ignored_outside_429_and_503() -> None:
    clock = FakeClock()
    hub = ScriptedHub(httpx.Response(500, headers={"Retry-After": "90"}), ok())
    with make_client(hub, clock) as client:
        client.fetch_page(Resource.SPACE, limit=10)
    assert 0.25 <= clock.sleeps[0] <= 0.5


def test_backoff_grows_exponentially_with_jitter_up_to_a_ceiling() -> None:
    clock = FakeClock()
    hub = ScriptedHub(*always(httpx.Response(502), times=11), ok())
    with make_client(hub, clock, retry_attempts=12, retry_max_seconds=10_000.0) as client:
        client.fetch_page(Resource.SPACE, limit=10)
    assert len(clock.sleeps) == 11
    for attempt, delay in enumerate(clock.sleeps, start=1):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(clock.sleeps)) == len(clock.sleeps)  # jittered, not a fixed ladder


def test_same_rng_seed_gives_the_same_delays() -> None:
    runs = []
    for _ in range(2):
        clock = FakeClock()
        hub = ScriptedHub(*always(httpx.Response(500), times=4), ok())
        with make_client(hub, clock) as client:
            client.fetch_page(Resource.SPACE, limit=10)
        runs.append(clock.sleeps)
    assert runs[0] == runs[1]


def test_gives_up_after_the_attempt_limit() -> None:
    clock = FakeClock()
    observer = RecordingObserver()
    hub = ScriptedHub(*always(httpx.Response(503, json={"code": "X", "message": "overloaded"})))
    with make_client(hub, clock, observer=observer, retry_attempts=3) as client:
        with pytest.raises(HubUnavailableError) as caught:
            client.fetch_page(Resource.SPACE, limit=10)
        assert client.requests_sent == 3
    message = str(caught.value)
    assert "3 attempt(s)" in message
    assert "attempt limit 3" in message
    assert "HTTP 503" in message
    assert "overloaded" in message
    assert caught.value.status == 503
    cause = caught.value.__cause__
    assert isinstance(cause, HubTransientError)
    assert cause.status == 503
    assert len(clock.sleeps) == 2
    assert len(observer.requests) == 3
    assert len(observer.retries) == 2


def test_one_attempt_means_no_retry() -> None:
    clock = FakeClock()
    hub = ScriptedHub(*always(raising(httpx.ConnectError, "refused")))
    client = make_client(hub, clock, retry_attempts=1)
    with client, pytest.raises(HubUnavailableError, match="connect"):
        client.fetch_keys(Resource.SPACE, limit=10)
    assert len(hub.requests) == 1
    assert clock.sleeps == []


def test_gives_up_before_a_sleep_that_would_cross_the_time_budget() -> None:
    clock = FakeClock()
    start = clock.now
    # a request takes 3 s and asks for 1 s more: 3+1 and 7+1 fit in 10 s, nothing fits after the third (11 s)
    busy = httpx.Response(429, headers={"Retry-After": "1"})
    hub = ScriptedHub(*always(busy), clock=clock, request_seconds=3.0)
    with make_client(hub, clock, retry_attempts=50, retry_max_seconds=10.0) as client:
        with pytest.raises(HubUnavailableError) as caught:
            client.fetch_page(Resource.SPACE, limit=10)
        assert client.requests_sent == 3
    assert clock.sleeps == [1.0, 1.0]
    assert "time budget 10s" in str(caught.value)
    assert "3 attempt(s)" in str(caught.value)
    assert "HTTP 429" in str(caught.value)
    assert clock.now - start == 11.0


def test_a_retry_after_longer_than_the_budget_is_not_waited_for() -> None:
    clock = FakeClock()
    hub = ScriptedHub(*always(httpx.Response(503, headers={"Retry-After": "100"})))
    with make_client(hub, clock, retry_max_seconds=60.0) as client, pytest.raises(HubUnavailableError):
        client.fetch_page(Resource.SPACE, limit=10)
    assert clock.sleeps == []
    assert len(hub.requests) == 1


def test_each_call_gets_a_fresh_budget() -> None:
    clock = FakeClock()
    hub = ScriptedHub(
        httpx.Response(503, headers={"Retry-After": "8"}), ok(),
        httpx.Response(503, headers={"Retry-After": "8"}), ok(),
    )
    with make_client(hub, clock, retry_max_seconds=10.0) as client:
        client.fetch_page(Resource.SPACE, limit=10)
        client.fetch_page(Resource.SPACE, limit=10)
    assert clock.sleeps == [8.0, 8.0]


def test_policy_lets_other_exceptions_through_at_once() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=5, max_seconds=100.0, retry_after_cap=10.0, sleep=clock.sleep,
                         monotonic=clock.monotonic, rng=random.Random(1))
    calls: list[int] = []

    def attempt(n: int) -> int:
        calls.append(n)
        if n < 3:
            raise HubTransientError("flaky", reason="timeout")
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        policy.run(attempt, label="space", on_retry=lambda error, n, delay: None)
    assert calls == [1, 2, 3]
    assert len(clock.sleeps) == 2


def _refused_by_the_os(request: httpx.Request) -> httpx.Response:
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc


def _reset_by_the_os(request: httpx.Request) -> httpx.Response:
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError as exc:
        raise httpx.ReadError(str(exc), request=request) from exc


def _unresolvable(request: httpx.Request) -> httpx.Response:
    try:
        raise __import__("socket").gaierror(-2, "Name or service not known")
    except OSError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc


SAID: list[tuple[Reply, str]] = [
    (_refused_by_the_os, "space: connection refused by 127.0.0.1:9 (nothing listening there?)"),
    (raising(httpx.ConnectError, "[Errno 111] Connection refused"),
     "space: connection refused by 127.0.0.1:9 (nothing listening there?)"),
    (_unresolvable, "space: cannot resolve the host name of 127.0.0.1:9: [Errno -2] Name or service not known"),
    (raising(httpx.ConnectError, "[Errno 113] No route to host"),
     "space: cannot connect to 127.0.0.1:9: [Errno 113] No route to host"),
    (raising(httpx.ConnectTimeout, "timed out"), "space: no connection to 127.0.0.1:9 within 5 s"),
    (raising(httpx.ReadTimeout, "timed out"), "space: no answer from 127.0.0.1:9 within 12 s"),
    (raising(httpx.WriteTimeout, "timed out"), "space: sending the request to 127.0.0.1:9 took longer than 12 s"),
    (raising(httpx.PoolTimeout, "timed out"), "space: no free connection to 127.0.0.1:9 within 12 s"),
    (_reset_by_the_os, "space: connection reset by 127.0.0.1:9"),
    (raising(httpx.ReadError, "EOF occurred"),
     "space: connection to 127.0.0.1:9 failed while reading the answer: EOF occurred"),
    (raising(httpx.WriteError, "Broken pipe"),
     "space: connection to 127.0.0.1:9 failed while sending the request: Broken pipe"),
    (raising(httpx.RemoteProtocolError, "Server disconnected without sending a response."),
     "space: 127.0.0.1:9 broke off the HTTP exchange: Server disconnected without sending a response."),
    (raising(httpx.DecodingError, "bad gzip"), "space: 127.0.0.1:9 sent a body that cannot be decoded: bad gzip"),
    (httpx.Response(503, json={"code": "X", "message": "busy"}), "space: 127.0.0.1:9 answered HTTP 503; hub code X: busy"),
    (httpx.Response(200, json={"rows": []}),
     "space: 127.0.0.1:9 answered HTTP 200 with a JSON dict instead of an array"),
]


@pytest.mark.parametrize(("failure", "said"), SAID, ids=[f"said-{i}" for i in range(len(SAID))])
def test_a_retry_says_what_happened_and_where(failure: Reply, said: str) -> None:
    """Every kind of transient failure names what happened and the hub's address, never just a kind."""
    clock = FakeClock()
    observer = RecordingObserver()
    with make_client(ScriptedHub(failure, ok(ROWS)), clock, observer=observer) as client:
        client.fetch_page(Resource.SPACE, limit=10)
    assert observer.retry_messages == [said]
