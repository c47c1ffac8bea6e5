"""Shared fixtures: throwaway PostgreSQL databases, SQLite instance URLs, settings builders.

PostgreSQL tests create their own database and drop it afterwards. Without a
reachable server they skip with the reason, except under ``CI=true``, where a
missing server is a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from tests.support.postgres import create_pg_database, drop_pg_database

# fixtures defined beside their helpers: `spawn` (`syncd serve` child processes)
pytest_plugins = ["tests.support.serving"]


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
