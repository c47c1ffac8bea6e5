"""A synchronous client for the hub's PostgREST API, as far as syncd uses it.

It sends only the query forms the contract guarantees (built in
:mod:`syncd.hub.queries`) and maps every answer onto :mod:`syncd.errors`
(:mod:`syncd.hub.answers` reads the answers):

======================================================  ==========================================
answer                                                  raised
======================================================  ==========================================
2xx with a JSON array of objects                        nothing: the rows, untouched
401, 403                                                :class:`HubAuthError`, not retried
400, 404                                                :class:`HubIncompatibleError`, not retried
408, 425, 429, 500, 502, 503, 504                       :class:`HubTransientError`, retried
timeouts, refused/reset connections, protocol errors   :class:`HubTransientError`, retried
2xx whose body is not a JSON array of objects           :class:`HubTransientError` (``bad_body``)
2xx with more rows than the ``limit`` asked for          :class:`HubIncompatibleError`, not retried
a body over ``max_body_bytes`` (sent or inflated)       :class:`HubResponseTooLarge`; a page is asked
                                                        again with a smaller ``limit``, down to one row
a body still arriving after ``timeout_seconds``         :class:`HubTransientError` (``timeout``), retried
any other status (1xx, 3xx, 418, 501, ...)              :class:`HubIncompatibleError`, not retried
a request httpx cannot even form                        :class:`HubIncompatibleError`, not retried
retry budget exhausted                                  :class:`HubUnavailableError` from the last
======================================================  ==========================================

``timeout_seconds`` bounds each request from sending it to the body's last
byte (:mod:`syncd.hub.body` enforces it while streaming; httpx's own timeouts
bound each single read). Redirects are not followed: the contract has none, so a 3xx means the URL
points somewhere that is not the hub. The token is sent in headers only and is
scrubbed from every message the client builds.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from syncd import __version__
from syncd.core.models import Page, Position, RawRow, Resource
from syncd.core.observe import NullObserver, Observer
from syncd.core.timestamps import utc_now
from syncd.errors import (
    HubError,
    HubIncompatibleError,
    HubResponseTooLarge,
    HubTransientError,
)
from syncd.hub.answers import TRANSIENT_STATUSES, AnswerReader
from syncd.hub.body import ACCEPT_ENCODING, read_body
from syncd.hub.dates import parse_http_date
from syncd.hub.failures import hub_address, transport_kind
from syncd.hub.queries import changes_query, keys_query, resource_path
from syncd.hub.retry import RetryPolicy
from syncd.hub.watchdog import TimerFactory, Watchdog

if TYPE_CHECKING:
    from syncd.settings import HubSettings

__all__ = ["CONNECT_TIMEOUT_SECONDS", "DEFAULT_MAX_BODY_BYTES", "TRANSIENT_STATUSES", "HubClient"]

CONNECT_TIMEOUT_SECONDS = 5.0
"""Connecting is bounded more tightly than the whole request: a hub that does not answer SYN is down."""
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
"""The body bound of a client built without one (the settings' default for 1000-row pages)."""
_SHRINK = 4  # a page over the bound is asked again with a limit this many times smaller


def _log() -> Any:
    # looked up per event, so a logger cached under one configuration never outlives it
    return structlog.get_logger("syncd.hub")


class HubClient:
    """Reads pages of ``space`` and ``space_block`` rows from one hub with one token.

    Every public method either returns what the hub served or raises a
    :class:`~syncd.errors.HubError`. Transient failures are retried within
    ``settings.retry_attempts`` attempts and ``settings.retry_max_seconds``.
    ``clock`` (the wall clock) is used only to measure a ``Retry-After`` date
    when the response has no ``Date`` header. ``max_body_bytes`` bounds every
    response body, as sent and as inflated; ``timer`` starts the watchdog that
    cuts a body off at ``timeout_seconds`` while a read is blocked.
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
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timer: TimerFactory = threading.Timer,
    ) -> None:
        self._base_url = settings.url.rstrip("/")
        self._http_timeout = httpx.Timeout(
            settings.timeout_seconds, connect=min(settings.timeout_seconds, CONNECT_TIMEOUT_SECONDS),
        )
        self._token = settings.token.reveal()
        self._answers = AnswerReader(hub_address(self._base_url), self._token, self._http_timeout, clock)
        self._observer: Observer = observer if observer is not None else NullObserver()
        self._monotonic = monotonic
        self._sent = 0
        self._timeout = settings.timeout_seconds
        self._max_body = max_body_bytes
        self._watchdog = Watchdog(timer)
        self._page_limit: dict[Resource, int] = {}  # shrunk after a page over the body bound
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
            timeout=self._http_timeout,
            headers={
                "Authorization": f"Bearer {self._token}",
                "apikey": self._token,
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "User-Agent": f"syncd/{__version__}",
            },
            follow_redirects=False,
            # a plain-HTTP hub (the emulator on loopback) never makes this client speak TLS: every
            # URL is built on the base URL and redirects are not followed. So skip loading the CA
            # bundle, a large part of a no-change run; an https hub keeps full certificate checks.
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

        A page whose body passes the bound is asked for again with a smaller
        ``limit`` (and later pages of this client keep the smaller one): rows
        the contract allows are large enough that a full page of them can pass
        any bound. Only when one row alone passes it is the error raised.
        """
        ask = min(limit, self._page_limit.get(resource, limit))
        while True:
            try:
                rows, hub_date = self._get(resource, changes_query(limit=ask, after=after, since=since), ask)
            except HubResponseTooLarge as exc:
                if ask <= 1:
                    raise HubResponseTooLarge(
                        f"{exc}; one row alone passes the bound",
                        limit_bytes=exc.limit_bytes,
                        status=exc.status,
                    ) from None
                smaller = max(1, ask // _SHRINK)
                # rows the contract allows can fill a page past the bound: this is no fault
                _log().info(
                    "hub.page_shrunk", resource=resource.value, limit=ask, new_limit=smaller,
                    max_body_bytes=exc.limit_bytes,
                )
                self._page_limit[resource] = ask = smaller
                continue
            return Page(resource=resource, rows=rows, hub_date=hub_date, requested_after=after)

    def fetch_keys(
        self, resource: Resource, *, limit: int, after_id: uuid.UUID | None = None,
    ) -> tuple[list[RawRow], datetime | None]:
        """One page of live keys (``id``, ``lnid``, ``updated_at``) in ``id`` order, and the hub's Date."""
        return self._get(resource, keys_query(limit=limit, after_id=after_id), limit)

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

    # -- one request, retried; its answer is read in syncd.hub.answers ----------------------------

    def _get(self, resource: Resource, query: str, limit: int) -> tuple[list[RawRow], datetime | None]:
        # the query string is sent exactly as built: httpx keeps an already-encoded query as it is
        url = f"{self._base_url}{resource_path(resource)}?{query}"

        def on_retry(error: HubTransientError, attempt: int, delay: float) -> None:
            self._observer.hub_retry(error.reason, delay, str(error))
            _log().warning(
                "hub.retry", resource=resource.value, status=error.status, reason=error.reason,
                error=str(error), attempt=attempt, delay=round(delay, 3),
            )

        return self._policy.run(
            lambda attempt: self._attempt(resource, url, limit, attempt),
            label=resource.value,
            on_retry=on_retry,
        )

    def _attempt(
        self, resource: Resource, url: str, limit: int, attempt: int
    ) -> tuple[list[RawRow], datetime | None]:
        started = self._monotonic()
        self._sent += 1
        try:
            with self._watchdog.guard(self._timeout) as cut_off:
                response, body = self._receive(resource, url, started + self._timeout, cut_off)
        except httpx.RequestError as exc:
            kind = "timeout" if cut_off() else transport_kind(exc)
            self._report(resource, kind, started, attempt)
            if cut_off():
                raise HubTransientError(
                    f"{resource.value}: timeout error talking to the hub: no complete answer within "
                    f"timeout_seconds ({self._timeout:g} s)",
                    reason="timeout",
                ) from None
            failure = self._answers.request_failure(resource, exc, kind)
            raise failure from (None if kind == "request_error" else exc)
        except HubTransientError as exc:
            self._report(resource, exc.reason, started, attempt)
            raise
        except HubResponseTooLarge:
            self._report(resource, "too_large", started, attempt)
            raise
        except HubError:
            self._report(resource, "incompatible", started, attempt)
            raise
        try:
            rows = self._answers.rows(resource, response, body, limit)
        except HubTransientError as exc:
            self._report(resource, exc.reason, started, attempt)
            raise
        except HubError:
            self._report(resource, str(response.status_code), started, attempt)
            raise
        self._report(resource, str(response.status_code), started, attempt)
        return rows, parse_http_date(response.headers.get("date"))

    def _receive(
        self, resource: Resource, url: str, deadline: float, cut_off: Callable[[], bool]
    ) -> tuple[httpx.Response, bytearray]:
        """The response to ``GET url`` and its body, read within the bounds (:mod:`syncd.hub.body`).

        httpx binds a response's stream to the response, a reference cycle; a body read with
        ``Response.read`` is kept in it until the cyclic collector's next pass, a megabyte a
        page. Read here, the body is freed as soon as the page is decoded. Leaving the
        ``with`` block early closes the connection: the rest of a body over a bound is never read.
        """
        with self._http.stream("GET", url, extensions={"trace": self._watchdog.trace}) as response:
            body = read_body(
                response, label=resource.value, max_bytes=self._max_body, deadline=deadline,
                monotonic=self._monotonic, cut_off=cut_off,
            )
        return response, body

    def _report(self, resource: Resource, outcome: str, started: float, attempt: int) -> None:
        seconds = max(0.0, self._monotonic() - started)
        self._observer.hub_request(resource.value, outcome, seconds)
        _log().debug("hub.request", resource=resource.value, status=outcome, attempt=attempt,
                   seconds=round(seconds, 6))

    def _row_id(self, resource: Resource, row: RawRow) -> uuid.UUID:
        try:
            return uuid.UUID(str(row["id"]))
        except (KeyError, ValueError):
            raise HubIncompatibleError(f"{resource.value}: key listing row without a valid id") from None
