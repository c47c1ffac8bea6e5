"""syncd's benchmark: one script, one run, figures printed (not a timed test).

    python benchmarks/sync_bench.py [--blocks 100000 --spaces 2000] [--pg URL]

Starts the bundled hub emulator (``syncd hubsim``, a separate process) with
``--spaces`` spaces and ``--blocks`` blocks of about 500 bytes, and in front of
it ``fast_hub.py`` (another process), which serves every page of the change
streams from memory, encoded once before anything is measured (``--slow-hub``:
the emulator alone). Then it measures, each as its own process (wall time of
the whole process, its CPU time, its own peak RSS via ``os.wait4``):

(c) the baseline: ``benchmarks/baseline.py`` (plain httpx pages + sqlite3
    ``executemany`` into a fresh file, no validation);
(a) ``syncd run-once``: full initial sync into one fresh SQLite instance;
(d) ``syncd run-once`` again, nothing changed (hub requests counted through the
    emulator's ``/_sim/stats``);
(b) ``syncd run-once`` into two fresh SQLite instances and one fresh PostgreSQL
    database (created on the ``--pg`` server and dropped afterwards; skipped,
    saying why, when the server is unreachable), ``--repeat`` times as (a) and
    (c) are, each into new databases; then no-change runs on the last ones;
(d) at ``--small-blocks`` (10,000 by default, spaces scaled alike): full sync
    and no-change runs on a second emulator;
(f) ``python -X importtime`` of a no-change ``run-once``: the biggest imports;
(g) the floor under (d): a process that only imports the libraries a no-change
    ``run-once`` imports (:data:`LIBRARY_IMPORTS`) and ends as ``run-once`` does,
    through the interpreter's usual teardown, run after each 100k no-change
    run of (d), so that both see the machine in the same state;
(h) what the console entry point's ``gc.freeze()`` buys: the same no-change
    run through :func:`syncd.cli.main` (as a host program calls it: no freeze),
    run after each 100k no-change run of (d).

Before measuring, one unmeasured baseline pass warms the machine's file cache,
so no contender pays for a cold start.

Then it prints a table, the ratios and PASS/MISS per target. Exit code 0, or 1
when a measured syncd run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_imports import parse_importtime
from bench_procs import HubProcess, Measured, python_cmd, run_measured, syncd_cmd

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "hubsim-token"  # the emulator's public default token (syncd.hubsim.app.DEFAULT_TOKEN)

TARGET_A = 1.5
TARGET_B = 2.5
TARGET_NOCHANGE_S = 0.5
TARGET_NOCHANGE_GROWTH = 1.5
TARGET_RSS_MB = 150.0

LIBRARY_IMPORTS = (
    "import httpx, httpcore, sqlalchemy, sqlalchemy.dialects.sqlite, sqlite3, structlog,"
    " tenacity"
)
"""The third-party modules a no-change ``run-once`` on SQLite loads (h11, anyio, idna and certifi follow)."""


# -- configuration and databases ----------------------------------------------------------------


MAIN_WITHOUT_ENTRY = "import sys; from syncd.cli import main; sys.exit(main(sys.argv[1:]))"
"""A no-change run as a host program calls syncd: :func:`syncd.cli.main`, without the entry point."""


def write_config(path: Path, hub_url: str, instances: list[tuple[str, str]]) -> Path:
    lines = ["[hub]", f'url = "{hub_url}"', "", "[sync]", "page_size = 1000", ""]
    for name, url in instances:
        lines += ["[[instances]]", f'name = "{name}"', f'url = "{url}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class PgDatabase:
    """A fresh, uniquely named database on the ``--pg`` server, dropped by :meth:`drop`."""

    def __init__(self, server_url: str) -> None:
        from sqlalchemy.engine import make_url

        self.server = make_url(server_url)
        self.name = f"syncd_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.version = ""

    def _connect(self) -> Any:
        import psycopg

        url = self.server.set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5)

    def create(self) -> str:
        """Create the database; return the SQLAlchemy URL syncd uses for it."""
        with self._connect() as conn:
            self.version = str(conn.execute("SHOW server_version").fetchone()[0])
            conn.execute(f'CREATE DATABASE "{self.name}"')
        url = self.server.set(drivername="postgresql+psycopg", database=self.name)
        return url.render_as_string(hide_password=False)

    def drop(self) -> None:
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def sqlite_counts(path: Path) -> str:
    with sqlite3.connect(path) as db:
        spaces = db.execute("SELECT count(*) FROM lamindb_space").fetchone()[0]
        blocks = db.execute("SELECT count(*) FROM lamindb_spaceblock").fetchone()[0]
    return f"{spaces} spaces, {blocks} blocks"


# -- measuring --------------------------------------------------------------------------------------


class Bench:
    def __init__(self, work: Path, env: dict[str, str], syncd: list[str]) -> None:
        self.work = work
        self.env = env
        self.syncd_cmd = syncd
        self.unfrozen: list[Measured] = []
        self.results: list[Measured] = []
        self.failed = False

    def log_for(self, label: str) -> Path:
        """Where the run called ``label`` writes its stdout (stderr: the same name plus ``.err``)."""
        return self.work / ("".join(c if c.isalnum() else "-" for c in label) + ".log")

    def run(self, label: str, cmd: list[str], *, hub: HubProcess | None = None) -> Measured:
        if hub is not None:
            hub.reset_stats()
        result = run_measured(label, cmd, env=self.env, log=self.log_for(label))
        if hub is not None:
            per_resource = hub.requests()
            result.requests = sum(per_resource.values())
            result.detail = " ".join(f"{k}={v}" for k, v in sorted(per_resource.items()))
            forwarded = hub.forwarded()
            if forwarded:  # requests the fast hub could not answer from memory
                result.detail += f" emulator={forwarded}"
        if result.exit_code != 0:
            self.failed = True
            result.detail += f" FAILED, see {self.log_for(label)}"
        self.results.append(result)
        print(
            f"  {label}: {result.wall:.3f} s, CPU {result.cpu:.3f} s, {result.rss_mb:.1f} MB,"
            f" exit {result.exit_code}"
            + (f", {result.requests} hub requests ({result.detail.strip()})" if result.requests else ""),
            flush=True,
        )
        return result

    def syncd(self, label: str, config: Path, hub: HubProcess) -> Measured:
        return self.run(label, [*self.syncd_cmd, "run-once", "--config", str(config)], hub=hub)

    def no_change(self, label: str, config: Path, hub: HubProcess, repeat: int) -> list[Measured]:
        return [self.syncd(f"{label} #{n + 1}", config, hub) for n in range(repeat)]

    def python(self) -> str:
        """The Python the measured syncd runs under."""
        first = self.syncd_cmd[0]
        return first if first.endswith(("python", "python3")) else _interpreter_of(first)

    def no_change_and_floor(
        self, label: str, config: Path, hub: HubProcess, repeat: int
    ) -> tuple[list[Measured], list[Measured]]:
        """No-change runs, each followed by (g), its floor (the libraries' imports alone), and by
        (h), the same run through ``syncd.cli.main`` without the entry point's ``gc.freeze()``."""
        runs: list[Measured] = []
        floors: list[Measured] = []
        unfrozen: list[Measured] = []
        for n in range(repeat):
            runs.append(self.syncd(f"{label} #{n + 1}", config, hub))
            floor = [self.python(), "-c", LIBRARY_IMPORTS]
            floors.append(self.run(f"(g) library imports alone #{n + 1}", floor))
            library = [self.python(), "-c", MAIN_WITHOUT_ENTRY, "run-once", "--config", str(config)]
            unfrozen.append(self.run(f"(h) no-change through main(), no freeze #{n + 1}", library, hub=hub))
        self.unfrozen = unfrozen
        return runs, floors


def size(blocks: int) -> str:
    return f"{blocks // 1000}k" if blocks >= 1000 and blocks % 1000 == 0 else str(blocks)


def median_wall(runs: list[Measured]) -> float:
    return statistics.median(r.wall for r in runs)


def median_cpu(runs: list[Measured]) -> float:
    return statistics.median(r.cpu for r in runs)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# -- the run ------------------------------------------------------------------------------------------


def machine_facts(pg_version: str) -> list[str]:
    import httpx
    import sqlalchemy

    import syncd

    try:
        import psycopg

        psycopg_version = psycopg.__version__
    except ImportError:
        psycopg_version = "not installed"
    return [
        f"date (UTC)      {datetime.now(UTC):%Y-%m-%d %H:%M}",
        f"machine         {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"python          {platform.python_version()} ({sys.executable})",
        f"syncd           {syncd.__version__}",
        f"sqlite          {sqlite3.sqlite_version}",
        f"libraries       httpx {httpx.__version__}, sqlalchemy {sqlalchemy.__version__},"
        f" psycopg {psycopg_version}",
        f"postgresql      {pg_version or 'not used'}",
        "load average    {:.2f} {:.2f} {:.2f} (1, 5, 15 min, at the end)".format(*os.getloadavg()),
    ]


def warm_up(bench: Bench, hub: HubProcess, name: str) -> None:
    """One unmeasured baseline pass, so that no measured run starts with cold caches."""
    db = bench.work / f"warm-up-{name}.db"
    cmd = python_cmd(str(HERE / "baseline.py"), "--url", hub.url, "--db", str(db))
    warm = run_measured("warm-up", cmd, env=bench.env, log=bench.work / f"warm-up-{name}.log")
    print(f"  warm-up pass (not counted): {warm.wall:.2f} s", flush=True)
    db.unlink(missing_ok=True)


def run_big(args: argparse.Namespace, bench: Bench, status: dict[str, Any]) -> None:
    work = bench.work
    print(f"\n== emulator: {args.spaces} spaces, {args.blocks} blocks of ~{args.content_size} B", flush=True)
    with HubProcess(
        spaces=args.spaces,
        blocks=args.blocks,
        content_size=args.content_size,
        seed=args.seed,
        env=bench.env,
        log=work / "hub-big.err",
        fast=not args.slow_hub,
    ) as hub:
        print(f"  hub ready in {hub.startup_seconds:.1f} s at {hub.url} {hub.served}", flush=True)
        warm_up(bench, hub, "big")
        status["c"] = []
        status["a"] = []
        for n in range(args.repeat):
            db = work / f"baseline-{n}.db"
            label = f"(c) baseline #{n + 1}"
            cmd = python_cmd(str(HERE / "baseline.py"), "--url", hub.url, "--db", str(db))
            status["c"].append(bench.run(label, cmd, hub=hub))
            status["baseline_rows"] = bench.log_for(label).read_text().strip()
            one = write_config(work / f"one-{n}.toml", hub.url, [("bench-a", f"sqlite:///{work}/one-{n}.db")])
            status["a"].append(bench.syncd(f"(a) full, 1 SQLite #{n + 1}", one, hub))
        status["a_rows"] = sqlite_counts(work / "one-0.db")
        label = f"(d) no-change {size(args.blocks)}, 1 SQLite"
        status["d100"], status["floor"] = bench.no_change_and_floor(
            label, work / "one-0.toml", hub, args.nochange_runs
        )
        status["importtime"] = import_profile(bench, work / "one-0.toml")
        run_pg(args, bench, status, hub)


def run_pg(args: argparse.Namespace, bench: Bench, status: dict[str, Any], hub: HubProcess) -> None:
    """(b), ``--repeat`` times like (a) and (c), each into fresh databases; then its no-change runs."""
    work = bench.work
    if args.no_pg:
        status["b_skipped"] = "--no-pg given"
        return
    status["b"] = []
    for n in range(args.repeat):
        pg = PgDatabase(args.pg)
        try:
            pg_url = pg.create()
        except Exception as exc:  # noqa: BLE001 - any failure to reach the server means (b) is skipped
            reason = f"PostgreSQL at {pg.server.render_as_string()} unreachable: {exc}".strip()
            if status["b"]:  # the repeats so far stand; their no-change runs are left out
                print(f"  (b) stopped after {n} runs: {reason}", flush=True)
                return
            status.pop("b")
            status["b_skipped"] = reason
            print(f"  (b) SKIPPED: {status['b_skipped']}", flush=True)
            return
        status["pg_version"] = pg.version
        try:
            three = write_config(
                work / f"three-{n}.toml",
                hub.url,
                [
                    ("bench-s1", f"sqlite:///{work}/three-{n}-1.db"),
                    ("bench-s2", f"sqlite:///{work}/three-{n}-2.db"),
                    ("bench-pg", pg_url),
                ],
            )
            status["b"].append(bench.syncd(f"(b) full, 2 SQLite + 1 PG #{n + 1}", three, hub))
            if n == args.repeat - 1:
                label = f"(d) no-change {size(args.blocks)}, 2 SQLite + 1 PG"
                status["db"] = bench.no_change(label, three, hub, args.nochange_runs)
        finally:
            pg.drop()
        for i in (1, 2):  # about 100 MB each at the default size
            if not args.keep:
                (work / f"three-{n}-{i}.db").unlink(missing_ok=True)


def run_small(args: argparse.Namespace, bench: Bench, status: dict[str, Any]) -> None:
    work = bench.work
    spaces = max(1, args.spaces * args.small_blocks // max(args.blocks, 1))
    print(f"\n== emulator: {spaces} spaces, {args.small_blocks} blocks of ~{args.content_size} B", flush=True)
    with HubProcess(
        spaces=spaces,
        blocks=args.small_blocks,
        content_size=args.content_size,
        seed=args.seed,
        env=bench.env,
        log=work / "hub-small.err",
        fast=not args.slow_hub,
    ) as hub:
        warm_up(bench, hub, "small")
        small = write_config(work / "small.toml", hub.url, [("bench-small", f"sqlite:///{work}/small.db")])
        status["a10"] = bench.syncd(f"(a) full {size(args.small_blocks)}, 1 SQLite", small, hub)
        label = f"(d) no-change {size(args.small_blocks)}, 1 SQLite"
        status["d10"] = bench.no_change(label, small, hub, args.nochange_runs)


def _interpreter_of(script: str) -> str:
    """The Python a console script runs under (its ``#!`` line), else this one."""
    try:
        first = Path(script).read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    except OSError:
        return sys.executable
    return first[2:].strip() if first.startswith("#!") and "python" in first else sys.executable


def import_profile(bench: Bench, config: Path) -> list[str]:
    """``-X importtime`` of a no-change run-once (stderr), plus bare interpreter and ``import syncd.cli``."""
    cmd = bench.syncd_cmd
    if cmd[0] != bench.python():
        cmd = [bench.python(), *cmd]
    label = "(f) no-change with -X importtime"
    result = bench.run(label, [cmd[0], "-X", "importtime", *cmd[1:], "run-once", "--config", str(config)])
    bench.results.remove(result)
    times = parse_importtime(Path(f"{bench.log_for(label)}.err").read_text())
    python = cmd[0]
    bare = bench.run("python -c pass", [python, "-c", "pass"])
    cli = bench.run("python -c 'import syncd.cli'", [python, "-c", "import syncd.cli"])
    bench.results.remove(bare)
    bench.results.remove(cli)
    lines = [
        f"interpreter start-up (python -c pass): {bare.wall:.3f} s;"
        f" python -c 'import syncd.cli': {cli.wall:.3f} s",
        f"imports during a no-change run-once: {times.total_us / 1e6:.3f} s in all (-X importtime,"
        " which itself adds overhead)",
        "biggest top-level imports (cumulative): "
        + ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in times.top_level[:10]),
        "self time by root package: "
        + ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in times.by_package[:12]),
    ]
    return lines


