"""LaminDB reads what syncd wrote: instances made by ``lamin init`` (SQLite, PostgreSQL) and one syncd bootstrapped.

LaminDB runs in child processes of this interpreter (it configures Django
once per process), with its settings in a temporary folder and its hub
pointed at a closed loopback port, so nothing leaves the machine. Without the
``lamindb`` package these tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from syncd.core.models import Resource
from syncd.hubsim import HubStore, ManualClock, populate
from tests.support.builders import TOKEN, settings_for
from tests.support.syncenv import (
    START,
    assert_in_step,
    emulator,
    fetch,
    hub_live_blocks,
    hub_live_spaces,
    manual_clock,
    sync,
)

pytestmark = pytest.mark.lamindb
READER = Path(__file__).resolve().parents[1] / "support" / "lamindb_reader.py"
OFFLINE = "http://127.0.0.1:9"  # nothing listens there: LaminDB's hub calls fail at once, on loopback


@pytest.fixture(autouse=True)
def _lamindb_installed() -> None:
    if importlib.util.find_spec("lamindb") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("lamindb is a test dependency and must be installed under CI=true", pytrace=False)
        pytest.skip("lamindb is not installed in this interpreter (pip install -e '.[test]')")


@pytest.fixture
def lamin_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMIN", "SYNCD_"))}
    env.update({
        "LAMIN_SETTINGS_DIR": str(tmp_path / "lamin-settings"),
        "LAMIN_ENV": "syncd-offline",  # a custom environment: the hub URL below, never the real hub
        "SUPABASE_API_URL": OFFLINE,
        "SUPABASE_ANON_KEY": "offline",
        "HTTP_PROXY": OFFLINE,
        "HTTPS_PROXY": OFFLINE,
        "NO_PROXY": "127.0.0.1,localhost",
    })
    return env


def lamin_init(env: dict[str, str], workdir: Path, storage: Path, db: str | None = None) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "lamin_cli", "init", "--storage", str(storage)]
    if db is not None:
        command += ["--db", db]
    done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def read_through_lamindb(env: dict[str, str], slug: str, cwd: Path) -> dict[str, Any]:
    cwd.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, str(READER)], env={**env, "LAMIN_CURRENT_INSTANCE": slug}, cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [line] = [ln for ln in done.stdout.splitlines() if ln.startswith("LAMINDB-READ ")]
    result: dict[str, Any] = json.loads(line.removeprefix("LAMINDB-READ "))
    return result


@pytest.fixture
def hub_store() -> HubStore:
    store = HubStore(clock=ManualClock(START), seed=1000)
    populate(store, spaces=6, blocks=60, seed=8)
    return store


def change_the_hub(store: HubStore) -> None:
    """Renames (a swap and a case-only one), a new version, a comment, a tombstone."""
    clock = store.clock
    assert isinstance(clock, ManualClock)
    clock.advance(5)
    spaces = list(hub_live_spaces(store).values())
    first, second, third = spaces[0], spaces[1], spaces[2]
    store.rename_space(first["id"], second["name"])
    store.rename_space(second["id"], first["name"])
    store.rename_space(third["id"], third["name"].upper())
    blocks = list(hub_live_blocks(store).values())
    latest = next(b for b in blocks if b["is_latest"] and b["kind"] == "readme")
    store.new_block_version(latest["id"], "# Revised\n\nwith ünïcode ✓", version_tag="v-next")
    store.create_block(first["id"], "a comment", kind="comment")
    store.soft_delete(Resource.SPACE_BLOCK, blocks[-1]["id"])
    clock.advance(600)


def check_lamindb_view(seen: dict[str, Any], store: HubStore) -> None:
    """What LaminDB returns equals the hub's live rows, field by field."""
    spaces = {s["uid"]: s for s in seen["spaces"]}
    assert spaces.pop("aaaaaaaaaaaa")["name"] == "all"
    expected_spaces = hub_live_spaces(store)
    assert sorted(spaces) == sorted(expected_spaces)
    for uid, row in expected_spaces.items():
        got = spaces[uid]
        assert (got["name"], got["description"]) == (row["name"], row["description"])
        assert datetime.fromisoformat(got["created_at"]) == row["created_at"]
        creator = row["created_by"]
        assert got["created_by_uid"] == (creator["lnid"] if creator else None)
        assert got["created_by"] == (creator["handle"] if creator else None)
    expected_blocks = hub_live_blocks(store)
    blocks = {b["uid"]: b for b in seen["blocks"]}
    assert sorted(blocks) == sorted(expected_blocks)
    space_uid = {r["id"]: r["lnid"] for r in store.rows(Resource.SPACE)}
    for uid, row in expected_blocks.items():
        got = blocks[uid]
        assert (got["space"], got["content"], got["hash"], got["kind"], got["version_tag"], got["is_latest"],
                got["branch"]) == (space_uid[row["space_id"]], row["content"], row["hash"], row["kind"],
                                   row["version_tag"], row["is_latest"], 1)
        assert datetime.fromisoformat(got["created_at"]) == row["created_at"]
        assert (got["created_by_uid"], got["created_by"]) == (row["created_by"]["lnid"],
                                                              row["created_by"]["handle"])
    for uid in expected_spaces:
        assert spaces[uid]["ablocks"] == sorted(u for u, b in expected_blocks.items()
                                                if space_uid[b["space_id"]] == uid)
    assert seen["latest"] == sum(1 for b in expected_blocks.values() if b["is_latest"])
    assert all(n == 1 for n in seen["by_name"].values())


