"""Reading and decoding one hub response body within bounds of size, time and shape.

A hostile or broken hub must not be able to make syncd hold more than a
configured number of bytes, wait past a request's deadline, or build an
unbounded number of Python objects:

* the body is streamed off the socket, compressed bytes counted as they come,
  and inflated here (gzip or deflate, the encodings syncd asks for) with the
  output of every step capped, so a small gzip bomb stops at the bound too;
* the request's deadline is checked after every chunk: a body that trickles
  in ends at the deadline, not when the hub stops sending (a read blocked on
  a silent hub is cut off by :mod:`syncd.hub.watchdog`);
* before a large body is decoded, the JSON values it can hold are counted
  (strings aside): a body of millions of tiny objects would otherwise grow
  many times over in memory while it is decoded;
* anything that does not decode (invalid UTF-8, invalid JSON, nesting deeper
  than the decoder allows) is a bad body.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson

from syncd.errors import HubError, HubIncompatibleError, HubResponseTooLarge, HubTransientError

__all__ = [
    "ACCEPT_ENCODING",
    "GUARD_FROM_BYTES",
    "VALUES_PER_ROW",
    "count_json_values",
    "decode_json",
    "read_body",
    "too_many_values",
]

ACCEPT_ENCODING = "gzip, deflate"
"""The only encodings syncd asks for, and so the only ones it inflates."""

VALUES_PER_ROW = 256
"""JSON values one row may hold: a contract row has about twenty; unknown columns get ample room."""

GUARD_FROM_BYTES = 2 * 1024 * 1024
"""Bodies smaller than this are decoded without counting their values first: even decoded as
the worst mix of tiny objects they stay within a few tens of megabytes."""

_STEP = 1024 * 1024  # inflated bytes produced at a time

# a JSON string, escapes included (written as an unrolled loop: no backtracking between alternatives)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


class _Inflater:
    """Inflates a gzip or deflate stream without ever producing more than it is allowed."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._first = True
        if encoding in ("gzip", "x-gzip"):
            self._inflate: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            self._inflate = None  # identity

    def feed(self, data: bytes, room: int) -> Iterator[bytes]:
        """``data`` inflated, in pieces of at most :data:`_STEP` bytes, stopping once past ``room``.

        More than ``room`` bytes in all means over the bound; the pieces are
        small so that inflating never holds much more than the body itself.
        """
        if self._inflate is None:
            yield data
            return
        pending = data
        while True:
            step = min(room + 1, _STEP)
            out = self._decompress(pending, step)
            pending = self._inflate.unconsumed_tail
            if out:
                yield out
            room -= len(out)
            if room < 0 or (not pending and len(out) < step):
                return

    def _decompress(self, data: bytes, step: int) -> bytes:
        assert self._inflate is not None
        first, self._first = self._first, False
        try:
            return self._inflate.decompress(data, step)
        except zlib.error:
            if not (first and self.encoding == "deflate"):
                raise
            # "deflate" is sent both with and without the zlib wrapper: try it bare
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflate.decompress(data, step)

    def flush(self) -> bytes:
        """What the inflater still buffers once the input has ended (all input was consumed)."""
        return b"" if self._inflate is None else self._inflate.flush()


def _source(response: httpx.Response, label: str) -> tuple[Iterator[bytes], _Inflater]:
    """Where the body's bytes come from, and how to inflate them."""
    if response.is_stream_consumed:
        # read (and inflated) already by an in-memory transport such as respx; never off a socket
        return iter([response.content]), _Inflater("identity")
    encoding = response.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
        raise HubIncompatibleError(
            f"{label}: HTTP {response.status_code} with Content-Encoding {encoding[:40]!r}, not one "
            f"syncd asked for ({ACCEPT_ENCODING})",
            status=response.status_code,
        )
    return response.iter_raw(), _Inflater(encoding)


