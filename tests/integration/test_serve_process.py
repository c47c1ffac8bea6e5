"""`syncd serve` as a real subprocess against the bundled hub emulator.

Readiness following the hub (down → 503 with the reason, back → 200), metrics
that move, SIGTERM during a long sync (exit 0 within the grace, instances that
converge to exactly what a fresh sync gives), SIGHUP with a bad file, the
NOTIFY_SOCKET protocol, canary secrets that appear nowhere, and two shards.
Short intervals and polling with bounded deadlines: no test sleeps blindly.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.hubsim import HubStore, RunningHub, populate, running_hub
from syncd.runner import run_sync
from syncd.settings import load_settings
from tests.support.serving import DB_PASSWORD_CANARY, DEADLINE, TOKEN_CANARY, Daemon, until

pytestmark = pytest.mark.slow


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    store = HubStore(seed=7)
    populate(store, spaces=6, blocks=120, seed=7)
    with running_hub(store, tokens={TOKEN_CANARY: "all"}) as running:
        yield running


def write_config(tmp: Path, hub: RunningHub, names: list[str], *, page_size: int = 1000,
                 transaction_rows: int = 5000, grace: float = 10.0, extra: str = "",
                 file_name: str = "syncd.toml") -> Path:
    instances = "".join(
        f'[[instances]]\nname = "{n}"\nurl = "sqlite:///{tmp / n}.db"\n\n' for n in names)
    text = f"""
[hub]
url = "{hub.url}"
retry_attempts = 2
retry_max_seconds = 1
retry_after_cap_seconds = 0.2
timeout_seconds = 5

[sync]
page_size = {page_size}
transaction_rows = {transaction_rows}

[schedule]
interval_seconds = 1
jitter_seconds = 0
max_backoff_seconds = 2
shutdown_grace_seconds = {grace}

[health]
listen = "127.0.0.1:0"
max_staleness_seconds = 3

