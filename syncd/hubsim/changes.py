"""What the emulator's store tells about each write: change notices, and writes held back from reads.

:class:`ChangeFeed` belongs to a :class:`~syncd.hubsim.store.HubStore`. The
store calls :meth:`ChangeFeed.emit` for every row it creates, changes or
removes (its Realtime endpoint listens). While ``lag()`` is above zero, a
write is noticed at once but becomes visible to reads only ``lag()`` seconds
later, as behind a lagging read replica: :meth:`ChangeFeed.hold` queues it
and the store applies it, in write order, once :meth:`ChangeFeed.due` says so.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, NamedTuple

from syncd.core.models import Resource

__all__ = ["Change", "ChangeFeed", "ChangeKind", "ChangeListener"]

ChangeKind = Literal["INSERT", "UPDATE", "DELETE"]


class Change(NamedTuple):
    resource: Resource
    kind: ChangeKind
    values: dict[str, Any]
    committed: datetime


ChangeListener = Callable[[Change], None]


class ChangeFeed:
    """Listeners of a store's writes, and the writes not yet visible. Guarded by the store's lock."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._listeners: list[ChangeListener] = []
        self._listeners_lock = threading.Lock()
        self._held: deque[tuple[float, Any]] = deque()
        self.lag: Callable[[], float] = lambda: 0.0

    def listen(self, listener: ChangeListener) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def emit(self, change: Change) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(change)

    def hold(self, item: Any) -> bool:
        """Queue ``item`` until the lag has passed; False when it may be applied now."""
        lag = self.lag()
        if lag <= 0 and not self._held:
            return False
        due = self._monotonic() + max(lag, 0.0)
        if self._held:
            due = max(due, self._held[-1][0])  # in write order
        self._held.append((due, item))
        return True

    def due(self) -> list[Any]:
        """The held items whose time has come, oldest first (removed from the queue)."""
        now = self._monotonic()
        out = []
        while self._held and self._held[0][0] <= now:
            out.append(self._held.popleft()[1])
        return out

    def held(self, predicate: Callable[[Any], bool]) -> Any | None:
        """The newest held item matching ``predicate``, or None."""
        return next((item for _, item in reversed(self._held) if predicate(item)), None)