def sync_twice_and_read(store: HubStore, url: str, env: dict[str, str], slug: str, cwd: Path) -> None:
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"inst": url}, page_size=17)
        report = sync(settings)
        assert report.ok, report.instances[0].error
        assert_in_step(url, store)
        check_lamindb_view(read_through_lamindb(env, slug, cwd), store)
        change_the_hub(store)
        manual_clock(hub).advance(1)
        report = sync(settings)
        assert report.ok, report.instances[0].error
        assert report.instances[0].count(Resource.SPACE, "updated") == 3
    check_lamindb_view(read_through_lamindb(env, slug, cwd), store)


def test_lamindb_reads_a_sqlite_instance_made_by_lamin_init(tmp_path: Path, lamin_env: dict[str, str],
                                                             hub_store: HubStore) -> None:
    lamin_init(lamin_env, tmp_path / "wd", tmp_path / "inst-sqlite")
    url = f"sqlite:///{tmp_path / 'inst-sqlite' / '.lamindb' / 'lamin.db'}"
    before = schema_and_seed_rows(url)
    sync_twice_and_read(hub_store, url, lamin_env, "anonymous/inst-sqlite", tmp_path / "neutral")
    # LaminDB's own schema and seed rows are untouched: syncd only added its syncd_* tables
    assert schema_and_seed_rows(url) == before


def schema_and_seed_rows(url: str) -> tuple[list[tuple[Any, ...]], ...]:
    schema = fetch(url, "SELECT type, name, tbl_name, sql FROM sqlite_master "
                        "WHERE tbl_name NOT LIKE 'syncd%' ORDER BY type, name")
    return (schema, fetch(url, "SELECT * FROM lamindb_user WHERE id = 1"),
            fetch(url, "SELECT * FROM lamindb_branch ORDER BY id"),
            fetch(url, "SELECT * FROM lamindb_space WHERE id = 1"),
            fetch(url, "SELECT * FROM django_migrations ORDER BY id"))


@pytest.mark.slow
@pytest.mark.postgres
def test_lamindb_reads_a_postgresql_instance_made_by_lamin_init(tmp_path: Path, lamin_env: dict[str, str],
                                                                hub_store: HubStore, pg_url: str) -> None:
    parsed = make_url(pg_url)
    django_url = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    lamin_init(lamin_env, tmp_path / "wd", tmp_path / "inst-pg", db=django_url)
    sync_twice_and_read(hub_store, pg_url, lamin_env, f"anonymous/{parsed.database}", tmp_path / "neutral")


