"""The query strings the hub contract guarantees, built by hand.

Pure functions: no HTTP here. The strings are assembled in the contract's
order and with its literal punctuation (``*``, ``,``, ``(``, ``)``); only the
values are percent-encoded, every reserved character included, so a
``+01:00`` offset is sent as ``%2B01%3A00`` and never read back as a space.
Callers send the result as-is: nothing re-encodes or reorders it.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from syncd.core.models import Position, Resource
from syncd.core.resources import describe
from syncd.core.timestamps import parse_rfc3339

__all__ = ["MAX_LIMIT", "changes_query", "encode", "keys_query", "resource_path"]

MAX_LIMIT = 1000
"""The largest ``limit`` the contract allows."""

_CHANGES_BASE = "select=*&order=updated_at.asc,id.asc&limit={n}"
_KEYS_BASE = "select=id,lnid,updated_at&deleted_at=is.null&order=id.asc&limit={n}"


def encode(value: str) -> str:
    """Percent-encode everything but RFC 3986 unreserved characters (``A-Z a-z 0-9 - . _ ~``)."""
    return quote(value, safe="")


def resource_path(resource: Resource) -> str:
    """``/rest/v1/{resource}``, to be appended to the hub's base URL."""
    return describe(resource).path


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")


def changes_query(*, limit: int, after: Position | None = None, since: str | None = None) -> str:
    """The query for a page of changes in ``(updated_at, id)`` order.

    With neither ``after`` nor ``since``: the first page. With ``after``: the
    keyset continuation, echoing ``after.updated_at_raw`` verbatim. With
    ``since`` (an RFC 3339 timestamp): every change at or after it. Passing
    both, a bad ``limit`` or a ``since`` that is not a timestamp raises
    ``ValueError``.
    """
    _check_limit(limit)
    if after is not None and since is not None:
        raise ValueError("pass at most one of after and since")
    query = _CHANGES_BASE.format(n=limit)
    if after is not None:
        ts = encode(after.updated_at_raw)
        query += f"&or=(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{after.id}))"
    elif since is not None:
        parse_rfc3339(since)
        query += f"&updated_at=gte.{encode(since)}"
    return query


def keys_query(*, limit: int, after_id: uuid.UUID | None = None) -> str:
    """The query for one page of live keys in ``id`` order, after ``after_id`` if given."""
    _check_limit(limit)
    query = _KEYS_BASE.format(n=limit)
    if after_id is not None:
        query += f"&id=gt.{after_id}"
    return query
