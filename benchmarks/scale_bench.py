"""How syncd's cost grows with the number of instances, and how replicas share them: figures printed.

    python benchmarks/scale_bench.py [--blocks 10000] [--counts 1,10,50] [--pg URL] [--replica-dbs 20]

Starts the bundled emulator (``syncd hubsim``, its own process) with
``--blocks`` blocks, then:

1. one process, N fresh SQLite instances for each N of ``--counts``: the
   initial ``syncd run-once`` and a no-change one, each its own measured
   process (wall time, peak RSS of that process);
2. two ``syncd serve`` replicas sharing ``--replica-dbs`` fresh PostgreSQL
   databases (created on ``--pg`` and dropped afterwards): the wall time until
   every one is in step, and which replica pulled each (from the instances'
   ``syncd_in_step`` records);
3. failover: the replica holding the first database's lock during a bulk
   change is killed with SIGKILL; the time until every database is in step
   again, against ``interval_seconds + lock_timeout_seconds``.

Targets (issue 18): each extra instance costs at most 0.5x the one-instance
sync time; peak RSS <= 150 MB + 2 MB per instance; a no-change run over 50
instances <= 2 s; failover within interval + lock timeout.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from bench_procs import HubProcess, Measured, run_measured, syncd_cmd
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

TOKEN = "hubsim-token"  # the emulator's public default token
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
INTERVAL, LOCK_TIMEOUT = 5.0, 2.0


def _config(path: Path, hub_url: str, urls: list[str], extra: str = "", *, sync: str = "") -> Path:
    lines = [f'[hub]\nurl = "{hub_url}"\n', "[sync]\npage_size = 1000\n" + sync, extra]
    lines += [f'[[instances]]\nname = "i{n:03d}"\nurl = "{u}"\n' for n, u in enumerate(urls)]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}, "SYNCD_HUB_TOKEN": TOKEN}


def one_process(
    hub: HubProcess, counts: list[int], work: Path, nochange_runs: int
) -> list[tuple[int, Measured, Measured]]:
    """Per N: the initial sync, and the no-change run of median wall time among ``nochange_runs``."""
    rows = []
    for n in counts:
        folder = work / f"n{n}"
        folder.mkdir()
        urls = [f"sqlite:///{folder}/i{k:03d}.db" for k in range(n)]
        config = _config(folder / "syncd.toml", hub.url, urls)
        cmd = [*syncd_cmd(), "run-once", "--config", str(config)]
        first = run_measured(f"initial x{n}", cmd, env=_env(), log=folder / "initial.log")
        agains = [
            run_measured(f"no-change x{n}", cmd, env=_env(), log=folder / f"again-{k}.log")
            for k in range(max(1, nochange_runs))
        ]
        again = sorted(agains, key=lambda m: m.wall)[len(agains) // 2]
        rows.append((n, first, again))
        print(f"  N={n:>3}: initial {first.wall:7.2f} s  no-change {again.wall:5.2f} s (median of "
              f"{', '.join(f'{m.wall:.2f}' for m in agains)})  peak RSS {first.rss_mb:6.1f} MB "
              f"(exit {first.exit_code}/{'/'.join(str(m.exit_code) for m in agains)})", flush=True)
    return rows


def _pg_databases(admin: str, count: int) -> list[str]:
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    names = [f"syncd_scale_{os.getpid()}_{k}" for k in range(count)]
    with engine.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    base = admin.rsplit("/", 1)[0]
    return [f"{base}/{name}" for name in names]


def _drop(admin: str, urls: list[str]) -> None:
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for url in urls:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    engine.dispose()


def _pullers(urls: list[str], since: datetime) -> list[str | None]:
    """Per database: the replica whose completed pull began (hub clock) at ``since`` or later, else None."""
    found: list[str | None] = []
    for url in urls:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT pull_started, replica FROM syncd_in_step")).all()
        except SQLAlchemyError:  # not bootstrapped yet
            rows = []
        finally:
            engine.dispose()
        done = len(rows) == 2 and all(datetime.fromisoformat(started) >= since for started, _ in rows)
        found.append(rows[0][1] if done else None)
    return found


def _after_now() -> datetime:
    """A moment that every pull beginning from now on is stamped at or after (Date has whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)


def _holder(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())")).scalar()
    finally:
        engine.dispose()