def test_lamindb_reads_a_database_that_syncd_bootstrapped(tmp_path: Path, lamin_env: dict[str, str],
                                                          hub_store: HubStore) -> None:
    storage = tmp_path / "inst-bare"
    (storage / ".lamindb").mkdir(parents=True)
    url = f"sqlite:///{storage / '.lamindb' / 'lamin.db'}"
    settings_dir = Path(lamin_env["LAMIN_SETTINGS_DIR"]) / ".lamin"
    settings_dir.mkdir(parents=True)
    # a LaminDB instance settings file pointing at the storage root whose .lamindb/lamin.db syncd created
    # (outside the "prod" environment LaminDB prefixes its settings files with the environment's name)
    prefix = f"{lamin_env['LAMIN_ENV']}--"
    (settings_dir / f"{prefix}instance--anonymous--syncd-bare.env").write_text("\n".join([
        "lamindb_instance_owner=anonymous",
        "lamindb_instance_name=syncd-bare",
        f"lamindb_instance_storage_root={storage}",
        "lamindb_instance_storage_region=null",
        "lamindb_instance_db=null",
        "lamindb_instance_schema_str=null",
        f"lamindb_instance_id={uuid.uuid4().hex}",
        "lamindb_instance_git_repo=null",
        "lamindb_instance_keep_artifacts_local=False",
        "lamindb_instance_api_url=null",
        "lamindb_instance_schema_id=null",
        "lamindb_instance_fine_grained_access=False",
        "lamindb_instance_db_permissions=null",
        "lamindb_instance_is_clone=False",
    ]) + "\n", encoding="utf-8")
    sync_twice_and_read(hub_store, url, lamin_env, "anonymous/syncd-bare", tmp_path / "neutral")


# The documented route for LaminDB users (docs/operations.md, "LaminDB instances"): `lamin init` creates
# the instance, syncd's configuration names its database, `syncd run-once` fills it, LaminDB reads it;
# each step run as the command a user runs.
def test_lamin_init_then_syncd_run_once_then_lamindb_reads_the_synced_rows(
    tmp_path: Path, lamin_env: dict[str, str], hub_store: HubStore,
) -> None:
    storage = tmp_path / "lab-a"
    lamin_init(lamin_env, tmp_path / "wd", storage)  # lamin init --storage .../lab-a
    database = storage / ".lamindb" / "lamin.db"
    assert database.is_file()
    with emulator(hub_store) as hub:
        config = tmp_path / "syncd.toml"
        config.write_text(f'[hub]\nurl = "{hub.url}"\n\n[[instances]]\nname = "lab-a"\n'
                          f'url = "sqlite:///{database}"\n')
        done = subprocess.run([sys.executable, "-m", "syncd", "run-once", "--config", str(config)],
                              env={**lamin_env, "SYNCD_HUB_TOKEN": TOKEN}, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        summary = json.loads(done.stdout.splitlines()[-1])
        assert summary["event"] == "sync.summary" and summary["ok"]
    # LaminDB as the user who ran `lamin init`, in the directory where it ran (LaminDB keeps the current
    # instance per directory) with nothing set; and anywhere else with LAMIN_CURRENT_INSTANCE
    check_lamindb_view(_read(lamin_env, tmp_path / "wd"), hub_store)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check_lamindb_view(_read({**lamin_env, "LAMIN_CURRENT_INSTANCE": "anonymous/lab-a"}, elsewhere), hub_store)


def _read(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    read = subprocess.run([sys.executable, str(READER)], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)
    assert read.returncode == 0, read.stdout[-3000:] + read.stderr[-3000:]
    [line] = [ln for ln in read.stdout.splitlines() if ln.startswith("LAMINDB-READ ")]
    seen: dict[str, Any] = json.loads(line.removeprefix("LAMINDB-READ "))
    assert seen["dialect"] == "sqlite"
    return seen
