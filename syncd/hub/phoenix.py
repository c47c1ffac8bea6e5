"""Phoenix ``vsn=1.0.0`` frames of the hub's Realtime endpoint, and the doorbell's backoff steps.

Pure functions and small values, no I/O: the URL of the endpoint, the frames
the client sends (join, heartbeat, leave), the checks on what the server sends
back, and :class:`Backoff` (1, 2, 5, 10 s, then every 10 s, with jitter).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from syncd.core.models import Resource
from syncd.core.resources import DESCRIPTIONS

__all__ = [
    "OFF_CODES",
    "TOKEN_CODES",
    "TOPIC",
    "Backoff",
    "Frame",
    "heartbeat_frame",
    "join_frame",
    "join_matches",
    "leave_frame",
    "parse_frame",
    "reason_code",
    "resources_of",
    "websocket_url",
]

TOPIC = "realtime:syncd"
TABLES = tuple(description.name for description in DESCRIPTIONS)
# join refusals that mean the token is bad (as for an upgrade answered 401)
TOKEN_CODES = frozenset({"InvalidJWTToken", "MalformedJWT", "JwtSignatureError", "Unauthorized"})
# join refusals after which the hub will not offer the doorbell to this client
OFF_CODES = frozenset({"PrivateOnly", "TenantNotFound", "RealtimeDisabledForTenant"})
_STEPS = (1.0, 2.0, 5.0, 10.0)


def websocket_url(hub_url: str, token: str) -> str:
    """The Realtime endpoint of a hub: ``ws(s)://.../realtime/v1/websocket?apikey=...&vsn=1.0.0``."""
    if hub_url.startswith("https://"):
        base = "wss://" + hub_url.removeprefix("https://")
    elif hub_url.startswith("http://"):
        base = "ws://" + hub_url.removeprefix("http://")
    else:
        raise ValueError(f"not an http(s) hub URL: {hub_url!r}")
    return f"{base.rstrip('/')}/realtime/v1/websocket?apikey={quote(token, safe='')}&vsn=1.0.0"


@dataclass(frozen=True, slots=True)
class Frame:
    """One server message; ``ref`` is None for pushes."""

    topic: str
    event: str
    payload: dict[str, Any]
    ref: str | None


def parse_frame(text: str | bytes) -> Frame | None:
    """The frame in one text message, or None when it is not a Phoenix v1 object."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    topic, event, payload, ref = (data.get(k) for k in ("topic", "event", "payload", "ref"))
    if not isinstance(topic, str) or not isinstance(event, str) or not isinstance(payload, dict):
        return None
    return Frame(topic, event, payload, ref if isinstance(ref, str) else None)


def _dump(topic: str, event: str, payload: dict[str, Any], ref: str, join_ref: str | None) -> str:
    return json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref})


def join_frame(ref: str, token: str) -> str:
    """``phx_join`` of :data:`TOPIC` with one ``postgres_changes`` binding per synced table."""
    bindings = [{"event": "*", "schema": "public", "table": table} for table in TABLES]
    payload = {
        "config": {
            "broadcast": {"ack": False, "self": False},
            "presence": {"enabled": False, "key": ""},
            "postgres_changes": bindings,
            "private": False,
        },
        "access_token": token,
    }
    return _dump(TOPIC, "phx_join", payload, ref, ref)


def heartbeat_frame(ref: str) -> str:
    return _dump("phoenix", "heartbeat", {}, ref, None)


def leave_frame(ref: str, join_ref: str) -> str:
    return _dump(TOPIC, "phx_leave", {}, ref, join_ref)


def join_matches(response: object) -> bool:
    """True when an ``ok`` join reply's bindings answer the request: same length, tables and events."""
    if not isinstance(response, dict):
        return False
    bindings = response.get("postgres_changes")
    if not isinstance(bindings, list) or len(bindings) != len(TABLES):
        return False
    for binding, table in zip(bindings, TABLES, strict=True):
        if not isinstance(binding, dict) or binding.get("table") != table or binding.get("event") != "*":
            return False
        if not isinstance(binding.get("id"), int):
            return False
    return True


def reason_code(payload: dict[str, Any]) -> str:
    """The code of a join refusal: ``{"response": {"reason": "Code: message"}}`` gives ``Code``."""
    response = payload.get("response")
    reason = response.get("reason") if isinstance(response, dict) else None
    return str(reason).split(":", 1)[0].strip() if reason else "unknown"


def resources_of(payload: dict[str, Any]) -> tuple[Resource, ...]:
    """What a change event asks to pull: its table, both without one, nothing for another table."""
    data = payload.get("data")
    table = data.get("table") if isinstance(data, dict) else None
    if table is None:
        return tuple(description.resource for description in DESCRIPTIONS)
    if table in TABLES:
        return (Resource(table),)
    return ()


class Backoff:
    """Delays before reconnecting or rejoining: 1, 2, 5, 10 s, then every 10 s, each ±20 %.

    ``cap`` above 10 s makes the delays keep doubling after the steps, up to
    ``cap`` (a subscription that keeps failing). :meth:`reset` starts over.
    """

    def __init__(self, rng: random.Random, *, cap: float = _STEPS[-1]) -> None:
        self._rng = rng
        self._cap = cap
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next(self) -> float:
        n = self._attempt
        self._attempt += 1
        if n < len(_STEPS):
            base = _STEPS[n]
        else:
            base = min(self._cap, _STEPS[-1] * 2.0 ** min(n - len(_STEPS) + 1, 30))
        return base * self._rng.uniform(0.8, 1.2)
