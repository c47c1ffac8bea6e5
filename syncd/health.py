"""Liveness, readiness and metrics over HTTP, and ``syncd check``.

:class:`HealthState` is what the daemon knows about itself: its phase, the
scheduler's last heartbeat, and each instance's last sync. :func:`health_app`
is a plain WSGI application serving it (``/livez``, ``/readyz``, ``/metrics``);
:func:`start_health_server` runs that app on a background thread and returns
``(server, thread)``. :func:`check` asks a running daemon's ``/readyz`` and
answers with an exit code.

Liveness never depends on the hub or the databases: only on the scheduler
loop's heartbeat. Readiness asks that every instance had a successful sync
within the staleness bound, and is false while starting and stopping.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from socketserver import ThreadingMixIn
from typing import Any, Literal, TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import httpx
import msgspec
import structlog

from syncd.logs import scrub
from syncd.metrics import Metrics
from syncd.report import InstanceReport
from syncd.settings import Settings

__all__ = [
    "EXIT_NOT_READY",
    "EXIT_READY",
    "EXIT_UNREACHABLE",
    "HealthState",
    "InstanceHealth",
    "Phase",
    "check",
    "health_app",
    "probe_url",
    "start_health_server",
]

log = structlog.get_logger(__name__)

Phase = Literal["starting", "running", "stopping"]
EXIT_READY, EXIT_NOT_READY, EXIT_UNREACHABLE = 0, 1, 2
_JSON = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))
_MAX_ERROR_CHARS = 500


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class InstanceHealth(msgspec.Struct):
    """The last thing known about one instance."""

    last_success: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    error_kind: str | None = None
    lag_seconds: float | None = None
    deferred: int = 0
    quarantined: int = 0
    held: int = 0
    consecutive_failures: int = 0


class HealthState:
    """Thread-safe: sync jobs record, the HTTP threads read.

    ``clock`` gives wall-clock UTC time (staleness), ``monotonic`` the
    heartbeat clock; ``liveness_timeout`` is how long the scheduler may stay
    silent before ``/livez`` fails.
    """

    def __init__(
        self,
        instances: Iterable[str],
        staleness_seconds: float,
        *,
        liveness_timeout: float = 60.0,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._monotonic = monotonic
        self._instances: dict[str, InstanceHealth] = {name: InstanceHealth() for name in instances}
        self._staleness = staleness_seconds
        self._liveness_timeout = liveness_timeout
        self._phase: Phase = "starting"
        self._heartbeat = monotonic()
        # per hub group, the Realtime doorbell's state (shown in /readyz; never part of readiness)
        self.doorbells: Callable[[], dict[str, Any]] | None = None

    @property
    def phase(self) -> Phase:
        return self._phase

    def set_phase(self, phase: Phase) -> None:
        with self._lock:
            self._phase = phase

    def configure(self, instances: Iterable[str], staleness_seconds: float) -> list[str]:
        """Follow a reloaded configuration; returns the instances no longer followed."""
        wanted = list(instances)
        with self._lock:
            gone = [name for name in self._instances if name not in wanted]
            self._instances = {name: self._instances.get(name, InstanceHealth()) for name in wanted}
            self._staleness = staleness_seconds
        return gone

    def heartbeat(self) -> None:
        with self._lock:
            self._heartbeat = self._monotonic()

    def record(self, report: InstanceReport) -> None:
        """Take in one instance's result."""
        with self._lock:
            entry = self._instances.get(report.name)
            if entry is None:  # an instance dropped by a reload while its run was in flight
                return
            now = report.finished_at or self._clock()
            entry.last_attempt = now
            if report.outcome == "ok":
                entry.last_success = now
                entry.last_error = entry.error_kind = None
                entry.consecutive_failures = 0
                entry.lag_seconds = report.lag_seconds
                entry.deferred, entry.quarantined = report.deferred, report.quarantined
                entry.held = report.held
            else:
                entry.last_error = scrub(report.error or "failed")[:_MAX_ERROR_CHARS]
                entry.error_kind = report.error_kind
                entry.consecutive_failures += 1

    def instance(self, name: str) -> InstanceHealth | None:
        with self._lock:
            entry = self._instances.get(name)
            return None if entry is None else msgspec.structs.replace(entry)

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            silent = self._monotonic() - self._heartbeat
            phase = self._phase
        alive = silent <= self._liveness_timeout
        return alive, {
            "status": "alive" if alive else "stalled",
            "phase": phase,
            "seconds_since_heartbeat": round(silent, 3),
        }

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        now = self._clock()
        with self._lock:
            phase, staleness = self._phase, self._staleness
            entries = {name: msgspec.structs.replace(e) for name, e in self._instances.items()}
        reasons: list[str] = []
        if phase != "running":
            reasons.append(f"daemon is {phase}")
        body: dict[str, Any] = {}
        for name, entry in entries.items():
            age = None if entry.last_success is None else (now - entry.last_success).total_seconds()
            fresh = age is not None and age <= staleness
            if not fresh:
                why = "no successful sync yet" if age is None else f"last success {age:.0f}s ago"
                if entry.last_error:
                    why += f"; last error ({entry.error_kind or 'error'}): {entry.last_error}"
                reasons.append(f"{name}: {why}")
            body[name] = {
                "ready": fresh,
                "last_success": _iso(entry.last_success),
                "seconds_since_success": None if age is None else round(age, 3),
                "last_attempt": _iso(entry.last_attempt),
                "lag_seconds": entry.lag_seconds,
                "last_error": entry.last_error,
                "error_kind": entry.error_kind,
                "consecutive_failures": entry.consecutive_failures,
                "deferred": entry.deferred,
                "quarantined": entry.quarantined,
                "held": entry.held,
            }
        ready = not reasons
        return ready, {
            "status": "ready" if ready else "not ready",
            "phase": phase,
            "staleness_seconds": staleness,
            "reasons": reasons,
            "instances": body,
            **({"doorbell": self.doorbells()} if self.doorbells is not None else {}),
        }


