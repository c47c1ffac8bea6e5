"""The emulator's Realtime endpoint, spoken to with a plain websocket client."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from syncd.hub import phoenix
from syncd.hubsim import HubStore, RunningHub, running_hub
from syncd.hubsim.main import build_parser
from syncd.hubsim.realtime_faults import RealtimeFaults

TOKEN = "rt-token"
DEADLINE = 10.0


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    store = HubStore(seed=5)
    store.create_space("first")
    with running_hub(store, tokens={TOKEN: "all"}, admin=True) as running:
        yield running


def ws_url(hub: RunningHub, token: str = TOKEN, extra: str = "") -> str:
    return phoenix.websocket_url(hub.url, token) + extra


def recv(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(ws.recv(timeout=DEADLINE))
    assert isinstance(message, dict)
    return message


def joined(hub: RunningHub) -> ClientConnection:
    ws = connect(ws_url(hub), proxy=None, open_timeout=DEADLINE)
    ws.send(phoenix.join_frame("1", TOKEN))
    reply = recv(ws)
    assert reply["event"] == "phx_reply" and reply["ref"] == "1"
    assert phoenix.join_matches(reply["payload"]["response"])
    system = recv(ws)
    assert system["event"] == "system" and system["payload"]["message"] == "Subscribed to PostgreSQL"
    return ws


def until(predicate: Callable[[], object], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        threading.Event().wait(0.01)


def test_every_write_is_an_event_of_its_table(hub: RunningHub) -> None:
    with joined(hub) as ws:
        space = hub.store.create_space("second")
        hub.store.rename_space(space["id"], "renamed")
        block = hub.store.create_block(space["id"], "# hi")
        hub.store.hard_delete("space_block", block["id"])
        events = [recv(ws) for _ in range(4)]
    assert [e["event"] for e in events] == ["postgres_changes"] * 4
    data = [e["payload"]["data"] for e in events]
    assert [(d["table"], d["type"]) for d in data] == [
        ("space", "INSERT"), ("space", "UPDATE"), ("space_block", "INSERT"), ("space_block", "DELETE")]
    assert all(e["ref"] is None and "join_ref" not in e for e in events)
    assert data[0]["record"]["id"] == str(space["id"]) and data[0]["commit_timestamp"].endswith("Z")


def test_heartbeats_are_answered_and_leave_unsubscribes(hub: RunningHub) -> None:
    with joined(hub) as ws:
        ws.send(phoenix.heartbeat_frame("7"))
        beat = recv(ws)
        assert (beat["topic"], beat["ref"], beat["payload"]["status"]) == ("phoenix", "7", "ok")
        ws.send(phoenix.leave_frame("8", "1"))
        assert recv(ws)["ref"] == "8"
        hub.store.create_space("unseen")
        ws.send(phoenix.heartbeat_frame("9"))
        assert recv(ws)["ref"] == "9"  # no event came before the heartbeat's reply


@pytest.mark.parametrize("status", [401, 403, 404, 429, 500])
def test_refuse_knob_answers_the_upgrade_with_a_json_error(hub: RunningHub, status: int) -> None:
    hub.app.realtime.faults.update({"refuse": status})
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(hub), proxy=None, open_timeout=DEADLINE)
    assert refused.value.response.status_code == status
    assert "error" in json.loads(refused.value.response.body or b"{}")


def test_unknown_apikey_and_other_vsn_are_refused(hub: RunningHub) -> None:
    for url, status in ((ws_url(hub, token="nope"), 401), (ws_url(hub).replace("vsn=1.0.0", "vsn=2.0.0"), 400)):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, proxy=None, open_timeout=DEADLINE)
        assert refused.value.response.status_code == status


def test_drop_and_duplicate_knobs(hub: RunningHub) -> None:
    hub.app.realtime.faults.update({"drop_rate": 1.0})
    with joined(hub) as ws:
        hub.store.create_space("dropped")
        until(lambda: hub.app.realtime.counts["events_dropped"] == 1, "the drop")
        hub.app.realtime.faults.update({"drop_rate": 0.0, "duplicate_rate": 1.0})
        hub.store.create_space("twice")
        first, second = recv(ws), recv(ws)
    assert first == second and first["payload"]["data"]["type"] == "INSERT"


def test_early_events_come_before_rest_shows_the_row(hub: RunningHub) -> None:
    hub.app.realtime.faults.update({"early_ms": 60_000})
    with joined(hub) as ws:
        space = hub.store.create_space("not yet visible")
        event = recv(ws)
    assert event["payload"]["data"]["record"]["id"] == str(space["id"])
    assert hub.store.get("space", space["id"]) is None
    hub.app.realtime.faults.update({"early_ms": 0})
    assert hub.store.get("space", space["id"]) is None  # a held write keeps its time


def test_close_all_and_silent_through_the_admin_api(hub: RunningHub) -> None:
    with joined(hub) as ws:
        answer = httpx.post(f"{hub.url}/_sim/realtime/close", timeout=DEADLINE).json()
        assert answer == {"closed": 1}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=DEADLINE)
    snapshot = httpx.put(f"{hub.url}/_sim/realtime", json={"silent": True}, timeout=DEADLINE).json()
    assert snapshot["faults"]["silent"] is True and snapshot["closed"] == 1
    with connect(ws_url(hub), proxy=None, open_timeout=DEADLINE) as ws:
        ws.send(phoenix.heartbeat_frame("1"))
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
    bad = httpx.put(f"{hub.url}/_sim/realtime", json={"refuse": 418}, timeout=DEADLINE)
    assert bad.status_code == 400 and "refuse" in bad.json()["error"]
    cleared = httpx.delete(f"{hub.url}/_sim/realtime", timeout=DEADLINE).json()
    assert cleared["faults"]["silent"] is False


def test_idle_connections_are_closed() -> None:
    store = HubStore()
    with running_hub(store, tokens={TOKEN: "all"}) as hub:
        hub.app.realtime._idle_seconds = 0.2
        with connect(ws_url(hub), proxy=None, open_timeout=DEADLINE) as ws, pytest.raises(ConnectionClosed):
            ws.recv(timeout=DEADLINE)


def test_faults_validate_every_setting_before_applying_any() -> None:
    faults = RealtimeFaults()
    with pytest.raises(ValueError, match="drop_rate"):
        faults.update({"delay_ms": 5, "drop_rate": 2})
    assert faults.delay_ms == 0.0
    with pytest.raises(ValueError, match="unknown"):
        faults.update({"nope": 1})


def test_command_line_knobs() -> None:
    args = build_parser().parse_args(["--realtime-refuse", "404", "--realtime-drop-rate", "0.3",
                                      "--realtime-early-ms", "200"])
    assert (args.realtime_refuse, args.realtime_drop_rate, args.realtime_early_ms) == (404, 0.3, 200.0)


def test_hubsim_command_serves_realtime_with_its_knobs() -> None:
    from syncd.hubsim.main import main

    stop = threading.Event()
    out = io.StringIO()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main(
        ["--port", "0", "--spaces", "1", "--blocks", "1", "--token", TOKEN, "--realtime-refuse", "404"],
        stop=stop, out=out)))
    thread.start()
    try:
        until(lambda: "url=" in out.getvalue(), "the emulator's first line")
        url = out.getvalue().split("url=")[1].split()[0]
        with pytest.raises(InvalidStatus) as refused:
            connect(phoenix.websocket_url(url, TOKEN), proxy=None, open_timeout=DEADLINE)
        assert refused.value.response.status_code == 404
    finally:
        stop.set()
        thread.join(DEADLINE)
    assert codes == [0]
