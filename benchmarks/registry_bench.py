"""Benchmark: ``syncd.registry`` against LaminDB on one instance with many spaces and blocks.

    python benchmarks/registry_bench.py [--spaces 10000] [--blocks 50000] [--repeat 5]
                                        [--postgres ADMIN_URL]

Makes a SQLite instance (or, with ``--postgres``, a PostgreSQL one in a new
database) with ``lamin init`` in a temporary directory, fills it,
and times the same reads through both libraries (each in a warm process, best
of ``--repeat``), plus the import time of each in a fresh interpreter. Prints
the figures and the ratios (LaminDB time / syncd time: above 1 means syncd is
faster). Each round repeats an operation for at least 50 ms after a warm-up call;
rounds of the two libraries alternate (LaminDB's in a child process), and the
best of ``--repeat`` rounds of each is shown. Needs lamindb in this interpreter
or in ``$SYNCD_LAMINDB_PYTHON``.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

# the operations, written once; {uid}, {stem} and {name} are filled in from the data
OPERATIONS: list[tuple[str, str]] = [
    ("get by uid", "Space.get('{uid}')"),
    ("get block by stem", "SpaceBlock.get('{stem}')"),
    ("get by name", "Space.get(name='{name}')"),
    ("icontains count()", "Space.filter(name__icontains='lab 12').count()"),
    ("filter().to_dataframe()", "Space.filter(name__startswith='Lab 1').to_dataframe(limit=None)"),
    ("blocks filter().to_dataframe()", "SpaceBlock.filter(kind='readme', space__name__startswith='Lab 2')"
                                       ".to_dataframe(limit=None)"),
    ("count()", "SpaceBlock.filter(kind='comment').count()"),
    ("search", "Space.search('lab 12')"),
    ("lookup", "Space.lookup()"),
]

_TIMER = '''
import json, sys, time
def evaluate(value):
    kind = type(value).__name__
    if kind == "QuerySet" or hasattr(value, "__iter__") and not isinstance(value, (str, dict)) \\
            and kind not in ("DataFrame", "Lookup") and not kind.endswith("Lookup"):
        return list(value)
    return value
def prepare(namespace, operations):
    # one warm-up call per operation; a round then repeats it for at least 50 ms
    prepared = {}
    for label, code in operations:
        compiled = compile(code, label, "eval")
        start = time.perf_counter()
        evaluate(eval(compiled, namespace))
        prepared[label] = (compiled, max(1, int(0.05 / max(time.perf_counter() - start, 1e-6))))
    return prepared
def one_round(namespace, compiled, calls):
    start = time.perf_counter()
    for _ in range(calls):
        evaluate(eval(compiled, namespace))
    return (time.perf_counter() - start) / calls
'''

# LaminDB runs in a child process that times one round of an operation per line it reads, so that the
# rounds of both libraries alternate and share whatever else the machine is doing at the time
_LAMINDB_SIDE = _TIMER + '''
import lamindb as ln
ns = {"Space": ln.Space, "SpaceBlock": ln.models.SpaceBlock}
prepared = prepare(ns, json.loads(sys.argv[1]))
print("@@READY@@", flush=True)
for line in sys.stdin:
    print("@@ROUND@@" + json.dumps(one_round(ns, *prepared[line.strip()])), flush=True)
'''


def _lamindb_python() -> str:
    explicit = os.environ.get("SYNCD_LAMINDB_PYTHON")
    if explicit:
        return explicit
    import importlib.util

    if importlib.util.find_spec("lamindb") is None:
        sys.exit("lamindb is not importable here; pip install lamindb or set SYNCD_LAMINDB_PYTHON")
    return sys.executable


def _make_instance(python: str, root: Path, pg_admin: str | None) -> tuple[str, dict[str, str]]:
    """``lamin init`` a SQLite instance under ``root``, or a PostgreSQL one in a new database."""
    env = {**os.environ, "LAMIN_SETTINGS_DIR": str(root / "settings")}
    (root / "wd").mkdir()
    cli = "import sys; from lamin_cli.__main__ import main; sys.argv[0] = 'lamin'; main()"
    if pg_admin is None:
        subprocess.run([python, "-c", cli, "init", "--storage", str(root / "bench")], env=env,
                       cwd=root / "wd", capture_output=True, check=True, timeout=300)
        url = f"sqlite:///{root / 'bench' / '.lamindb' / 'lamin.db'}"
        return url, {**env, "LAMIN_CURRENT_INSTANCE": "anonymous/bench"}
    name = f"syncd_bench_{os.getpid()}"
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(pg_admin).set(database=name)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run([python, "-c", cli, "init", "--storage", str(root / name), "--db", plain], env=env,
                   cwd=root / "wd", capture_output=True, check=True, timeout=300)
    return url.render_as_string(hide_password=False), {**env, "LAMIN_CURRENT_INSTANCE": f"anonymous/{name}"}


def _drop(url: str, pg_admin: str | None) -> None:
    if pg_admin is None:
        return
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def _fill(url: str, n_spaces: int, n_blocks: int) -> tuple[list[str], list[str]]:
    from syncd.registry.writes import hash_string
    from syncd.store.schema import space, spaceblock, user

    rng = random.Random(7)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    words = ["lab", "core", "genomics", "imaging", "team", "project", "shared", "archive", "Ärzte", "ops"]
    spaces, uids = [], []
    for n in range(2, n_spaces + 2):
        uid = f"S{n:011d}"
        uids.append(uid)
        spaces.append({"id": n, "uid": uid, "name": f"Lab {n}" if n % 3 else f"{rng.choice(words)} {n}",
                       "description": " ".join(rng.choice(words) for _ in range(5)),
                       "created_at": t0 + timedelta(seconds=n), "created_by_id": 1 + n % 2})
    blocks, stems = [], []
    per_space = max(n_blocks // n_spaces, 1)
    block_id = 0
    for s in spaces:
        stem = f"B{s['id']:015d}"
        stems.append(stem)
        for version in range(per_space):
            block_id += 1
            kind = "readme" if version < per_space - 1 else "comment"
            content = f"# readme {s['id']} v{version}" if kind == "readme" else f"comment on {s['name']}"
            uid = stem + f"{version:04d}" if kind == "readme" else f"C{block_id:015d}0000"
            blocks.append({"id": block_id, "uid": uid, "content": content, "hash": hash_string(content),
                           "kind": kind, "version_tag": None,
                           "is_latest": version in (per_space - 2, per_space - 1),
                           "space_id": s["id"], "created_by_id": 1,
                           "branch_id": -1 if block_id % 50 == 0 else 1, "created_on_id": 1,
                           "_status_code": 0, "created_at": t0 + timedelta(seconds=block_id)})
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(user), [{"id": 2, "uid": "usr00002", "handle": "alice", "name": "Alice",
                                     "created_at": t0, "updated_at": t0}])
        conn.execute(insert(space), spaces)
        for start in range(0, len(blocks), 5000):
            conn.execute(insert(spaceblock), blocks[start:start + 5000])
        if conn.dialect.name == "postgresql":
            for table in ("lamindb_user", "lamindb_space", "lamindb_spaceblock"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return uids, stems


def _import_seconds(python: str, statement: str, env: dict[str, str], cwd: Path, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = []
    for _ in range(repeat):
        done = subprocess.run([python, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                              check=True, timeout=300)
        runs.append(float(done.stdout.strip().splitlines()[-1]))
    return min(runs)


def _answer(child: subprocess.Popen[str], marker: str) -> str:
    """The payload of the child's next line that starts with ``marker`` (LaminDB prints lines of its own)."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(marker):
            return line[len(marker):].strip()
    raise RuntimeError(f"the LaminDB process ended without {marker}; see lamindb-side.err")


