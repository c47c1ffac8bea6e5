"""The Realtime client against a scripted in-memory server: the contract's table, on a fake clock.

The fake socket answers like the hub (join reply, ``Subscribed to
PostgreSQL``, heartbeat replies) unless a test tells it otherwise; a read
with nothing to read advances the fake clock by its timeout, so heartbeats,
join timeouts and backoff run without real waiting.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
import structlog

from syncd.core.models import Resource
from syncd.errors import HubAuthError, HubIncompatibleError, HubTransientError
from syncd.hub import phoenix
from syncd.hub.realtime import RealtimeClient, RealtimeTimings

TOKEN = "tok/with+chars"
TIMINGS = RealtimeTimings(heartbeat_seconds=25.0, join_timeout_seconds=10.0, subscribe_timeout_seconds=60.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeServer:
    """Scripted hub: one :class:`FakeSocket` per connection; knobs say how it answers."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sockets: list[FakeSocket] = []
        self.refuse: list[Exception] = []  # raised by the next connects, in order
        self.answer_heartbeats = True
        self.answer_joins: list[dict[str, Any] | None] = []  # per join: a reply payload, or None (silence)
        self.subscribe = True
        self.client: RealtimeClient | None = None
        self.stop_after: Callable[[FakeServer], bool] = lambda server: False
        self.urls: list[str] = []

    def connect(self, url: str, timings: RealtimeTimings) -> FakeSocket:
        self.urls.append(url)
        if self.stop_after(self) and self.client is not None:
            self.client.close()
        if self.refuse:
            raise self.refuse.pop(0)
        sock = FakeSocket(self)
        self.sockets.append(sock)
        return sock

    def sent(self, event: str) -> list[dict[str, Any]]:
        return [m for s in self.sockets for m in s.sent if m["event"] == event]


class FakeSocket:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.inbox: deque[str] = deque()
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    def push(self, topic: str, event: str, payload: dict[str, Any], ref: str | None = None) -> None:
        self.inbox.append(json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref}))

    def send(self, message: str) -> None:
        if self.closed:
            raise HubTransientError("closed")
        frame = json.loads(message)
        self.sent.append(frame)
        s = self.server
        if frame["event"] == "heartbeat" and s.answer_heartbeats:
            self.push("phoenix", "phx_reply", {"status": "ok", "response": {}}, frame["ref"])
        elif frame["event"] == "phx_join":
            reply = s.answer_joins.pop(0) if s.answer_joins else ok_reply(frame)
            if reply is None:
                return
            self.push(frame["topic"], "phx_reply", reply, frame["ref"])
            if reply.get("status") == "ok" and s.subscribe:
                self.push(frame["topic"], "system", subscribed())

    def recv(self, timeout: float | None = None) -> str:
        if self.closed:
            raise HubTransientError("closed")
        if self.server.stop_after(self.server) and self.server.client is not None:
            self.server.client.close()
        if self.inbox:
            return self.inbox.popleft()
        self.server.clock.now += timeout or 0.0
        raise TimeoutError

    def close(self) -> None:
        self.closed = True


def ok_reply(join: dict[str, Any]) -> dict[str, Any]:
    bindings = join["payload"]["config"]["postgres_changes"]
    return {"status": "ok", "response": {"postgres_changes": [{**b, "id": 7 + n} for n, b in enumerate(bindings)]}}


def subscribed() -> dict[str, Any]:
    return {"extension": "postgres_changes", "status": "ok", "message": "Subscribed to PostgreSQL",
            "channel": "syncd"}


class Recorder:
    def __init__(self) -> None:
        self.subscriptions = 0
        self.changes: list[tuple[Resource, ...]] = []

    def subscribed(self) -> None:
        self.subscriptions += 1

    def changed(self, resources: tuple[Resource, ...]) -> None:
        self.changes.append(resources)


def make(server: FakeServer, *, waits: list[float] | None = None) -> tuple[RealtimeClient, Recorder]:
    recorder = Recorder()
    waited = waits if waits is not None else []

    def wait(seconds: float) -> None:
        waited.append(seconds)
        server.clock.now += seconds

    client = RealtimeClient(
        "http://127.0.0.1:8900", TOKEN, recorder, timings=TIMINGS, connect=server.connect,
        monotonic=server.clock, rng=random.Random(1), wait=wait,
    )
    server.client = client
    return client, recorder


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(Clock())


