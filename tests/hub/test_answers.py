"""Reading the hub's answers: statuses become the errors of the client's table, bodies become rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from syncd.core.models import Resource
from syncd.errors import HubAuthError, HubError, HubIncompatibleError, HubTransientError
from syncd.hub.answers import TRANSIENT_STATUSES, AnswerReader

TOKEN = "tok-answers-secret-1"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _reader() -> AnswerReader:
    return AnswerReader("hub.example:443", TOKEN, httpx.Timeout(30.0, connect=5.0), lambda: NOW)


def _answer(status: int, body: object = b"", headers: dict[str, str] | None = None) -> tuple[httpx.Response, bytearray]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, headers=headers), bytearray(content)


def _rows(status: int, body: object = b"", headers: dict[str, str] | None = None, limit: int = 10) -> object:
    response, content = _answer(status, body, headers)
    return _reader().rows(Resource.SPACE, response, content, limit)


def test_a_2xx_array_of_objects_is_the_rows_untouched() -> None:
    rows = [{"id": "a", "extra": [1, 2]}, {"id": "b"}]
    assert _rows(200, rows) == rows
    assert _rows(206, []) == []


@pytest.mark.parametrize(
    ("body", "why"),
    [(b"not json", "does not decode as JSON"), ({"a": 1}, "a JSON dict instead of an array"),
     ([{"id": "a"}, 3], "array item 1 a JSON int instead of an object")],
)
def test_a_2xx_body_that_is_not_an_array_of_objects_is_transient(body: object, why: str) -> None:
    with pytest.raises(HubTransientError, match=why) as caught:
        _rows(200, body)
    assert caught.value.reason == "bad_body"


def test_more_rows_than_asked_for_break_the_contract() -> None:
    with pytest.raises(HubIncompatibleError, match="3 rows for limit=2"):
        _rows(200, [{"id": "a"}, {"id": "b"}, {"id": "c"}], limit=2)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, HubAuthError), (403, HubAuthError), (400, HubIncompatibleError), (404, HubIncompatibleError),
     (418, HubIncompatibleError), (301, HubIncompatibleError),
     *[(s, HubTransientError) for s in sorted(TRANSIENT_STATUSES)]],
)
def test_each_status_means_one_error(status: int, error: type[HubError]) -> None:
    with pytest.raises(error) as caught:
        _rows(status)
    assert caught.value.status == status
    assert type(caught.value) is error


def test_a_postgrest_error_body_is_quoted_and_the_token_scrubbed() -> None:
    body = {"code": "PGRST301", "message": f"JWT {TOKEN} expired"}
    with pytest.raises(HubAuthError) as caught:
        _rows(401, body)
    assert str(caught.value) == "space: hub refused the token: HTTP 401; hub code PGRST301: JWT *** expired"


def test_retry_after_is_measured_against_the_response_date_else_the_clock() -> None:
    with pytest.raises(HubTransientError) as dated:
        _rows(503, headers={"Retry-After": "Sun, 01 Mar 2026 10:00:30 GMT", "Date": "Sun, 01 Mar 2026 10:00:00 GMT"})
    assert dated.value.retry_after == 30.0
    with pytest.raises(HubTransientError) as undated:
        _rows(429, headers={"Retry-After": "Sun, 01 Mar 2026 12:00:45 GMT"})  # against the injected clock
    assert undated.value.retry_after == 45.0
    with pytest.raises(HubTransientError) as ignored:
        _rows(502, headers={"Retry-After": "5"})  # only 429 and 503 carry one
    assert ignored.value.retry_after is None


def test_a_request_that_could_not_be_formed_is_not_retried_and_quotes_nothing() -> None:
    failure = _reader().request_failure(Resource.SPACE, httpx.UnsupportedProtocol(f"bad {TOKEN}"), "request_error")
    assert isinstance(failure, HubIncompatibleError)
    assert str(failure) == "space: request to the hub could not be sent (UnsupportedProtocol)"


def test_a_transport_failure_is_transient_and_names_the_hub() -> None:
    failure = _reader().request_failure(Resource.SPACE_BLOCK, httpx.ReadTimeout("timed out"), "timeout")
    assert isinstance(failure, HubTransientError)
    assert failure.reason == "timeout"
    assert str(failure) == "space_block: no answer from hub.example:443 within 30 s"