def health_app(state: HealthState, metrics: Metrics) -> WSGIApplication:
    """The WSGI application behind ``[health] listen``."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if path not in ("/livez", "/readyz", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /livez, /readyz or /metrics\n"]
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        try:
            if path == "/metrics":
                payload = metrics.exposition()
                start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
                return [payload if method == "GET" else b""]
            ok, body = state.liveness() if path == "/livez" else state.readiness()
        except Exception:  # the HTTP thread's boundary: answer 500 rather than drop the connection
            log.exception("health.handler_failed", path=path)
            start_response("500 Internal Server Error", list(_JSON))
            return [b'{"status": "error"}']
        # a fresh list: wsgiref appends Content-Length to the list it is given
        start_response("200 OK" if ok else "503 Service Unavailable", list(_JSON))
        return [json.dumps(body).encode() + b"\n" if method == "GET" else b""]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    """Requests are logged through structlog at debug, not printed to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health.request", line=format % args)


def start_health_server(
    app: WSGIApplication, host: str, port: int,
) -> tuple[WSGIServer, threading.Thread]:
    """Listen on ``host:port`` (0 picks a free port: see ``server.server_port``) and serve on a thread."""
    server_class = _Server6 if ":" in host else _Server
    server = make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="syncd-health", daemon=True)
    thread.start()
    return server, thread


def _probe_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - mapping the wildcard to loopback, not binding it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def probe_url(settings: Settings, path: str) -> str:
    """Where a client on this host reaches the daemon's health server."""
    return f"http://{_probe_host(settings.health.listen_host)}:{settings.health.listen_port}{path}"


def check(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    out: TextIO | None = None,
    timeout: float = 5.0,
) -> int:
    """Ask the daemon's ``/readyz``: 0 ready, 1 not ready (says why on ``out``), 2 cannot ask."""
    stream = out if out is not None else sys.stdout
    url = probe_url(settings, "/readyz")
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        stream.write(f"cannot ask {url}: {type(exc).__name__}: {scrub(str(exc))}\n")
        return EXIT_UNREACHABLE
    if response.status_code not in (200, 503):
        stream.write(f"unexpected answer from {url}: HTTP {response.status_code}\n")
        return EXIT_UNREACHABLE
    try:
        body = response.json()
        reasons = [str(r) for r in body.get("reasons", [])]
    except (ValueError, AttributeError):
        stream.write(f"unexpected answer from {url}: not the readiness JSON\n")
        return EXIT_UNREACHABLE
    if response.status_code == 200:
        stream.write(f"ready: {len(body.get('instances', {}))} instance(s) in step\n")
        return EXIT_READY
    stream.write("not ready:\n" + "".join(f"  - {scrub(r)}\n" for r in reasons))
    return EXIT_NOT_READY
