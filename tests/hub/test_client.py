"""The hub client: URLs sent, headers, pages, dates, key pagination, non-retried errors, secrecy."""

from __future__ import annotations

import gc
import json
import uuid
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

import syncd
from syncd.core.models import Position, Resource
from syncd.errors import HubAuthError, HubError, HubIncompatibleError, HubUnavailableError
from syncd.hub import HubClient
from syncd.hubsim import HubStore, ManualClock, populate, running_hub
from syncd.secrets import Secret
from tests.support.hub_fakes import (
    HUB_URL,
    TOKEN,
    FakeClock,
    RecordingObserver,
    ScriptedHub,
    always,
    hub_settings,
    make_client,
    ok,
)

ID = uuid.UUID("0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d")
SPACE_URL = f"{HUB_URL}/rest/v1/space"
DATE = "Mon, 23 Nov 2026 09:00:00 GMT"




def respx_client(router: respx.MockRouter) -> HubClient:
    clock = FakeClock()
    return HubClient(
        hub_settings(), transport=httpx.MockTransport(router.handler), sleep=clock.sleep,
        monotonic=clock.monotonic,
    )


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda c: c.fetch_page(Resource.SPACE, limit=100),
            f"{SPACE_URL}?select=*&order=updated_at.asc,id.asc&limit=100",
        ),
        (
            lambda c: c.fetch_page(
                Resource.SPACE, limit=100,
                after=Position(datetime(2024, 5, 1, 11, tzinfo=UTC), "2024-05-01T12:00:00.5+01:00", ID),
            ),
            f"{SPACE_URL}?select=*&order=updated_at.asc,id.asc&limit=100"
            "&or=(updated_at.gt.2024-05-01T12%3A00%3A00.5%2B01%3A00,"
            f"and(updated_at.eq.2024-05-01T12%3A00%3A00.5%2B01%3A00,id.gt.{ID}))",
        ),
        (
            lambda c: c.fetch_page(Resource.SPACE_BLOCK, limit=7, since="2024-05-01T11:00:00Z"),
            f"{HUB_URL}/rest/v1/space_block?select=*&order=updated_at.asc,id.asc&limit=7"
            "&updated_at=gte.2024-05-01T11%3A00%3A00Z",
        ),
        (
            lambda c: c.fetch_keys(Resource.SPACE, limit=1000),
            f"{SPACE_URL}?select=id,lnid,updated_at&deleted_at=is.null&order=id.asc&limit=1000",
        ),
        (
            lambda c: c.fetch_keys(Resource.SPACE, limit=1000, after_id=ID),
            f"{SPACE_URL}?select=id,lnid,updated_at&deleted_at=is.null&order=id.asc&limit=1000&id=gt.{ID}",
        ),
    ],
)
def test_the_exact_url_sent(call: Any, expected: str) -> None:
    router = respx.MockRouter(assert_all_called=False)
    route = router.get(url__startswith=HUB_URL).respond(200, json=[])
    with respx_client(router) as client:
        call(client)
    assert route.call_count == 1
    assert str(route.calls.last.request.url) == expected


def test_headers_and_timeouts_on_every_request() -> None:
    clock = FakeClock()
    hub = ScriptedHub(ok(), ok())
    with make_client(hub, clock) as client:
        client.fetch_page(Resource.SPACE, limit=1)
        client.fetch_keys(Resource.SPACE, limit=1)
    for request in hub.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["apikey"] == TOKEN
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"] == f"syncd/{syncd.__version__}"
        timeout = request.extensions["timeout"]
        assert timeout["read"] == 12.0
        assert timeout["connect"] == 5.0


