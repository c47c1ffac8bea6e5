"""The health port is bounded: connections, their time, their size and the descriptors they take.

Deadlines run on an injected clock; the real waits below are guards that end a
test which would otherwise hang, not timing expectations (those are in
benchmarks/health_bench.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from syncd.daemon.health import HealthState, health_app, start_health_server
from syncd.daemon.health_server import BoundedServer, HealthLimits
from syncd.daemon.metrics import Metrics

GUARD_SECONDS = 20.0  # a test that waits this long has failed
PARTIAL = b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # no blank line: the headers never end


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + GUARD_SECONDS
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def make_server() -> Iterator[Callable[..., BoundedServer]]:
    started: list[tuple[BoundedServer, threading.Thread]] = []

    def make(**kw: object) -> BoundedServer:
        state = HealthState(["lab"], 60.0)
        server, thread = start_health_server(health_app(state, Metrics()), "127.0.0.1", 0, **kw)  # type: ignore[arg-type]
        started.append((server, thread))
        return server

    yield make
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(GUARD_SECONDS)


def _connect(server: BoundedServer, payload: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.server_port), timeout=GUARD_SECONDS)
    if payload:
        sock.sendall(payload)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def test_a_request_whose_headers_never_end_is_closed_at_the_deadline(
    make_server: Callable[..., BoundedServer],
) -> None:
    clock = FakeMonotonic()
    server = make_server(limits=HealthLimits(connection_seconds=30.0), monotonic=clock)
    sock = _connect(server, PARTIAL)
    _wait_for(lambda: server.stats()["open"] == 1, "the connection to be accepted")
    clock.advance(29.0)
    time.sleep(0.5)  # several passes of the server loop: none may close it before its deadline
    assert server.stats()["open"] == 1
    clock.advance(2.0)
    # the server closes it: recv ends (it would block until the guard timeout if it stayed open)
    assert b"200 OK" not in _read_all(sock)
    sock.close()
    _wait_for(lambda: server.stats()["open"] == 0, "the connection to be released")
    assert server.stats()["closed_at_deadline"] == 1


def test_connections_beyond_the_bound_wait_and_are_then_answered(
    make_server: Callable[..., BoundedServer],
) -> None:
    clock = FakeMonotonic()
    server = make_server(limits=HealthLimits(max_connections=2, connection_seconds=30.0), monotonic=clock)
    idle = [_connect(server, PARTIAL) for _ in range(2)]
    _wait_for(lambda: server.stats()["open"] == 2, "both slots to be taken")
    waiting = [_connect(server, b"GET /livez HTTP/1.0\r\n\r\n") for _ in range(5)]
    time.sleep(0.5)  # the server loop passes over the waiting connections: it may not take a third
    assert server.stats()["open"] == 2
    assert server.stats()["handled"] == 0
    clock.advance(31.0)  # the idle ones reach their deadline
    for sock in waiting:
        assert _read_all(sock).startswith(b"HTTP/1.0 200 OK")
        sock.close()
    for sock in idle:
        _read_all(sock)
        sock.close()
    stats = server.stats()
    assert stats["peak_open"] == 2
    assert stats["handled"] >= 5
    # each idle one was closed at its deadline, or, past it, evicted for a waiting connection
    assert stats["closed_at_deadline"] + stats["evicted_unfinished"] == 2


def test_a_connection_without_its_request_head_makes_room_for_a_newcomer(
    make_server: Callable[..., BoundedServer],
) -> None:
    clock = FakeMonotonic()
    limits = HealthLimits(max_connections=2, connection_seconds=30.0, head_grace_seconds=1.0)
    server = make_server(limits=limits, monotonic=clock)
    idle = [_connect(server, PARTIAL) for _ in range(2)]
    _wait_for(lambda: server.stats()["open"] == 2, "both slots to be taken")
    clock.advance(2.0)  # past the grace for a request head, far from the deadline
    probe = _connect(server, b"GET /livez HTTP/1.0\r\n\r\n")
    assert _read_all(probe).startswith(b"HTTP/1.0 200 OK")
    probe.close()
    stats = server.stats()
    assert stats["evicted_unfinished"] == 1
    assert stats["closed_at_deadline"] == 0
    assert _read_all(idle[0]) == b""  # the oldest one was closed, without an answer
    for sock in idle:
        sock.close()
    with capture_logs() as events:
        clock.advance(60.0)  # once a minute at most: what was limited since the last report
        _wait_for(lambda: any(e["event"] == "health.connections_limited" for e in events), "the report")
    report = next(e for e in events if e["event"] == "health.connections_limited")
    assert report["log_level"] == "warning"
    assert (report["evicted_unfinished"], report["refused_fd_reserve"]) == (1, 0)


def test_a_request_is_read_only_up_to_its_size_bound(make_server: Callable[..., BoundedServer]) -> None:
    clock = FakeMonotonic()  # never advanced: no deadline ends this connection
    server = make_server(limits=HealthLimits(max_request_bytes=256, connection_seconds=30.0), monotonic=clock)
    # headers that go on past the bound and never end: the server stops reading at 256 bytes and answers
    endless = b"GET /livez HTTP/1.0\r\n" + b"".join(b"X-Pad-%03d: %s\r\n" % (i, b"a" * 40) for i in range(20))
    sock = _connect(server, endless)
    answer = _read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.0 200 OK")
    assert server.stats()["closed_at_deadline"] == 0


def test_below_the_descriptor_reserve_a_connection_is_refused_at_once(
    make_server: Callable[..., BoundedServer],
) -> None:
    room = {"left": 10}
    server = make_server(limits=HealthLimits(fd_reserve=64), room=lambda: room["left"])
    sock = _connect(server, b"GET /livez HTTP/1.0\r\n\r\n")
    answer = _read_all(sock)
    sock.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.0 503 Service Unavailable")
    _wait_for(lambda: server.stats()["refused_fd_reserve"] == 1, "the refusal to be counted")
    assert server.stats()["handled"] == 0
    room["left"] = 1000
    sock = _connect(server, b"GET /livez HTTP/1.0\r\n\r\n")
    assert _read_all(sock).startswith(b"HTTP/1.0 200 OK")
    sock.close()


_CHILD = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    from syncd.daemon.health import HealthState, health_app, start_health_server
    from syncd.daemon.metrics import Metrics
    from syncd.settings import SyncSettings, parse_settings
    from syncd.store.instance import InstanceStore

    server, _thread = start_health_server(health_app(HealthState(["lab"], 60.0), Metrics()), "127.0.0.1", 0)
    print(server.server_port, flush=True)
    sys.stdin.readline()  # the flood is on
    names = [f"lab-{{i}}" for i in range({stores})]
    settings = parse_settings(
        {{"hub": {{"url": "http://127.0.0.1:9"}},
         "instances": [{{"name": n, "url": f"sqlite:///{directory}/{{n}}.db"}} for n in names]}},
        {{"SYNCD_HUB_TOKEN": "tok-fd-test"}})
    stores, error = [], None
    try:
        for inst in settings.instances:
            store = InstanceStore(inst, SyncSettings())
            store.open()  # a database file, its lock file, a bootstrap transaction
            stores.append(store)
    except Exception as exc:
        error = f"{{type(exc).__name__}}: {{exc}}"
    stats = getattr(server, "stats", dict)  # what the server says it took of the flood
    print(json.dumps({{"opened": len(stores), "error": error, "health": stats()}}), flush=True)
    for store in stores:
        store.close()
""")


