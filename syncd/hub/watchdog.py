"""The end-to-end time bound of one request: a watchdog that cuts the connection off.

httpx bounds each single read, not a request: a hub that trickles its
headers or body, or falls silent just before the bound, could hold a request
for many times ``timeout_seconds``. The client records the network streams
its connections open (httpx's ``trace`` extension) and, for every attempt,
arms a timer; when it fires before the attempt is done, the sockets are shut
down, so whatever read is blocked returns at once and the attempt fails as a
timeout. A client sends one request at a time, so every open socket belongs
to the attempt in flight or is idle in the pool (and is simply reopened).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

__all__ = ["Timer", "TimerFactory", "Watchdog"]

_OPENED = frozenset({"connection.connect_tcp.complete", "connection.start_tls.complete"})


class Timer(Protocol):
    """What :class:`threading.Timer` offers the watchdog."""

    def start(self) -> None: ...

    def cancel(self) -> None: ...


TimerFactory = Callable[[float, Callable[[], None]], Timer]


class Watchdog:
    """Shuts one client's connections down when an attempt outlives its time."""

    def __init__(self, timer: TimerFactory = threading.Timer) -> None:
        self._timer = timer
        self._streams: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpx's ``trace`` extension: remember each network stream a connection opens."""
        if event in _OPENED and info.get("return_value") is not None:
            with self._lock:
                self._streams.add(info["return_value"])

    @contextlib.contextmanager
    def guard(self, seconds: float) -> Iterator[Callable[[], bool]]:
        """Cut the connections off after ``seconds`` unless the block is done; yields whether time ran out."""
        cut = threading.Event()

        def fire() -> None:
            # set before the sockets are cut: the blocked read returns the moment they are, and
            # the attempt must already see that its time ran out (else it reads as a protocol error)
            cut.set()
            with self._lock:
                streams = list(self._streams)
            for stream in streams:
                sock = stream.get_extra_info("socket")
                if isinstance(sock, socket.socket):
                    with contextlib.suppress(OSError):  # closed already: nothing left to cut
                        sock.shutdown(socket.SHUT_RDWR)

        timer = self._timer(max(0.0, seconds), fire)
        timer.start()
        try:
            yield cut.is_set
        finally:
            timer.cancel()