def test_page_passes_rows_through_and_reads_the_date() -> None:
    rows = [{"id": str(ID), "lnid": "abcdefghijkl", "brand_new_column": {"x": [1, 2]}}]
    after = Position(datetime(2024, 5, 1, 11, tzinfo=UTC), "2024-05-01T11:00:00Z", ID)
    hub = ScriptedHub(ok(rows, Date=DATE))
    with make_client(hub, FakeClock()) as client:
        page = client.fetch_page(Resource.SPACE, limit=10, after=after)
    assert page.resource is Resource.SPACE
    assert page.rows == rows
    assert page.hub_date == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert page.hub_date.tzinfo is UTC
    assert page.requested_after == after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Date": "not a date"}, None),
        ({"Date": "Mon, 23 Nov 2026 10:00:00 +0100"}, datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        ({"Date": "Mon, 23 Nov 2026 09:00:00 -0000"}, datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
    ],
)
def test_date_header(headers: dict[str, str], expected: datetime | None) -> None:
    hub = ScriptedHub(ok([], **headers), ok([], **headers))
    with make_client(hub, FakeClock()) as client:
        assert client.fetch_page(Resource.SPACE, limit=1).hub_date == expected
        assert client.fetch_keys(Resource.SPACE, limit=1)[1] == expected


def _keys(*ints: int) -> list[dict[str, Any]]:
    return [
        {"id": str(uuid.UUID(int=i)), "lnid": f"{i:012d}", "updated_at": "2024-05-01T11:00:00Z"} for i in ints
    ]


def test_iter_keys_pages_until_an_empty_page_even_after_short_pages() -> None:
    hub = ScriptedHub(ok(_keys(1, 2, 3)), ok(_keys(4)), ok(_keys(5, 6, 7)), ok([]))
    with make_client(hub, FakeClock()) as client:
        pages = list(client.iter_keys(Resource.SPACE, limit=3))
        assert client.requests_sent == 4
    assert [[r["id"] for r in page] for page in pages] == [
        [str(uuid.UUID(int=i)) for i in (1, 2, 3)],
        [str(uuid.UUID(int=4))],
        [str(uuid.UUID(int=i)) for i in (5, 6, 7)],
    ]
    assert [url.partition("&id=gt.")[2] for url in hub.urls] == [
        "", str(uuid.UUID(int=3)), str(uuid.UUID(int=4)), str(uuid.UUID(int=7)),
    ]


def test_iter_keys_refuses_a_listing_that_goes_backwards() -> None:
    hub = ScriptedHub(ok(_keys(5, 6)), ok(_keys(2, 3)))
    with make_client(hub, FakeClock()) as client, pytest.raises(HubIncompatibleError, match="backwards"):
        list(client.iter_keys(Resource.SPACE, limit=2))


def test_iter_keys_refuses_rows_without_an_id() -> None:
    hub = ScriptedHub(ok([{"lnid": "abcdefghijkl"}]))
    with make_client(hub, FakeClock()) as client, pytest.raises(HubIncompatibleError, match="valid id"):
        list(client.iter_keys(Resource.SPACE, limit=2))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, HubIncompatibleError),
        (401, HubAuthError),
        (403, HubAuthError),
        (404, HubIncompatibleError),
        (418, HubIncompatibleError),
        (501, HubIncompatibleError),
        (301, HubIncompatibleError),
    ],
)
def test_errors_that_are_not_retried(status: int, error: type[HubError]) -> None:
    clock = FakeClock()
    observer = RecordingObserver()
    body = {"code": "PGRST301", "message": "JWT expired", "details": None, "hint": None}
    hub = ScriptedHub(*always(httpx.Response(status, json=body, headers={"Retry-After": "1"})))
    with make_client(hub, clock, observer=observer) as client:
        with pytest.raises(error) as caught:
            client.fetch_page(Resource.SPACE, limit=10)
        assert client.requests_sent == 1
    assert type(caught.value) is error
    assert caught.value.status == status
    assert f"HTTP {status}" in str(caught.value)
    assert "PGRST301" in str(caught.value)
    assert "JWT expired" in str(caught.value)
    assert len(hub.requests) == 1
    assert clock.sleeps == []
    assert observer.requests == [("space", str(status), 0.0)]
    assert observer.retries == []


def test_auth_error_without_a_json_body_still_names_the_status() -> None:
    hub = ScriptedHub(httpx.Response(401, text="<html>nope</html>"))
    with make_client(hub, FakeClock()) as client, pytest.raises(HubAuthError, match=r"^space: .*HTTP 401$"):
        client.fetch_keys(Resource.SPACE, limit=1)


