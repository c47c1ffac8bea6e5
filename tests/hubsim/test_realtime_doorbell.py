"""The doorbell end to end: the daemon in-process, the real engine, the emulator's Realtime endpoint.

Intervals are long (an hour) wherever only the doorbell may explain a row
landing, and short where polling must take over. Every wait polls a
condition with a bounded deadline; no test asserts timings.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import structlog
from sqlalchemy.exc import SQLAlchemyError

from syncd.cli import main
from syncd.daemon.doorbell import Doorbells
from syncd.daemon.service import Daemon
from syncd.hub.realtime import RealtimeTimings
from syncd.hubsim import HubStore, RunningHub, populate, running_hub
from tests.support.builders import TOKEN
from tests.support.serving import until
from tests.support.syncenv import assert_in_step

DEADLINE = 30.0
HOUR = 3600

pytestmark = pytest.mark.slow


def in_step(urls: list[str], store: HubStore) -> bool:
    try:
        for url in urls:
            assert_in_step(url, store)
    except (AssertionError, SQLAlchemyError):  # not there yet, or not even created
        return False
    return True


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    store = HubStore(seed=11)
    populate(store, spaces=3, blocks=20, seed=11)
    with running_hub(store, tokens={TOKEN: "all"}, admin=True) as running:
        yield running


def _no_exit(code: int) -> NoReturn:
    raise AssertionError(f"hard exit {code}")


class Running:
    def __init__(self, daemon: Daemon, urls: list[str]) -> None:
        self.daemon = daemon
        self.urls = urls

    def bell(self) -> dict[str, Any]:
        snapshot = self.daemon.doorbells.snapshot()
        assert len(snapshot) == 1
        return next(iter(snapshot.values()))

    def up(self) -> bool:
        return bool(self.bell()["up"])

    def settled(self) -> bool:
        """In step, doorbell up, and no doorbell pull running or due (one may still be waiting its turn)."""
        bells = self.daemon.doorbells._bells
        return self.up() and all(b.queue.idle for b in bells.values())


@contextmanager
def serving(tmp_path: Path, hub: RunningHub, *, interval: float = HOUR, realtime: str = "auto",
            timings: RealtimeTimings | None = None, retry_seconds: float = 1.0) -> Iterator[Running]:
    urls = [f"sqlite:///{tmp_path / name}.db" for name in ("bell-a", "bell-b")]
    instances = "".join(f'[[instances]]\nname = "bell-{c}"\nurl = "{u}"\n\n' for c, u in zip("ab", urls, strict=True))
    config = tmp_path / "syncd.toml"
    config.write_text(f"""
[hub]
url = "{hub.url}"
realtime = "{realtime}"
retry_attempts = 2
retry_max_seconds = 1

[schedule]
interval_seconds = {interval}
jitter_seconds = 0
shutdown_grace_seconds = 10

[health]
listen = "127.0.0.1:0"

