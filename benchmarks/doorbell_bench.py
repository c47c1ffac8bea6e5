"""The doorbell's benchmark: how long a hub change takes to reach every instance (prints figures).

    python benchmarks/doorbell_bench.py [--changes 50] [--off-changes 50] [--idle-seconds 120] [--pg URL]

Starts the bundled hub emulator in this process (sample data: 25 spaces, 500
blocks) and, per scenario, ``syncd serve`` as a child process with the
default ``interval_seconds = 60`` (and the default 5 s jitter) over two fresh
SQLite instances and one fresh PostgreSQL database (created on ``--pg``'s
server and dropped afterwards; left out, saying so, when the server is
unreachable). Once every instance has had its first sync (and the doorbell
is up, when on), it makes changes on the hub (renames, new blocks, edited
blocks, tombstones in turn) at random gaps of 0.3 to 1.5 s and measures, per
change and instance, the wall time from the change on the hub to the row
being readable in the instance database (each database polled every 20 ms).

Scenarios: the doorbell on; 30 % of events dropped by the emulator; the
doorbell off (``[hub] realtime = "off"``). In the first, before any change
(the sample rows are a day old, so past the lookback window, as on a quiet
hub), the hub's REST requests per minute over ``--idle-seconds``. No row is
changed twice in one scenario (a second change would hide the first).

Prints p50, p95 and max per scenario and PASS/MISS per target: p95 <= 1 s with
the doorbell; every change within interval + 10 s when events are dropped;
idle REST requests no more than one per resource per interval.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from syncd.core.models import Resource
from syncd.hubsim import HubStore, RunningHub, generate_sample, running_hub
from syncd.watch import Tracker, make_change

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "doorbell-bench-token"
INTERVAL = 60.0
POLL = 0.02


def _wait(predicate: Any, what: str, deadline: float) -> Any:
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise SystemExit(f"timed out after {deadline:.0f}s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def pg_database(server: str | None) -> Iterator[str | None]:
    if not server:
        yield None
        return
    name = f"syncd_doorbell_bench_{os.getpid()}"
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL left out: {type(exc).__name__}: {exc}".strip())
        yield None
        return
    try:
        yield f"{server.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_pg(url: str) -> None:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


class Serve:
    """One ``syncd serve`` child process, its log in a file."""

    def __init__(self, work: Path, hub: RunningHub, instances: dict[str, str], realtime: str) -> None:
        lines = [f'[hub]\nurl = "{hub.url}"\nrealtime = "{realtime}"\n',
                 f"[schedule]\ninterval_seconds = {INTERVAL:g}\n",
                 '[health]\nlisten = "127.0.0.1:0"\n', '[log]\nformat = "json"\n']
        lines += [f'[[instances]]\nname = "{n}"\nurl = "{u}"\n' for n, u in instances.items()]
        self.config = work / f"syncd-{realtime}.toml"
        self.config.write_text("\n".join(lines))
        self.log = work / f"serve-{realtime}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "NOTIFY_"))}
        env.update({"SYNCD_HUB_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)})
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())",
                 "serve", "--config", str(self.config)], stdout=out, stderr=subprocess.STDOUT, env=env)

    def _event(self, name: str) -> dict[str, Any] | None:
        for line in self.log.read_text(errors="replace").splitlines():
            with suppress(ValueError):
                event = json.loads(line)
                if event.get("event") == name:
                    return dict(event)
        if self.proc.poll() is not None:
            raise SystemExit(f"syncd serve exited {self.proc.returncode}:\n{self.log.read_text()}")
        return None

    def readyz(self) -> dict[str, Any]:
        started = _wait(lambda: self._event("daemon.started"), "daemon.started", 60)
        return dict(httpx.get(f"http://{started['listen']}/readyz", timeout=5).json())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def measure(hub: RunningHub, instances: dict[str, str], changes: int, rng: random.Random,
            deadline: float) -> tuple[list[float], int]:
    """Make ``changes`` changes at random gaps; each (change, instance) latency, and how many never landed."""
    tracker = Tracker(instances)
    latencies: list[float] = []
    next_change = time.monotonic()
    made = 0
    stop_at: float | None = None
    touched: set[object] = set()
    try:
        while True:
            now = time.monotonic()
            if made < changes and now >= next_change:
                probe = make_change(hub.store, rng, made, touched=touched)
                tracker.add(made, probe, time.monotonic())
                made += 1
                next_change = now + rng.uniform(0.3, 1.5)
                if made == changes:
                    stop_at = time.monotonic() + deadline
            latencies.extend(landing.seconds for landing in tracker.poll())
            if made == changes and (not tracker.outstanding or (stop_at and time.monotonic() > stop_at)):
                for number, instance, _ in tracker.outstanding:
                    print(f"never landed: #{number} in {instance}")
                return latencies, len(tracker.outstanding)
            time.sleep(POLL)
    finally:
        tracker.close()


def scenario(name: str, work: Path, hub: RunningHub, instances: dict[str, str], *, realtime: str,
             changes: int, rng: random.Random, drop: float = 0.0,
             idle_seconds: float = 0.0) -> dict[str, Any]:
    for url in instances.values():
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        else:
            _reset_pg(url)
    hub.app.realtime.faults.clear()
    serve = Serve(work, hub, instances, realtime)
    try:
        def ready() -> bool:
            body = serve.readyz()
            bells = body.get("doorbell", {}).values()
            return body["status"] == "ready" and (realtime == "off" or all(b["up"] for b in bells))

        _wait(ready, f"{name}: first sync", 120)
        result: dict[str, Any] = {"name": name}
        if idle_seconds:
            # before any change: every row is older than the lookback window, as on a quiet hub
            time.sleep(5)  # the subscription's pull ends
            hub.app.stats.reset()
            time.sleep(idle_seconds)
            requests = sum(sum(c.values()) for c in hub.app.stats.snapshot().values())
            result["idle_per_minute"] = requests * 60.0 / idle_seconds
        hub.app.realtime.faults.update({"drop_rate": drop, "seed": 15})
        result["latencies"], result["missing"] = measure(hub, instances, changes, rng, INTERVAL + 30)
        body = serve.readyz()
        result["doorbell"] = list(body.get("doorbell", {}).values())
        return result
    finally:
        serve.stop()


def report(results: list[dict[str, Any]], n_instances: int) -> bool:
    ok = True
    print(f"\n{'scenario':<22}{'samples':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>10}{'missing':>9}")
    for r in results:
        lat = [x * 1000 for x in r["latencies"]]
        print(f"{r['name']:<22}{len(lat):>8}{statistics.median(lat):>9.0f}{_percentile(lat, 0.95):>9.0f}"
              f"{max(lat):>10.0f}{r['missing']:>9}")
    on, dropped = results[0], results[1]
    checks = [
        ("p95 <= 1 s with the doorbell", _percentile(on["latencies"], 0.95) <= 1.0 and not on["missing"]),
        (f"every change within {INTERVAL + 10:g} s with 30 % of events dropped",
         not dropped["missing"] and max(dropped["latencies"]) <= INTERVAL + 10),
    ]
    idle = on.get("idle_per_minute")
    if idle is not None:
        print(f"\nidle hub REST requests per minute (doorbell on, 1 group): {idle:.2f}")
        checks.append(("idle REST requests <= 1 per resource per interval", idle <= 2 * 60 / INTERVAL + 1e-9))
    for r in results:
        for bell in r["doorbell"]:
            print(f"{r['name']}: doorbell {bell.get('state')}, events {bell.get('events')}, "
                  f"pulls {bell.get('pulls_by_reason')}, reconnects {bell.get('reconnects')}")
    print(f"\ninstances: {n_instances}; interval_seconds = {INTERVAL:g}")
    for label, passed in checks:
        print(f"{'PASS' if passed else 'MISS'}  {label}")
        ok = ok and passed
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--off-changes", type=int, default=50, help="changes with the doorbell off")
    parser.add_argument("--idle-seconds", type=float, default=120.0)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    store = HubStore(seed=21)
    sample = generate_sample(spaces=25, blocks=500, seed=21, until=store.now() - timedelta(days=1))
    store.load(Resource.SPACE, sample.spaces)
    store.load(Resource.SPACE_BLOCK, sample.blocks)
    rng = random.Random(21)
    with (tempfile.TemporaryDirectory(prefix="doorbell-bench-") as tmp, pg_database(args.pg) as pg,
          running_hub(store, tokens={TOKEN: "all"}) as hub):
        work = Path(tmp)
        instances = {name: f"sqlite:///{work / name}.db" for name in ("bench-a", "bench-b")}
        if pg:
            instances["bench-pg"] = pg
        print(f"emulator {hub.url}; instances: {', '.join(instances)}")
        results = [
            scenario("doorbell on", work, hub, instances, realtime="auto", changes=args.changes, rng=rng,
                     idle_seconds=args.idle_seconds),
            scenario("30% events dropped", work, hub, instances, realtime="auto", changes=args.changes,
                     rng=rng, drop=0.3),
            scenario("doorbell off", work, hub, instances, realtime="off", changes=args.off_changes, rng=rng),
        ]
    return 0 if report(results, len(instances)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