def test_every_request_is_observed_and_logged(logs: list[MutableMapping[str, Any]]) -> None:
    clock = FakeClock()
    observer = RecordingObserver()
    hub = ScriptedHub(ok(), clock=clock, request_seconds=0.25)
    with make_client(hub, clock, observer=observer) as client:
        client.fetch_page(Resource.SPACE_BLOCK, limit=5)
    assert observer.requests == [("space_block", "200", 0.25)]
    assert logs == [
        {"event": "hub.request", "log_level": "debug", "resource": "space_block", "status": "200",
         "attempt": 1, "seconds": 0.25},
    ]


def test_the_token_never_leaks(logs: list[MutableMapping[str, Any]]) -> None:
    clock = FakeClock()
    echo = {"code": "PGRST301", "message": f"JWT {TOKEN} is expired", "details": TOKEN, "hint": None}
    hub = ScriptedHub(
        httpx.Response(401, json=echo),
        httpx.Response(503, json=echo, headers={"Retry-After": "1"}),
        httpx.Response(503, json=echo, headers={"Retry-After": "1"}),
    )
    raised: list[BaseException] = []
    with make_client(hub, clock, retry_attempts=2) as client:
        assert TOKEN not in repr(client)
        with pytest.raises(HubAuthError) as auth:
            client.fetch_page(Resource.SPACE, limit=1)
        with pytest.raises(HubUnavailableError) as unavailable:
            client.fetch_page(Resource.SPACE, limit=1)
    for first in (auth.value, unavailable.value):
        exc: BaseException | None = first
        while exc is not None:
            raised.append(exc)
            exc = exc.__cause__
    assert len(raised) == 3  # the auth error, the exhaustion and the transient error it wraps
    for exc in raised:
        assert TOKEN not in str(exc)
        assert TOKEN not in repr(exc)
    assert "***" in str(auth.value)
    assert any(e["event"] == "hub.retry" for e in logs)
    assert TOKEN not in repr(logs)
    assert TOKEN not in repr(hub_settings())


@pytest.mark.parametrize(("url", "verified"), [("https://hub.test", True), ("http://127.0.0.1:9", False)])
def test_certificates_are_checked_for_every_https_hub(url: str, verified: bool) -> None:
    import ssl

    with HubClient(hub_settings(url=url)) as client:
        context = client._http._transport._pool._ssl_context  # type: ignore[attr-defined]
        # a plain-HTTP hub never speaks TLS, so its client skips loading the CA bundle
        assert (context.verify_mode == ssl.CERT_REQUIRED) is verified
        assert context.check_hostname is verified


def test_a_page_body_is_not_kept_in_the_response_after_the_page_is_read() -> None:
    # httpx binds a response's stream to the response (a reference cycle): a body read into the
    # response would stay alive until the cyclic collector's next pass, a megabyte per page
    store = HubStore(clock=ManualClock(datetime(2026, 11, 1, tzinfo=UTC)), seed=3)
    populate(store, spaces=3, blocks=40, seed=3)
    gc.collect()
    gc.disable()
    try:
        earlier = {id(o) for o in gc.get_objects() if isinstance(o, httpx.Response)}
        with running_hub(store) as hub:
            settings = hub_settings(url=hub.url, token=Secret(hub.token))
            with HubClient(settings) as client:
                page = client.fetch_page(Resource.SPACE_BLOCK, limit=100)
                assert len(page.rows) == 40
                responses = [
                    o for o in gc.get_objects() if isinstance(o, httpx.Response) and id(o) not in earlier
                ]
        assert responses, "the response cycle is expected to be alive until a collector pass"
        body_size = len(json.dumps(page.rows, separators=(",", ":")))
        assert not [r for r in responses if _largest_bytes_within(r, depth=3) >= body_size // 2]
    finally:
        gc.enable()


def _largest_bytes_within(root: object, depth: int) -> int:
    """The size of the largest bytes object reachable from ``root`` in at most ``depth`` references."""
    largest, seen, level = 0, {id(root)}, [root]
    for _ in range(depth):
        following = []
        for obj in level:
            for ref in gc.get_referents(obj):
                if isinstance(ref, bytes | bytearray):
                    largest = max(largest, len(ref))
                elif id(ref) not in seen and not isinstance(ref, type):
                    seen.add(id(ref))
                    following.append(ref)
        level = following
    return largest
