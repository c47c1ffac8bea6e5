"""What the hub's answers mean: a response becomes rows or the error it stands for.

:class:`AnswerReader` applies the table in :mod:`syncd.hub.client` to one
response (status, body, ``Retry-After``) or to a request that got no answer,
and scrubs the token from every message it builds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from syncd.core.models import RawRow, Resource
from syncd.errors import HubAuthError, HubError, HubIncompatibleError, HubTransientError
from syncd.hub.body import VALUES_PER_ROW, decode_json, too_many_values
from syncd.hub.dates import parse_http_date, retry_after_seconds
from syncd.hub.failures import describe_transport_error

__all__ = ["TRANSIENT_STATUSES", "AnswerReader"]

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_ERROR_DETAIL_BYTES = 64 * 1024  # an error body larger than this is not searched for a message


class AnswerReader:
    """Reads the answers of the hub at ``address`` (``host:port``), asked with ``token``.

    ``http_timeout`` is named in the message of a request that timed out;
    ``clock`` (the wall clock) measures a ``Retry-After`` date when the
    response has no ``Date`` header.
    """

    def __init__(
        self, address: str, token: str, http_timeout: httpx.Timeout, clock: Callable[[], datetime],
    ) -> None:
        self._address = address
        self._token = token
        self._http_timeout = http_timeout
        self._clock = clock

    def request_failure(self, resource: Resource, exc: httpx.RequestError, kind: str) -> HubError:
        if kind == "request_error":
            # httpx could not form the request (bad URL scheme, illegal header): retrying cannot help,
            # and the underlying message may quote header values, so it is left out
            return HubIncompatibleError(
                self._redact(f"{resource.value}: request to the hub could not be sent ({type(exc).__name__})")
            )
        what = describe_transport_error(exc, self._address, self._http_timeout)
        return HubTransientError(self._redact(f"{resource.value}: {what}"), reason=kind)

    def rows(
        self, resource: Resource, response: httpx.Response, body: bytearray, limit: int
    ) -> list[RawRow]:
        status = response.status_code
        if 200 <= status < 300:
            return self._decode_rows(resource, response, body, limit)
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

    def _decode_rows(
        self, resource: Resource, response: httpx.Response, content: bytearray, limit: int
    ) -> list[RawRow]:
        def bad_body(why: str) -> HubTransientError:
            return HubTransientError(
                f"{resource.value}: {self._address} answered HTTP {response.status_code} with {why}",
                status=response.status_code, reason="bad_body",
            )

        values = too_many_values(content, limit * VALUES_PER_ROW)
        if values is not None:  # decoded, such a body would take many times its size in memory
            raise HubIncompatibleError(
                f"{resource.value}: HTTP {response.status_code} with a body of up to {values} JSON values "
                f"for limit={limit} (at most {VALUES_PER_ROW} a row): more than the rows asked for can hold",
                status=response.status_code,
            )
        try:
            body: Any = decode_json(content)
        except ValueError as exc:  # invalid JSON or UTF-8, nesting too deep
            raise bad_body(f"a body that does not decode as JSON ({str(exc)[:200]})") from None
        if not isinstance(body, list):
            raise bad_body(f"a JSON {type(body).__name__} instead of an array")
        if len(body) > limit:
            raise HubIncompatibleError(
                f"{resource.value}: HTTP {response.status_code} with {len(body)} rows for limit={limit}: "
                "more rows than asked for breaks the hub contract",
                status=response.status_code,
            )
        for index, item in enumerate(body):
            if not isinstance(item, dict):
                raise bad_body(f"array item {index} a JSON {type(item).__name__} instead of an object")
        return body

    def _error_detail(self, content: bytearray) -> str:
        """``; hub code PGRST301: JWT expired`` from a PostgREST error body, or nothing."""
        if len(content) > _ERROR_DETAIL_BYTES:
            return ""
        try:
            body: Any = json.loads(content)
        except (ValueError, RecursionError):
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

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text