{extra}
{instances}"""
    path = tmp / file_name
    path.write_text(text)
    return path


def test_readiness_follows_the_hub_and_metrics_move(
    tmp_path: Path, hub: RunningHub, spawn: Callable[..., Daemon],
) -> None:
    daemon = spawn(write_config(tmp_path, hub, ["lab-a", "lab-b"]))
    assert daemon.get("/livez").status_code == 200
    until(daemon.ready, "/readyz 200")
    assert daemon.metric("syncd_runs_total", instance="lab-a", outcome="ok") >= 1
    assert daemon.metric("syncd_rows_applied_total", instance="lab-a", action="inserted") > 0
    assert daemon.metric("syncd_hub_requests_total", status="200") > 0
    assert daemon.check().returncode == 0

    hub.faults.update({"down": "503"})
    response = until(lambda: (r := daemon.get("/readyz")).status_code == 503 and r, "/readyz 503")
    body = response.json()
    assert body["status"] == "not ready"
    assert body["instances"]["lab-a"]["last_error"]
    assert any("lab-a" in reason and "error" in reason for reason in body["reasons"])
    assert daemon.metric("syncd_runs_total", instance="lab-a", outcome="failed") >= 1
    assert daemon.get("/livez").status_code == 200  # liveness never depends on the hub
    checked = daemon.check()
    assert checked.returncode == 1
    assert "lab-a" in checked.stdout
    daemon.bodies.append(checked.stdout + checked.stderr)

    hub.faults.clear()
    until(daemon.ready, "/readyz back to 200")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(15) == 0
    assert daemon.event("daemon.stopped") is not None


def _table(path: Path, sql: str) -> set[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return set(conn.execute(sql).fetchall())


def test_sigterm_during_a_long_sync_exits_within_the_grace_and_resumes_cleanly(
    tmp_path: Path, hub: RunningHub, spawn: Callable[..., Daemon],
) -> None:
    hub.faults.update({"latency_ms": 100})  # 10-row pages at 100 ms each: a sync of seconds
    # a commit per page, so the rows-applied metric (it counts committed rows) shows the sync under way
    config = write_config(tmp_path, hub, ["lab-a"], page_size=10, transaction_rows=10, grace=8)
    daemon = spawn(config)
    until(lambda: daemon.metric("syncd_rows_applied_total", instance="lab-a") >= 20, "the sync under way")
    assert daemon.metric("syncd_runs_total", instance="lab-a") == 0  # still in its first run
    started = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(15) == 0
    assert time.monotonic() - started < 8
    stopping = daemon.event("daemon.stopping")
    assert stopping is not None
    assert stopping["in_flight"] == 1
    # an interruption, logged as what it is: not an instance failure, nothing at error level
    interrupted = daemon.event("sync.instance_interrupted")
    assert interrupted is not None and (interrupted["level"], interrupted["instance"]) == ("info", "lab-a")
    assert daemon.event("sync.instance_failed") is None
    assert not [e for e in daemon.events() if e.get("level") == "error"]
    with sqlite3.connect(tmp_path / "lab-a.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # the interrupted instance resumes and ends exactly where a fresh sync does
    hub.faults.clear()
    fresh = write_config(tmp_path, hub, ["lab-a", "lab-fresh"], file_name="resume.toml")
    settings = load_settings(fresh, {"CREDENTIALS_DIRECTORY": str(tmp_path / "credentials")})
    report = run_sync(settings)
    assert report.ok, [(r.name, r.error) for r in report.failed]
    blocks = "SELECT uid, content, hash, is_latest FROM lamindb_spaceblock"
    spaces = "SELECT uid, name FROM lamindb_space"
    assert _table(tmp_path / "lab-a.db", blocks) == _table(tmp_path / "lab-fresh.db", blocks)
    assert _table(tmp_path / "lab-a.db", spaces) == _table(tmp_path / "lab-fresh.db", spaces)
    assert len(_table(tmp_path / "lab-a.db", blocks)) > 20


def test_sighup_with_a_bad_file_keeps_the_old_configuration(
    tmp_path: Path, hub: RunningHub, spawn: Callable[..., Daemon],
) -> None:
    config = write_config(tmp_path, hub, ["lab-a"])
    good = config.read_text()
    daemon = spawn(config)
    until(daemon.ready, "/readyz 200")
    config.write_text(good + '\n[bogus]\nkey = "x"\n')
    daemon.signal(signal.SIGHUP)
    failed = until(lambda: daemon.event("config.reload_failed"), "config.reload_failed")
    assert any("bogus" in problem for problem in failed["problems"])
    assert daemon.ready()
    assert set(daemon.get("/readyz").json()["instances"]) == {"lab-a"}

    config.write_text(good + f'\n[[instances]]\nname = "lab-b"\nurl = "sqlite:///{tmp_path}/lab-b.db"\n')
    daemon.signal(signal.SIGHUP)
    until(lambda: daemon.event("config.reloaded"), "config.reloaded")
    until(lambda: daemon.ready() and "lab-b" in daemon.get("/readyz").json()["instances"], "lab-b ready")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(15) == 0


def test_notify_socket_protocol(tmp_path: Path, hub: RunningHub, spawn: Callable[..., Daemon]) -> None:
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(DEADLINE)
    try:
        daemon = spawn(write_config(tmp_path, hub, ["lab-a"]),
                       env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"})
        messages: list[dict[str, str]] = []

        def receive() -> dict[str, str]:
            text = sock.recv(4096).decode()
            fields = dict(line.split("=", 1) for line in text.splitlines())
            messages.append(fields)
            return fields

        ready = receive()
        assert ready["READY"] == "1"
        assert ready["MAINPID"] == str(daemon.proc.pid)
        # READY=1 comes only once the health server answers
        assert daemon.get("/livez").status_code == 200
        watchdogs = 0
        while watchdogs < 3:
            watchdogs += receive().get("WATCHDOG") == "1"
        daemon.signal(signal.SIGTERM)
        while "STOPPING" not in receive():
            pass
        assert daemon.wait(15) == 0
    finally:
        sock.close()


def test_canary_secrets_appear_nowhere(tmp_path: Path, hub: RunningHub, spawn: Callable[..., Daemon]) -> None:
    # an unreachable PostgreSQL instance whose URL holds a password, next to a working one;
    # debug logging, so httpx and SQLAlchemy say as much as they ever will
    extra = (f'[[instances]]\nname = "lab-pg"\n'
             f'url = "postgresql+psycopg://syncd:{DB_PASSWORD_CANARY}@127.0.0.1:1/lab"\n\n'
             '[log]\nlevel = "debug"\n')
    daemon = spawn(write_config(tmp_path, hub, ["lab-a"], extra=extra))
    until(lambda: daemon.metric("syncd_runs_total", instance="lab-pg", outcome="failed") >= 2,
          "two failed runs of lab-pg")
    body = daemon.get("/readyz").json()
    assert body["instances"]["lab-a"]["ready"]
    assert body["instances"]["lab-pg"]["last_error"]
    daemon.get("/metrics")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(15) == 0
    assert "debug" in {e.get("level") for e in daemon.events()}
    # the fixture's teardown checks both canaries against every byte printed or served


def test_two_shards_split_the_instances(tmp_path: Path, hub: RunningHub, spawn: Callable[..., Daemon]) -> None:
    names = [f"lab-{i}" for i in range(6)]
    config = write_config(tmp_path, hub, names)
    first = spawn(config, "--shard", "0/2", name="shard0")
    second = spawn(config, "--shard", "1/2", name="shard1")
    until(first.ready, "shard 0 ready")
    until(second.ready, "shard 1 ready")
    owned0 = set(first.get("/readyz").json()["instances"])
    owned1 = set(second.get("/readyz").json()["instances"])
    assert owned0 | owned1 == set(names)
    assert not owned0 & owned1
    assert owned0
    assert owned1
    for daemon, owned in ((first, owned0), (second, owned1)):
        synced = {e["instance"] for e in daemon.events() if e.get("event") == "sync.instance_done"}
        assert synced == owned
    for daemon in (first, second):
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