def test_join_subscribe_and_events_ring_the_named_resource(server: FakeServer) -> None:
    def script(s: FakeServer) -> bool:
        sock = s.sockets[-1] if s.sockets else None
        if sock is not None and s.client is not None and s.client.state == "up" and not sock.sent[1:]:
            sock.push(phoenix.TOPIC, "postgres_changes", {"ids": [8], "data": {"table": "space_block"}})
            sock.push(phoenix.TOPIC, "postgres_changes", {"ids": [7], "data": {"type": "UPDATE"}})
            sock.push(phoenix.TOPIC, "postgres_changes", {"ids": [9], "data": {"table": "other"}})
            sock.push("realtime:elsewhere", "postgres_changes", {"data": {"table": "space"}})
            sock.push(phoenix.TOPIC, "presence_state", {})
            sock.sent.append({"event": "marker"})
        return sum(len(r) for r in rec.changes) >= 3

    server.stop_after = script
    client, rec = make(server)
    client.run()
    assert server.urls == ["ws://127.0.0.1:8900/realtime/v1/websocket?apikey=tok%2Fwith%2Bchars&vsn=1.0.0"]
    join = server.sent("phx_join")[0]
    assert join["ref"] == join["join_ref"] and join["topic"] == "realtime:syncd"
    assert join["payload"]["access_token"] == TOKEN
    assert [b["table"] for b in join["payload"]["config"]["postgres_changes"]] == ["space", "space_block"]
    assert rec.subscriptions == 1
    assert rec.changes == [(Resource.SPACE_BLOCK,), (Resource.SPACE, Resource.SPACE_BLOCK)]
    assert client.events == 2
    assert client.state == "stopped"


@pytest.mark.parametrize(
    ("error", "status"),
    [(HubAuthError("401", status=401), 401), (HubAuthError("403", status=403), 403),
     (HubIncompatibleError("404", status=404), 404)],
)
def test_refused_upgrade_turns_the_doorbell_off_logs_once_and_retries_after_ten_minutes(
    server: FakeServer, error: Exception, status: int
) -> None:
    server.refuse = [error, error, error]
    server.stop_after = lambda s: len(s.urls) >= 3
    waits: list[float] = []
    client, rec = make(server, waits=waits)
    with structlog.testing.capture_logs() as logs:
        client.run()
    refused = [e for e in logs if e["event"] == "doorbell.refused"]
    assert len(refused) == 1 and str(status) in refused[0]["reason"]
    assert waits[:2] == [600.0, 600.0]
    assert rec.subscriptions == 0 and client.reconnects == 2


def test_transient_upgrade_failures_back_off_one_two_five_ten_then_ten(server: FakeServer) -> None:
    server.refuse = [HubTransientError("429", status=429)] * 6
    server.stop_after = lambda s: s.client is not None and s.client.state == "up"
    waits: list[float] = []
    client, rec = make(server, waits=waits)
    client.run()
    for got, step in zip(waits, [1, 2, 5, 10, 10, 10], strict=True):
        assert step * 0.8 <= got <= step * 1.2
    # the seventh attempt connects; subscribing resets the backoff
    assert rec.subscriptions == 1


def test_unanswered_heartbeat_reconnects_within_one_interval(server: FakeServer) -> None:
    server.answer_heartbeats = False
    server.stop_after = lambda s: len(s.sockets) >= 2 and s.client is not None and s.client.state == "up"
    client, rec = make(server)
    client.run()
    first = server.sockets[0]
    beats = [m for m in first.sent if m["event"] == "heartbeat"]
    assert len(beats) == 1  # the second one would have been due: the connection was declared dead instead
    assert first.closed
    assert client.reconnects == 1 and rec.subscriptions == 2  # each live period pulls once


def test_join_without_reply_rejoins_after_the_join_timeout(server: FakeServer) -> None:
    server.answer_joins = [None]
    server.stop_after = lambda s: s.client is not None and s.client.state == "up"
    client, rec = make(server)
    start = server.clock.now
    client.run()
    joins = server.sent("phx_join")
    assert len(joins) == 2 and joins[0]["ref"] != joins[1]["ref"]
    assert server.clock.now - start >= TIMINGS.join_timeout_seconds
    assert len(server.sockets) == 1  # a rejoin, not a reconnect


