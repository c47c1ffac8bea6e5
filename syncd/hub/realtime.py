"""The hub's Realtime doorbell: one websocket, one channel, change events as "pull now" hints.

:class:`RealtimeClient` follows the hub's Realtime contract (``docs/hub-api.md``): it connects to
``{hub}/realtime/v1/websocket``, joins ``realtime:syncd`` with a
``postgres_changes`` binding for ``space`` and ``space_block``, sends a
heartbeat every ``heartbeat_seconds``, and tells its :class:`Listener`
about every ``Subscribed to PostgreSQL`` (the daemon then pulls once) and
every change event (the daemon pulls that resource). Nothing it receives is
applied; the REST API stays the only source of truth.

What it does on each failure is the contract's table: a refused upgrade
(401/403/404) or a join refused for the token or the tenant turns the
doorbell off, logged once, and it tries again after ``refused_retry_seconds``
(a new client is made when the token or the hub changes); 429, 5xx,
connection errors, a closed socket and an unanswered heartbeat reconnect with
:class:`~syncd.hub.phoenix.Backoff`; a join without a reply within
``join_timeout_seconds``, a refused join for any other reason and a closed
channel rejoin with backoff; a subscription error without a later ``ok``
within ``subscribe_timeout_seconds`` leaves and rejoins, its backoff capped
at ten minutes.

:meth:`RealtimeClient.run` is the loop of the client's thread; :meth:`close`
asks it to end from any thread, without waiting (every read waits at most a
second, and the closing handshake ``close_timeout_seconds``). The websocket is made by ``connect`` (default:
the ``websockets`` package's threaded client), which raises
:class:`~syncd.errors.HubError` subclasses.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import structlog

from syncd.core.models import Resource
from syncd.errors import HubAuthError, HubError, HubIncompatibleError, HubTransientError
from syncd.hub import phoenix
from syncd.hub.phoenix import TOPIC, Backoff, Frame

__all__ = ["Listener", "RealtimeClient", "RealtimeTimings", "Socket", "State", "connect_websocket"]

log = structlog.get_logger(__name__)

State = Literal["connecting", "joining", "up", "down", "off", "stopped"]
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # the contract: at least 4 MiB
_CLOSES = ("phx_close", "phx_error")


class Socket(Protocol):
    """What the client needs of a websocket connection."""

    def send(self, message: str) -> None: ...

    def recv(self, timeout: float | None = None) -> str | bytes:
        """The next message; ``TimeoutError`` when none came in time, ``HubError`` once closed."""

    def close(self) -> None: ...


class Listener(Protocol):
    def subscribed(self) -> None:
        """A new live period began (``Subscribed to PostgreSQL``)."""

    def changed(self, resources: tuple[Resource, ...]) -> None:
        """A change event asks to pull ``resources``."""


@dataclass(frozen=True, slots=True)
class RealtimeTimings:
    heartbeat_seconds: float = 25.0
    join_timeout_seconds: float = 10.0
    subscribe_timeout_seconds: float = 60.0
    refused_retry_seconds: float = 600.0
    open_timeout_seconds: float = 10.0
    close_timeout_seconds: float = 2.0
    system_error_wait_seconds: float = 10.0
    subscribe_backoff_cap_seconds: float = 600.0


class _Lost(Exception):
    """The connection is gone: reconnect with backoff."""


class _Off(Exception):
    """The hub refuses this client the doorbell: wait ``refused_retry_seconds``."""


def connect_websocket(url: str, timings: RealtimeTimings) -> Socket:
    """Open the websocket with the ``websockets`` package's threaded client."""
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    try:
        conn = connect(
            url,
            open_timeout=timings.open_timeout_seconds,
            close_timeout=timings.close_timeout_seconds,
            max_size=MAX_MESSAGE_BYTES,
            ping_interval=None,  # the Phoenix heartbeat is the contract's keep-alive
            proxy=None,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        kind: type[HubError] = HubTransientError
        if status in (401, 403):
            kind = HubAuthError
        elif status == 404:
            kind = HubIncompatibleError
        raise kind(f"realtime upgrade refused: HTTP {status}", status=status) from None
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise HubTransientError(f"realtime connection failed: {type(exc).__name__}") from None
    return _WebsocketsSocket(conn)


class _WebsocketsSocket:
    def __init__(self, conn: object) -> None:
        from websockets.sync.client import ClientConnection

        assert isinstance(conn, ClientConnection)
        self._conn = conn

    def send(self, message: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            self._conn.send(message)
        except ConnectionClosed as exc:
            raise HubTransientError(f"realtime connection closed: {exc}") from None

    def recv(self, timeout: float | None = None) -> str | bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            return self._conn.recv(timeout=timeout)
        except ConnectionClosed as exc:
            raise HubTransientError(f"realtime connection closed: {exc}") from None

    def close(self) -> None:
        self._conn.close()


class RealtimeClient:
    """One hub's doorbell connection. ``state`` and the counters are read by other threads."""

    def __init__(
        self,
        hub_url: str,
        token: str,
        listener: Listener,
        *,
        timings: RealtimeTimings | None = None,
        connect: Callable[[str, RealtimeTimings], Socket] = connect_websocket,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_state: Callable[[State], None] = lambda state: None,
        label: str = "",
        wait: Callable[[float], object] | None = None,
    ) -> None:
        self._url = phoenix.websocket_url(hub_url, token)
        self._token = token
        self._listener = listener
        self.timings = timings or RealtimeTimings()
        self._connect = connect
        self._monotonic = monotonic
        self._rng = rng if rng is not None else random.Random()
        self._on_state = on_state
        self._log = log.bind(doorbell=label) if label else log
        self._stop = threading.Event()
        self._wait = wait if wait is not None else self._stop.wait  # backoff; ends early on close
        self._refs = itertools.count(1)
        self._refused_logged: str | None = None
        self.state: State = "down"
        self.events = 0
        self.reconnects = 0
        self.last_error: str | None = None

    # -- control ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Ask :meth:`run` to end; returns at once.

        The client's thread notices within one read (at most a second, or the
        opening handshake's timeout) and closes the socket itself.
        """
        self._stop.set()

    def _set_state(self, state: State, **fields: object) -> None:
        if state == self.state:
            return
        was, self.state = self.state, state
        if state == "up":
            self._log.info("doorbell.up", was=was)
        elif state == "stopped":
            self._log.info("doorbell.stopped", was=was)
        elif was == "up":
            self._log.warning("doorbell.down", now=state, **fields)
        self._on_state(state)

    def _ref(self) -> str:
        return str(next(self._refs))

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> None:
        """Connect, listen and reconnect until :meth:`close`."""
        backoff = Backoff(self._rng)
        attempts = 0
        while not self._stop.is_set():
            if attempts:
                self.reconnects += 1
            attempts += 1
            self._set_state("connecting")
            try:
                self._connect_and_listen(backoff)
                wait = 0.0
            except _Off as exc:
                self._off(str(exc))
                wait = self.timings.refused_retry_seconds
            except _Lost as exc:
                self.last_error = str(exc)
                self._set_state("down", reason=str(exc))
                wait = backoff.next()
            if not self._stop.is_set():
                self._wait(wait)
        self._set_state("stopped")

    def _off(self, reason: str) -> None:
        self.last_error = reason
        if self._refused_logged != reason:  # once per reason, not every ten minutes
            self._refused_logged = reason
            self._log.warning("doorbell.refused", reason=reason, polling="continues")
        self._set_state("off", reason=reason)

    def _connect_and_listen(self, backoff: Backoff) -> None:
        try:
            sock = self._connect(self._url, self.timings)
        except (HubAuthError, HubIncompatibleError) as exc:
            raise _Off(str(exc)) from None
        except HubError as exc:
            raise _Lost(str(exc)) from None
        try:
            if self._stop.is_set():
                return
            _Session(self, sock, backoff).listen()
        except HubError as exc:
            if not self._stop.is_set():
                raise _Lost(str(exc)) from None
        finally:
            try:
                sock.close()
            except (OSError, HubError, RuntimeError) as exc:
                self._log.debug("doorbell.close_failed", error=type(exc).__name__)


class _Session:
    """One connection's channel: join, heartbeats, replies and events, per the contract."""

    def __init__(self, client: RealtimeClient, sock: Socket, backoff: Backoff) -> None:
        self.c = client
        self.sock = sock
        self.backoff = backoff
        self.sub_backoff = Backoff(client._rng, cap=client.timings.subscribe_backoff_cap_seconds)
        self.t = client.timings
        now = client._monotonic()
        self.join_ref: str | None = None
        self.join_deadline: float | None = None
        self.rejoin_at: float | None = now
        self.heartbeat_ref: str | None = None
        self.next_heartbeat = now + self.t.heartbeat_seconds
        self.sub_error_since: float | None = None
        self.min_wait = 0.0

    def listen(self) -> None:
        while not self.c._stop.is_set():
            now = self.c._monotonic()
            self._due(now)
            deadlines = [self.next_heartbeat, self.join_deadline, self.rejoin_at]
            if self.sub_error_since is not None:
                deadlines.append(self.sub_error_since + self.t.subscribe_timeout_seconds)
            wait = min(d for d in deadlines if d is not None) - now
            try:
                message = self.sock.recv(timeout=min(max(wait, 0.0), 1.0))
            except TimeoutError:
                continue
            frame = phoenix.parse_frame(message)
            if frame is not None:
                self._handle(frame)

    def _due(self, now: float) -> None:
        if now >= self.next_heartbeat:
            if self.heartbeat_ref is not None:
                raise _Lost("heartbeat unanswered")
            self.heartbeat_ref = self.c._ref()
            self.sock.send(phoenix.heartbeat_frame(self.heartbeat_ref))
            self.next_heartbeat = now + self.t.heartbeat_seconds
        if self.join_deadline is not None and now >= self.join_deadline:
            self._rejoin_later(now, "no reply to phx_join")
        waited = None if self.sub_error_since is None else now - self.sub_error_since
        if waited is not None and waited >= self.t.subscribe_timeout_seconds:
            assert self.join_ref is not None
            self.sock.send(phoenix.leave_frame(self.c._ref(), self.join_ref))
            self.sub_error_since = None
            self.join_ref = None
            self.rejoin_at = now + self.sub_backoff.next()
        if self.rejoin_at is not None and now >= self.rejoin_at:
            self.join_ref = self.c._ref()
            self.join_deadline = now + self.t.join_timeout_seconds
            self.rejoin_at = None
            self.sock.send(phoenix.join_frame(self.join_ref, self.c._token))
            self.c._set_state("joining")

    def _rejoin_later(self, now: float, reason: str) -> None:
        self.c.last_error = reason
        self.c._set_state("joining", reason=reason)
        self.join_ref = self.join_deadline = self.sub_error_since = None
        self.rejoin_at = now + max(self.backoff.next(), self.min_wait)
        self.min_wait = 0.0

    def _handle(self, frame: Frame) -> None:
        if frame.topic == "phoenix":
            if frame.event == "phx_reply" and frame.ref is not None and frame.ref == self.heartbeat_ref:
                self.heartbeat_ref = None
            return
        if frame.topic != TOPIC:
            return
        if frame.event == "postgres_changes":
            resources = phoenix.resources_of(frame.payload)
            if resources:
                self.c.events += 1
                self.c._listener.changed(resources)
        elif frame.event == "phx_reply":
            if frame.ref is not None and frame.ref == self.join_ref:
                self._join_reply(frame.payload)
        elif frame.event == "system":
            self._system(frame.payload)
        elif frame.event in _CLOSES and frame.ref is not None and frame.ref == self.join_ref:
            self._rejoin_later(self.c._monotonic(), f"channel {frame.event}")

    def _join_reply(self, payload: dict[str, object]) -> None:
        now = self.c._monotonic()
        self.join_deadline = None
        if payload.get("status") == "ok":
            if not phoenix.join_matches(payload.get("response")):
                self._rejoin_later(now, "join reply does not match the bindings asked for")
            return
        code = phoenix.reason_code(dict(payload))
        if code in phoenix.TOKEN_CODES or code in phoenix.OFF_CODES:
            raise _Off(f"join refused: {code}")
        self._rejoin_later(now, f"join refused: {code}")

    def _system(self, payload: dict[str, object]) -> None:
        extension, status = payload.get("extension"), payload.get("status")
        if extension == "postgres_changes" and status == "ok" and self.join_ref is not None:
            self.sub_error_since = None
            self.backoff.reset()
            self.sub_backoff.reset()
            self.c._set_state("up")
            self.c._listener.subscribed()
        elif extension == "postgres_changes" and status == "error":
            if self.sub_error_since is None:
                self.sub_error_since = self.c._monotonic()
            self.c.last_error = f"subscription error: {payload.get('message')}"
            self.c._set_state("joining", reason=self.c.last_error)
        elif extension == "system" and status == "error":
            # phx_close follows; rejoin no sooner than this, whatever the backoff says
            self.min_wait = self.t.system_error_wait_seconds
            self.c.last_error = f"system error: {payload.get('message')}"
