"""A failure that belongs to one instance fails that instance alone, with a kind and a cause to act on.

File-system refusals (permissions, a directory where the database or lock file
belongs, a missing directory), SQLite's ``database is locked`` and PostgreSQL
errors each fail one instance; its neighbours in the group sync as usual, and
nothing is reported as ``internal``. Permission checks run in a child process
without the power to override file permissions (``setpriv`` drops
``CAP_DAC_OVERRIDE`` when the tests run as root).
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from syncd.errors import InstanceBusyError, InstanceFileSystemError
from syncd.hubsim import HubStore, ManualClock
from syncd.settings import SyncSettings
from syncd.store.diagnose import lock_file_failure, store_failure
from syncd.store.engine import create_instance_engine
from syncd.store.instance import InstanceStore
from tests.support.builders import TOKEN, settings_for
from tests.support.syncenv import (
    START,
    cli_command,
    cli_env,
    emulator,
    execute,
    local_blocks,
    summary_of,
    sync,
    write_config,
)

from tests.support.builders import instance_settings  # isort: skip


def _hub() -> HubStore:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    store.create_block(home["id"], "some words")
    return store


def _outcomes(report: object) -> dict[str, tuple[str, str | None, str | None]]:
    return {i.name: (i.outcome, i.error_kind, i.error) for i in report.instances}  # type: ignore[attr-defined]


def test_a_lock_file_path_taken_by_a_directory_fails_only_that_instance(tmp_path: Path) -> None:
    (tmp_path / "bad.db.syncd-lock").mkdir()
    with emulator(_hub()) as hub:
        settings = settings_for(hub.url, {"good": f"sqlite:///{tmp_path}/good.db",
                                          "bad": f"sqlite:///{tmp_path}/bad.db"})
        report = sync(settings)
    outcomes = _outcomes(report)
    assert outcomes["good"][:2] == ("ok", None)
    assert outcomes["bad"][:2] == ("failed", "filesystem")
    assert outcomes["bad"][2] == f"cannot create {tmp_path}/bad.db.syncd-lock: {tmp_path}/bad.db.syncd-lock is a directory"
    assert len(local_blocks(f"sqlite:///{tmp_path}/good.db")) == 1


def test_a_database_path_that_is_a_directory_or_in_a_missing_directory_says_so(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with emulator(_hub()) as hub:
        settings = settings_for(hub.url, {
            "good": f"sqlite:///{tmp_path}/good.db",
            "dir": f"sqlite:///{tmp_path}/dir.db",
            "nowhere": f"sqlite:///{tmp_path}/missing/new.db",
        })
        report = sync(settings)
    outcomes = _outcomes(report)
    assert outcomes["good"][0] == "ok"
    assert outcomes["dir"][1] == "filesystem"
    assert outcomes["dir"][2] is not None and outcomes["dir"][2].endswith(
        f"{tmp_path}/dir.db is a directory, not a SQLite database file")
    assert outcomes["nowhere"][1] == "filesystem"
    assert outcomes["nowhere"][2] is not None and outcomes["nowhere"][2].endswith(
        f"directory {tmp_path}/missing does not exist")


def _unprivileged(args: list[str]) -> list[str]:
    """``args`` run without the power to override file permissions."""
    if os.geteuid() != 0:
        return args
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        if os.environ.get("CI") == "true":
            pytest.fail("setpriv (util-linux) is needed to drop CAP_DAC_OVERRIDE under CI=true")
        pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *args]


def test_unwritable_directories_fail_their_instances_alone_as_an_unprivileged_user(tmp_path: Path) -> None:
    import subprocess

    locked_dir, new_dir, good_dir = tmp_path / "ro", tmp_path / "ro-new", tmp_path / "rw"
    for d in (locked_dir, new_dir, good_dir):
        d.mkdir()
    sqlite3.connect(locked_dir / "old.db").close()  # an existing (empty) database file
    with emulator(_hub()) as hub:
        config = write_config(tmp_path / "syncd.toml", hub.url, {
            "good": f"sqlite:///{good_dir}/good.db",
            "old": f"sqlite:///{locked_dir}/old.db",
            "new": f"sqlite:///{new_dir}/new.db",
        })
        locked_dir.chmod(0o555)
        new_dir.chmod(0o555)
        try:
            done = subprocess.run(_unprivileged(cli_command(["run-once", "--config", str(config)])),
                                  env=cli_env(TOKEN), cwd=tmp_path, capture_output=True, text=True,
                                  timeout=120, check=False)
        finally:
            locked_dir.chmod(0o755)
            new_dir.chmod(0o755)
    assert done.returncode != 0, done.stderr
    summary = summary_of(done.stdout)
    by_name = {i["instance"]: i for i in summary["instances"]}
    assert by_name["good"]["outcome"] == "ok"
    assert by_name["good"]["space_block"]["inserted"] == 1
    uid = os.geteuid()
    assert by_name["old"]["error_kind"] == "filesystem"
    assert by_name["old"]["error"] == (
        f"cannot create {locked_dir}/old.db.syncd-lock: directory {locked_dir} not writable by uid {uid}")
    assert by_name["new"]["error_kind"] == "filesystem"
    assert by_name["new"]["error"].endswith(
        f"cannot create {new_dir}/new.db: directory {new_dir} is not writable by uid {uid}")
    assert "internal" not in done.stdout


def test_sqlite_locked_by_another_writer_fails_with_kind_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/busy.db"
    holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # a writer that never lets go
    try:
        store = InstanceStore(instance_settings(url), SyncSettings(),
                              engine_factory=functools.partial(create_instance_engine, busy_timeout_seconds=0.05))
        with pytest.raises(InstanceBusyError) as raised:
            store.open()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert raised.value.kind == "busy"
    assert f"{tmp_path}/busy.db stayed locked by another writer" in str(raised.value)


@pytest.mark.postgres
def test_a_postgresql_error_while_writing_fails_only_that_instance(tmp_path: Path, pg_url: str) -> None:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"lite": f"sqlite:///{tmp_path}/lite.db", "pg": pg_url})
        assert sync(settings).ok
        execute(pg_url, """
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'blocks are frozen here'; END $$""")
        execute(pg_url, "CREATE TRIGGER frozen BEFORE INSERT ON lamindb_spaceblock "
                        "FOR EACH ROW EXECUTE FUNCTION refuse()")
        store.create_block(home["id"], "new words")
        report = sync(settings)
    outcomes = _outcomes(report)
    assert outcomes["lite"][:2] == ("ok", None)
    assert outcomes["pg"][:2] == ("failed", "store")
    assert outcomes["pg"][2] is not None and "blocks are frozen here" in outcomes["pg"][2]
    assert len(local_blocks(f"sqlite:///{tmp_path}/lite.db")) == 1


def test_file_system_errors_name_the_cause(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    full = store_failure(OSError(errno.ENOSPC, "No space left on device"), "writing to lab failed", sqlite_file=db)
    assert isinstance(full, InstanceFileSystemError)
    assert str(full) == f"writing to lab failed: no space left on the file system holding {db}"
    read_only = store_failure(OSError(errno.EROFS, "Read-only file system"), "cannot open lab", sqlite_file=db)
    assert str(read_only) == f"cannot open lab: {db} is on a read-only file system"
    lock = lock_file_failure(tmp_path / "lab.db.syncd-lock", OSError(errno.EROFS, "Read-only file system"))
    assert str(lock) == f"cannot create {tmp_path}/lab.db.syncd-lock: {tmp_path}/lab.db.syncd-lock is on a read-only file system"
    assert lock.kind == "filesystem"
