"""Helpers for the sync integration tests: the emulator on a manual clock, runs, reads of instance databases.

Everything here reads outcomes: rows in the databases (through syncd's own
table definitions, so datetimes come back as aware UTC on both dialects),
requests counted by the emulator, and the hub's own rows to compare against.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from syncd.core.models import Resource
from syncd.core.report import RunReport
from syncd.hubsim import Faults, HubStore, ManualClock, RunningHub, running_hub
from syncd.runner import run_sync
from syncd.settings import Settings
from syncd.store.schema import block_map, cursor, deferred, quarantine, space, space_map, spaceblock, user
from tests.support.builders import TOKEN

LAMINDB_TABLES = ("lamindb_user", "lamindb_branch", "lamindb_space", "lamindb_spaceblock")
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def no_sleep(_seconds: float) -> None:
    return None


@contextlib.contextmanager
def emulator(store: HubStore | None = None, *, faults: Faults | None = None, max_rows: int = 1000,
             tokens: Mapping[str, Any] | None = None) -> Iterator[RunningHub]:
    """The emulator on loopback, accepting builders.TOKEN (sees everything) unless ``tokens`` is given."""
    hub_store = store if store is not None else HubStore(clock=ManualClock(START))
    with running_hub(hub_store, tokens=tokens or {TOKEN: "all"}, faults=faults, max_rows=max_rows) as hub:
        yield hub


def manual_clock(hub: RunningHub) -> ManualClock:
    clock = hub.store.clock
    assert isinstance(clock, ManualClock)
    return clock


def sync(settings: Settings, **kwargs: Any) -> RunReport:
    """One run with retries that never wait."""
    return run_sync(settings, sleep=no_sleep, **kwargs)


def requests_by_resource(hub: RunningHub) -> dict[str, int]:
    """Requests the emulator answered (or reset) per resource since the last :func:`reset_requests`."""
    return {resource: sum(counts.values()) for resource, counts in hub.app.stats.snapshot().items()}


def reset_requests(hub: RunningHub) -> None:
    hub.app.stats.reset()


@contextlib.contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def scalar(url: str, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    with engine_for(url) as engine, engine.connect() as conn:
        return conn.execute(text(sql), dict(params or {})).scalar()


def fetch(url: str, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with engine_for(url) as engine, engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), dict(params or {}))]


def execute(url: str, sql: str, params: Mapping[str, Any] | None = None) -> None:
    with engine_for(url) as engine, engine.begin() as conn:
        conn.execute(text(sql), dict(params or {}))


@dataclass(frozen=True)
class LocalSpace:
    id: int
    name: str
    description: str | None
    created_at: datetime
    creator: str | None


@dataclass(frozen=True)
class LocalBlock:
    id: int
    space_uid: str
    content: str
    hash: str | None
    kind: str
    version_tag: str | None
    is_latest: bool
    created_at: datetime
    creator: str
    branch_id: int


def local_spaces(url: str) -> dict[str, LocalSpace]:
    """Every ``lamindb_space`` row by uid (the built-in ``all`` included)."""
    query = select(space.c.id, space.c.uid, space.c.name, space.c.description, space.c.created_at,
                   user.c.uid.label("creator")).outerjoin(user, user.c.id == space.c.created_by_id)
    with engine_for(url) as engine, engine.connect() as conn:
        return {r.uid: LocalSpace(r.id, r.name, r.description, r.created_at, r.creator)
                for r in conn.execute(query)}


def local_blocks(url: str) -> dict[str, LocalBlock]:
    """Every ``lamindb_spaceblock`` row by uid."""
    query = (select(spaceblock, space.c.uid.label("space_uid"), user.c.uid.label("creator"))
             .join(space, space.c.id == spaceblock.c.space_id)
             .join(user, user.c.id == spaceblock.c.created_by_id))
    with engine_for(url) as engine, engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return {r["uid"]: LocalBlock(r["id"], r["space_uid"], r["content"], r["hash"], r["kind"], r["version_tag"],
                                 bool(r["is_latest"]), r["created_at"], r["creator"], r["branch_id"])
            for r in rows}


def count(url: str, table: str) -> int:
    return int(scalar(url, f"SELECT count(*) FROM {table}"))


def bookkeeping_counts(url: str) -> dict[str, int]:
    with engine_for(url) as engine, engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (space_map, block_map, deferred, quarantine)}


def parked(url: str, table: str = "syncd_quarantine") -> list[dict[str, Any]]:
    """Rows of ``syncd_quarantine`` or ``syncd_deferred``, payload decoded."""
    chosen = quarantine if table == "syncd_quarantine" else deferred
    with engine_for(url) as engine, engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(chosen)).mappings()]
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


def cursors(url: str) -> dict[str, dict[str, Any]]:
    with engine_for(url) as engine, engine.connect() as conn:
        return {r["resource"]: dict(r) for r in conn.execute(select(cursor)).mappings()}


def lamindb_dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of LaminDB's four tables, in id order, exactly as stored."""
    with engine_for(url) as engine, engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
                for t in LAMINDB_TABLES}


