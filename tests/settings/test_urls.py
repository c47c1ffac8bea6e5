"""Database URLs read without SQLAlchemy, into the parts SQLAlchemy reads; settings load without it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncd.settings.urls import DatabaseURL, parse_url

URLS = [
    "sqlite://",
    "sqlite:///",
    "sqlite:///relative.db",
    "sqlite:////abs/path/a b.db",
    "sqlite:///file:data.db?mode=ro&uri=true",
    "sqlite:///a.db?x=&y=1&y=2",
    "postgresql://db.example/app",
    "postgresql+psycopg://user:pw@host:5433/app?sslmode=require&application_name=x",
    "postgresql://us%40er:p%3Aw%2Fd@host/d%2Fb",
    "postgresql://user:p@ss@host/app",  # an unencoded '@' in the password
    "postgresql://user@[::1]:5432/app",
    "postgresql://[fe80::1%25eth0]/app",
    "postgresql:///app?host=/var/run/postgresql&port=5433",
    "postgresql://user:@host/app",
    "postgresql://:secret@host/app",
    "postgresql://host/app?password=x&sslpassword=y&Password=z",
    "postgresql://host/dbname=app password=secret",
    "postgresql://h1,h2:5432/app",
    "mysql+pymysql://u:p@h/db?charset=utf8mb4",
    "postgresql://host:/app",  # an empty port
    "postgresql://host:port/app",
    "postgresql://host: 5/app",
    "not a url",
    "://host/db",
    "postgresql:/host/db",
    "",
]


def _sqlalchemy(text: str) -> tuple[Any, ...] | None:
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        return None
    return (url.drivername, url.username, url.password, url.host, url.port, url.database, dict(url.query))


def _ours(text: str) -> tuple[Any, ...] | None:
    try:
        url = parse_url(text)
    except ValueError:
        return None
    return (url.driver, url.username, url.password, url.host, url.port, url.database, url.query)


@pytest.mark.parametrize("text", URLS)
def test_a_url_is_read_into_the_parts_sqlalchemy_reads(text: str) -> None:
    assert _ours(text) == _sqlalchemy(text)


@pytest.mark.parametrize("text", URLS)
def test_a_url_is_rendered_as_sqlalchemy_renders_it(text: str) -> None:
    try:
        ours = parse_url(text)
    except ValueError:
        return
    theirs = make_url(text)
    for hide in (True, False):
        assert ours.render(hide_password=hide) == theirs.render_as_string(hide_password=hide)
    assert parse_url(ours.render(hide_password=False)) == ours


_PIECE = st.text(st.sampled_from("abz09 :/@?&=%[]+.-_,#"), max_size=12)


@given(st.sampled_from(["sqlite", "postgresql", "postgresql+psycopg", "x"]), _PIECE)
def test_any_text_after_a_scheme_is_read_as_sqlalchemy_reads_it(driver: str, rest: str) -> None:
    text = f"{driver}://{rest}"
    assert _ours(text) == _sqlalchemy(text)
    if _ours(text) is not None:
        assert parse_url(text).render(hide_password=False) == make_url(text).render_as_string(False)


def test_backend_is_the_driver_name_without_the_driver() -> None:
    assert parse_url("postgresql+psycopg://h/d").backend == "postgresql"
    assert parse_url("sqlite:///a.db").backend == "sqlite"
    assert DatabaseURL("sqlite").render(hide_password=False) == "sqlite://"


@pytest.mark.parametrize("module", ["syncd.settings", "syncd.secrets", "syncd.logs"])
def test_reading_settings_and_masking_urls_does_not_load_sqlalchemy(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "from syncd.settings import load_settings\n"
        "from syncd.secrets import mask_url\n"
        "assert mask_url('postgresql://u:pw@h/d') == 'postgresql://u:***@h/d'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
