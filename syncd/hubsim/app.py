"""The emulator's WSGI app: the hub contract over a :class:`HubStore`, with faults.

``HubApp(store, tokens=..., faults=..., max_rows=...)`` is a plain WSGI
callable, so it runs under :func:`syncd.hubsim.server.start_server` or in
process through ``httpx.WSGITransport``. Per request, in order: the fault
draw (latency, injected status, reset, truncation), then the route
(``GET /rest/v1/{space|space_block}``; 404 otherwise), then the token (both
``Authorization: Bearer`` and ``apikey`` must carry one known token; 401
otherwise), then the query (400 outside the contract), then at most
``min(limit, max_rows)`` rows the token may see. Every response has a ``Date``
header from the store's clock; errors have PostgREST-style JSON bodies.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any

from syncd.core.models import Resource
from syncd.hubsim.admin import AdminApi, RequestStats, to_json
from syncd.hubsim.faults import ConnectionAbort, Faults
from syncd.hubsim.query import QueryError, parse_query
from syncd.hubsim.realtime import RealtimeHub
from syncd.hubsim.realtime_faults import RealtimeFaults
from syncd.hubsim.store import HubStore, Visibility

__all__ = ["DEFAULT_TOKEN", "HubApp", "StartResponse", "WSGIEnviron", "error_body"]

DEFAULT_TOKEN = "hubsim-token"  # noqa: S105 - the emulator's public test token; sees every space
WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
_PATH = re.compile(r"/rest/v1/([^/]+)/?")
_Answer = tuple[int, list[tuple[str, str]], bytes]
_RESOURCES = frozenset(resource.value for resource in Resource)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"  # an injected status without a standard name, e.g. 599


def error_body(code: str, message: str, details: str | None = None, hint: str | None = None) -> bytes:
    """A PostgREST error object: ``{"code", "message", "details", "hint"}``."""
    return to_json({"code": code, "message": message, "details": details, "hint": hint})


def _error(
    status: int, code: str, message: str, details: str | None = None, hint: str | None = None
) -> _Answer:
    return status, [], error_body(code, message, details, hint)


def _visibility(spaces: Visibility | Iterable[uuid.UUID | str]) -> Visibility:
    if spaces == "all":
        return "all"
    return frozenset(s if isinstance(s, uuid.UUID) else uuid.UUID(s) for s in spaces)


class HubApp:
    """The hub contract as a WSGI app over ``store``.

    ``tokens`` maps each accepted token to the space ids it may see (or
    ``"all"``); default ``{DEFAULT_TOKEN: "all"}``. ``max_rows`` caps every
    page like PostgREST's ``db-max-rows``. ``admin`` enables ``/_sim/``
    (:mod:`syncd.hubsim.admin`). ``sleep`` serves injected latency. ``realtime``
    holds the fault knobs of the Realtime endpoint (:attr:`realtime`).
    """

    def __init__(
        self,
        store: HubStore,
        *,
        tokens: Mapping[str, Visibility | Iterable[uuid.UUID | str]] | None = None,
        faults: Faults | None = None,
        max_rows: int = 1000,
        admin: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        realtime: RealtimeFaults | None = None,
    ) -> None:
        self.store = store
        self.faults = faults if faults is not None else Faults()
        self.tokens: dict[str, Visibility] = {
            token: _visibility(spaces) for token, spaces in (tokens or {DEFAULT_TOKEN: "all"}).items()
        }
        self.max_rows = max_rows
        self.admin = admin
        self.stats = RequestStats()
        self.realtime = RealtimeHub(store, self.tokens, faults=realtime)
        self._admin = AdminApi(store, self.faults, self.stats, self.tokens, realtime=self.realtime)
        self._sleep = sleep

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> list[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        method = str(environ.get("REQUEST_METHOD") or "GET")
        if self.admin and path.startswith("/_sim/"):
            status, payload = self._admin.dispatch(method, path, _read_body(environ))
            return self._send(start_response, status, [], to_json(payload))
        match = _PATH.fullmatch(path)
        label = match[1] if match and match[1] in _RESOURCES else "other"
        try:
            status, headers, body = self._serve(environ, method, path)
        except ConnectionAbort:
            self.stats.record(label, "reset")
            raise
        self.stats.record(label, str(status))
        return self._send(start_response, status, headers, body)

    def _send(
        self, start_response: StartResponse, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> list[bytes]:
        start_response(
            f"{status} {_phrase(status)}",
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Date", format_datetime(self.store.now(), usegmt=True)),
                *headers,
            ],
        )
        return [body]

    def _serve(self, environ: WSGIEnviron, method: str, path: str) -> _Answer:
        action = self.faults.decide()
        if action.latency_seconds > 0:
            self._sleep(action.latency_seconds)
        if action.reset:
            raise ConnectionAbort
        if action.status is not None:
            status, headers, body = _error(
                action.status, str(action.status), f"injected fault: {_phrase(action.status)}"
            )
            if action.retry_after is not None:
                headers.append(("Retry-After", str(action.retry_after)))
            return status, headers, body
        match = _PATH.fullmatch(path)
        if match is None:
            return _error(404, "PGRST125", "Invalid path specified in request URL", details=path)
        if match[1] not in _RESOURCES:
            return _error(
                404, "PGRST205", f"Could not find the table 'public.{match[1]}' in the schema cache"
            )
        if method != "GET":
            return _error(
                405, "PGRST117", f"Unsupported HTTP method: {method}", hint="the hub is read-only here"
            )
        visible = self._authorise(environ)
        if not isinstance(visible, (frozenset, str)):
            return visible
        try:
            query = parse_query(str(environ.get("QUERY_STRING") or ""))
        except QueryError as exc:
            return _error(400, exc.code, exc.message, exc.details, exc.hint)
        rows = self.store.select(match[1], query, visible, self.max_rows)
        body = b"[" + b",".join(rows) + b"]"
        if action.truncate:
            body = body[: len(body) // 2]
        content_range = f"0-{len(rows) - 1}/*" if rows else "*/*"
        return 200, [("Content-Range", content_range)], body

    def _authorise(self, environ: WSGIEnviron) -> Visibility | _Answer:
        authorization = str(environ.get("HTTP_AUTHORIZATION") or "")
        apikey = environ.get("HTTP_APIKEY")
        if not authorization.startswith("Bearer ") or not apikey:
            return _error(
                401,
                "PGRST301",
                "No API key found in request",
                hint="send Authorization: Bearer {token} and apikey",
            )
        token = authorization.removeprefix("Bearer ").strip()
        visible = self.tokens.get(token)
        if visible is None or apikey != token:
            return _error(401, "PGRST301", "JWT invalid or unknown token")
        return visible


def _read_body(environ: WSGIEnviron) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if length <= 0 or stream is None:
        return b""
    data = stream.read(length)
    return data if isinstance(data, bytes) else b""
