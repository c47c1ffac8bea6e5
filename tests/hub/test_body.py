"""The hub client against a hostile hub: huge, inflating, trickling, over-long and undecodable bodies."""

from __future__ import annotations

import gzip
import json
import socketserver
import threading
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from syncd.core.models import Resource
from syncd.core.pagecheck import check_page
from syncd.errors import (
    HubIncompatibleError,
    HubResponseTooLarge,
    HubTransientError,
    HubUnavailableError,
)
from syncd.hub import HubClient
from syncd.hub.body import GUARD_FROM_BYTES, count_json_values
from tests.support.builders import space_row
from tests.support.hub_fakes import FakeClock, RecordingObserver, hub_settings, make_client

CHUNK = 64 * 1024
BOUND = 1024 * 1024


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Endless(httpx.SyncByteStream):
    """A body generated chunk by chunk, as long as asked; counts what the client pulled."""

    def __init__(self, total: int, chunk: bytes = b"x" * CHUNK, on_chunk: Any = None) -> None:
        self.total = total
        self.chunk = chunk
        self.pulled = 0
        self.on_chunk = on_chunk
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        while sent < self.total:
            piece = self.chunk[: self.total - sent]
            sent += len(piece)
            self.pulled += len(piece)
            if self.on_chunk is not None:
                self.on_chunk()
            yield piece

    def close(self) -> None:
        self.closed = True


class HostileHub:
    """Answers every request with a fresh body from ``make`` and records the limits asked for."""

    def __init__(self, make: Any, headers: dict[str, str] | None = None) -> None:
        self.make = make
        self.headers = headers or {}
        self.streams: list[Endless] = []
        self.limits: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.limits.append(int(request.url.params["limit"]))
        made = self.make(self.limits[-1])
        # bytes are streamed too: an httpx.Response built on bytes reads (and inflates) them at once
        stream = made if isinstance(made, Endless) else Endless(len(made), made)
        self.streams.append(stream)
        return httpx.Response(200, stream=stream, headers=self.headers)


def test_a_500_mb_body_is_read_no_further_than_the_bound_and_ends_hub_incompatible() -> None:
    hub = HostileHub(lambda _limit: Endless(500 * 1024 * 1024, b"[" + b"x" * (CHUNK - 1)))
    observer = RecordingObserver()
    with (
        make_client(hub, FakeClock(), observer=observer, max_body_bytes=BOUND) as client,
        pytest.raises(HubResponseTooLarge, match="one row alone passes the bound") as caught,
    ):
        client.fetch_page(Resource.SPACE, limit=1000)
    assert isinstance(caught.value, HubIncompatibleError)
    # asked again with smaller pages, then given up: never retried at one size
    assert hub.limits == [1000, 250, 62, 15, 3, 1]
    assert all(s.pulled <= BOUND + CHUNK for s in hub.streams)
    assert all(s.closed for s in hub.streams)
    assert [status for _, status, _ in observer.requests] == ["too_large"] * 6


def test_a_declared_length_over_the_bound_is_refused_before_reading() -> None:
    hub = HostileHub(
        lambda _limit: Endless(10 * BOUND), headers={"content-length": str(10 * BOUND)}
    )
    with make_client(hub, FakeClock(), max_body_bytes=BOUND) as client, pytest.raises(HubResponseTooLarge):
        client.fetch_keys(Resource.SPACE, limit=10)
    assert [s.pulled for s in hub.streams] == [0]