def report(bench: Bench, status: dict[str, Any], args: argparse.Namespace) -> None:
    print("\n== figures (wall time of the whole process; its user+system CPU time; its peak RSS)")
    print(f"{'run':<44} {'wall s':>8} {'CPU s':>8} {'RSS MB':>8} {'hub req':>8}  detail")
    for r in bench.results:
        req = "" if r.requests is None else str(r.requests)
        print(f"{r.label:<44} {r.wall:>8.3f} {r.cpu:>8.3f} {r.rss_mb:>8.1f} {req:>8}  {r.detail.strip()}")
    print(
        f"\nbaseline wrote {status.get('baseline_rows', '?')};"
        f" syncd (a) instance holds {status.get('a_rows')} (syncd does not copy tombstoned rows)"
    )

    c = median_wall(status["c"])
    a = median_wall(status["a"])
    checks: list[tuple[str, bool | None, str]] = [
        (f"(a)/(c) <= {TARGET_A}x", a / c <= TARGET_A, f"{a:.2f} s / {c:.2f} s = {a / c:.2f}x"),
    ]
    if "b" in status:
        b = median_wall(status["b"])
        checks.append((f"(b)/(c) <= {TARGET_B}x", b / c <= TARGET_B, f"{b:.2f} s / {c:.2f} s = {b / c:.2f}x"))
    else:
        checks.append((f"(b)/(c) <= {TARGET_B}x", None, f"skipped: {status.get('b_skipped')}"))
    d100, d10 = median_wall(status["d100"]), median_wall(status["d10"])
    checks.append(
        (
            f"no-change {size(args.blocks)} <= {TARGET_NOCHANGE_S} s",
            d100 <= TARGET_NOCHANGE_S,
            f"median {d100:.3f} s of {len(status['d100'])} runs",
        )
    )
    growth = f"no-change {size(args.blocks)} <= {TARGET_NOCHANGE_GROWTH}x {size(args.small_blocks)}"
    checks.append(
        (growth, d100 <= TARGET_NOCHANGE_GROWTH * d10, f"{d100:.3f} s / {d10:.3f} s = {d100 / d10:.2f}x")
    )
    nochange = status["d100"] + status["d10"] + status.get("db", [])
    one_per_resource = all(r.requests == 2 for r in nochange)
    checks.append(
        (
            "no-change: 1 request per resource per group",
            one_per_resource,
            "requests per run: " + ", ".join(str(r.requests) for r in nochange),
        )
    )
    syncd_runs = [r for r in bench.results if not r.label.startswith(("(c)", "(g)"))]
    worst = max(syncd_runs, key=lambda r: r.rss_mb)
    checks.append(
        (
            f"peak RSS <= {TARGET_RSS_MB:.0f} MB (every syncd run)",
            worst.rss_mb <= TARGET_RSS_MB,
            f"max {worst.rss_mb:.1f} MB ({worst.label})",
        )
    )

    cc, ca = median_cpu(status["c"]), median_cpu(status["a"])
    cpu_b = f", (b)/(c) {median_cpu(status['b']) / cc:.2f}x" if "b" in status else ""
    print(
        f"\nCPU-time ratios (user+system of the measured process; less sensitive to other load):"
        f" (a)/(c) {ca / cc:.2f}x{cpu_b}"
    )
    print("\n== targets")
    for name, ok, detail in checks:
        word = "SKIP" if ok is None else verdict(ok)
        print(f"{word:<5} {name:<48} {detail}")
    print("\n== import time (run-once)")
    if status.get("floor"):
        floor = median_wall(status["floor"])
        print(
            f"  (g) the libraries' imports alone ({LIBRARY_IMPORTS[len('import '):]}):"
            f" median {floor:.3f} s of {len(status['floor'])}, run after each no-change run;"
            f" syncd's no-change run adds {d100 - floor:.3f} s to it"
        )
    if bench.unfrozen and status.get("d100"):
        frozen_cpu, unfrozen_cpu = median_cpu(status["d100"]), median_cpu(bench.unfrozen)
        unfrozen_wall = median_wall(bench.unfrozen)
        print(
            f"  (h) the same no-change run through main(), without the entry point's gc.freeze():"
            f" median {unfrozen_wall:.3f} s (CPU {unfrozen_cpu:.3f} s) of {len(bench.unfrozen)},"
            f" against {d100:.3f} s (CPU {frozen_cpu:.3f} s) through the syncd command"
        )
    for line in status.get("importtime", []):
        print(f"  {line}")
    print("\n== machine")
    for line in machine_facts(status.get("pg_version", "")):
        print(f"  {line}")
    print(f"  syncd measured  {' '.join(bench.syncd_cmd)}")
    print(f"  work dir        {bench.work}{'' if args.keep else ' (removed)'}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--spaces", type=int, default=2000, help="spaces in the big sample (default: %(default)s)")
    add("--blocks", type=int, default=100_000, help="blocks in the big sample (default: %(default)s)")
    add("--small-blocks", type=int, default=10_000, help="blocks for the 10k no-change figure")
    add("--content-size", type=int, default=500, help="approximate block content bytes")
    add("--seed", type=int, default=1)
    add(
        "--pg",
        default=DEFAULT_PG,
        help="PostgreSQL server to create a fresh database on (default: %(default)s)",
    )
    add("--no-pg", action="store_true", help="skip (b)")
    add("--slow-hub", action="store_true", help="clients talk to the emulator itself, not fast_hub.py")
    add("--repeat", type=int, default=1, help="runs of (c), (a) and (b) each (the median is used)")
    add("--nochange-runs", type=int, default=3, help="no-change runs per case (the median is used)")
    add("--syncd", help="the syncd executable to measure (default: the one installed next to this Python)")
    add("--work-dir", help="where to put databases and logs (default: a fresh temporary directory)")
    add("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="syncd-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SYNCD_HUB_TOKEN": TOKEN}
    env.pop("SYNCD_CONFIG", None)
    bench = Bench(work, env, [args.syncd] if args.syncd else syncd_cmd())
    status: dict[str, Any] = {}
    steps: list[Callable[[argparse.Namespace, Bench, dict[str, Any]], None]] = [run_big, run_small]
    try:
        for step in steps:
            step(args, bench, status)
        report(bench, status, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summary = {
        r.label: {
            "wall": round(r.wall, 4),
            "cpu": round(r.cpu, 4),
            "rss_mb": round(r.rss_mb, 1),
            "requests": r.requests,
        }
        for r in bench.results
    }
    print("\n" + json.dumps(summary))
    return 1 if bench.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
