"""One syncd writer per instance: a PostgreSQL advisory lock, or a file lock beside a SQLite file.

The lock is held for a whole run on the connection (PostgreSQL) or by the
process (SQLite) and vanishes with it, kill -9 included. A second process
waits up to ``timeout`` seconds and then gets :class:`InstanceLockedError`. A lock
file that cannot be created fails the instance with the reason
(:func:`syncd.store.diagnose.lock_file_failure`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from syncd.errors import InstanceLockedError
from syncd.store.diagnose import lock_file_failure

__all__ = ["instance_lock"]

# two 32-bit keys: "sync" and "d" — the advisory-lock namespace of syncd
_PG_KEY = (0x73796E63, 0x64)
_POLL_SECONDS = 0.1


@contextlib.contextmanager
def instance_lock(
    conn: Connection,
    url: str,
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold the instance's syncd lock for the duration of the block."""
    if conn.dialect.name == "postgresql":
        with _pg_lock(conn, timeout, sleep, monotonic):
            yield
        return
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        yield
        return
    with _file_lock(Path(database + ".syncd-lock"), timeout, sleep, monotonic):
        yield


def _wait(
    attempt: Callable[[], bool],
    timeout: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> None:
    deadline = monotonic() + timeout
    while not attempt():
        if monotonic() >= deadline:
            raise InstanceLockedError(
                f"another syncd process is syncing this instance (waited {timeout:g}s for its lock)"
            )
        sleep(_POLL_SECONDS)


@contextlib.contextmanager
def _pg_lock(
    conn: Connection,
    timeout: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> Iterator[None]:
    def attempt() -> bool:
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": _PG_KEY[0], "b": _PG_KEY[1]}
        ).scalar_one()
        conn.commit()
        return bool(got)

    _wait(attempt, timeout, sleep, monotonic)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": _PG_KEY[0], "b": _PG_KEY[1]})
            conn.commit()


@contextlib.contextmanager
def _file_lock(
    path: Path,
    timeout: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise lock_file_failure(path, exc) from None
    try:

        def attempt() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _wait(attempt, timeout, sleep, monotonic)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
