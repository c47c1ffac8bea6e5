"""`syncd serve` as a child process with the doorbell up: SIGTERM ends it cleanly within the grace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.hubsim import HubStore, RunningHub, populate, running_hub
from tests.support.serving import until

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "doorbell-process-token-7f3a"
DEADLINE = 30.0
GRACE = 10.0

pytestmark = pytest.mark.slow


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    store = HubStore(seed=3)
    populate(store, spaces=3, blocks=30, seed=3)
    with running_hub(store, tokens={TOKEN: "all"}) as running:
        yield running


def events(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_sigterm_with_the_doorbell_up_exits_within_the_grace(tmp_path: Path, hub: RunningHub) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text(f"""
[hub]
url = "{hub.url}"

[schedule]
interval_seconds = 3600
jitter_seconds = 0
shutdown_grace_seconds = {GRACE}

[health]
listen = "127.0.0.1:0"

[log]
format = "json"

[[instances]]
name = "proc-a"
url = "sqlite:///{tmp_path / 'proc-a.db'}"
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "NOTIFY_", "WATCHDOG_"))}
    env.update({"SYNCD_HUB_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)})
    out_path, err_path = tmp_path / "serve.out", tmp_path / "serve.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())",
             "serve", "--config", str(config)], stdout=out, stderr=err, env=env, cwd=tmp_path)
    try:
        started = until(lambda: next((e for e in events(out_path) if e.get("event") == "daemon.started"), None)
                        or (proc.poll() is not None and pytest.fail(err_path.read_text())), "daemon.started")

        def doorbell_up() -> bool:
            body = httpx.get(f"http://{started['listen']}/readyz", timeout=5).json()
            return any(b["up"] for b in body.get("doorbell", {}).values())

        until(doorbell_up, "the doorbell up in /readyz")
        assert hub.app.realtime.snapshot()["connections"] == 1, hub.app.realtime.snapshot()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=GRACE + 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    log = out_path.read_text(errors="replace")[-4000:] + err_path.read_text(errors="replace")[-4000:]
    assert code == 0, log
    names = [e.get("event") for e in events(out_path)]
    assert "daemon.stopped" in names and "daemon.grace_expired" not in names, log
    until(lambda: hub.app.realtime.snapshot()["connections"] == 0, "the emulator to see the socket closed")
    assert TOKEN not in out_path.read_text() + err_path.read_text()