# -- what the hub says should be there -------------------------------------------------------------


def hub_live_spaces(store: HubStore) -> dict[str, dict[str, Any]]:
    """Live hub spaces by lnid."""
    return {r["lnid"]: r for r in store.rows(Resource.SPACE) if r["deleted_at"] is None}


def hub_live_blocks(store: HubStore) -> dict[str, dict[str, Any]]:
    """Live hub blocks whose space is live too (a block of a deleted space cannot exist locally), by lnid."""
    live = {r["id"] for r in store.rows(Resource.SPACE) if r["deleted_at"] is None}
    return {r["lnid"]: r for r in store.rows(Resource.SPACE_BLOCK)
            if r["deleted_at"] is None and r["space_id"] in live}


def synced_spaces(url: str) -> dict[str, LocalSpace]:
    """Local spaces except the built-in ``all``."""
    return {uid: s for uid, s in local_spaces(url).items() if s.id != 1}


def assert_in_step(url: str, store: HubStore) -> None:
    """The instance holds exactly the hub's live spaces and blocks, field by field."""
    spaces = synced_spaces(url)
    expected_spaces = hub_live_spaces(store)
    assert sorted(spaces) == sorted(expected_spaces)
    for lnid, row in expected_spaces.items():
        got = spaces[lnid]
        creator = row["created_by"]["lnid"] if row["created_by"] else None
        assert (got.name, got.description, got.created_at, got.creator) == (
            row["name"], row["description"], row["created_at"], creator), lnid
    blocks = local_blocks(url)
    expected_blocks = hub_live_blocks(store)
    assert sorted(blocks) == sorted(expected_blocks)
    space_lnid = {r["id"]: r["lnid"] for r in store.rows(Resource.SPACE)}
    for lnid, row in expected_blocks.items():
        got = blocks[lnid]
        assert (got.space_uid, got.content, got.hash, got.kind, got.version_tag, got.is_latest,
                got.created_at, got.creator, got.branch_id) == (
            space_lnid[row["space_id"]], row["content"], row["hash"], row["kind"], row["version_tag"],
            row["is_latest"], row["created_at"], row["created_by"]["lnid"], 1), lnid
    counts = bookkeeping_counts(url)
    assert counts["syncd_space_map"] == len(expected_spaces)
    assert counts["syncd_block_map"] == len(expected_blocks)


def synced_content(url: str) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """Spaces and blocks by uid, without local ids: comparable across databases and dialects."""
    spaces = {u: (s.name, s.description, s.created_at, s.creator) for u, s in synced_spaces(url).items()}
    blocks = {u: (b.space_uid, b.content, b.hash, b.kind, b.version_tag, b.is_latest, b.created_at, b.creator)
              for u, b in local_blocks(url).items()}
    return spaces, blocks


def sqlite_path(url: str) -> str:
    database = make_url(url).database
    assert database
    return database


# -- a transport between syncd and the emulator -------------------------------------------------------


class Interposer(httpx.BaseTransport):
    """Forwards to the real HTTP transport; lets a test act just before a request or rewrite its rows.

    ``before(request)`` runs before each request is sent (e.g. to change the hub
    between two reads). ``rewrite(resource, row)`` may replace a served row (a
    hostile hub sending a row that breaks the contract).
    """

    def __init__(self, *, before: Callable[[httpx.Request], None] | None = None,
                 rewrite: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self._inner = httpx.HTTPTransport()
        self._before = before
        self._rewrite = rewrite

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._before is not None:
            self._before(request)
        response = self._inner.handle_request(request)
        if self._rewrite is None or response.status_code != 200:
            return response
        body = response.read()
        resource = request.url.path.rsplit("/", 1)[-1]
        rows = [self._rewrite(resource, row) for row in json.loads(body)]
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(200, headers=headers, content=json.dumps(rows).encode())

    def close(self) -> None:
        self._inner.close()


# -- the command line, as a separate process ----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, hub_url: str, instances: Mapping[str, str], **sync_keys: Any) -> Path:
    """A TOML configuration file for ``syncd run-once`` (JSON logs; the token comes from the environment)."""
    lines = [f'[hub]\nurl = "{hub_url}"\nretry_attempts = 3\nretry_max_seconds = 5\n', '[log]\nformat = "json"\n']
    if sync_keys:
        lines.append("[sync]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in sync_keys.items()))
    for name, url in instances.items():
        lines.append(f'[[instances]]\nname = "{name}"\nurl = "{url}"\n')
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def cli_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "syncd", *args]


def cli_env(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    paths = [p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p]  # the child imports this syncd
    env.update({"SYNCD_HUB_TOKEN": token, "PYTHONPATH": os.pathsep.join(paths)})
    return env


def run_cli(args: list[str], token: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``syncd ARGS`` in a child process; stdout is not a terminal, so it logs JSON lines."""
    return subprocess.run(cli_command(args), env=cli_env(token), cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def summary_of(stdout: str) -> dict[str, Any]:
    """The one ``sync.summary`` event among the JSON log lines."""
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    [summary] = [e for e in events if e.get("event") == "sync.summary"]
    return summary
