"""The daemon's runtime state file: where it is, what it holds, what a reader accepts."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from syncd.daemon.runtime_state import (
    DEFAULT_RUNTIME_DIR,
    read_listen_state,
    record_listen_state,
    remove_listen_state,
    runtime_dir,
    state_file,
    write_listen_state,
)


def test_the_directory_comes_from_syncd_then_systemd_then_the_default() -> None:
    assert runtime_dir({}) == DEFAULT_RUNTIME_DIR == Path("/run/syncd")
    assert runtime_dir({"RUNTIME_DIRECTORY": "/run/syncd:/run/other"}) == Path("/run/syncd")
    assert runtime_dir({"RUNTIME_DIRECTORY": "/run/x", "SYNCD_RUNTIME_DIR": "/srv/rt"}) == Path("/srv/rt")


def test_one_file_per_configuration_and_listen_override(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    env = {"SYNCD_RUNTIME_DIR": str(tmp_path)}
    first = state_file(config, env)
    assert first.parent == tmp_path and first.name.startswith("health-") and first.suffix == ".json"
    assert state_file(config, dict(env)) == first
    assert state_file(tmp_path / "other.toml", env) != first
    assert state_file(config, {**env, "SYNCD_HEALTH_LISTEN": "127.0.0.1:8788"}) != first


def test_written_state_is_read_back_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "health-x.json"
    write_listen_state(path, "0.0.0.0", 8787, config=tmp_path / "syncd.toml", pid=42)
    assert read_listen_state(path) == ("0.0.0.0", 8787)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["health-x.json"]
    remove_listen_state(path)
    remove_listen_state(path)  # twice is fine
    assert read_listen_state(path) is None


def test_files_that_are_not_a_state_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "health-x.json"
    for body in (b"", b"not json", b"[]", b'{"listen_host": "h"}', b'{"listen_host": "h", "listen_port": 0}',
                 b'{"listen_host": 1, "listen_port": 80}', b'{"listen_host": "h", "listen_port": "80"}',
                 b'{"listen_host": "h", "listen_port": 80, "pad": "' + b"x" * 5000 + b'"}'):
        path.write_bytes(body)
        assert read_listen_state(path) is None, body[:60]


def test_the_daemon_records_where_it_listens(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    env = {"SYNCD_RUNTIME_DIR": str(tmp_path)}
    path = record_listen_state(config, env, "127.0.0.1", 8789)
    assert path == state_file(config, env)
    assert read_listen_state(path) == ("127.0.0.1", 8789)


def test_a_state_file_that_cannot_be_written_is_logged_not_fatal(
    tmp_path: Path, logs: list[MutableMapping[str, Any]],
) -> None:
    env = {"SYNCD_RUNTIME_DIR": str(tmp_path / "missing")}
    assert record_listen_state(tmp_path / "syncd.toml", env, "127.0.0.1", 8789) is None
    (event,) = [e for e in logs if e["event"] == "health.state_not_written"]
    assert event["path"].startswith(str(tmp_path / "missing"))