{instances}""")
    daemon = Daemon(config, {"SYNCD_HUB_TOKEN": TOKEN}, hard_exit=_no_exit,
                    doorbells=Doorbells(timings=timings, retry_seconds=retry_seconds))
    assert daemon.start() is None
    try:
        yield Running(daemon, urls)
    finally:
        daemon.request_stop()
        daemon.shutdown()


def first_space(store: HubStore) -> str:
    return str(next(r["id"] for r in store.rows("space") if r["deleted_at"] is None))


def test_an_event_pulls_the_change_long_before_the_next_tick(tmp_path: Path, hub: RunningHub) -> None:
    with serving(tmp_path, hub) as run:
        until(lambda: in_step(run.urls, hub.store) and run.settled(), "the first sync and the doorbell")
        hub.store.rename_space(first_space(hub.store), "Renamed by the doorbell test")
        hub.store.create_block(first_space(hub.store), "# a new block")
        until(lambda: in_step(run.urls, hub.store), "the change in both instances")
        bell = run.bell()
        # the only scheduled run was at start-up; the next is an hour away
        assert bell["pulls_by_reason"]["event"] >= 1 and bell["events"] >= 2
        body = httpx.get(f"http://127.0.0.1:{run.daemon.port}/readyz", timeout=5).json()
        assert next(iter(body["doorbell"].values()))["up"] is True
        metrics = httpx.get(f"http://127.0.0.1:{run.daemon.port}/metrics", timeout=5).text
        assert "syncd_doorbell_up{group=" in metrics and "} 1.0" in metrics


@pytest.mark.parametrize(
    "faults",
    [{"duplicate_rate": 1.0}, {"delay_ms": 400}, {"early_ms": 700}, {"drop_rate": 0.5, "seed": 3}],
    ids=["duplicated", "delayed", "early", "half-dropped"],
)
def test_imperfect_events_still_converge(tmp_path: Path, hub: RunningHub, faults: dict[str, Any]) -> None:
    # dropped events need the poll: a short interval; the others converge on events alone
    interval = 2 if "drop_rate" in faults else HOUR
    with serving(tmp_path, hub, interval=interval) as run:
        until(lambda: in_step(run.urls, hub.store) and run.settled(), "the first sync and the doorbell")
        hub.app.realtime.faults.update(faults)
        space = first_space(hub.store)
        blocks = hub.store.count("space_block")
        for n in range(4):
            hub.store.rename_space(space, f"name {n}")
            hub.store.create_block(space, f"# block {n}")
        # with early events the hub itself shows the writes only after the lag
        until(lambda: hub.store.count("space_block") == blocks + 4, "the hub to show its writes")
        assert hub.store.get("space", space)["name"] == "name 3"
        until(lambda: in_step(run.urls, hub.store), "convergence")
        if "early_ms" in faults:
            # the event came before REST showed the row: the empty pull was repeated once
            assert run.bell()["pulls_by_reason"]["retry"] >= 1


@pytest.mark.parametrize("status", [401, 404, 403])
def test_a_refused_upgrade_leaves_the_doorbell_off_and_polling_on(
    tmp_path: Path, hub: RunningHub, status: int
) -> None:
    hub.app.realtime.faults.update({"refuse": status})
    with structlog.testing.capture_logs() as logs, serving(tmp_path, hub, interval=1) as run:
        until(lambda: run.bell()["state"] == "off", "the doorbell to be off")
        hub.store.rename_space(first_space(hub.store), "renamed while the doorbell is off")
        until(lambda: in_step(run.urls, hub.store), "the poll to bring the change")
        assert run.bell()["events"] == 0
    refused = [e for e in logs if e["event"] == "doorbell.refused"]
    assert len(refused) == 1 and str(status) in refused[0]["reason"]


def test_realtime_off_opens_no_websocket(tmp_path: Path, hub: RunningHub) -> None:
    with serving(tmp_path, hub, interval=1, realtime="off") as run:
        until(lambda: in_step(run.urls, hub.store), "the first sync")
        assert run.bell() == {"state": "disabled", "up": False}
    assert hub.app.realtime.counts["upgrades"] == 0


def test_closing_every_connection_is_survived_with_a_pull_after_resubscribing(
    tmp_path: Path, hub: RunningHub
) -> None:
    with serving(tmp_path, hub) as run:
        until(lambda: in_step(run.urls, hub.store) and run.settled(), "the first sync and the doorbell")
        subscribed = run.bell()["pulls_by_reason"]["subscribed"]
        hub.app.realtime.faults.update({"refuse": 500})  # reconnects fail until the change is made
        assert hub.app.realtime.close_all() == 1
        until(lambda: not run.up(), "the doorbell to notice")
        hub.store.rename_space(first_space(hub.store), "changed while the doorbell was down")
        hub.app.realtime.faults.update({"refuse": None})
        until(lambda: in_step(run.urls, hub.store), "the pull after resubscribing")
        bell = run.bell()
        assert bell["up"] and bell["reconnects"] >= 1, bell
        assert bell["pulls_by_reason"]["subscribed"] > subscribed


def test_a_burst_of_events_costs_a_few_pulls(tmp_path: Path, hub: RunningHub) -> None:
    with serving(tmp_path, hub) as run:
        until(lambda: in_step(run.urls, hub.store) and run.settled(), "the first sync and the doorbell")
        hub.app.stats.reset()
        before = run.bell()
        hub.store.bulk_import(5000, space_id=first_space(hub.store), content_size=50, spread_seconds=0)
        until(lambda: run.bell()["events"] - before["events"] >= 5000, "every event", deadline=60)
        until(lambda: in_step(run.urls, hub.store), "the burst in both instances", deadline=60)
        # let the repeat of an empty pull (at most one) happen before counting
        until(run.settled, "no pull running or due")
        after = run.bell()
        pulls = after["pulls"] - before["pulls"]
        requests = sum(sum(c.values()) for c in hub.app.stats.snapshot().values())
    assert pulls <= 6, after
    # each pull re-reads the lookback window, here the 5000 new blocks (six pages), and maybe spaces
    assert requests <= 7 * pulls, (requests, pulls)


def test_heartbeats_time_out_a_silent_server(tmp_path: Path, hub: RunningHub) -> None:
    timings = RealtimeTimings(heartbeat_seconds=0.2, join_timeout_seconds=0.5)
    with serving(tmp_path, hub, timings=timings) as run:
        until(lambda: run.up(), "the doorbell")
        hub.app.realtime.faults.update({"silent": True})
        until(lambda: not run.up(), "a dead connection to be noticed")
        until(lambda: run.bell()["reconnects"] >= 1, "a reconnect")
        hub.app.realtime.faults.update({"silent": False})
        until(lambda: run.up(), "the doorbell back")
        assert run.bell()["last_error"] in ("heartbeat unanswered", "no reply to phx_join")


def test_a_reload_with_a_new_token_reconnects(tmp_path: Path, hub: RunningHub) -> None:
    with serving(tmp_path, hub) as run:
        until(lambda: run.up(), "the doorbell")
        upgrades = hub.app.realtime.counts["upgrades"]
        hub.app.tokens["second-token-42"] = "all"
        run.daemon._environ = {"SYNCD_HUB_TOKEN": "second-token-42"}
        assert run.daemon.reload()
        until(lambda: hub.app.realtime.counts["upgrades"] > upgrades and run.up(), "a new connection")
        assert run.daemon.doorbells._bells[next(iter(run.daemon.jobs))].token == "second-token-42"


def test_run_once_never_opens_a_websocket(tmp_path: Path, hub: RunningHub) -> None:
    config = tmp_path / "once.toml"
    db = tmp_path / "once.db"
    config.write_text(f'[hub]\nurl = "{hub.url}"\n\n[[instances]]\nname = "once"\nurl = "sqlite:///{db}"\n')
    out = io.StringIO()
    code = main(["run-once", "--config", str(config)], environ={"SYNCD_HUB_TOKEN": TOKEN}, stdout=out)
    assert code == 0, out.getvalue()
    assert in_step([f"sqlite:///{db}"], hub.store)  # it did talk to the hub, over REST only
    assert hub.app.realtime.counts["upgrades"] == 0 and hub.app.realtime.counts["refused"] == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("syncd-doorbell")]


def test_a_reload_to_realtime_off_closes_the_connection(tmp_path: Path, hub: RunningHub) -> None:
    with serving(tmp_path, hub) as run:
        until(lambda: run.up(), "the doorbell")
        config = tmp_path / "syncd.toml"
        config.write_text(config.read_text().replace('realtime = "auto"', 'realtime = "off"'))
        assert run.daemon.reload()
        assert run.bell() == {"state": "disabled", "up": False}
        until(lambda: hub.app.realtime.snapshot()["connections"] == 0, "the connection closed")


def test_heartbeats_keep_the_connection_alive_past_the_servers_idle_limit(
    tmp_path: Path, hub: RunningHub
) -> None:
    hub.app.realtime._idle_seconds = 0.6  # the server closes a connection silent this long
    timings = RealtimeTimings(heartbeat_seconds=0.15)
    with serving(tmp_path, hub, timings=timings) as run:
        until(lambda: run.up(), "the doorbell")
        beats = hub.app.realtime.counts["heartbeats"]
        until(lambda: hub.app.realtime.counts["heartbeats"] >= beats + 10, "ten heartbeats (two idle limits)")
        bell = run.bell()
        assert bell["up"] and bell["reconnects"] == 0 and hub.app.realtime.counts["closed"] == 0


def test_a_doorbell_that_cannot_connect_keeps_retrying_while_polling_goes_on(
    tmp_path: Path, hub: RunningHub
) -> None:
    hub.app.realtime.faults.update({"refuse": 500})
    with serving(tmp_path, hub, interval=1) as run:
        until(lambda: run.bell()["reconnects"] >= 1, "a second attempt")
        hub.store.rename_space(first_space(hub.store), "renamed while the doorbell is down")
        until(lambda: in_step(run.urls, hub.store), "the poll to bring the change")
        bell = run.bell()
        assert bell["state"] in ("down", "connecting") and bell["events"] == 0
        assert "500" in (bell["last_error"] or "")
