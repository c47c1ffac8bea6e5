"""What went wrong with a request to the hub, in words an operator can act on.

``describe_transport_error`` turns an httpx transport failure into a phrase that
names what happened and where ("connection refused by 127.0.0.1:8787", "no
answer from hub.example.org:443 within 30 s"): the retry line on a terminal,
the ``hub.retry`` log event and the final "hub unavailable" message all use it.
"""

from __future__ import annotations

import errno
import os
import socket

import httpx

__all__ = ["describe_transport_error", "hub_address", "transport_kind"]

_REFUSED = os.strerror(errno.ECONNREFUSED)
_RESET = os.strerror(errno.ECONNRESET)


def hub_address(url: str) -> str:
    """``host:port`` of ``url``, the port filled in from the scheme when the URL has none."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{host}:{port}"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from, bounded (httpx wraps httpcore, which wraps the OSError)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _has_errno(exc: BaseException, number: int, text: str) -> bool:
    return any(
        (isinstance(c, OSError) and c.errno == number) or text.lower() in str(c).lower() for c in _causes(exc)
    )


def _seconds(value: float | None) -> str:
    return "the timeout" if value is None else f"{value:g} s"


def _describe_timeout(exc: httpx.TimeoutException, address: str, timeout: httpx.Timeout) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection to {address} within {_seconds(timeout.connect)}"
    if isinstance(exc, httpx.ReadTimeout):
        return f"no answer from {address} within {_seconds(timeout.read)}"
    if isinstance(exc, httpx.WriteTimeout):
        return f"sending the request to {address} took longer than {_seconds(timeout.write)}"
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection to {address} within {_seconds(timeout.pool)}"
    return f"timed out talking to {address}: {str(exc) or type(exc).__name__}"


def describe_transport_error(exc: httpx.RequestError, address: str, timeout: httpx.Timeout) -> str:
    """A short phrase saying what failed when talking to the hub at ``address`` (``host:port``)."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return _describe_timeout(exc, address, timeout)
    if isinstance(exc, httpx.ConnectError):
        if _has_errno(exc, errno.ECONNREFUSED, _REFUSED):
            return f"connection refused by {address} (nothing listening there?)"
        if any(isinstance(c, socket.gaierror) for c in _causes(exc)):
            return f"cannot resolve the host name of {address}: {detail}"
        return f"cannot connect to {address}: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{address} broke off the HTTP exchange: {detail}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.CloseError):
        if _has_errno(exc, errno.ECONNRESET, _RESET):
            return f"connection reset by {address}"
        doing = "reading the answer" if isinstance(exc, httpx.ReadError) else "sending the request"
        return f"connection to {address} failed while {doing}: {detail}"
    if isinstance(exc, httpx.DecodingError):
        return f"{address} sent a body that cannot be decoded: {detail}"
    return f"{type(exc).__name__} talking to {address}: {detail}"


def transport_kind(exc: httpx.RequestError) -> str:
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
