"""Measured child processes and the emulator process, for the benchmark.

:func:`run_measured` starts one command under ``bench_wrap.py``, a tiny
process that reaps it with :func:`os.wait4`, so the peak RSS is that
command's own (``ru_maxrss``): neither a maximum over every child the
benchmark ever had, nor inflated by the benchmark's own pages. :class:`HubProcess` runs ``syncd hubsim`` as a
separate process, so the emulator's CPU and memory are never charged to the
measured process, and by default ``fast_hub.py`` in front of it (another
process), which serves every page of the change streams from memory: the
measured clients then wait on their own work, not on the emulator's queries.
"""

from __future__ import annotations

import json
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

_WRAPPER = Path(__file__).resolve().parent / "bench_wrap.py"
_FAST_HUB = Path(__file__).resolve().parent / "fast_hub.py"


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


def run_measured(
    label: str, cmd: Sequence[str], *, env: Mapping[str, str], log: Path, timeout: float = 1800.0
) -> Measured:
    """Run ``cmd`` to completion under ``bench_wrap.py``; stdout and stderr go to ``log`` and ``log.err``.

    The wrapper times the command and reads its ``ru_maxrss`` (see bench_wrap.py for why a wrapper).
    """
    result_path = Path(f"{log}.rusage.json")
    result_path.unlink(missing_ok=True)
    wrapped = [sys.executable, "-I", "-S", str(_WRAPPER), str(result_path), *cmd]
    with open(log, "wb") as out, open(f"{log}.err", "wb") as err:
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=dict(env), start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return Measured(label, timeout, 0.0, 0.0, -9, detail="timed out")
    if not result_path.exists():
        return Measured(label, 0.0, 0.0, 0.0, proc.returncode, detail="no measurement (wrapper failed)")
    report = json.loads(result_path.read_text(encoding="utf-8"))
    # Linux reports ru_maxrss in KiB
    return Measured(label, report["wall"], report["cpu"], report["maxrss_kib"] / 1024.0, report["exit"])


class HubProcess:
    """``syncd hubsim`` with generated sample data and the admin API, in its own process.

    With ``fast`` (the default) ``fast_hub.py`` runs in front of it and :attr:`url` is the fast
    hub's: every page of both change streams is fetched once before :meth:`__enter__` returns
    and then served from memory; :attr:`upstream_url` is the emulator's own address.
    """

    def __init__(
        self,
        *,
        spaces: int,
        blocks: int,
        content_size: int,
        seed: int,
        env: Mapping[str, str],
        log: Path,
        fast: bool = True,
        token: str = "hubsim-token",
    ) -> None:
        self.args = [
            "hubsim",
            "--port",
            "0",
            "--spaces",
            str(spaces),
            "--blocks",
            str(blocks),
            "--content-size",
            str(content_size),
            "--seed",
            str(seed),
            "--admin",
        ]
        self.env = dict(env)
        self.log = log
        self.fast = fast
        self.token = token
        self.url = ""
        self.upstream_url = ""
        self.served = ""
        self.startup_seconds = 0.0
        self._procs: list[subprocess.Popen[str]] = []

    def _start(self, cmd: list[str], log: Path, prefix: str) -> str:
        with open(log, "wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=self.env, text=True)
        self._procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(prefix):
            self.__exit__(None, None, None)
            raise RuntimeError(f"{cmd[0]} did not start (see {log}): {line!r}")
        return line.strip()

    def __enter__(self) -> HubProcess:
        started = time.perf_counter()
        line = self._start([*syncd_cmd(), *self.args], self.log, "hubsim url=")
        self.url = self.upstream_url = line.split()[1].removeprefix("url=")
        if self.fast:
            cmd = [sys.executable, str(_FAST_HUB), "--upstream", self.upstream_url, "--token", self.token]
            line = self._start(cmd, Path(f"{self.log}.fast"), "fasthub url=")
            self.url = line.split()[1].removeprefix("url=")
            self.served = line.removeprefix("fasthub ").split(" ", 1)[1]
        self.startup_seconds = time.perf_counter() - started
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs = []

    def reset_stats(self) -> None:
        httpx.delete(f"{self.url}/_sim/stats", timeout=10).raise_for_status()

    def stats(self) -> dict[str, object]:
        response = httpx.get(f"{self.url}/_sim/stats", timeout=10)
        response.raise_for_status()
        stats: dict[str, object] = response.json()
        return stats

    def requests(self) -> dict[str, int]:
        """Requests served since the last reset, per resource (every status)."""
        counts = self.stats()["requests"]
        assert isinstance(counts, dict)
        return {resource: sum(by_status.values()) for resource, by_status in counts.items()}

    def forwarded(self) -> int:
        """Requests since the last reset the fast hub passed to the emulator (0 without a fast hub)."""
        return int(str(self.stats().get("forwarded", 0))) if self.fast else 0
