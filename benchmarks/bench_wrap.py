"""Run one command and report its own wall time, CPU time and peak RSS as JSON.

    python -I -S benchmarks/bench_wrap.py RESULT.json COMMAND [ARG ...]

Why a wrapper: on Linux a child's ``ru_maxrss`` is at least the RSS of the
process that forked it (the parent's pages are counted until ``exec``), so a
benchmark process holding httpx and SQLAlchemy would inflate every figure. This
wrapper imports almost nothing, so the command it starts is measured on its
own. Exits with the command's exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    result_path, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here, not by Popen
    cpu = usage.ru_utime + usage.ru_stime
    report = {"wall": wall, "cpu": cpu, "maxrss_kib": usage.ru_maxrss, "exit": code}
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(report, out)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main())
