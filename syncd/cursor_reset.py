"""``syncd reset-cursor``: send one instance's change streams back to the beginning.

For an instance whose cursor went wrong (a hub clock that was far ahead
before syncd checked it, a restored backup of the hub): the next run reads
every row again. It is safe: nothing applied is removed, and a row read again
that the instance already holds as served is left untouched (it counts as
unchanged); only what differs is written. The instance's lock is taken, so a
running daemon's sync of the same instance is waited for, never raced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from syncd.core.models import Resource
from syncd.core.timestamps import utc_now
from syncd.errors import InstanceUnreachableError, StoreError
from syncd.settings import InstanceSettings
from syncd.store.cursors import restart_cursor
from syncd.store.engine import create_instance_engine
from syncd.store.lock import instance_lock

__all__ = ["reset_cursors"]


def reset_cursors(
    instance: InstanceSettings,
    resources: list[Resource],
    *,
    lock_timeout: float,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Restart ``resources``' streams of ``instance`` under its lock.

    Raises :class:`~syncd.errors.StoreError` when the database cannot be
    opened, was never synced, or another process holds the lock longer than
    ``lock_timeout``.
    """
    url = instance.url.reveal()
    engine = create_instance_engine(url)
    try:
        with engine.connect() as conn:
            if "syncd_cursor" not in inspect(conn).get_table_names():
                raise StoreError(
                    f"{instance.name}: never synced ({instance.display_url}): no cursor to reset"
                )
            conn.commit()  # end the inspection's implicit transaction before the lock is taken
            with (
                instance_lock(conn, url, timeout=lock_timeout, sleep=sleep, monotonic=monotonic),
                conn.begin(),
            ):
                for resource in resources:
                    restart_cursor(conn, resource, now=clock())
    except SQLAlchemyError as exc:
        raise InstanceUnreachableError(
            f"cannot reset the cursor of {instance.display_url}: {type(exc).__name__}"
        ) from None
    finally:
        engine.dispose()