def replicas(hub: HubProcess, admin: str, dbs: int, work: Path) -> None:
    urls = _pg_databases(admin, dbs)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        extra = (f"[schedule]\ninterval_seconds = {INTERVAL}\njitter_seconds = 1\n\n"
                 '[health]\nlisten = "127.0.0.1:0"\n')
        config = _config(work / "replicas.toml", hub.url, urls, extra,
                         sync=f"lock_timeout_seconds = {LOCK_TIMEOUT}\n")
        started = time.perf_counter()
        since = _after_now()
        for name in ("r0", "r1"):
            with open(work / f"{name}.log", "wb") as log:
                cmd = [*syncd_cmd(), "serve", "--config", str(config), "--replica-id", name]
                procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env())
        while None in (pulled := _pullers(urls, since)):
            if time.perf_counter() - started > 900:
                raise RuntimeError("replicas did not bring every database in step within 900 s")
            time.sleep(0.5)
        took = time.perf_counter() - started
        share = Counter(pulled)
        print(f"  2 replicas x {dbs} PostgreSQL databases: all in step after {took:.1f} s; "
              f"last pulled by: {dict(sorted(share.items()))}", flush=True)
        # failover: kill the replica holding the first database during a bulk change
        httpx.post(f"{hub.url}/_sim/space_block/bulk", json={"n": 2000, "spread_seconds": 5},
                   timeout=30).raise_for_status()
        since = _after_now()
        deadline = time.perf_counter() + 60
        holder = None
        while holder is None and time.perf_counter() < deadline:
            holder = _holder(urls[0])
            time.sleep(0.05)
        if holder is None:
            print("  failover: no replica was seen holding the first database; not measured")
            return
        victim = holder.removeprefix("syncd ")
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait()
        killed = time.perf_counter()
        survivor = "syncd " + ("r1" if victim == "r0" else "r0")
        taken_over: float | None = None
        while None in _pullers(urls, since):
            if taken_over is None and _holder(urls[0]) == survivor:
                taken_over = time.perf_counter() - killed
            if time.perf_counter() - killed > 300:
                raise RuntimeError("the survivor did not bring every database in step within 300 s")
            time.sleep(0.05)
        in_step = time.perf_counter() - killed
        target = INTERVAL + LOCK_TIMEOUT
        took = f"{taken_over:.1f} s" if taken_over is not None else "not seen (a run shorter than a poll)"
        verdict = "MISS" if taken_over is None or taken_over > target else "PASS"
        print(f"  failover: {victim} killed with SIGKILL mid-run; the survivor held the first database "
              f"{took} later (target interval + lock timeout = {target:.0f} s): {verdict}; every database "
              f"in step with the rest of the bulk change {in_step:.1f} s after the kill", flush=True)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        _drop(admin, urls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--counts", default="1,10,50")
    parser.add_argument("--nochange-runs", type=int, default=3, help="no-change runs per N (median)")
    parser.add_argument("--pg", default=DEFAULT_PG)
    parser.add_argument("--replica-dbs", type=int, default=20)
    parser.add_argument("--no-replicas", action="store_true", help="skip parts 2 and 3 (PostgreSQL)")
    parser.add_argument("--slow-hub", action="store_true", help="use the emulator itself, not fast_hub.py")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory(prefix="syncd-scale-") as tmp:
        work = Path(tmp)
        with HubProcess(spaces=max(1, args.blocks // 50), blocks=args.blocks, content_size=500, seed=1,
                        env=_env(), log=work / "hubsim.log", fast=not args.slow_hub) as hub:
            print(f"hub: {args.blocks} blocks at {hub.url} {hub.served}", flush=True)
            print("1. one process, N SQLite instances", flush=True)
            rows = one_process(hub, counts, work, args.nochange_runs)
            base = rows[0][1].wall
            print("\n| N | initial sync | per extra instance (x one-instance time) | no-change | peak RSS "
                  "| RSS target |")
            print("| --- | --- | --- | --- | --- | --- |")
            for n, first, again in rows:
                extra = "" if n == 1 else f"{(first.wall - base) / (n - 1) / base:.3f}x"
                rss_target = 150 + 2 * n
                print(f"| {n} | {first.wall:.2f} s | {extra} | {again.wall:.2f} s | {first.rss_mb:.0f} MB "
                      f"{'PASS' if first.rss_mb <= rss_target else 'MISS'} | {rss_target} MB |")
            if args.no_replicas:
                return 0
            print("\n2. replicas sharing PostgreSQL instances", flush=True)
            try:
                replicas(hub, args.pg, args.replica_dbs, work)
            except (SQLAlchemyError, RuntimeError, httpx.HTTPError) as exc:
                print(f"  not measured: {type(exc).__name__}: {exc}")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
