"""Measured child processes and the emulator process, for the benchmark.

:func:`run_measured` starts one command and reaps it with :func:`os.wait4`, so
the peak RSS is that child's own (``ru_maxrss``), not a maximum over every
child the benchmark ever had. :class:`HubProcess` runs ``syncd hubsim`` as a
separate process, so the emulator's CPU and memory are never charged to the
measured process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["HubProcess", "Measured", "python_cmd", "run_measured", "syncd_cmd"]


@dataclass
class Measured:
    """One measured process: whole-process wall time, its CPU time (user + system), peak RSS, exit code."""

    label: str
    wall: float
    cpu: float
    rss_mb: float
    exit_code: int
    requests: int | None = None
    detail: str = ""


def syncd_cmd() -> list[str]:
    """How to start the installed ``syncd`` console script (the way users run it)."""
    script = Path(sys.executable).parent / "syncd"
    if script.exists():
        return [str(script)]
    found = shutil.which("syncd")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]


def python_cmd(*args: str) -> list[str]:
    return [sys.executable, *args]


def run_measured(label: str, cmd: Sequence[str], *, env: Mapping[str, str], log: Path,
                 timeout: float = 1800.0) -> Measured:
    """Run ``cmd`` to completion; stdout and stderr go to ``log`` (and ``log`` + ``.err``)."""
    with open(log, "wb") as out, open(f"{log}.err", "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=dict(env))
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    # Linux reports ru_maxrss in KiB
    return Measured(label, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, proc.returncode)


class HubProcess:
    """``syncd hubsim`` with generated sample data and the admin API, in its own process."""

    def __init__(self, *, spaces: int, blocks: int, content_size: int, seed: int, env: Mapping[str, str],
                 log: Path) -> None:
        self.args = [
            "hubsim", "--port", "0", "--spaces", str(spaces), "--blocks", str(blocks),
            "--content-size", str(content_size), "--seed", str(seed), "--admin",
        ]
        self.env = dict(env)
        self.log = log
        self.url = ""
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> HubProcess:
        started = time.perf_counter()
        with open(self.log, "wb") as err:
            self._proc = subprocess.Popen([*syncd_cmd(), *self.args], stdout=subprocess.PIPE, stderr=err,
                                          env=self.env, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("hubsim url="):
            self.__exit__(None, None, None)
            raise RuntimeError(f"hubsim did not start (see {self.log}): {line!r}")
        self.url = line.split()[1].removeprefix("url=")
        self.startup_seconds = time.perf_counter() - started
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()

    def reset_stats(self) -> None:
        httpx.delete(f"{self.url}/_sim/stats", timeout=10).raise_for_status()

    def requests(self) -> dict[str, int]:
        """Requests served since the last reset, per resource (every status)."""
        response = httpx.get(f"{self.url}/_sim/stats", timeout=10)
        response.raise_for_status()
        counts: dict[str, dict[str, int]] = response.json()["requests"]
        return {resource: sum(by_status.values()) for resource, by_status in counts.items()}
