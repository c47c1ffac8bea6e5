"""The emulator over real HTTP on 127.0.0.1: paging end to end, resets, refusals, the CLI."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from syncd.core.timestamps import parse_rfc3339
from syncd.hubsim import Faults, HubApp, HubStore, ManualClock, Spelling, populate, running_hub, start_server
from syncd.hubsim.main import main
from tests.support.serving import Lines

START = datetime(2025, 2, 1, 9, tzinfo=UTC)
ORDERED = "select=*&order=updated_at.asc,id.asc&limit={n}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "apikey": token, "Accept": "application/json"}


def walk(client: httpx.Client, url: str, resource: str, n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    query = ORDERED.format(n=n)
    for _ in range(10_000):  # bounded: a broken keyset must fail, not hang
        response = client.get(f"{url}/rest/v1/{resource}?{query}")
        response.raise_for_status()
        page: list[dict[str, Any]] = response.json()
        if not page:
            return rows
        rows.extend(page)
        last = page[-1]
        keyset = (
            f"(updated_at.gt.{last['updated_at']},and(updated_at.eq.{last['updated_at']},id.gt.{last['id']}))"
        )
        query = ORDERED.format(n=n) + "&or=" + quote(keyset, safe="")
    raise AssertionError("pagination did not end")


@pytest.fixture
def store() -> HubStore:
    store = HubStore(clock=ManualClock(START), seed=5, spelling=Spelling(seed=5))
    populate(store, spaces=6, blocks=250, seed=5)
    return store


def test_paging_over_http_sees_every_row_once(store: HubStore) -> None:
    with running_hub(store, max_rows=37) as hub, httpx.Client(headers=auth(hub.token)) as client:
        assert hub.url.startswith("http://127.0.0.1:")
        blocks = walk(client, hub.url, "space_block", 100)
        spaces = walk(client, hub.url, "space", 1000)
    assert sorted(b["id"] for b in blocks) == sorted(str(r["id"]) for r in store.rows("space_block"))
    assert len(spaces) == 6
    stored = {str(r["id"]): r["updated_at"] for r in store.rows("space_block")}
    assert all(parse_rfc3339(b["updated_at"]) == stored[b["id"]] for b in blocks)


def test_second_pass_from_the_last_position_sees_nothing_new(store: HubStore) -> None:
    with running_hub(store) as hub, httpx.Client(headers=auth(hub.token)) as client:
        first = walk(client, hub.url, "space_block", 1000)
        last = first[-1]["updated_at"]
        again = client.get(
            f"{hub.url}/rest/v1/space_block?{ORDERED.format(n=1000)}&updated_at=gte.{quote(last)}"
        )
        window = client.get(
            f"{hub.url}/rest/v1/space_block?{ORDERED.format(n=1000)}"
            f"&updated_at=gte.{quote('2025-02-01T08:59:00Z')}"  # the 60-second lookback before "now"
        )
    assert [r["id"] for r in again.json()] == [
        r["id"] for r in first if r["updated_at"] == last
    ] or again.json()
    assert window.json() == []


def test_date_header_and_errors_over_http(store: HubStore) -> None:
    with running_hub(store) as hub, httpx.Client() as client:
        unauthorised = client.get(f"{hub.url}/rest/v1/space?{ORDERED.format(n=1)}")
        missing = client.get(f"{hub.url}/rest/v1/nothing?{ORDERED.format(n=1)}", headers=auth(hub.token))
    assert unauthorised.status_code == 401
    assert missing.status_code == 404
    assert set(unauthorised.json()) == {"code", "message", "details", "hint"}
    assert parsedate_to_datetime(unauthorised.headers["date"]) == START


def test_reset_and_truncation_over_http(store: HubStore) -> None:
    faults = Faults()
    with running_hub(store, faults=faults) as hub, httpx.Client(headers=auth(hub.token)) as client:
        url = f"{hub.url}/rest/v1/space?{ORDERED.format(n=10)}"
        faults.fail_next(1, "reset")
        with pytest.raises(httpx.TransportError):
            client.get(url)
        faults.fail_next(1, "truncate")
        truncated = client.get(url)
        faults.fail_next(1, 429)
        limited = client.get(url)
        healthy = client.get(url)
    assert truncated.status_code == 200
    assert not truncated.text.endswith("]")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert len(healthy.json()) == 6


def test_stop_listening_refuses_connections_until_resumed(store: HubStore) -> None:
    with running_hub(store) as hub, httpx.Client(headers=auth(hub.token)) as client:
        url = f"{hub.url}/rest/v1/space?{ORDERED.format(n=1)}"
        assert client.get(url).status_code == 200
        hub.stop_listening()
        with pytest.raises(httpx.ConnectError):
            client.get(url)
        hub.resume_listening()
        assert client.get(url).status_code == 200


def test_refuse_mode_closes_the_listener_until_it_expires(store: HubStore) -> None:
    now = [0.0]
    faults = Faults(monotonic=lambda: now[0])
    with running_hub(store, faults=faults) as hub, httpx.Client(headers=auth(hub.token)) as client:
        url = f"{hub.url}/rest/v1/space?{ORDERED.format(n=1)}"
        assert client.get(url).status_code == 200  # a keep-alive connection now exists
        faults.update({"down": "refuse", "down_seconds": 10})
        assert hub.server.wait_listening(False)
        with pytest.raises(httpx.TransportError):
            client.get(url)
        with pytest.raises(httpx.ConnectError):
            httpx.get(url)
        now[0] = 10.0
        assert hub.server.wait_listening(True)
        assert client.get(url).status_code == 200


def test_serves_on_ipv6_loopback_when_available(store: HubStore) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support in this Python build")
    try:
        hub_cm = running_hub(store, host="::1")
        hub = hub_cm.__enter__()
    except OSError as exc:
        pytest.skip(f"::1 cannot be bound here: {exc}")
    try:
        assert hub.url.startswith("http://[::1]:")
        assert (
            httpx.get(f"{hub.url}/rest/v1/space?{ORDERED.format(n=1)}", headers=auth(hub.token)).status_code
            == 200
        )
    finally:
        hub_cm.__exit__(None, None, None)


def test_admin_api_over_http(store: HubStore) -> None:
    with running_hub(store, admin=True) as hub, httpx.Client(headers=auth(hub.token)) as client:
        created = client.post(f"{hub.url}/_sim/space", json={"name": "Fresh"})
        advanced = client.post(f"{hub.url}/_sim/clock", json={"advance_seconds": 61})
        names = [s["name"] for s in walk(client, hub.url, "space", 1000)]
    assert created.status_code == 201
    assert advanced.json()["manual"] is True
    assert names[-1] == "Fresh"


def test_non_loopback_bind_is_refused_without_allow_remote() -> None:
    with pytest.raises(ValueError, match="loopback"):
        start_server(HubStore(), host="0.0.0.0")


def test_start_server_returns_a_stoppable_server() -> None:
    server, thread = start_server(HubApp(HubStore(), tokens={"t": "all"}))
    try:
        response = httpx.get(
            f"http://127.0.0.1:{server.port}/rest/v1/space?{ORDERED.format(n=1)}", headers=auth("t")
        )
        assert response.json() == []
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert not thread.is_alive()




def test_cli_serves_until_stopped() -> None:
    out, stop = Lines(), threading.Event()
    argv = ["--port", "0", "--spaces", "3", "--blocks", "12", "--token", "t1", "--token", "t2", "--admin"]
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(main(argv, stop=stop, out=out)))
    runner.start()
    try:
        assert out.printed.wait(timeout=10)
        line = out.getvalue().strip()
        assert line.startswith("hubsim url=http://127.0.0.1:")
        assert line.endswith("tokens=t1,t2")
        url = line.split()[1].removeprefix("url=")
        with httpx.Client(headers=auth("t2")) as client:
            assert len(walk(client, url, "space_block", 5)) == 12
            assert client.get(f"{url}/_sim/stats").status_code == 200
    finally:
        stop.set()
        runner.join(timeout=10)
    assert result == [0]


@pytest.mark.parametrize(
    "argv",
    [["--host", "0.0.0.0"], ["--fault", "oops"], ["--fault", "503=2"], ["--port", "x"]],
)
def test_cli_rejects_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv, stop=threading.Event()) == 2
    assert capsys.readouterr().err


def test_cli_subprocess_stops_cleanly_on_sigterm() -> None:
    command = [sys.executable, "-m", "syncd.hubsim.main", "--port", "0", "--blocks", "5", "--admin"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the emulator is listening
        url = line.split()[1].removeprefix("url=")
        assert httpx.get(f"{url}/_sim/stats").json() == {"requests": {}}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