def _gzip_bomb(inflated: int) -> bytes:
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"0" * CHUNK
    parts = [squeeze.compress(zeros) for _ in range(inflated // CHUNK)]
    return b"".join(parts) + squeeze.flush()


def test_a_gzip_bomb_stops_at_the_bound_once_inflated() -> None:
    bomb = _gzip_bomb(64 * BOUND)  # 64 MiB of zeros in well under a megabyte
    assert len(bomb) < BOUND
    hub = HostileHub(lambda _limit: bomb, headers={"content-encoding": "gzip"})
    with (
        make_client(hub, FakeClock(), max_body_bytes=BOUND) as client,
        pytest.raises(HubResponseTooLarge, match="inflated"),
    ):
        client.fetch_keys(Resource.SPACE, limit=10)
    assert hub.streams[0].pulled == len(bomb)  # one chunk: it inflates past the bound at once


def test_a_gzip_body_within_the_bound_is_inflated() -> None:
    rows = [{"id": "0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d", "lnid": "a" * 12, "updated_at": "2026-01-01T00:00:00Z"}]
    hub = HostileHub(lambda _limit: gzip.compress(_dumps(rows)), headers={"content-encoding": "gzip"})
    with make_client(hub, FakeClock(), max_body_bytes=BOUND) as client:
        assert client.fetch_keys(Resource.SPACE, limit=10)[0] == rows


def test_an_encoding_syncd_did_not_ask_for_is_incompatible() -> None:
    hub = HostileHub(lambda _limit: b"[]", headers={"content-encoding": "br"})
    with (
        make_client(hub, FakeClock()) as client,
        pytest.raises(HubIncompatibleError, match="Content-Encoding 'br'"),
    ):
        client.fetch_keys(Resource.SPACE, limit=10)
    assert len(hub.limits) == 1  # not retried


def test_a_body_trickling_in_ends_at_timeout_seconds() -> None:
    clock = FakeClock()

    def a_second_per_byte() -> None:
        clock.now += 1.0

    hub = HostileHub(lambda _limit: Endless(10**6, b"[", on_chunk=a_second_per_byte))
    observer = RecordingObserver()
    with (
        make_client(hub, clock, observer=observer, timeout_seconds=10.0, retry_attempts=2) as client,
        pytest.raises(HubUnavailableError) as caught,
    ):
        client.fetch_page(Resource.SPACE, limit=10)
    assert isinstance(caught.value.__cause__, HubTransientError)
    assert caught.value.__cause__.reason == "timeout"
    # each attempt ends on the first chunk past its 10 s: the body is cut, not waited for
    assert [s.pulled for s in hub.streams] == [11, 11]
    assert [status for _, status, _ in observer.requests] == ["timeout", "timeout"]


def test_a_page_with_more_rows_than_asked_for_breaks_the_contract() -> None:
    rows = [{"id": str(n)} for n in range(5)]
    hub = HostileHub(lambda _limit: _dumps(rows))
    with (
        make_client(hub, FakeClock()) as client,
        pytest.raises(HubIncompatibleError, match="5 rows for limit=2"),
    ):
        client.fetch_page(Resource.SPACE, limit=2)
    assert hub.limits == [2]  # not retried


def test_a_body_of_millions_of_tiny_objects_is_refused_before_it_is_decoded() -> None:
    body = b"[" + b"{}," * (GUARD_FROM_BYTES // 3) + b"{}]"
    hub = HostileHub(lambda _limit: body)
    with (
        make_client(hub, FakeClock(), max_body_bytes=4 * BOUND) as client,
        pytest.raises(HubIncompatibleError, match="JSON values for limit=10"),
    ):
        client.fetch_page(Resource.SPACE, limit=10)


def test_values_inside_strings_are_not_counted() -> None:
    assert count_json_values(b'[{"a": "x,y,{z}[", "b": "q\\",r"}, 1]') == 5
    assert count_json_values(b"[]") == 2  # an upper bound: the empty array is one value


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'[{"a":' * 100_000 + b"1" + b"}]" * 100_000,
        b"\xff\xfe not utf-8",
    ],
    ids=["arrays-100k-deep", "objects-100k-deep", "not-utf8"],
)
def test_an_undecodable_body_is_a_bad_body_never_an_internal_error(body: bytes) -> None:
    hub = HostileHub(lambda _limit: body)
    observer = RecordingObserver()
    with (
        make_client(hub, FakeClock(), observer=observer, retry_attempts=2) as client,
        pytest.raises(HubUnavailableError) as caught,
    ):
        client.fetch_page(Resource.SPACE, limit=10)
    assert isinstance(caught.value.__cause__, HubTransientError)
    assert caught.value.__cause__.reason == "bad_body"
    assert [status for _, status, _ in observer.requests] == ["bad_body", "bad_body"]


def test_a_page_over_the_bound_is_asked_again_in_smaller_pages() -> None:
    row = {"id": "0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d", "content": "y" * 100_000}

    def rows_as_asked(limit: int) -> bytes:
        return _dumps([row] * min(limit, 40))

    hub = HostileHub(rows_as_asked)
    with make_client(hub, FakeClock(), max_body_bytes=BOUND) as client:
        first = client.fetch_page(Resource.SPACE_BLOCK, limit=40)
        second = client.fetch_page(Resource.SPACE_BLOCK, limit=40)
    assert len(first.rows) == len(second.rows) == 10
    # 40 rows of 100 kB pass the 1 MiB bound, 10 do not; the next page keeps the smaller limit
    assert hub.limits == [40, 10, 10]


def test_a_body_over_the_bound_is_freed_even_while_the_error_is_kept() -> None:
    hub = HostileHub(lambda _limit: Endless(4 * BOUND))
    with (
        make_client(hub, FakeClock(), max_body_bytes=BOUND) as client,
        pytest.raises(HubResponseTooLarge) as caught,
    ):
        client.fetch_keys(Resource.SPACE, limit=10)
    held: list[bytearray] = []
    tb = caught.value.__traceback__
    while tb is not None:  # a retry policy or a log call may keep the traceback, and its frames, alive
        for value in tb.tb_frame.f_locals.values():
            buffer = value if isinstance(value, bytearray) else getattr(value, "body", None)
            if isinstance(buffer, bytearray):
                held.append(buffer)
        tb = tb.tb_next
    assert held, "the reader's buffer is among the traceback's locals"
    assert [len(b) for b in held] == [0] * len(held)


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib-wrapped", "raw"])
def test_both_spellings_of_deflate_are_inflated_within_the_bound(wbits: int) -> None:
    rows = [{"id": str(n), "content": "z" * 300_000} for n in range(5)]  # inflated in two steps
    squeeze = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = squeeze.compress(_dumps(rows)) + squeeze.flush()
    hub = HostileHub(lambda _limit: body, headers={"content-encoding": "deflate"})
    with make_client(hub, FakeClock(), max_body_bytes=4 * BOUND) as client:
        assert client.fetch_keys(Resource.SPACE, limit=10)[0] == rows


class _Armed:
    """A timer that never fires on its own: the hostile server fires it, as the clock would, once it
    has sent what it wanted and gone silent (so the test never waits for real time)."""

    def __init__(self, seconds: float, function: Any) -> None:
        self.seconds = seconds
        self.function = function
        self.cancelled = False
        armed.append(self)

    def start(self) -> None:
        return None

    def cancel(self) -> None:
        self.cancelled = True


armed: list[_Armed] = []


class _GoesSilent(socketserver.StreamRequestHandler):
    """Reads a request, sends ``self.server.prefix``, lets the deadline come, then says nothing more."""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        self.wfile.write(self.server.prefix)  # type: ignore[attr-defined]
        self.wfile.flush()
        armed[-1].function()  # the deadline passes while the client is blocked reading
        self.server.release.wait(30)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "prefix",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: aaaa",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[",
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[",
    ],
    ids=["in-the-headers", "in-a-declared-body", "in-a-body-ending-at-close"],
)
def test_a_hub_gone_silent_is_cut_off_at_timeout_seconds(prefix: bytes) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _GoesSilent)
    server.daemon_threads = True
    server.prefix = prefix  # type: ignore[attr-defined]
    server.release = threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    armed.clear()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    clock = FakeClock()
    try:
        with (
            HubClient(hub_settings(url=url, retry_attempts=1, timeout_seconds=30.0), sleep=clock.sleep,
                      monotonic=clock.monotonic, timer=_Armed) as client,
            pytest.raises(HubUnavailableError) as caught,
        ):
            client.fetch_keys(Resource.SPACE, limit=10)
    finally:
        server.release.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
    cause = caught.value.__cause__
    assert isinstance(cause, HubTransientError)
    assert cause.reason == "timeout"
    assert [t.seconds for t in armed] == [30.0]  # one attempt, armed for its whole timeout_seconds
    assert all(t.cancelled for t in armed)


