"""Two instance entries that name one database are refused at load time, naming both."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from syncd.errors import ConfigError
from syncd.settings import parse_settings

ENV = {"SYNCD_HUB_TOKEN": "tok-databases-test-1"}


def _load(*urls: str, environ: dict[str, str] | None = None) -> Any:
    data = {
        "hub": {"url": "http://127.0.0.1:9"},
        "instances": [{"name": f"lab-{i}", "url": url} for i, url in enumerate(urls)],
    }
    return parse_settings(data, {**ENV, **(environ or {})}, source="syncd.toml")


def _refused(*urls: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        _load(*urls, environ=environ)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


def test_one_sqlite_file_under_two_spellings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    plain = f"sqlite:///{tmp_path}/lab.db"
    for other in (
        f"sqlite:///{tmp_path}/./lab.db",
        f"sqlite:///{tmp_path}/sub/../lab.db",
        f"sqlite:///{tmp_path}//lab.db",
        f"sqlite:///file:{tmp_path}/lab.db?uri=true",
    ):
        problem = _refused(plain, other)
        assert problem == (
            f"syncd.toml: instances[1].url: instances 'lab-0' and 'lab-1' point at one database "
            f"(SQLite file {tmp_path}/lab.db); each would wait for the other's lock on every run: keep one entry"
        )
    monkeypatch.chdir(tmp_path)
    assert "'lab-0' and 'lab-1'" in _refused(plain, "sqlite:///lab.db")


def test_one_sqlite_file_through_a_symlink_or_a_hard_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "lab.db").write_bytes(b"")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "link.db").symlink_to(tmp_path / "real" / "lab.db")
    os.link(tmp_path / "real" / "lab.db", tmp_path / "hard.db")
    real = f"sqlite:///{tmp_path}/real/lab.db"
    for other in (f"sqlite:///{tmp_path}/alias/lab.db", f"sqlite:///{tmp_path}/link.db",
                  f"sqlite:///{tmp_path}/hard.db"):
        assert "instances 'lab-0' and 'lab-1' point at one database" in _refused(real, other)
    # the second of three is named against the first
    assert "instances 'lab-0' and 'lab-2'" in _refused(real, f"sqlite:///{tmp_path}/other.db",
                                                       f"sqlite:///{tmp_path}/link.db")


def test_different_and_in_memory_sqlite_databases_load(tmp_path: Path) -> None:
    settings = _load(f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db", "sqlite://", "sqlite://",
                     "sqlite:///:memory:")
    assert len(settings.instances) == 5


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("postgresql://syncd@localhost/lab", "postgresql://syncd@127.0.0.1/lab"),
        ("postgresql://syncd@localhost:5432/lab", "postgresql+psycopg://other@127.0.0.1/lab"),
        ("postgresql://syncd@[::1]/lab", "postgresql://syncd@LOCALHOST./lab"),
        ("postgresql://syncd@127.0.0.1/lab", "postgresql://syncd@[::ffff:127.0.0.1]:5432/lab"),
        ("postgresql://syncd@127.0.0.1/lab", "postgresql:///lab?host=/var/run/postgresql"),
        ("postgresql://syncd@db.example.org/lab", "postgresql://u2@DB.example.org:5432/lab"),
        ("postgresql://syncd@127.0.0.1/syncd", "postgresql://syncd@localhost"),  # dbname defaults to the user
    ],
)
def test_one_postgresql_database_under_two_names(first: str, second: str) -> None:
    problem = _refused(first, second)
    assert "instances[1].url: instances 'lab-0' and 'lab-1' point at one database (PostgreSQL database" in problem
    assert "syncd@" not in problem  # the description names the database, never the URL


def test_postgresql_defaults_come_from_the_libpq_environment() -> None:
    env = {"PGHOST": "localhost", "PGPORT": "5433", "PGDATABASE": "lab"}
    assert "PostgreSQL database 'lab' on this machine:5433" in _refused(
        "postgresql://syncd@127.0.0.1:5433/lab", "postgresql://syncd@/", environ=env)
    assert len(_load("postgresql://syncd@127.0.0.1:5432/lab", "postgresql://syncd@/", environ=env).instances) == 2


def test_different_postgresql_databases_load_and_no_name_is_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a name was looked up: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(socket, "gethostbyname", no_dns)
    settings = _load(
        "postgresql://syncd@127.0.0.1/lab_a",
        "postgresql://syncd@127.0.0.1/lab_b",
        "postgresql://syncd@127.0.0.1:5433/lab_a",
        "postgresql://syncd@db.example.org/lab_a",  # not resolved: compared as written
        "postgresql://syncd@10.1.2.3/lab_a",
        "postgresql:///lab_c?service=prod",  # a service entry cannot be told apart: not compared
        "postgresql:///lab_c?service=prod",
    )
    assert len(settings.instances) == 7
