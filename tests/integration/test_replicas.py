"""Several `syncd serve` replicas share PostgreSQL instances with no static partition.

Every instance is synced, never by two replicas at once (checked in the
databases: a trigger logs each cursor write with the writing session), and
every replica is ready. A replica killed with SIGKILL mid-run loses its locks
with its connections and the others take its instances over; a replica paused
with SIGSTOP loses its sessions after ``lease_seconds`` and, resumed, never
writes again over what another replica committed meanwhile.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncd.hubsim import Faults, HubStore, RunningHub, populate, running_hub
from syncd.runner import run_sync
from syncd.settings import load_settings
from tests.support.postgres import create_pg_database, drop_pg_database
from tests.support.serving import TOKEN_CANARY, Daemon, until
from tests.support.syncenv import assert_in_step, execute, fetch

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

AUDIT = """
CREATE TABLE audit (replica text, backend int, session text, at timestamptz);
CREATE FUNCTION audit_cursor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- a session is its backend pid and start time: the operating system reuses pids
  INSERT INTO audit SELECT current_setting('application_name'), pg_backend_pid(),
    pg_backend_pid() || '@' || backend_start, clock_timestamp()
    FROM pg_stat_activity WHERE pid = pg_backend_pid();
  RETURN NEW;
END $$;
CREATE TRIGGER audit_cursor AFTER INSERT OR UPDATE ON syncd_cursor FOR EACH ROW EXECUTE FUNCTION audit_cursor();
"""


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    store = HubStore(seed=11)
    populate(store, spaces=4, blocks=60, seed=11)
    faults = Faults(latency_ms=5)  # runs that take a while, so replicas meet
    with running_hub(store, tokens={TOKEN_CANARY: "all"}, faults=faults) as running:
        yield running


@pytest.fixture
def pg_urls() -> Iterator[list[str]]:
    urls = [create_pg_database("syncd_replica") for _ in range(4)]
    try:
        yield urls
    finally:
        for url in urls:
            drop_pg_database(url)


def _config(tmp: Path, hub: RunningHub, urls: list[str], *, lease: float = 5.0) -> Path:
    instances = "".join(f'[[instances]]\nname = "pg{n}"\nurl = "{u}"\n\n' for n, u in enumerate(urls))
    path = tmp / "replicas.toml"
    path.write_text(f"""
[hub]
url = "{hub.url}"
retry_attempts = 2
retry_max_seconds = 2
timeout_seconds = 5

[sync]
page_size = 100
transaction_rows = 300
lock_timeout_seconds = 1
lease_seconds = {lease}

[schedule]
interval_seconds = 1
jitter_seconds = 0.5
max_backoff_seconds = 2
shutdown_grace_seconds = 10

[health]
listen = "127.0.0.1:0"
max_staleness_seconds = 30

{instances}""")
    return path


def _bootstrap(config: Path, urls: list[str]) -> None:
    """One in-process run creates the schemas; then each database logs its cursor writers."""
    settings = load_settings(config, {"SYNCD_HUB_TOKEN": TOKEN_CANARY})
    assert run_sync(settings, sleep=lambda _s: None).ok
    for url in urls:
        execute(url, AUDIT)


def _in_step(hub: RunningHub, urls: list[str]) -> bool:
    try:
        for url in urls:
            assert_in_step(url, hub.store)
    except AssertionError:
        return False
    return True


def _overlapping_writers(url: str) -> list[tuple[str, str]]:
    """Pairs of different replicas whose sessions wrote this instance's cursor in overlapping spans."""
    spans = fetch(url, "SELECT replica, session, min(at), max(at) FROM audit GROUP BY replica, session")
    clashes = []
    for a in spans:
        for b in spans:
            if a[0] < b[0] and a[2] <= b[3] and b[2] <= a[3]:
                clashes.append((a[0], b[0]))
    return clashes


@pytest.mark.parametrize("replicas", [2, 3])
def test_replicas_share_the_instances_and_are_all_ready(
    tmp_path: Path, hub: RunningHub, pg_urls: list[str], spawn: Callable[..., Daemon], replicas: int,
) -> None:
    config = _config(tmp_path, hub, pg_urls)
    _bootstrap(config, pg_urls)
    daemons = [spawn(config, "--replica-id", f"r{n}", name=f"r{n}") for n in range(replicas)]
    hub.store.bulk_import(1500, spread_seconds=5, content_size=100)
    until(lambda: _in_step(hub, pg_urls), "every instance in step", deadline=90)
    names = {f"r{i}" for i in range(replicas)}

    def reports_the_replicas_pulls(daemon: Daemon) -> bool:
        # every replica is ready and reports every instance's staleness from the instance's own
        # record, which names whichever replica pulled last (not the set-up run)
        response = daemon.get("/readyz")
        body = response.json()
        return response.status_code == 200 and all(
            body["instances"][f"pg{n}"]["in_step_by"] in names for n in range(len(pg_urls)))

    for daemon in daemons:
        until(lambda d=daemon: reports_the_replicas_pulls(d), f"{daemon.out.name} ready, "
              "reporting the replicas' pulls", deadline=60)
    writers = set()
    for url in pg_urls:
        assert _overlapping_writers(url) == []
        writers |= {r for (r,) in fetch(url, "SELECT DISTINCT replica FROM audit")}
    assert writers <= {f"syncd r{i}" for i in range(replicas)}


