"""A synchronous client for the hub's REST API (``/work/shared/HUB_API.md``).

It sends only the query forms the contract guarantees (built in
:mod:`syncd.hub.queries`) and maps every answer onto :mod:`syncd.errors`:

======================================================  ==========================================
answer                                                  raised
======================================================  ==========================================
2xx with a JSON array of objects                        nothing: the rows, untouched
401, 403                                                :class:`HubAuthError`, not retried
400, 404                                                :class:`HubIncompatibleError`, not retried
408, 425, 429, 500, 502, 503, 504                       :class:`HubTransientError`, retried
timeouts, refused/reset connections, protocol errors   :class:`HubTransientError`, retried
2xx whose body is not a JSON array of objects           :class:`HubTransientError` (``bad_body``)
any other status (1xx, 3xx, 418, 501, ...)              :class:`HubIncompatibleError`, not retried
a request httpx cannot even form                        :class:`HubIncompatibleError`, not retried
retry budget exhausted                                  :class:`HubUnavailableError` from the last
======================================================  ==========================================

Redirects are not followed: the contract has none, so a 3xx means the URL
points somewhere that is not the hub. The token is sent in headers only and is
scrubbed from every message the client builds.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import structlog

from syncd import __version__
from syncd.errors import HubAuthError, HubError, HubIncompatibleError, HubTransientError
from syncd.hub.dates import parse_http_date, retry_after_seconds, utc_now
from syncd.hub.failures import describe_transport_error, hub_address
from syncd.hub.queries import changes_query, keys_query, resource_path
from syncd.hub.retry import RetryPolicy
from syncd.models import Page, Position, RawRow, Resource
from syncd.observe import NullObserver, Observer

if TYPE_CHECKING:
    from syncd.settings import HubSettings

__all__ = ["CONNECT_TIMEOUT_SECONDS", "TRANSIENT_STATUSES", "HubClient"]

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
CONNECT_TIMEOUT_SECONDS = 5.0
"""Connecting is bounded more tightly than the whole request: a hub that does not answer SYN is down."""


def _log() -> Any:
    # looked up per event, so a logger cached under one configuration never outlives it
    return structlog.get_logger("syncd.hub")


def _transport_kind(exc: httpx.RequestError) -> str:
    """A short label for a failed request, used as the metrics status and the retry reason."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol"
    if isinstance(exc, httpx.NetworkError):
        return "network"  # reads and writes cut short, e.g. a connection reset by peer
    if isinstance(exc, httpx.DecodingError):
        return "bad_body"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return "request_error"
    return "transport"


