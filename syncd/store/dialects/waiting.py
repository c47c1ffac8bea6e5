"""Waiting for the instance lock: the retry loop both adapters' locks share."""

from __future__ import annotations

from collections.abc import Callable

from syncd.errors import InstanceLockedError

__all__ = ["POLL_SECONDS", "wait_for"]

POLL_SECONDS = 0.1


def wait_for(
    attempt: Callable[[], bool],
    timeout: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> None:
    """Call ``attempt`` until it succeeds; :class:`InstanceLockedError` after ``timeout`` seconds."""
    deadline = monotonic() + timeout
    while not attempt():
        if monotonic() >= deadline:
            raise InstanceLockedError(
                f"another syncd process is syncing this instance (waited {timeout:g}s for its lock)"
            )
        sleep(POLL_SECONDS)