@pytest.mark.parametrize("code", ["InvalidJWTToken", "Unauthorized", "PrivateOnly", "TenantNotFound"])
def test_join_refused_for_token_or_tenant_turns_the_doorbell_off(server: FakeServer, code: str) -> None:
    server.answer_joins = [{"status": "error", "response": {"reason": f"{code}: no"}}]
    waits: list[float] = []
    server.stop_after = lambda s: bool(waits)
    client, rec = make(server, waits=waits)
    client.run()
    assert waits == [600.0] and rec.subscriptions == 0 and code in (client.last_error or "")


def test_other_join_refusals_and_mismatched_replies_rejoin_with_backoff(server: FakeServer) -> None:
    server.answer_joins = [
        {"status": "error", "response": {"reason": "ClientJoinRateLimitReached: slow down"}},
        {"status": "ok", "response": {"postgres_changes": [{"id": 1, "event": "*", "table": "space"}]}},
    ]
    server.stop_after = lambda s: s.client is not None and s.client.state == "up"
    client, rec = make(server)
    client.run()
    assert len(server.sent("phx_join")) == 3 and len(server.sockets) == 1 and rec.subscriptions == 1


def test_phx_close_of_the_current_join_rejoins_and_stale_refs_are_ignored(server: FakeServer) -> None:
    def script(s: FakeServer) -> bool:
        sock = s.sockets[-1] if s.sockets else None
        joins = s.sent("phx_join")
        if sock is not None and len(joins) == 1 and s.client is not None and s.client.state == "up":
            sock.push(phoenix.TOPIC, "phx_close", {}, "999")  # an earlier join's: ignored
            sock.push(phoenix.TOPIC, "phx_reply", {"status": "error", "response": {}}, "998")
            sock.push(phoenix.TOPIC, "phx_close", {}, joins[0]["ref"])
            sock.sent.append({"event": "marker"})
        return len(joins) >= 2 and s.client is not None and s.client.state == "up"

    server.stop_after = script
    client, rec = make(server)
    client.run()
    assert len(server.sent("phx_join")) == 2 and rec.subscriptions == 2 and len(server.sockets) == 1


def test_subscription_error_without_ok_leaves_and_rejoins(server: FakeServer) -> None:
    server.subscribe = False

    def script(s: FakeServer) -> bool:
        sock = s.sockets[-1] if s.sockets else None
        if sock is not None and len(s.sent("phx_join")) == 1 and not any(m["event"] == "marker" for m in sock.sent):
            sock.push(phoenix.TOPIC, "system", {"extension": "postgres_changes", "status": "error",
                                                "message": "publication missing"})
            sock.sent.append({"event": "marker"})
        return len(s.sent("phx_join")) >= 2

    server.stop_after = script
    client, rec = make(server)
    start = server.clock.now
    client.run()
    assert len(server.sent("phx_leave")) == 1
    assert server.clock.now - start >= TIMINGS.subscribe_timeout_seconds
    assert rec.subscriptions == 0


def test_close_from_another_thread_ends_run_and_closes_the_socket(server: FakeServer) -> None:
    server.stop_after = lambda s: s.client is not None and s.client.state == "up"
    client, _ = make(server)
    client.run()
    assert server.sockets[0].closed and client.state == "stopped"


def test_backoff_steps_and_cap() -> None:
    b = phoenix.Backoff(random.Random(0), cap=600.0)
    delays = [b.next() for _ in range(12)]
    bases = [1, 2, 5, 10, 20, 40, 80, 160, 320, 600, 600, 600]
    for got, base in zip(delays, bases, strict=True):
        assert base * 0.8 <= got <= base * 1.2
    b.reset()
    assert 0.8 <= b.next() <= 1.2


def test_websocket_url_follows_the_hub_scheme() -> None:
    assert phoenix.websocket_url("https://x.supabase.co", "a b").startswith("wss://x.supabase.co/realtime/v1/")
    assert phoenix.websocket_url("http://127.0.0.1:1/", "t").endswith("?apikey=t&vsn=1.0.0")
    with pytest.raises(ValueError, match="http"):
        phoenix.websocket_url("ftp://x", "t")


def test_parse_frame_rejects_what_is_not_a_phoenix_object() -> None:
    assert phoenix.parse_frame("[1, 2]") is None
    assert phoenix.parse_frame("not json") is None
    assert phoenix.parse_frame('{"topic": "t", "event": "e"}') is None
    frame = phoenix.parse_frame('{"topic": "t", "event": "e", "payload": {}, "ref": null, "extra": 1}')
    assert frame is not None and frame.ref is None
