"""Serving a :class:`HubApp` over HTTP/1.1 on loopback, in a background thread.

:func:`start_server` returns ``(server, thread)``; ``server.shutdown()`` stops
the loop and closes the socket. :func:`running_hub` wraps that in a context
manager yielding a :class:`RunningHub` (``url``, ``token``, the app, its store
and faults). Only loopback addresses are bound unless ``allow_remote=True``.

The request handler is a small WSGI bridge of our own rather than
:mod:`wsgiref`, for two reasons: keep-alive (HTTP/1.1) makes paging fast, and
a :class:`ConnectionAbort` from the app must drop the connection with a TCP
reset instead of turning into a 500.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import socket
import struct
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import structlog

from syncd.hubsim.app import DEFAULT_TOKEN, HubApp
from syncd.hubsim.faults import ConnectionAbort, Faults
from syncd.hubsim.store import HubStore, Visibility

__all__ = ["HubServer", "RunningHub", "is_loopback", "running_hub", "start_server"]

log = structlog.get_logger(__name__)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubServer
    timeout = 60  # idle keep-alive connections give up their thread after a minute
    disable_nagle_algorithm = True  # headers and body are two writes; Nagle would add ~40 ms per request

    def do_GET(self) -> None:
        self._run()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _environ(self, body: bytes) -> dict[str, object]:
        path, _, query = self.path.partition("?")
        environ: dict[str, object] = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = value
        return environ

    def _run(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status = "500 Internal Server Error"
        headers: list[tuple[str, str]] = []

        def start_response(line: str, given: list[tuple[str, str]], exc_info: object = None) -> None:
            nonlocal status, headers
            status, headers = line, given

        try:
            chunks = b"".join(self.server.app(self._environ(body), start_response))
        except ConnectionAbort:
            self._reset()
            return
        except Exception:  # a process boundary: one broken request must not take the server down
            log.exception("hubsim.app_error", path=self.path)
            self._reset()
            return
        code, _, reason = status.partition(" ")
        self.send_response_only(int(code), reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(chunks)

    def _reset(self) -> None:
        # Linger 0 turns close() into a TCP RST: the client sees a reset, not a clean EOF.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class HubServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to one WSGI app; ``shutdown()`` also closes the socket."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: HubApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def shutdown(self) -> None:
        """Stop accepting, close the listening socket and every open keep-alive connection."""
        super().shutdown()
        self.server_close()
        with self._open_lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)


def start_server(
    app_or_store: HubApp | HubStore,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
) -> tuple[HubServer, threading.Thread]:
    """Serve ``app_or_store`` (a store gets a default :class:`HubApp`) from a daemon thread.

    ``port=0`` picks a free port (``server.port``). Non-loopback hosts raise
    ``ValueError`` unless ``allow_remote`` is set.
    """
    if not allow_remote and not is_loopback(host):
        raise ValueError(f"refusing to bind non-loopback address {host!r} without allow_remote")
    app = app_or_store if isinstance(app_or_store, HubApp) else HubApp(app_or_store)
    server = HubServer((host, port), app)
    # A short poll interval keeps shutdown() quick (it waits for the loop to notice).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=f"hubsim-{server.port}", daemon=True
    )
    thread.start()
    return server, thread


@dataclass
class RunningHub:
    """A started emulator: where it listens and the objects behind it."""

    app: HubApp
    host: str
    port: int
    server: HubServer | None = field(repr=False)
    thread: threading.Thread | None = field(repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def token(self) -> str:
        """The first configured token."""
        return next(iter(self.app.tokens))

    @property
    def store(self) -> HubStore:
        return self.app.store

    @property
    def faults(self) -> Faults:
        return self.app.faults

    def stop_listening(self) -> None:
        """Close the listening socket: new connections are refused until :meth:`resume_listening`."""
        if self.server is not None:
            self.server.shutdown()
            if self.thread is not None:
                self.thread.join()
            self.server = self.thread = None

    def resume_listening(self) -> None:
        """Listen again on the same port."""
        if self.server is None:
            self.server, self.thread = start_server(self.app, self.host, self.port, allow_remote=True)


@contextmanager
def running_hub(
    app_or_store: HubApp | HubStore,
    *,
    tokens: Mapping[str, Visibility | Iterable[uuid.UUID | str]] | None = None,
    faults: Faults | None = None,
    max_rows: int = 1000,
    admin: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[RunningHub]:
    """Start the emulator for the ``with`` block and stop it afterwards.

    Given a store, builds a :class:`HubApp` from the keyword arguments (default
    token :data:`DEFAULT_TOKEN`, seeing everything); given an app, uses it as is.
    """
    if isinstance(app_or_store, HubApp):
        app = app_or_store
    else:
        app = HubApp(
            app_or_store,
            tokens=tokens or {DEFAULT_TOKEN: "all"},
            faults=faults,
            max_rows=max_rows,
            admin=admin,
        )
    server, thread = start_server(app, host, port)
    hub = RunningHub(app=app, host=host, port=server.port, server=server, thread=thread)
    try:
        yield hub
    finally:
        hub.stop_listening()
