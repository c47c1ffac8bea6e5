"""Liveness, readiness and metrics over HTTP, and ``syncd check``.

:class:`HealthState` is what the daemon knows about itself: its phase, the
scheduler's last heartbeat, and each instance's last sync. :func:`health_app`
is a plain WSGI application serving it (``/livez``, ``/readyz``, ``/metrics``);
:func:`start_health_server` (:mod:`syncd.daemon.health_server`, which bounds
connections, their time and the descriptors they may take) runs that app on a
background thread and returns ``(server, thread)``. :func:`check` asks a running daemon's ``/readyz`` and
answers with an exit code.

Liveness never depends on the hub or the databases: only on the scheduler
loop's heartbeat. Readiness asks that every instance's staleness, read from
the instance's own record of its last completed pull (whichever replica
pulled), is within the bound, and is false while starting and stopping.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import httpx
import structlog

from syncd.core.report import InstanceReport, InStep
from syncd.daemon.health_server import start_health_server
from syncd.daemon.metrics import Metrics
from syncd.daemon.runtime_state import read_listen_state
from syncd.logs import scrub
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


@dataclass(slots=True)
class InstanceHealth:
    """The last thing known about one instance."""

    last_success: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    error_kind: str | None = None
    lag_seconds: float | None = None
    in_step: InStep | None = None
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
            if report.in_step is not None:
                entry.in_step = report.in_step  # whichever replica pulled: read from the instance
            if report.outcome == "skipped":
                return  # another replica holds it: neither an attempt nor a failure of this one
            now = report.finished_at or self._clock()
            entry.last_attempt = now
            if report.outcome == "interrupted":
                return  # a shutdown stopped it: neither a success nor a failure
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
            return None if entry is None else replace(entry)

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
            entries = {name: replace(e) for name, e in self._instances.items()}
        reasons: list[str] = []
        if phase != "running":
            reasons.append(f"daemon is {phase}")
        body: dict[str, Any] = {}
        for name, entry in entries.items():
            age = None if entry.last_success is None else (now - entry.last_success).total_seconds()
            record = entry.in_step
            stale = None if record is None else record.staleness(now)
            fresh = stale is not None and stale <= staleness
            if not fresh:
                why = (
                    "no completed pull recorded in the instance yet"
                    if record is None or stale is None
                    else f"last completed pull began {stale:.0f}s ago (by {record.replica})"
                )
                if entry.last_error:
                    why += f"; last error ({entry.error_kind or 'error'}): {entry.last_error}"
                reasons.append(f"{name}: {why}")
            body[name] = {
                "ready": fresh,
                "staleness_seconds": None if stale is None else round(stale, 3),
                "in_step_since": None if record is None else _iso(record.pull_started),
                "in_step_by": None if record is None else record.replica,
                "last_success": _iso(entry.last_success),
                "seconds_since_success": None if age is None else round(age, 3),
                "last_attempt": _iso(entry.last_attempt),
                "cursor_lag_seconds": entry.lag_seconds,
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


def _probe_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - mapping the wildcard to loopback, not binding it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def probe_url(settings: Settings, path: str, state_path: Path | None = None) -> str:
    """Where a client on this host reaches the daemon's health server.

    The address the running daemon recorded in ``state_path`` (a reload may have
    changed ``[health] listen`` since it bound), else the configured one.
    """
    running = read_listen_state(state_path) if state_path is not None else None
    host, port = running or (settings.health.listen_host, settings.health.listen_port)
    return f"http://{_probe_host(host)}:{port}{path}"


def check(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    out: TextIO | None = None,
    timeout: float = 5.0,
    state_path: Path | None = None,
) -> int:
    """Ask the daemon's ``/readyz``: 0 ready, 1 not ready (says why on ``out``), 2 cannot ask.

    The address is the one the running daemon recorded in ``state_path`` (see
    :mod:`syncd.daemon.runtime_state`) when that file exists, else ``[health] listen``.
    """
    stream = out if out is not None else sys.stdout
    configured = (settings.health.listen_host, settings.health.listen_port)
    running = read_listen_state(state_path) if state_path is not None else None
    host, port = running or configured
    url = f"http://{_probe_host(host)}:{port}/readyz"
    if running is not None and running != configured and configured[1] != 0:
        stream.write(
            f"note: the daemon listens on {host}:{port} (recorded in {state_path}); the configured "
            f"[health] listen {configured[0]}:{configured[1]} takes effect when it restarts\n"
        )
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        stream.write(f"cannot ask {url}: {type(exc).__name__}: {scrub(str(exc))}\n")
        if state_path is not None and running is None:
            stream.write(
                f"(no running daemon recorded its address in {state_path}: it is not running, or its "
                "runtime directory is missing or not writable; this is the configured [health] listen)\n"
            )
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
