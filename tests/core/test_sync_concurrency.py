"""Two syncd runs on the same instance never interleave writes: the second waits, or says it is locked.

On SQLite and on PostgreSQL; as two processes (the real case: a timer and a
person running ``syncd run-once``) and as two threads of one process.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from syncd.core.models import Resource
from syncd.core.report import RunReport
from syncd.hubsim import Faults, HubStore, ManualClock, populate
from syncd.store.engine import create_instance_engine
from syncd.store.lock import instance_lock
from tests.support.builders import TOKEN, settings_for
from tests.support.syncenv import (
    START,
    assert_in_step,
    cli_command,
    cli_env,
    count,
    emulator,
    summary_of,
    sync,
    write_config,
)

CONSTRAINT_WORDS = ("UNIQUE constraint", "duplicate key", "IntegrityError", "UniqueViolation")


@pytest.fixture(params=["sqlite", "postgresql"])
def instance_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db"
    return str(request.getfixturevalue("pg_url"))


def sample_store(blocks: int = 1500) -> HubStore:
    store = HubStore(clock=ManualClock(START), seed=1000)
    populate(store, spaces=10, blocks=blocks, content_size=100, seed=4)
    return store


def committed(url: str) -> int:
    try:
        return count(url, "lamindb_spaceblock")
    except DBAPIError:
        return 0


def wait_for_progress(url: str, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while committed(url) == 0:
        assert child.poll() is None, "the first run ended before the second started"
        assert time.monotonic() < deadline
        time.sleep(0.01)  # polling the database


def start(config: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(cli_command(["run-once", "--config", str(config)]), env=cli_env(TOKEN), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_processes_on_one_instance_the_second_waits(tmp_path: Path, instance_url: str) -> None:
    store = sample_store()
    # slow pages (30 of them) keep the first run going for seconds after its first commit, so the
    # second one starts while the first still holds the lock, however loaded the machine
    with emulator(store, faults=Faults(latency_ms=100)) as hub:
        config = write_config(tmp_path / "syncd.toml", hub.url, {"lab": instance_url}, page_size=50,
                              lock_timeout_seconds=60)
        first = start(config, tmp_path)
        wait_for_progress(instance_url, first)
        second = start(config, tmp_path)  # starts while the first one is writing
        assert first.poll() is None
        outputs = [p.communicate(timeout=120) for p in (first, second)]
    for process, (out, err) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, out[-2000:] + err[-2000:]
        assert not any(word in out + err for word in CONSTRAINT_WORDS)
    first_report, second_report = (summary_of(out)["instances"][0] for out, _ in outputs)
    # the second run waited for the lock, then found the first one's work done
    assert first_report["space_block"]["inserted"] > 0
    assert second_report["space_block"]["inserted"] == 0
    assert_in_step(instance_url, store)


def test_a_second_run_that_may_not_wait_reports_the_instance_locked(tmp_path: Path, instance_url: str) -> None:
    store = sample_store(blocks=30)
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"lab": instance_url}, lock_timeout_seconds=0)
        engine = create_instance_engine(instance_url)
        try:
            with engine.connect() as conn, instance_lock(conn, instance_url, timeout=0):
                report = sync(settings).instances[0]
                assert report.outcome == "failed"
                assert report.error_kind == "locked"
                assert "another syncd process" in (report.error or "")
        finally:
            engine.dispose()
        assert committed(instance_url) == 0
        assert sync(settings).ok  # the lock is gone with its holder
    assert_in_step(instance_url, store)


def test_two_threads_on_one_instance(tmp_path: Path, instance_url: str) -> None:
    store = sample_store(blocks=400)
    reports: list[RunReport] = []
    with emulator(store, faults=Faults(latency_ms=2)) as hub:
        settings = settings_for(hub.url, {"lab": instance_url}, page_size=20, lock_timeout_seconds=60)
        threads = [threading.Thread(target=lambda: reports.append(sync(settings))) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(reports) == 2
    assert all(r.ok for r in reports), [r.instances[0].error for r in reports]
    inserted = sorted(r.instances[0].count(Resource.SPACE_BLOCK, "inserted") for r in reports)
    assert inserted[0] == 0 < inserted[1]  # one did the work, the other waited and found it done
    assert_in_step(instance_url, store)