def test_a_page_with_hostile_values_rejects_only_their_rows_each_with_its_reason() -> None:
    # JSON's grammar (or the common extensions of it) allows these; no row may carry them
    rows = [
        space_row(1),
        space_row(2, name="Lab \ud800"),  # encoded as the escape "\ud800": a lone surrogate
        space_row(3, description=float("nan")),  # encoded as NaN
        {**space_row(4), "lnid": "@HUGE_FLOAT@"},
        {**space_row(5), "lnid": "@HUGE_INT@"},
        space_row(6),
    ]
    body = _dumps(rows).replace(b'"@HUGE_FLOAT@"', b"1e999").replace(b'"@HUGE_INT@"', b"9" * 5000)
    hub = HostileHub(lambda _limit: body)
    with make_client(hub, FakeClock()) as client:
        page = client.fetch_page(Resource.SPACE, limit=1000)
    checked = check_page(page, now=datetime(2030, 1, 1, tzinfo=UTC), tolerance=timedelta(minutes=5))
    assert [row.lnid for row in checked.valid] == ["sp0000000001", "sp0000000006"]
    reasons = [rejection.reason for rejection in checked.rejected]
    assert reasons[0].startswith("name: not valid Unicode")
    assert reasons[1].startswith("description: must be a string")
    assert reasons[2].startswith("lnid: must be")
    assert reasons[3].startswith("lnid: must be")
    assert checked.last is not None and checked.last.id == uuid.UUID(int=6)
