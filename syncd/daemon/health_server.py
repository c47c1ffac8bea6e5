"""The health port's HTTP server, bounded so that no local client can starve syncing.

- **Connections**: at most ``max_connections`` are served at once, each on its
  own thread. Further connections wait in the kernel's listen backlog (they
  hold no file descriptor of syncd's) until a slot frees; when every slot is
  taken, the oldest connection whose request head has not arrived within
  ``head_grace_seconds`` is closed to make room, so idle connections cannot
  starve new ones.
- **Time**: a connection is closed ``connection_seconds`` after it was
  accepted, whatever it is doing: a request whose headers never end (a bare
  ``GET /readyz`` without the blank line), a body trickling in, or a client
  that does not read the answer.
- **Size**: at most ``max_request_bytes`` of a request are read; the rest is
  ignored.
- **File descriptors**: while fewer than ``fd_reserve`` descriptors remain
  below the process's ``RLIMIT_NOFILE`` soft limit, a new connection is
  accepted only to be answered ``503`` and closed at once, so the descriptors
  left are syncing's (its database files, journals and hub connections).

Refused and deadline-closed connections are counted (:meth:`BoundedServer.stats`)
and reported by one ``health.connections_limited`` warning a minute at most.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.types import WSGIApplication

import structlog

__all__ = ["BoundedServer", "HealthLimits", "fd_room", "start_health_server"]

log = structlog.get_logger(__name__)

_POLL_SECONDS = 0.2
_REPORT_EVERY_SECONDS = 60.0
_REFUSAL = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\nbusy\n"
)


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """Bounds of the health port (see the module docstring)."""

    max_connections: int = 32
    connection_seconds: float = 5.0
    max_request_bytes: int = 8192
    fd_reserve: int = 64
    backlog: int = 1024
    head_grace_seconds: float = 0.25


def fd_room() -> int | None:
    """File descriptors left below the soft ``RLIMIT_NOFILE``; None when the count cannot be read."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        in_use = len(os.listdir("/proc/self/fd")) - 1  # listing the directory holds one itself
    except OSError:
        return None
    return int(soft) - in_use


class _CappedReader:
    """A request stream that ends after ``limit`` bytes."""

    def __init__(self, raw: io.BufferedIOBase, limit: int) -> None:
        self._raw = raw
        self._left = limit

    def readline(self, size: int = -1) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        line = self._raw.readline(want) if want > 0 else b""
        self._left -= len(line)
        return line

    def read(self, size: int = -1) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        data = self._raw.read(want) if want > 0 else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._raw.close()


class _DebugStream:
    """Where wsgiref writes tracebacks of broken connections: a debug event, not stderr."""

    def write(self, text: str) -> int:
        if text.strip():
            log.debug("health.connection_error", detail=text.strip()[-500:])
        return len(text)

    def flush(self) -> None:
        return None


class _Conn:
    """One open connection: when it must be closed, and whether its request head has arrived."""

    __slots__ = ("closing", "deadline", "head_done", "number")

    def __init__(self, number: int, deadline: float) -> None:
        self.number = number
        self.deadline = deadline
        self.head_done = False
        self.closing = False


class _Handler(WSGIRequestHandler):
    server: BoundedServer

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self.server.head_done(self.request)
        return ok

    def setup(self) -> None:
        # also bounds each single read and write
        self.request.settimeout(self.server.limits.connection_seconds)
        super().setup()
        self.rfile = _CappedReader(self.rfile, self.server.limits.max_request_bytes)  # type: ignore[assignment]

    def get_stderr(self) -> Any:
        return _DebugStream()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health.request", line=format % args)


