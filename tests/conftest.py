"""Shared fixtures: throwaway PostgreSQL databases, SQLite instance URLs, settings builders.

PostgreSQL tests create their own database and drop it afterwards. Without a
reachable server they skip with the reason, except under ``CI=true``, where a
missing server is a failure.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from tests.support.serving import spawn  # noqa: F401  (a fixture: `syncd serve` child processes, for every test)

PG_ADMIN_URL = os.environ.get("SYNCD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI=true but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server reachable ({reason}); set SYNCD_TEST_PG to use another")


def create_pg_database(prefix: str = "syncd_test") -> str:
    """Create a fresh database and return its URL (the caller drops it with :func:`drop_pg_database`)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        _pg_unavailable(str(exc.orig).splitlines()[0] if exc.orig else str(exc))
    finally:
        admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards)."""
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite instance URL whose file does not exist yet."""
    return f"sqlite:///{tmp_path / 'instance.db'}"


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Captured structlog events at every level, whatever the rest of the suite configured."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    try:
        with capture_logs() as captured:
            yield captured
    finally:
        structlog.configure(**saved)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Logging as it was before the test: the root handlers and level, the library loggers, structlog."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
    for name in ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.reset_defaults()