def test_a_replica_killed_mid_run_is_taken_over(
    tmp_path: Path, hub: RunningHub, pg_urls: list[str], spawn: Callable[..., Daemon],
) -> None:
    config = _config(tmp_path, hub, pg_urls)
    _bootstrap(config, pg_urls)
    a, b = spawn(config, "--replica-id", "ra", name="ra"), spawn(config, "--replica-id", "rb", name="rb")
    until(lambda: a.ready() and b.ready(), "both replicas ready", deadline=60)
    hub.app.faults.update({"latency_ms": 30})  # a bulk change that takes seconds to pull
    hub.store.bulk_import(3000, spread_seconds=5, content_size=100)
    victim_name, _ = until(lambda: _holding_session(pg_urls[0]), "a replica holding pg0 mid-run", deadline=30)
    victim = a if victim_name == "syncd ra" else b
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)
    killed = time.monotonic()
    hub.app.faults.update({"latency_ms": 0})
    until(lambda: _in_step(hub, pg_urls), "the survivor to bring every instance in step", deadline=90)
    print(f"in step {time.monotonic() - killed:.1f} s after the kill")
    survivor = b if victim is a else a
    until(survivor.ready, "the survivor ready")
    for url in pg_urls:
        assert _overlapping_writers(url) == []


def test_a_paused_replica_never_writes_after_another_took_over(
    tmp_path: Path, hub: RunningHub, pg_urls: list[str], spawn: Callable[..., Daemon],
) -> None:
    url = pg_urls[0]
    config = _config(tmp_path, hub, [url], lease=5.0)
    _bootstrap(config, [url])
    a, b = spawn(config, "--replica-id", "ra", name="ra"), spawn(config, "--replica-id", "rb", name="rb")
    until(lambda: a.ready() and b.ready(), "both replicas ready", deadline=60)
    hub.app.faults.update({"latency_ms": 40})
    hub.store.bulk_import(3000, spread_seconds=5, content_size=100)
    held_by, session = until(lambda: _holding_session(url), "a replica holding the instance mid-run", deadline=30)
    paused, other = (a, "syncd rb") if held_by == "syncd ra" else (b, "syncd ra")
    # it is writing: its commits carry its session, spelled as the trigger spells it
    until(lambda: fetch(url, "SELECT 1 FROM audit WHERE session = :s", {"s": session}),
          "the holding session's first commit", deadline=30)
    os.kill(paused.proc.pid, signal.SIGSTOP)
    try:
        [(stopped_at,)] = fetch(url, "SELECT clock_timestamp()")
        hub.app.faults.update({"latency_ms": 0})
        # its session goes silent; after the lease the server ends it and the other replica takes over
        until(lambda: fetch(url, "SELECT 1 FROM audit WHERE replica = :r AND at > :t", {"r": other, "t": stopped_at}),
              "the other replica writing after the pause", deadline=60)
        until(lambda: _in_step(hub, [url]), "the instance in step", deadline=60)
    finally:
        os.kill(paused.proc.pid, signal.SIGCONT)
    # resumed, the paused replica carries on where it stopped; the changes keep coming
    home = next(r["id"] for r in hub.store.rows("space") if r["deleted_at"] is None)
    hub.store.bulk_import(200, space_id=home, spread_seconds=1, content_size=50)
    until(lambda: _in_step(hub, [url]), "the instance in step after more changes", deadline=60)
    until(lambda: paused.metric("syncd_runs_total") >= 3, "the resumed replica ticking again", deadline=30)
    # the session that held the lock when it was paused never wrote again
    assert fetch(url, "SELECT count(*) FROM audit WHERE session = :s AND at > :t",
                 {"s": session, "t": stopped_at}) == [(0,)]
    assert _overlapping_writers(url) == []


def _holding_session(url: str) -> tuple[str, str] | None:
    """(application_name, session) of the session holding syncd's lock on this instance, if any.

    The session is spelled as the audit trigger spells it: backend pid and start time.
    """
    rows = fetch(url, """
        SELECT a.application_name, a.pid || '@' || a.backend_start FROM pg_locks l
        JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
            SELECT oid FROM pg_database WHERE datname = current_database())""")
    return (rows[0][0], rows[0][1]) if rows else None
