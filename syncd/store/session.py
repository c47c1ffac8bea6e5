"""Keeping an instance's PostgreSQL session alive while the engine waits for the hub.

The session's advisory lock is the instance's lock, and the server ends a
session that stays silent for ``lease_seconds`` (:func:`syncd.store.engine.fence_session`),
so a stopped replica loses its instances to the others. A live replica must
not lose them while it merely waits: for the hub's next page, a key listing,
a retry's backoff. :class:`Keepalive` pings each open store's session from a
thread of its own whenever the store has been idle for a third of its lease.
A store's connection is never used by two threads at once: every call that
touches it holds the store's lock (:func:`exclusive`), and a ping is skipped
while the store is busy, which keeps the session alive anyway.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import structlog

from syncd.errors import StoreError

__all__ = ["Keepalive", "Pingable", "exclusive"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Guarded(Protocol):
    _guard: threading.RLock

    def _touched(self) -> None: ...


_G = TypeVar("_G", bound=_Guarded)


def exclusive(method: Callable[Concatenate[_G, _P], _R]) -> Callable[Concatenate[_G, _P], _R]:
    """Run ``method`` holding the store's lock, and note the store as just used."""

    def guarded(self: _G, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._guard:
            try:
                return method(self, *args, **kwargs)
            finally:
                self._touched()

    functools.update_wrapper(guarded, method)
    return guarded


class Pingable(Protocol):
    name: str

    def keepalive(self, idle_seconds: float) -> None:
        """Ping the session if the store has been idle for ``idle_seconds`` and is not busy."""


class Keepalive:
    """A thread that keeps the given stores' sessions alive until the block ends."""

    def __init__(self, stores: Iterable[Pingable], every_seconds: float) -> None:
        self._stores = list(stores)
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syncd-keepalive", daemon=True)

    def __enter__(self) -> Keepalive:
        if self._stores:
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for store in self._stores:
                try:
                    store.keepalive(self._every)
                except StoreError as exc:  # the store's next real use reports it
                    structlog.get_logger("syncd.store").debug(
                        "store.keepalive_failed", instance=store.name, error=str(exc)
                    )
