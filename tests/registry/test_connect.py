"""Connecting: by URL, by configured name, ``using``; clear errors; imports; reads never write."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import tests.support.registry_compat_battery as battery
from syncd import registry
from syncd.registry import FeatureValue, InstanceError, Q, Space, SpaceBlock, User
from tests.support.registry_fixture import sqlite_instance


def _config(tmp_path: Path, instances: dict[str, str]) -> Path:
    lines = ['[hub]', 'url = "https://hub.example.org"', 'token_env = "HUB_TOKEN"', ""]
    for name, url in instances.items():
        lines += ["[[instances]]", f'name = "{name}"', f'url = "{url}"', ""]
    path = tmp_path / "syncd.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_connect_by_configured_name_and_using_another(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    a = sqlite_instance(tmp_path / "a")
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    b = sqlite_instance(b_dir, hub_owned=False)
    with create_engine(b).begin() as conn:
        conn.execute(text("UPDATE lamindb_space SET name = 'Only in B' WHERE id = 12"))
    config = _config(tmp_path, {"lab-a": a, "lab-b": b})
    env = {"HUB_TOKEN": "t"}
    try:
        opened = registry.connect(config=config, instance="lab-a", environ=env)
        assert opened.name == "lab-a"
        assert Space.get(12).name == "Ops"
        assert Space.using("lab-b").get(12).name == "Only in B"
        assert Space.using("lab-b").filter(name__startswith="Only").count() == 1
        with pytest.raises(InstanceError, match="no instance named 'lab-z'.*lab-a, lab-b"):
            Space.using("lab-z").count()
        registry.connect(config=config, environ=env)  # the first configured instance
        assert Space.get(12).name == "Ops"
    finally:
        registry.disconnect()


def test_a_reader_without_access_to_the_hub_token_still_connects_by_name(tmp_path: Path) -> None:
    from syncd.errors import ConfigError
    from syncd.settings import load_settings

    a = sqlite_instance(tmp_path)
    config = tmp_path / "syncd.toml"
    config.write_text(
        f'[hub]\nurl = "http://127.0.0.1:9"\ntoken_file = "{tmp_path}/unreadable-token"\n\n'
        f'[[instances]]\nname = "lab-a"\nurl = "{a}"\n',
        encoding="utf-8",
    )
    # the daemon needs the token and says so ...
    with pytest.raises(ConfigError, match="hub.token_file: cannot read"):
        load_settings(config, {})
    # ... a reader of the instance databases does not
    try:
        assert registry.connect(config=config, instance="lab-a", environ={}).name == "lab-a"
        assert Space.get(12).name == "Ops"
    finally:
        registry.disconnect()


def test_bad_targets_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="no such file"):
        registry.connect(f"sqlite:///{tmp_path}/missing.db")
    assert not (tmp_path / "missing.db").exists()
    other = tmp_path / "other.db"
    with create_engine(f"sqlite:///{other}").begin() as conn:
        conn.execute(text("CREATE TABLE notes (id integer)"))
    with pytest.raises(InstanceError, match="not a LaminDB instance.*lamindb_space"):
        registry.connect(f"sqlite:///{other}")
    with pytest.raises(InstanceError, match="not a database URL"):
        registry.connect("not a url")
    with pytest.raises(InstanceError, match="cannot connect to postgresql.*\\*\\*\\*"):
        registry.connect("postgresql://u:secret@127.0.0.1:1/db")
    with pytest.raises(InstanceError, match="cannot read the configuration"):
        registry.connect(config=tmp_path / "nope.toml", instance="x", environ={})
    registry.disconnect()
    with pytest.raises(InstanceError, match="not connected: call syncd.registry.connect"):
        Space.filter().count()


def test_import_loads_no_daemon_and_no_pandas() -> None:
    code = ("import sys, syncd.registry; "
            "print(sorted(m for m in ('apscheduler', 'tenacity', 'httpx', 'pandas', 'django', 'lamindb') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names() -> None:
    assert all(hasattr(registry, name) for name in registry.__all__)
    assert {"connect", "Space", "SpaceBlock", "User", "FeatureValue", "Q", "DoesNotExist",
            "MultipleObjectsReturned", "RegistryError"} <= set(registry.__all__)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_reads_never_write_the_database(tmp_path: Path) -> None:
    url = sqlite_instance(tmp_path)
    path = tmp_path / "instance.db"
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    registry.connect(url)
    try:
        results = battery.run({"Space": Space, "SpaceBlock": SpaceBlock, "User": User,
                               "FeatureValue": FeatureValue, "Q": Q})
        assert len(json.dumps(results)) > 1000
    finally:
        registry.disconnect()
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance.db"]


def test_read_connections_refuse_writes(tmp_path: Path) -> None:
    opened = registry.connect(sqlite_instance(tmp_path))
    try:
        with opened.read() as conn, pytest.raises(Exception, match="readonly|read-only"):
            conn.execute(text("UPDATE lamindb_space SET name = 'x' WHERE id = 2"))
    finally:
        registry.disconnect()


@pytest.mark.postgres
def test_postgresql_read_connections_are_read_only(pg_url: str) -> None:
    from tests.support.registry_fixture import make_instance

    make_instance(pg_url)
    opened = registry.connect(pg_url)
    try:
        with opened.read() as conn, pytest.raises(Exception, match="read-only transaction"):
            conn.execute(text("UPDATE lamindb_space SET name = 'x' WHERE id = 2"))
    finally:
        registry.disconnect()


def test_using_takes_urls_instances_and_the_filter_keyword(tmp_path: Path) -> None:
    url = sqlite_instance(tmp_path)
    try:
        other = registry.connect(url)
        assert Space.using(url).filter(name="Ops").count() == 1
        assert Space.using(other).get(12).name == "Ops"
        assert Space.filter(name="Ops", using=url).count() == 1
        assert Space.filter(name="Ops").using(other).exists()
    finally:
        registry.disconnect()


def _without_jsonvalue(url: str) -> None:
    """A database as syncd sets one up: LaminDB's tables that syncd fills, and no others."""
    from sqlalchemy import inspect

    from syncd.store.bootstrap import prepare_schema

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            prepare_schema(conn)
            assert "lamindb_jsonvalue" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_registry_whose_table_syncd_did_not_create_says_so(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'synced.db'}" if dialect == "sqlite" else request.getfixturevalue("pg_url")
    _without_jsonvalue(url)
    opened = registry.connect(url)
    try:
        assert Space.filter().count() == 1  # the built-in space: the tables syncd made are read as usual
        for query in (
            lambda: FeatureValue.filter(space__name="all").count(),
            lambda: FeatureValue.get(1),
            lambda: FeatureValue.to_dataframe(),
            lambda: FeatureValue.search("x").to_list(),
        ):
            with pytest.raises(InstanceError, match=r"has no table lamindb_jsonvalue: .*`lamin init`") as raised:
                query()
            assert "lamindb_space, lamindb_spaceblock" in str(raised.value)
        # an error about a table that exists is not turned into this one
        with pytest.raises(Exception, match="no_such_column") as other, opened.read() as conn:
            conn.execute(text("SELECT no_such_column FROM lamindb_space"))
        assert not isinstance(other.value, InstanceError)
    finally:
        registry.disconnect()


def test_to_dataframe_without_pandas_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.registry import MissingDependencyError

    registry.connect(sqlite_instance(tmp_path))
    try:
        monkeypatch.setitem(sys.modules, "pandas", None)  # what an installation without pandas does
        with pytest.raises(MissingDependencyError, match=r"pip install 'syncd\[dataframe\]'") as raised:
            Space.filter().to_dataframe()
        assert isinstance(raised.value, ImportError)
        assert Space.filter().count() > 0  # everything else works without it
    finally:
        registry.disconnect()