def _interleaved(url: str, python: str, env: dict[str, str], cwd: Path, operations: list[tuple[str, str]],
                 repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best round of each operation through syncd (here) and LaminDB (a child), rounds alternating."""
    from syncd import registry

    registry.connect(url)
    namespace: dict[str, Any] = {"Space": registry.Space, "SpaceBlock": registry.SpaceBlock}
    exec(_TIMER, namespace)  # the same timer code as the LaminDB side
    one_round: Callable[..., float] = namespace["one_round"]
    errors = (cwd / "lamindb-side.err").open("w")
    child = subprocess.Popen([python, "-c", _LAMINDB_SIDE, json.dumps(operations)], env=env, cwd=cwd,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        ours_prepared = namespace["prepare"](namespace, operations)
        _answer(child, "@@READY@@")
        assert child.stdin is not None
        ours = {label: float("inf") for label, _ in operations}
        theirs = dict(ours)
        for _ in range(repeat):
            for label, _code in operations:
                ours[label] = min(ours[label], one_round(namespace, *ours_prepared[label]))
                child.stdin.write(label + "\n")
                child.stdin.flush()
                theirs[label] = min(theirs[label], float(_answer(child, "@@ROUND@@")))
        return ours, theirs
    finally:
        registry.disconnect()
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=60)
        errors.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", type=int, default=10_000)
    parser.add_argument("--blocks", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", metavar="ADMIN_URL", default=None,
                        help="benchmark a PostgreSQL instance in a new database made through ADMIN_URL "
                             "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres); "
                             "dropped afterwards")
    args = parser.parse_args()
    python = _lamindb_python()
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        url, env = _make_instance(python, root, args.postgres)
        try:
            uids, stems = _fill(url, args.spaces, args.blocks)
            took = time.perf_counter() - started
            kind = "PostgreSQL" if args.postgres else "SQLite"
            print(f"instance: {args.spaces} spaces, {args.blocks} blocks, {kind} ({took:.1f} s to make); "
                  f"best of {args.repeat}")
            rng = random.Random(11)
            # spaces whose number is not a multiple of 3 are named "Lab <number>"
            named = rng.choice([n for n in range(2, args.spaces + 2) if n % 3])
            fill = {"uid": rng.choice(uids), "stem": rng.choice(stems), "name": f"Lab {named}"}
            operations = [(label, code.format(**fill)) for label, code in OPERATIONS]
            ours, theirs = _interleaved(url, python, env, root, operations, args.repeat)
            ours["import"] = _import_seconds(sys.executable, "import syncd.registry", env, root, args.repeat)
            theirs["import"] = _import_seconds(python, "import lamindb", env, root, args.repeat)
        finally:
            _drop(url, args.postgres)
    print(f"{'operation':34} {'syncd.registry':>15} {'LaminDB':>12} {'ratio':>8}")
    for label in [*(label for label, _ in OPERATIONS), "import"]:
        ratio = theirs[label] / ours[label] if ours[label] else float("inf")
        print(f"{label:34} {ours[label] * 1000:12.2f} ms {theirs[label] * 1000:9.2f} ms {ratio:7.1f}x")


if __name__ == "__main__":
    main()
