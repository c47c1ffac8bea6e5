"""The emulator's admin API under ``/_sim/``, for tests that drive it as a subprocess.

Only served when the app is built with ``admin=True`` (``syncd hubsim --admin``);
no token needed (the emulator listens on loopback). Bodies are JSON; rows come
back with canonical timestamps. Errors: 400 bad body, 404 unknown row or route,
409 clock not manual.

===========  ===================================  ===============================================
method       path                                 body / effect
===========  ===================================  ===============================================
GET          /_sim/faults                         current fault settings and queue
PUT          /_sim/faults                         change some settings (keys as ``Faults``)
DELETE       /_sim/faults                         no faults at all
POST         /_sim/faults/next                    ``{"count": 3, "status": 503|"reset"|"truncate"}``
GET          /_sim/tokens                         ``{token: "all" | [space ids]}``
PUT          /_sim/tokens                         add or change tokens; ``{token: null}`` removes one
GET          /_sim/stats                          ``{"requests": {resource: {status: n}}}``
DELETE       /_sim/stats                          reset the counters
GET          /_sim/clock                          ``{"now": ts, "manual": bool}``
POST         /_sim/clock                          ``{"advance_seconds": 61}`` or ``{"set": ts}`` (manual only)
GET          /_sim/{resource}                     every row, ``(updated_at, id)`` order
GET          /_sim/{resource}/{id}                one row
POST         /_sim/{resource}                     create a row from columns
POST         /_sim/{resource}/{id}                update columns of a row
POST         /_sim/{resource}/{id}/delete         tombstone; ``{"hard": true}`` removes the row
POST         /_sim/space_block/{id}/version       ``{"content": ..., "version_tag": ...}``: a new version
POST         /_sim/{resource}/late                ``{"row": {...}, "age_seconds": 30}``: a late commit
POST         /_sim/space_block/bulk               ``{"n": 1000, "space_id": ..., "spread_seconds": 60}``
GET          /_sim/realtime                       Realtime faults, open connections, event counts
PUT          /_sim/realtime                       change Realtime faults (keys as ``RealtimeFaults``)
DELETE       /_sim/realtime                       no Realtime faults
POST         /_sim/realtime/close                 close every open Realtime connection
===========  ===================================  ===============================================

``{resource}`` is ``space`` or ``space_block``. While ``down`` is ``"refuse"``
the admin API is unreachable too (it shares the listening socket): give
``"down_seconds"`` with it, e.g. ``PUT /_sim/faults {"down": "refuse", "down_seconds": 5}``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from syncd.core.models import Resource
from syncd.core.resources import DESCRIPTIONS
from syncd.core.timestamps import format_canonical, parse_rfc3339
from syncd.hubsim.clock import ManualClock
from syncd.hubsim.columns import as_uuid
from syncd.hubsim.faults import FaultKind, Faults
from syncd.hubsim.realtime import RealtimeHub
from syncd.hubsim.resources import EMULATED, EmulatedResource, emulated
from syncd.hubsim.store import HubStore, Visibility

__all__ = ["AdminApi", "RequestStats", "to_json"]

_RESOURCE_NAMES = "|".join(description.name for description in DESCRIPTIONS)
_ROUTE = re.compile(
    rf"/_sim/({_RESOURCE_NAMES})(?:/([0-9a-fA-F-]{{36}}|late|bulk))?(?:/(delete|version))?"
)


class RequestStats:
    """Counts of served requests by resource and status (``"reset"`` for dropped connections)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {}

    def record(self, resource: str, status: str) -> None:
        with self._lock:
            self._counts.setdefault(resource, Counter())[status] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {resource: dict(counts) for resource, counts in sorted(self._counts.items())}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def _fault_word(value: object) -> FaultKind:
    if value == "reset":
        return "reset"
    if value == "truncate":
        return "truncate"
    return int(str(value))


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return format_canonical(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(payload: object) -> bytes:
    """JSON with uuids as text and datetimes in the canonical spelling."""
    return json.dumps(payload, default=_default, ensure_ascii=False).encode("utf-8")


class AdminApi:
    """Routes ``/_sim/`` requests to the store, the faults and the counters."""

    def __init__(
        self, store: HubStore, faults: Faults, stats: RequestStats, tokens: dict[str, Visibility],
        *, realtime: RealtimeHub | None = None,
    ) -> None:
        self.realtime = realtime
        self.store = store
        self.faults = faults
        self.stats = stats
        self.tokens = tokens  # the app's own mapping, changed in place

    def dispatch(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        """Answer one admin request with ``(status, JSON payload)``."""
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            return self._route(method, path.rstrip("/"), data)
        except KeyError as exc:
            return 404, {"error": str(exc.args[0] if exc.args else exc)}
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)}

    def _route(self, method: str, path: str, data: dict[str, Any]) -> tuple[int, object]:
        if path == "/_sim/faults":
            return self._faults(method, data)
        if path == "/_sim/faults/next" and method == "POST":
            status = data.get("status", 503)
            self.faults.fail_next(int(data.get("count", 1)), _fault_word(status))
            return 200, self.faults.snapshot()
        if path == "/_sim/stats" and method in ("GET", "DELETE"):
            if method == "DELETE":
                self.stats.reset()
            return 200, {"requests": self.stats.snapshot()}
        if path == "/_sim/clock":
            return self._clock(method, data)
        if path.startswith("/_sim/realtime") and self.realtime is not None:
            return self._realtime(self.realtime, method, path, data)
        if path == "/_sim/tokens" and method in ("GET", "PUT"):
            if method == "PUT":
                self._set_tokens(data)
            return 200, {t: v if v == "all" else sorted(str(i) for i in v) for t, v in self.tokens.items()}
        match = _ROUTE.fullmatch(path)
        if match is None:
            raise KeyError(f"no admin route {method} {path}")
        return self._rows(method, Resource(match[1]), match[2], match[3], data)

    def _set_tokens(self, data: dict[str, Any]) -> None:
        changes: dict[str, Visibility | None] = {}
        for token, spaces in data.items():
            if spaces is None or spaces == "all":
                changes[token] = spaces
            elif isinstance(spaces, list):
                changes[token] = frozenset(as_uuid(s) for s in spaces)
            else:
                raise ValueError(f'token {token!r}: expected "all", a list of space ids or null')
        for token, visible in changes.items():
            if visible is None:
                self.tokens.pop(token, None)
            else:
                self.tokens[token] = visible

    def _faults(self, method: str, data: dict[str, Any]) -> tuple[int, object]:
        if method == "PUT":
            self.faults.update(data)
        elif method == "DELETE":
            self.faults.clear()
        elif method != "GET":
            raise KeyError(f"no admin route {method} /_sim/faults")
        return 200, self.faults.snapshot()

    @staticmethod
    def _realtime(hub: RealtimeHub, method: str, path: str, data: dict[str, Any]) -> tuple[int, object]:
        if path == "/_sim/realtime/close" and method == "POST":
            return 200, {"closed": hub.close_all()}
        if path != "/_sim/realtime" or method not in ("GET", "PUT", "DELETE"):
            raise KeyError(f"no admin route {method} {path}")
        if method == "PUT":
            hub.faults.update(data)
        elif method == "DELETE":
            hub.faults.clear()
        return 200, hub.snapshot()

    def _clock(self, method: str, data: dict[str, Any]) -> tuple[int, object]:
        clock = self.store.clock
        manual = isinstance(clock, ManualClock)
        if method == "POST":
            if not isinstance(clock, ManualClock):
                return 409, {"error": "the emulator runs on the real clock (start it with --manual-clock)"}
            if "set" in data:
                clock.set(parse_rfc3339(data["set"]))
            else:
                clock.advance(float(data["advance_seconds"]))
        elif method != "GET":
            raise KeyError(f"no admin route {method} /_sim/clock")
        return 200, {"now": self.store.now(), "manual": manual}

    def _rows(
        self, method: str, resource: Resource, target: str | None, action: str | None, data: dict[str, Any]
    ) -> tuple[int, object]:
        if target is None or target in ("late", "bulk"):
            if action is not None:
                raise KeyError(f"no admin route {method} {target}/{action}")
            return self._collection(method, resource, target, data)
        if method == "GET" and action is None:
            row = self.store.get(resource, target)
            if row is None:
                raise KeyError(f"no {resource.value} with id {target}")
            return 200, row
        if method != "POST":
            raise KeyError(f"no admin route {method} for {resource.value}")
        return self._change(resource, target, action, data)

    def _collection(
        self, method: str, resource: Resource, target: str | None, data: dict[str, Any]
    ) -> tuple[int, object]:
        store = self.store
        if method == "GET" and target is None:
            return 200, store.rows(resource)
        if method != "POST":
            raise KeyError(f"no admin route {method} for {resource.value}")
        if target == "late":
            return 200, store.commit_late(resource, dict(data["row"]), float(data["age_seconds"]))
        if target == "bulk":
            if not emulated(resource).bulk_import:
                raise KeyError(f"bulk imports exist only for {_names(lambda e: e.bulk_import)}")
            ids = store.bulk_import(
                int(data["n"]),
                space_id=data.get("space_id"),
                content_size=int(data.get("content_size", 500)),
                spread_seconds=float(data.get("spread_seconds", 60.0)),
            )
            return 200, {"ids": ids}
        return 201, store.write(resource, data)

    def _change(
        self, resource: Resource, target: str, action: str | None, data: dict[str, Any]
    ) -> tuple[int, object]:
        store = self.store
        if action is None:
            return 200, store.update(resource, target, **data)
        if action == "delete":
            if data.get("hard", False):
                store.hard_delete(resource, target)
                return 200, {"deleted": target, "hard": True}
            return 200, store.soft_delete(resource, target)
        if not emulated(resource).versioned:
            raise KeyError(f"versions exist only for {_names(lambda e: e.versioned)}")
        return 201, store.new_block_version(target, str(data["content"]), version_tag=data.get("version_tag"))


def _names(which: Callable[[EmulatedResource], bool]) -> str:
    return ", ".join(e.resource.value for e in EMULATED.values() if which(e))
