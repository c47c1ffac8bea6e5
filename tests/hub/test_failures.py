"""What went wrong with a request: the label a failed request gets, and the hub's address in messages."""

from __future__ import annotations

import errno

import httpx
import pytest

from syncd.hub.failures import describe_transport_error, hub_address, transport_kind


@pytest.mark.parametrize(
    ("exc", "kind"),
    [(httpx.ConnectTimeout("t"), "timeout"), (httpx.ReadTimeout("t"), "timeout"),
     (httpx.ConnectError("c"), "connect"), (httpx.RemoteProtocolError("p"), "protocol"),
     (httpx.ReadError("r"), "network"), (httpx.WriteError("w"), "network"),
     (httpx.DecodingError("d"), "bad_body"), (httpx.UnsupportedProtocol("u"), "request_error"),
     (httpx.LocalProtocolError("l"), "request_error"), (httpx.ProxyError("x"), "transport")],
)
def test_each_transport_failure_has_a_label(exc: httpx.RequestError, kind: str) -> None:
    assert transport_kind(exc) == kind


@pytest.mark.parametrize(
    ("url", "address"),
    [("https://hub.example.org", "hub.example.org:443"), ("http://127.0.0.1:8787/rest", "127.0.0.1:8787"),
     ("http://[::1]", "[::1]:80")],
)
def test_the_address_fills_in_the_port_from_the_scheme(url: str, address: str) -> None:
    assert hub_address(url) == address


def test_a_refused_connection_is_named_as_such() -> None:
    exc = httpx.ConnectError("failed")
    exc.__cause__ = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    assert describe_transport_error(exc, "127.0.0.1:9", httpx.Timeout(5.0)) == (
        "connection refused by 127.0.0.1:9 (nothing listening there?)"
    )