class HubClient:
    """Reads pages of ``space`` and ``space_block`` rows from one hub with one token.

    Every public method either returns what the hub served or raises a
    :class:`~syncd.errors.HubError`. Transient failures are retried within
    ``settings.retry_attempts`` attempts and ``settings.retry_max_seconds``.
    ``clock`` (the wall clock) is used only to measure a ``Retry-After`` date
    when the response has no ``Date`` header.
    """

    def __init__(
        self,
        settings: HubSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        observer: Observer | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._base_url = settings.url.rstrip("/")
        self._address = hub_address(self._base_url)
        self._timeout = httpx.Timeout(
            settings.timeout_seconds, connect=min(settings.timeout_seconds, CONNECT_TIMEOUT_SECONDS),
        )
        self._token = settings.token.reveal()
        self._observer: Observer = observer if observer is not None else NullObserver()
        self._monotonic = monotonic
        self._clock = clock
        self._sent = 0
        self._policy = RetryPolicy(
            max_attempts=max(1, settings.retry_attempts),
            max_seconds=settings.retry_max_seconds,
            retry_after_cap=settings.retry_after_cap_seconds,
            sleep=sleep,
            monotonic=monotonic,
            rng=rng if rng is not None else random.Random(),
        )
        self._http = httpx.Client(
            transport=transport,
            timeout=self._timeout,
            headers={
                "Authorization": f"Bearer {self._token}",
                "apikey": self._token,
                "Accept": "application/json",
                "User-Agent": f"syncd/{__version__}",
            },
            follow_redirects=False,
            # a plain-HTTP hub (the emulator on loopback) never makes this client speak TLS: every
            # URL is built on the base URL and redirects are not followed. So skip loading the CA
            # bundle, a sixth of a no-change run; an https hub keeps full certificate checks.
            verify=not self._base_url.startswith("http://"),
        )

    def __repr__(self) -> str:
        return f"HubClient(url={self._base_url!r})"

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._sent

    def fetch_page(
        self, resource: Resource, *, limit: int, after: Position | None = None, since: str | None = None,
    ) -> Page:
        """One page of changes in ``(updated_at, id)`` order.

        The first page when neither ``after`` nor ``since`` is given; the rows
        after the keyset position ``after``; or the rows with ``updated_at``
        at or after the RFC 3339 timestamp ``since``. Rows are returned as
        decoded, unknown columns included. ``hub_date`` is the response's
        ``Date`` header, or None when absent or unparsable.
        """
        query = changes_query(limit=limit, after=after, since=since)
        rows, hub_date = self._get(resource, query)
        return Page(resource=resource, rows=rows, hub_date=hub_date, requested_after=after)

    def fetch_keys(
        self, resource: Resource, *, limit: int, after_id: uuid.UUID | None = None,
    ) -> tuple[list[RawRow], datetime | None]:
        """One page of live keys (``id``, ``lnid``, ``updated_at``) in ``id`` order, and the hub's Date."""
        return self._get(resource, keys_query(limit=limit, after_id=after_id))

    def iter_keys(self, resource: Resource, *, limit: int) -> Iterator[list[RawRow]]:
        """Every live key, page by page, until the hub serves an empty page.

        A short page does not end the listing (the hub may cap pages); only an
        empty one does. Raises :class:`~syncd.errors.HubIncompatibleError` when
        a page's last row has no valid ``id`` or the ids stop increasing.
        """
        after_id: uuid.UUID | None = None
        while True:
            rows, _ = self.fetch_keys(resource, limit=limit, after_id=after_id)
            if not rows:
                return
            last_id = self._row_id(resource, rows[-1])
            if after_id is not None and last_id <= after_id:
                raise HubIncompatibleError(
                    f"{resource.value}: key listing went backwards ({last_id} after {after_id})"
                )
            yield rows
            after_id = last_id

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- one request, retried -------------------------------------------------------------------

    def _get(self, resource: Resource, query: str) -> tuple[list[RawRow], datetime | None]:
        # the query string is sent exactly as built: httpx keeps an already-encoded query as it is
        url = f"{self._base_url}{resource_path(resource)}?{query}"

        def on_retry(error: HubTransientError, attempt: int, delay: float) -> None:
            self._observer.hub_retry(error.reason, delay, str(error))
            _log().warning(
                "hub.retry", resource=resource.value, status=error.status, reason=error.reason,
                error=str(error), attempt=attempt, delay=round(delay, 3),
            )

        return self._policy.run(
            lambda attempt: self._attempt(resource, url, attempt), label=resource.value, on_retry=on_retry,
        )

    def _attempt(self, resource: Resource, url: str, attempt: int) -> tuple[list[RawRow], datetime | None]:
        started = self._monotonic()
        self._sent += 1
        try:
            response, body = self._receive(url)
        except httpx.RequestError as exc:
            kind = _transport_kind(exc)
            self._report(resource, kind, started, attempt)
            raise self._request_failure(resource, exc, kind) from (None if kind == "request_error" else exc)
        try:
            rows = self._rows(resource, response, body)
        except HubTransientError as exc:
            self._report(resource, exc.reason, started, attempt)
            raise
        except HubError:
            self._report(resource, str(response.status_code), started, attempt)
            raise
        self._report(resource, str(response.status_code), started, attempt)
        return rows, parse_http_date(response.headers.get("date"))

    def _receive(self, url: str) -> tuple[httpx.Response, bytes]:
        """The response to ``GET url`` and its body, read in full.

        httpx binds a response's stream to the response, a reference cycle; a body read with
        ``Response.read`` is kept in it until the cyclic collector's next pass, a megabyte a
        page. Read here, the body is freed as soon as the page is decoded.
        """
        with self._http.stream("GET", url) as response:
            body = b"".join(response.iter_bytes())
        return response, body

    def _report(self, resource: Resource, outcome: str, started: float, attempt: int) -> None:
        seconds = max(0.0, self._monotonic() - started)
        self._observer.hub_request(resource.value, outcome, seconds)
        _log().debug("hub.request", resource=resource.value, status=outcome, attempt=attempt,
                   seconds=round(seconds, 6))

    # -- interpreting answers -------------------------------------------------------------------

    def _request_failure(self, resource: Resource, exc: httpx.RequestError, kind: str) -> HubError:
        if kind == "request_error":
            # httpx could not form the request (bad URL scheme, illegal header): retrying cannot help,
            # and the underlying message may quote header values, so it is left out
            return HubIncompatibleError(
                self._redact(f"{resource.value}: request to the hub could not be sent ({type(exc).__name__})")
            )
        what = describe_transport_error(exc, self._address, self._timeout)
        return HubTransientError(self._redact(f"{resource.value}: {what}"), reason=kind)

    def _rows(self, resource: Resource, response: httpx.Response, body: bytes) -> list[RawRow]:
        status = response.status_code
        if 200 <= status < 300:
            return self._decode_rows(resource, response, body)
        name = resource.value
        detail = self._error_detail(body)
        if status in (401, 403):
            message = f"{name}: hub refused the token: HTTP {status}{detail}"
            raise HubAuthError(self._redact(message), status=status)
        if status in TRANSIENT_STATUSES:
            retry_after = self._retry_after(response) if status in _RETRY_AFTER_STATUSES else None
            raise HubTransientError(
                self._redact(f"{name}: {self._address} answered HTTP {status}{detail}"),
                status=status, reason=str(status), retry_after=retry_after,
            )
        if status == 400:
            meaning = "the hub rejected the query as malformed"
        elif status == 404:
            meaning = "the hub does not know this resource"
        else:
            meaning = "status outside the hub contract"
        raise HubIncompatibleError(self._redact(f"{name}: HTTP {status}: {meaning}{detail}"), status=status)

    def _decode_rows(self, resource: Resource, response: httpx.Response, content: bytes) -> list[RawRow]:
        def bad_body(why: str) -> HubTransientError:
            return HubTransientError(
                f"{resource.value}: {self._address} answered HTTP {response.status_code} with {why}",
                status=response.status_code, reason="bad_body",
            )

        try:
            body: Any = orjson.loads(content)  # about three times faster than json
        except orjson.JSONDecodeError:
            # what orjson refuses but json reads (a lone surrogate, NaN, a huge number) is decided
            # row by row by validation, as before, rather than failing the whole page
            try:
                body = json.loads(content)  # as httpx's Response.json(): UTF-8, -16 or -32
            except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
                raise bad_body("a body that is not valid JSON") from None
        if not isinstance(body, list):
            raise bad_body(f"a JSON {type(body).__name__} instead of an array")
        for index, item in enumerate(body):
            if not isinstance(item, dict):
                raise bad_body(f"array item {index} a JSON {type(item).__name__} instead of an object")
        return body

    def _error_detail(self, content: bytes) -> str:
        """``; hub code PGRST301: JWT expired`` from a PostgREST error body, or nothing."""
        try:
            body: Any = json.loads(content)
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        parts = []
        if body.get("code") is not None:
            parts.append(f"code {str(body['code'])[:60]}")
        if body.get("message") is not None:
            parts.append(str(body["message"])[:300])
        return ("; hub " + ": ".join(parts)) if parts else ""

    def _retry_after(self, response: httpx.Response) -> float | None:
        now = parse_http_date(response.headers.get("date")) or self._clock()
        return retry_after_seconds(response.headers.get("retry-after"), now=now)

    def _row_id(self, resource: Resource, row: RawRow) -> uuid.UUID:
        try:
            return uuid.UUID(str(row["id"]))
        except (KeyError, ValueError):
            raise HubIncompatibleError(f"{resource.value}: key listing row without a valid id") from None

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text
