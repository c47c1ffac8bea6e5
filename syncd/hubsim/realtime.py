"""The emulator's Realtime endpoint: ``/realtime/v1/websocket`` on the REST port, per ``docs/hub-api.md``.

:class:`RealtimeHub` accepts the websocket upgrade (``apikey`` must be a
known token, else 401; :class:`~syncd.hubsim.realtime_faults.RealtimeFaults`
may refuse it), speaks Phoenix ``vsn=1.0.0`` JSON: ``phx_join`` of a
``realtime:*`` topic with ``postgres_changes`` bindings is answered ``ok``
with binding ids and followed by ``Subscribed to PostgreSQL``; heartbeats
are answered; ``phx_leave`` unsubscribes. Every change the store makes
(:class:`~syncd.hubsim.changes.ChangeFeed`) becomes a ``postgres_changes``
event for every subscribed binding of its table, sent by one dispatcher
thread, after the faults' drop and delay. Records in events carry only
``id`` and ``updated_at`` (events are hints). A connection that sends nothing
for ``idle_seconds`` is closed, as the real server does.

The websocket framing is the ``websockets`` package's sans-I/O
``ServerProtocol`` over the connection the HTTP handler already read the
upgrade request from.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from syncd.hubsim.changes import Change
from syncd.hubsim.realtime_faults import RealtimeFaults
from syncd.hubsim.store import HubStore

__all__ = ["REALTIME_PATH", "RealtimeHub"]

log = structlog.get_logger(__name__)

REALTIME_PATH = "/realtime/v1/websocket"
_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
_MAX_QUEUED_EVENTS = 100_000
_POLL_SECONDS = 0.05
_SEND_TIMEOUT_SECONDS = 5.0
_binding_ids = itertools.count(30_000_001)


def _stamp(change: Change) -> str:
    moment = change.committed.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _event_payload(change: Change) -> dict[str, Any]:
    values = change.values
    record = {"id": str(values["id"])}
    if "updated_at" in values:
        record["updated_at"] = values["updated_at"].astimezone(UTC).isoformat()
    return {
        "schema": "public",
        "table": change.resource.value,
        "type": change.kind,
        "commit_timestamp": _stamp(change),
        "columns": [{"name": "id", "type": "uuid"}, {"name": "updated_at", "type": "timestamptz"}],
        "record": record if change.kind != "DELETE" else {},
        "old_record": {"id": record["id"]} if change.kind != "INSERT" else {},
        "errors": None,
    }


class _Session:
    """One websocket connection: its protocol state, joined channels, and a lock for sending."""

    def __init__(self, sock: socket.socket, protocol: ServerProtocol) -> None:
        self.sock = sock
        self.protocol = protocol
        self.lock = threading.Lock()
        self.channels: dict[str, dict[str, int]] = {}  # topic -> {table: binding id}
        self.closing = False

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)
            else:  # the protocol's end of stream: the closing handshake is done on our side
                self.closing = True
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_WR)

    def send(self, message: Mapping[str, Any]) -> None:
        with self.lock:
            if self.protocol.state is not State.OPEN:
                return
            self.protocol.send_text(json.dumps(message).encode())
            self.flush()

    def close(self, code: int = 1001) -> None:
        with self.lock:
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(code, "server closing")
                with contextlib.suppress(OSError):
                    self.flush()
            self.closing = True


class RealtimeHub:
    """The Realtime side of one :class:`~syncd.hubsim.app.HubApp`; listens to ``store``'s writes."""

    def __init__(
        self,
        store: HubStore,
        tokens: Mapping[str, object],
        *,
        faults: RealtimeFaults | None = None,
        idle_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.faults = faults if faults is not None else RealtimeFaults()
        self._tokens = tokens
        self._idle_seconds = idle_seconds
        self._monotonic = monotonic
        self._lock = threading.Condition()
        self._sessions: set[_Session] = set()
        self._queue: deque[Change] = deque()
        self._dispatcher: threading.Thread | None = None
        self.counts = {"upgrades": 0, "refused": 0, "events_sent": 0, "events_dropped": 0, "closed": 0,
                       "heartbeats": 0}
        store.changes.lag = lambda: self.faults.early_ms / 1000.0
        store.changes.listen(self._publish)

    # -- the store's side ------------------------------------------------------------------------

    def _publish(self, change: Change) -> None:
        with self._lock:
            if not self._sessions:
                return  # nobody can be subscribed: nothing to deliver, ever
            if len(self._queue) >= _MAX_QUEUED_EVENTS:
                self.counts["events_dropped"] += 1
                return
            self._queue.append(change)
            self._lock.notify_all()

    def _dispatch(self) -> None:
        """Deliver queued changes (after drops and delays) while any session is open."""
        delayed: list[tuple[float, int, Change]] = []
        order = itertools.count()
        while True:
            with self._lock:
                if not self._sessions and not self._queue:
                    self._dispatcher = None
                    return
                if not self._queue:
                    wait = (delayed[0][0] - self._monotonic()) if delayed else 0.5
                    self._lock.wait(timeout=min(max(wait, 0.0), 0.5))
                taken = list(self._queue)
                self._queue.clear()
            delay = self.faults.delay_ms / 1000.0
            for change in taken:
                copies = self.faults.copies()
                if not copies:
                    self.counts["events_dropped"] += 1
                for _ in range(copies):
                    if delay > 0:
                        heapq.heappush(delayed, (self._monotonic() + delay, next(order), change))
                    else:
                        self._deliver(change)
            while delayed and delayed[0][0] <= self._monotonic():
                self._deliver(heapq.heappop(delayed)[2])

    def _deliver(self, change: Change) -> None:
        if self.faults.silent:
            return
        with self._lock:
            sessions = list(self._sessions)
        data = _event_payload(change)
        for session in sessions:
            for topic, ids in list(session.channels.items()):
                binding = ids.get(change.resource.value)
                if binding is None:
                    continue
                message = {"topic": topic, "event": "postgres_changes", "ref": None,
                           "payload": {"ids": [binding], "data": data}}
                try:
                    session.send(message)
                except OSError:
                    session.close()  # a client that stopped reading: the connection goes
                    continue
                self.counts["events_sent"] += 1

    # -- admin -----------------------------------------------------------------------------------

    def close_all(self) -> int:
        """Close every open connection (close frame, then the socket); returns how many."""
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.close()
        self.counts["closed"] += len(sessions)
        return len(sessions)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            open_sessions = len(self._sessions)
        return {"faults": self.faults.snapshot(), "connections": open_sessions, **self.counts}

    # -- the HTTP side ---------------------------------------------------------------------------

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one upgrade request on ``handler``'s connection; returns when the connection ends."""
        refusal = self._refusal(handler.path)
        if refusal is not None:
            self.counts["refused"] += 1
            status, message = refusal
            body = json.dumps({"error": message}).encode()
            handler.send_response_only(status)
            for name, value in (("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                ("Connection", "close")):
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
            return
        protocol = ServerProtocol(max_size=_MAX_MESSAGE_BYTES)
        # the handler has read the request already: hand its bytes to the protocol, which parses it again
        lines = [f"GET {handler.path} HTTP/1.1", *(f"{k}: {v}" for k, v in handler.headers.items()), "", ""]
        protocol.receive_data("\r\n".join(lines).encode("latin-1"))
        request = next((e for e in protocol.events_received() if isinstance(e, Request)), None)
        if request is None:
            return
        response = protocol.accept(request)
        protocol.send_response(response)
        sock = handler.connection
        session = _Session(sock, protocol)
        session.flush()
        if response.status_code != 101:
            return
        self.counts["upgrades"] += 1
        with self._lock:
            self._sessions.add(session)
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch, name="hubsim-rt", daemon=True)
                self._dispatcher.start()
        sock.settimeout(_SEND_TIMEOUT_SECONDS)
        try:
            self._converse(session)
        except OSError as exc:
            log.debug("hubsim.realtime_connection_error", error=type(exc).__name__)
        finally:
            with self._lock:
                self._sessions.discard(session)
                self._lock.notify_all()

    def _refusal(self, path: str) -> tuple[int, str] | None:
        parts = urlsplit(path)
        if parts.path.rstrip("/") != REALTIME_PATH:
            return 404, "not found"
        refuse = self.faults.refuse
        if refuse is not None:
            return refuse, f"refused by the emulator's realtime faults ({refuse})"
        query = parse_qs(parts.query)
        if query.get("vsn", ["1.0.0"])[0] != "1.0.0":
            return 400, "only vsn=1.0.0 is served"
        if query.get("apikey", [""])[0] not in self._tokens:
            return 401, "Unauthorized"
        return None

    def _converse(self, session: _Session) -> None:
        last_heard = self._monotonic()
        while not session.closing and session.protocol.state is not State.CLOSED:
            if self._monotonic() - last_heard > self._idle_seconds:
                session.close(1000)
                break
            ready, _, _ = select.select([session.sock], [], [], _POLL_SECONDS)
            if not ready:
                continue
            data = session.sock.recv(65536)
            with session.lock:
                if data:
                    session.protocol.receive_data(data)
                else:
                    session.protocol.receive_eof()
                frames = session.protocol.events_received()
                session.flush()
            if not data:
                break
            for frame in frames:
                if isinstance(frame, Frame) and frame.opcode is Opcode.TEXT:
                    last_heard = self._monotonic()
                    self._answer(session, bytes(frame.data))
        with contextlib.suppress(OSError):
            session.sock.shutdown(socket.SHUT_RDWR)

    def _answer(self, session: _Session, text: bytes) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or not {"topic", "event", "payload", "ref"} <= set(message):
            return  # the real server drops such frames
        if self.faults.silent:
            return
        topic, event, ref = message["topic"], message["event"], message["ref"]
        payload = message["payload"] if isinstance(message["payload"], dict) else {}
        if topic == "phoenix" and event == "heartbeat":
            self.counts["heartbeats"] += 1
            session.send(_reply(topic, ref, "ok", {}))
        elif event == "phx_join" and isinstance(topic, str) and topic.startswith("realtime:"):
            self._join(session, topic, ref, payload)
        elif event == "phx_leave" and topic in session.channels:
            del session.channels[topic]
            session.send(_reply(topic, ref, "ok", {}))

    def _join(self, session: _Session, topic: str, ref: object, payload: dict[str, Any]) -> None:
        config = payload.get("config")
        wanted = config.get("postgres_changes") if isinstance(config, dict) else None
        if not isinstance(wanted, list) or not all(isinstance(b, dict) for b in wanted):
            session.send(_reply(topic, ref, "error", {"reason": "InvalidJoinPayload: no postgres_changes"}))
            return
        answered = []
        ids: dict[str, int] = {}
        for binding in wanted:
            binding_id = next(_binding_ids)
            answered.append({**binding, "id": binding_id})
            if binding.get("schema", "public") == "public" and binding.get("event", "*") in ("*",):
                ids[str(binding.get("table"))] = binding_id
        session.send(_reply(topic, ref, "ok", {"postgres_changes": answered}))
        session.channels[topic] = ids
        session.send({"topic": topic, "event": "system", "ref": None, "payload": {
            "extension": "postgres_changes", "status": "ok", "message": "Subscribed to PostgreSQL",
            "channel": topic.removeprefix("realtime:")}})


def _reply(topic: str, ref: object, status: str, response: dict[str, Any]) -> dict[str, Any]:
    payload = {"status": status, "response": response}
    return {"topic": topic, "event": "phx_reply", "ref": ref, "payload": payload}