class BoundedServer(WSGIServer):
    """A WSGI server with bounded connections, connection time, request size and descriptors."""

    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        limits: HealthLimits,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        room: Callable[[], int | None] = fd_room,
    ) -> None:
        self.limits = limits
        self.request_queue_size = limits.backlog
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._monotonic = monotonic
        self._room = room
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Conn] = {}
        self._accepted = 0
        self._stopping = threading.Event()
        self._reported = {"refused_fd_reserve": 0, "closed_at_deadline": 0, "evicted_unfinished": 0}
        self._counts = {"handled": 0, "peak_open": 0, **self._reported}
        self._next_report = monotonic() + _REPORT_EVERY_SECONDS
        super().__init__(address, _Handler)

    # -- accepting -------------------------------------------------------------------------------

    def _handle_request_noblock(self) -> None:
        # a free slot first: beyond the bound, connections wait in the backlog, holding none of our fds;
        # a connection still sending its request head gives its slot up to the next one
        if not self._slots.acquire(blocking=False):
            self._evict_oldest_unfinished()
            if not self._slots.acquire(timeout=_POLL_SECONDS):
                return
        room = self._room()
        try:
            request, address = self.get_request()
        except OSError:  # out of descriptors, or the client left: let the loop breathe
            self._slots.release()
            self._stopping.wait(_POLL_SECONDS)
            return
        if room is not None and room < self.limits.fd_reserve:
            self._slots.release()
            self._refuse(request)
            return
        with self._lock:
            self._accepted += 1
            self._open[request] = _Conn(self._accepted, self._monotonic() + self.limits.connection_seconds)
            self._counts["peak_open"] = max(self._counts["peak_open"], len(self._open))
        thread = threading.Thread(
            target=self._serve_one, args=(request, address), name="syncd-health-conn", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no thread could be started
            self._forget(request)
            self._slots.release()
            self.shutdown_request(request)

    def _serve_one(self, request: socket.socket, address: Any) -> None:
        try:
            self.finish_request(request, address)
            with self._lock:
                self._counts["handled"] += 1
        except Exception:  # a broken connection ends only itself
            log.debug("health.connection_failed", exc_info=True)
        finally:
            self._forget(request)
            self.shutdown_request(request)
            self._slots.release()

    def head_done(self, request: socket.socket) -> None:
        """The connection's request head has arrived: it is no longer evicted for a newcomer."""
        with self._lock:
            conn = self._open.get(request)
            if conn is not None:
                conn.head_done = True

    def _evict_oldest_unfinished(self) -> None:
        # accepted before this moment and still without a request head: fair game
        cutoff = self._monotonic() - self.limits.head_grace_seconds + self.limits.connection_seconds
        with self._lock:
            unfinished = [
                (c.number, s)
                for s, c in self._open.items()
                if not c.head_done and not c.closing and c.deadline <= cutoff
            ]
            if not unfinished:
                return
            _number, victim = min(unfinished, key=lambda pair: pair[0])
            self._open[victim].closing = True
            self._counts["evicted_unfinished"] += 1
        with contextlib.suppress(OSError):
            victim.shutdown(socket.SHUT_RDWR)

    def _forget(self, request: socket.socket) -> None:
        with self._lock:
            self._open.pop(request, None)

    def _refuse(self, request: socket.socket) -> None:
        with self._lock:
            self._counts["refused_fd_reserve"] += 1
        try:
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_REFUSAL)
        finally:
            self.shutdown_request(request)

    # -- bounding time ---------------------------------------------------------------------------

    def service_actions(self) -> None:
        """Between requests: close connections past their deadline; report limits that were hit."""
        now = self._monotonic()
        with self._lock:
            late = [s for s, c in self._open.items() if c.deadline <= now and not c.closing]
            for sock in late:
                self._open[sock].closing = True
            self._counts["closed_at_deadline"] += len(late)
        for conn in late:
            # wakes the connection's thread from its read or write; it closes the socket
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if now >= self._next_report:
            self._report(now)

    def _report(self, now: float) -> None:
        self._next_report = now + _REPORT_EVERY_SECONDS
        with self._lock:
            new = {k: self._counts[k] - self._reported[k] for k in self._reported}
            self._reported = {k: self._counts[k] for k in self._reported}
        if any(new.values()):
            log.warning("health.connections_limited", **new, limits=asdict(self.limits))

    def stats(self) -> dict[str, int]:
        """Counters since start (``handled``: connections whose handling ended), and how many are open now."""
        with self._lock:
            return {**self._counts, "open": len(self._open)}

    def shutdown(self) -> None:
        self._stopping.set()
        super().shutdown()


def start_health_server(
    app: WSGIApplication,
    host: str,
    port: int,
    *,
    limits: HealthLimits | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    room: Callable[[], int | None] = fd_room,
) -> tuple[BoundedServer, threading.Thread]:
    """Listen on ``host:port`` (0 picks a free port: see ``server.server_port``) and serve on a thread."""
    server = BoundedServer((host, port), limits or HealthLimits(), monotonic=monotonic, room=room)
    server.set_app(app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": _POLL_SECONDS}, name="syncd-health", daemon=True
    )
    thread.start()
    return server, thread
