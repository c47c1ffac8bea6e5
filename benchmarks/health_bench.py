"""The health port under load: share of requests answered, and how fast.

Runs the daemon's health server (:func:`syncd.daemon.health.start_health_server`
with its default bounds) in a child process, so the clients below do not
share its interpreter, and prints two scenarios:

1. ``--concurrent`` requests (default 500) for ``/livez`` opened at once;
2. ``--idle`` connections (default 500) that send a request line and never
   end their headers, held open while ``--probes`` (default 50) requests for
   ``/livez`` are made at once.

Both ask ``/livez``, which answers 200 while the daemon lives: a 503 is a
refusal by the server's bounds. For each: how many requests were answered
within ``--within`` seconds (default 30), with which status, and the
50th/95th percentile and maximum time to the answer.

    python benchmarks/health_bench.py
    python benchmarks/health_bench.py --concurrent 1000 --idle 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter

_CHILD = """
import sys, time
from syncd.logs import configure_logging
configure_logging(level="warning", fmt="json", stream=sys.stderr)
from syncd.daemon.health import HealthState, health_app, start_health_server
from syncd.daemon.metrics import Metrics
state = HealthState(["lab"], 60.0)
state.set_phase("running")
server, _thread = start_health_server(health_app(state, Metrics()), "127.0.0.1", 0)
print(server.server_port, flush=True)
sys.stdin.readline()
print(__import__("json").dumps(server.stats()), flush=True)
"""


async def _request(port: int, path: str, within: float) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            await writer.drain()
            line = await reader.readline()
            writer.close()
    except TimeoutError:
        return "no answer", time.perf_counter() - started
    except OSError as exc:
        return type(exc).__name__, time.perf_counter() - started
    status = line.split(b" ")[1].decode() if line.count(b" ") >= 2 else "closed"
    return status, time.perf_counter() - started


async def _idle(port: int) -> asyncio.StreamWriter | None:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    writer.write(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return writer


def _print(label: str, results: list[tuple[str, float]], within: float) -> None:
    answered = [t for status, t in results if status in ("200", "503")]
    counts = Counter(status for status, _ in results)
    times = sorted(answered)
    p50 = statistics.median(times) if times else float("nan")
    p95 = times[max(0, int(len(times) * 0.95) - 1)] if times else float("nan")
    print(f"{label}: {len(answered)}/{len(results)} answered within {within:g} s "
          f"({100 * len(answered) / len(results):.1f} %); statuses {dict(counts)}")
    if times:
        print(f"  time to answer: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
              f"max {times[-1] * 1000:.1f} ms")


async def _scenarios(port: int, args: argparse.Namespace) -> None:
    results = await asyncio.gather(*(_request(port, "/livez", args.within) for _ in range(args.concurrent)))
    _print(f"{args.concurrent} concurrent /livez", list(results), args.within)

    held = [w for w in await asyncio.gather(*(_idle(port) for _ in range(args.idle))) if w is not None]
    probes = await asyncio.gather(*(_request(port, "/livez", args.within) for _ in range(args.probes)))
    _print(f"{args.probes} concurrent /livez while {len(held)} idle connections are held", list(probes),
           args.within)
    for writer in held:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--within", type=float, default=30.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.concurrent + args.idle + 100
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout is not None
    assert child.stdin is not None
    try:
        port = int(child.stdout.readline())
        asyncio.run(_scenarios(port, args))
        child.stdin.write("stats\n")
        child.stdin.flush()
        print(f"server counters: {json.loads(child.stdout.readline())}")
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    main()