@pytest.mark.slow
def test_a_flood_under_a_low_descriptor_limit_leaves_syncing_its_databases(tmp_path: Path) -> None:
    limit, stores, flood = 200, 20, 300
    script = _CHILD.format(limit=limit, stores=stores, directory=tmp_path)
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    clients: list[socket.socket] = []
    try:
        assert child.stdout is not None and child.stdin is not None
        port = int(child.stdout.readline())
        # one connection after another, as fast as the server takes them; three connections in a row
        # that nothing accepts (its backlog is full) mean the server takes no more
        refused_in_a_row = 0
        while len(clients) < flood and refused_in_a_row < 3:
            sock = socket.socket()
            sock.settimeout(0.5)
            try:
                sock.connect(("127.0.0.1", port))
                sock.sendall(PARTIAL)
            except OSError:
                sock.close()
                refused_in_a_row += 1
                continue
            refused_in_a_row = 0
            clients.append(sock)
        time.sleep(0.5)  # let the child take what it will take of the flood
        child.stdin.write("go\n")
        child.stdin.flush()
        result = json.loads(child.stdout.readline())
    finally:
        for sock in clients:
            sock.close()
        child.kill()
        child.wait(GUARD_SECONDS)
    assert result["error"] is None, result
    assert result["opened"] == stores
    assert result["health"]["peak_open"] <= HealthLimits().max_connections
