"""`syncd serve` as a real subprocess: start it, poll it, signal it (shared by the process tests).

Every started daemon is killed at the end of its test, and whatever happened,
no canary secret may appear in its output or in a body it served.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN_CANARY = "hubtok-canary-5c1e7d2b9a"  # a test token that must never be printed
DB_PASSWORD_CANARY = "dbpw-canary-71b3f0e4"
DEADLINE = 30.0



def until(predicate: Callable[[], object], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:.0f}s waiting for {what}")
        threading.Event().wait(0.05)


@dataclass
class Daemon:
    """One `syncd serve` process; its stdout/stderr go to files (no pipe to fill up)."""

    tmp: Path
    config: Path
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path
    bodies: list[str] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        lines = self.out.read_text(errors="replace").splitlines()
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except ValueError:
                continue
        return parsed

    def event(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events() if e.get("event") == name), None)

    @property
    def base(self) -> str:
        started = until(lambda: self.event("daemon.started") or self._died(), "daemon.started")
        return f"http://{started['listen']}"

    def _died(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"syncd serve exited with {self.proc.returncode}:\n{self.output()}")

    def get(self, path: str) -> httpx.Response:
        response = httpx.get(self.base + path, timeout=5)
        self.bodies.append(response.text)
        return response

    def ready(self) -> bool:
        return self.get("/readyz").status_code == 200

    def metric(self, name: str, **labels: str) -> float:
        text = self.get("/metrics").text
        total = 0.0
        for line in text.splitlines():
            labelled = line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
            if labelled or (line.startswith(name + " ") and not labels):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def check(self) -> subprocess.CompletedProcess[str]:
        """`syncd check` in its own process, pointed at this daemon's port."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
        env.update({"SYNCD_HEALTH_LISTEN": self.base.removeprefix("http://"), "PYTHONPATH": str(ROOT),
                    "CREDENTIALS_DIRECTORY": str(self.tmp / "credentials")})
        return subprocess.run(
            [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())",
             "check", "--config", str(self.config)],
            capture_output=True, text=True, env=env, check=False, timeout=DEADLINE,
        )

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "hub-token").write_text(TOKEN_CANARY + "\n")

    def start(config: Path, *args: str, env: dict[str, str] | None = None, name: str = "serve") -> Daemon:
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("NOTIFY_", "WATCHDOG_", "SYNCD_", "CREDENTIALS_"))}
        environ.update({"CREDENTIALS_DIRECTORY": str(credentials), "PYTHONPATH": str(ROOT)})
        environ.update(env or {})
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                # python -m syncd: the console command's own entry point, as an operator starts it
                [sys.executable, "-m", "syncd", "serve", "--config", str(config), *args],
                stdout=stdout, stderr=stderr, env=environ, cwd=tmp_path,
            )
        daemon = Daemon(tmp_path, config, proc, out, err)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(10)
        # whatever happened, no secret ever reached the output or an endpoint
        everything = daemon.output() + "".join(daemon.bodies)
        assert TOKEN_CANARY not in everything
        assert DB_PASSWORD_CANARY not in everything


class Lines(io.StringIO):
    """Output that signals when the CLI has printed its line."""

    def __init__(self) -> None:
        super().__init__()
        self.printed = threading.Event()

    def write(self, text: str) -> int:
        count = super().write(text)
        if "\n" in text:
            self.printed.set()
        return count
