"""Serving a :class:`HubApp` over HTTP/1.1 on loopback, in a background thread.

:func:`start_server` returns ``(server, thread)``; ``server.shutdown()`` stops
the loop and closes the socket. :func:`running_hub` wraps that in a context
manager yielding a :class:`RunningHub` (``url``, ``token``, the app, its store
and faults). Only loopback addresses are bound unless ``allow_remote=True``.

While the app's faults say ``down="refuse"`` the server closes its listening
socket and reopens it (same port) once they no longer do. A websocket upgrade
under ``/realtime/v1/websocket`` is handed to the app's
:class:`~syncd.hubsim.realtime.RealtimeHub` and keeps its connection.

The request handler is a small WSGI bridge of our own rather than
:mod:`wsgiref`, for two reasons: keep-alive (HTTP/1.1) makes paging fast, and
a :class:`ConnectionAbort` from the app must drop the connection with a TCP
reset instead of turning into a 500.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import select
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
from syncd.hubsim.realtime import REALTIME_PATH
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
    disable_nagle_algorithm = True  # headers and body are two writes; Nagle would delay every response

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
        if self.path.startswith(REALTIME_PATH) and self.headers.get("Upgrade", "").lower() == "websocket":
            self.close_connection = True
            self.server.app.realtime.serve(self)
            return
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
    """A threaded HTTP server bound to one WSGI app.

    While the app's faults say ``down="refuse"`` the listening socket is closed
    (connections are refused) and reopened on the same port afterwards.
    ``shutdown()`` stops the loop and closes the listener and every open
    keep-alive connection.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: HubApp) -> None:
        self.app = app
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.listening = True
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._state = threading.Condition()
        self._halt = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client vanishing mid-answer is routine for a fault-injecting emulator: no traceback on stderr.
        log.debug("hubsim.connection_error", client=str(client_address), error=repr(sys.exc_info()[1]))

    def serve_forever(self, poll_interval: float = 0.02) -> None:
        """Serve until :meth:`shutdown`; a short poll interval keeps shutdown and refusal quick."""
        self._stopped.clear()
        try:
            while not self._halt.is_set():
                self._follow_faults()
                if not self.listening:
                    self._halt.wait(poll_interval)
                    continue
                ready, _, _ = select.select([self.socket], [], [], poll_interval)
                if ready:
                    self._accept_one()
                self.service_actions()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        self._halt.set()
        self._stopped.wait()
        self.server_close()
        self._close_connections()

    def wait_listening(self, listening: bool, timeout: float = 5.0) -> bool:
        """Block until the server is (or is not) listening; False on timeout."""
        with self._state:
            return self._state.wait_for(lambda: self.listening == listening, timeout)

    def _follow_faults(self) -> None:
        refusing = self.app.faults.refusing()
        if refusing != self.listening:
            return
        if refusing:
            self.socket.close()
            self._close_connections()
        else:
            try:
                self.socket = socket.socket(self.address_family, self.socket_type)
                self.server_bind()
                self.server_activate()
            except OSError as exc:
                log.warning("hubsim.rebind_failed", port=self.port, error=str(exc))
                self.socket.close()
                return
        with self._state:
            self.listening = not refusing
            self._state.notify_all()

    def _accept_one(self) -> None:
        try:
            request, client_address = self.get_request()
        except OSError:
            return  # the client gave up, or the listener was just closed
        self.process_request(request, client_address)  # hands the connection to a new thread

    def _close_connections(self) -> None:
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
    thread = threading.Thread(target=server.serve_forever, name=f"hubsim-{server.port}", daemon=True)
    thread.start()
    return server, thread


@dataclass
class RunningHub:
    """A started emulator: where it listens and the objects behind it."""

    app: HubApp
    host: str
    port: int
    server: HubServer = field(repr=False)
    thread: threading.Thread = field(repr=False)

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
        """Refuse connections (``down="refuse"``) until :meth:`resume_listening`; returns once refusing."""
        self.faults.update({"down": "refuse"})
        if not self.server.wait_listening(False):
            raise TimeoutError("the emulator did not stop listening")

    def resume_listening(self) -> None:
        """Listen again on the same port; returns once listening."""
        self.faults.update({"down": None})
        if not self.server.wait_listening(True):
            raise TimeoutError("the emulator did not listen again")

    def close(self) -> None:
        """Stop the server for good."""
        self.server.shutdown()
        self.thread.join()


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
        hub.close()
