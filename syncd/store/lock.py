"""One syncd writer per instance: a PostgreSQL advisory lock, or a file lock beside a SQLite file.

The lock is held for a whole run on the connection (PostgreSQL) or by the
process (SQLite) and vanishes with it, kill -9 included. A second process
waits up to ``timeout`` seconds and then gets :class:`InstanceLockedError`. A lock
file that cannot be created fails the instance with the reason
(:func:`syncd.store.diagnose.lock_file_failure`). How the lock is taken is the
database adapter's (:meth:`~syncd.store.dialects.Dialect.writer_lock`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from sqlalchemy import Connection

from syncd.store.dialects import dialect_for

__all__ = ["instance_lock"]


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
    with dialect_for(conn).writer_lock(conn, url, timeout=timeout, sleep=sleep, monotonic=monotonic):
        yield