def read_body(
    response: httpx.Response,
    *,
    label: str,
    max_bytes: int,
    deadline: float,
    monotonic: Callable[[], float],
    cut_off: Callable[[], bool] = lambda: False,
) -> bytearray:
    """The body of a streamed ``response``, inflated, read no further than the bounds allow.

    Raises :class:`HubResponseTooLarge` past ``max_bytes`` (compressed or
    inflated), :class:`HubTransientError` (``timeout``) once ``monotonic()``
    passes ``deadline`` or ``cut_off()`` says the watchdog cut the connection
    off, :class:`HubIncompatibleError` for an encoding syncd did
    not ask for and :class:`HubTransientError` (``bad_body``) for a body that
    does not inflate.
    """
    reader = _Reader(response, label, max_bytes)
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise reader.too_large(f"Content-Length {declared}")
    chunks, inflater = _source(response, label)
    try:
        try:
            reader.read(chunks, inflater, deadline, monotonic)
        except httpx.TransportError:
            if cut_off():
                raise reader.too_slow() from None
            raise
        if cut_off():  # a body without a declared length just ends when its socket is shut
            raise reader.too_slow()
    except zlib.error as exc:
        reader.body.clear()
        raise HubTransientError(
            f"{label}: HTTP {response.status_code} with a {inflater.encoding} body that does not "
            f"inflate: {exc}",
            status=response.status_code,
            reason="bad_body",
        ) from None
    except HubError:
        # the error's traceback keeps this frame, and so the buffer, alive until the cyclic
        # collector's next pass (a retry policy may hold it longer): free the bytes now
        reader.body.clear()
        raise
    return reader.body


class _Reader:
    """One body being read: the bytes so far and the errors that end it."""

    def __init__(self, response: httpx.Response, label: str, max_bytes: int) -> None:
        self.label = label
        self.status = response.status_code
        self.max_bytes = max_bytes
        self.body = bytearray()
        self.received = 0

    def read(
        self, chunks: Iterator[bytes], inflater: _Inflater, deadline: float, monotonic: Callable[[], float]
    ) -> None:
        for chunk in chunks:
            self.received += len(chunk)
            if self.received > self.max_bytes:
                raise self.too_large("as sent")
            for piece in inflater.feed(chunk, self.max_bytes - len(self.body)):
                self.body += piece
            if len(self.body) > self.max_bytes:
                raise self.too_large("inflated")
            if monotonic() > deadline:
                raise self.too_slow()
        self.body += inflater.flush()
        if len(self.body) > self.max_bytes:
            raise self.too_large("inflated")

    def too_large(self, what: str) -> HubResponseTooLarge:
        return HubResponseTooLarge(
            f"{self.label}: HTTP {self.status} body over {self.max_bytes} bytes ({what}); stopped reading "
            "(bound: [sync] response_bytes_per_row x page_size, see docs/hardening.md)",
            limit_bytes=self.max_bytes,
            status=self.status,
        )

    def too_slow(self) -> HubTransientError:
        return HubTransientError(
            f"{self.label}: timeout error talking to the hub: body not complete within the "
            f"request's time bound ({self.received} bytes read)",
            status=self.status,
            reason="timeout",
        )


def count_json_values(body: bytes | bytearray) -> int:
    """An upper bound on the JSON values (strings, numbers, objects, ...) in ``body``.

    Every value but the first is preceded by a comma or opens a container;
    commas and brackets inside strings are not counted.
    """
    bare = _STRING.sub(b'""', body)
    return bare.count(b",") + bare.count(b"[") + bare.count(b"{") + 1


def too_many_values(body: bytes | bytearray, max_values: int) -> int | None:
    """How many values ``body`` may hold when that is more than ``max_values``, else None.

    Bodies under :data:`GUARD_FROM_BYTES` are not counted.
    """
    if len(body) < GUARD_FROM_BYTES:
        return None
    n = count_json_values(body)
    return n if n > max_values else None


def decode_json(body: bytes | bytearray) -> Any:
    """``body`` decoded as JSON; :class:`ValueError` for anything that is not a JSON text.

    That includes nesting deeper than the decoder can follow.
    """
    try:
        return orjson.loads(body)  # faster than json
    except orjson.JSONDecodeError:
        # what orjson refuses but json reads (a lone surrogate, NaN, a huge number) is decided
        # row by row by validation, rather than failing the whole page
        try:
            return json.loads(body)  # as httpx's Response.json(): UTF-8, -16 or -32
        except RecursionError:
            raise ValueError("JSON nested too deeply to decode") from None
