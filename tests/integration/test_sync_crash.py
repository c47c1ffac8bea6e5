"""kill -9 in the middle of ``syncd run-once``: nothing lost, nothing duplicated, the next run converges.

The emulator runs in this process with a little latency per request, so a run
of ~40 pages takes long enough to be killed part-way. The test polls the
instance database for committed pages instead of sleeping a fixed time.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from syncd.core.models import Resource
from syncd.hubsim import Faults, HubStore, ManualClock, populate
from tests.support.builders import TOKEN
from tests.support.syncenv import (
    START,
    assert_in_step,
    bookkeeping_counts,
    cli_command,
    cli_env,
    count,
    emulator,
    hub_live_blocks,
    run_cli,
    summary_of,
    write_config,
)

BLOCKS = 4000
PAGE = 100


def committed_blocks(url: str) -> int:
    try:
        return count(url, "lamindb_spaceblock")
    except DBAPIError:  # not bootstrapped yet, or the writer holds the lock for a moment
        return 0


def kill_after(url: str, config: Path, cwd: Path, at_least: int) -> int:
    """Start ``syncd run-once``, SIGKILL it once ``at_least`` blocks are committed; return the count then."""
    child = subprocess.Popen(cli_command(["run-once", "--config", str(config)]), env=cli_env(TOKEN), cwd=cwd,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while committed_blocks(url) < at_least:
            assert child.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no progress within 60 s"
            time.sleep(0.01)  # polling the database, not waiting for a guess
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return committed_blocks(url)


def check_whole(url: str) -> None:
    """Whatever was committed is consistent: every block has its map entry and vice versa."""
    counts = bookkeeping_counts(url)
    assert counts["syncd_block_map"] == count(url, "lamindb_spaceblock")
    assert counts["syncd_space_map"] == count(url, "lamindb_space") - 1


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_kill_9_mid_run_then_a_run_that_converges(tmp_path: Path, dialect: str,
                                                  request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path}/a.db" if dialect == "sqlite" else request.getfixturevalue("pg_url")
    store = HubStore(clock=ManualClock(START), seed=1000)
    populate(store, spaces=20, blocks=BLOCKS, content_size=200, seed=9)
    with emulator(store, faults=Faults(latency_ms=15)) as hub:
        # three pages per transaction: a kill can land between pages of one uncommitted transaction
        config = write_config(tmp_path / "syncd.toml", hub.url, {"lab": url}, page_size=PAGE,
                              transaction_rows=3 * PAGE)
        seen = [kill_after(url, config, tmp_path, at_least) for at_least in (PAGE, 15 * PAGE)]
        assert 0 < seen[0] < seen[1] < len(hub_live_blocks(store))  # both kills landed mid-run
        check_whole(url)
        hub.faults.clear()
        done = run_cli(["run-once", "--config", str(config)], TOKEN, tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [report] = summary_of(done.stdout)["instances"]
    live = hub_live_blocks(store)
    # the last run resumed: it inserted only what the killed runs had not committed
    assert report[Resource.SPACE_BLOCK.value]["inserted"] == len(live) - seen[1]
    assert count(url, "lamindb_spaceblock") == len(live)
    check_whole(url)
    assert_in_step(url, store)
