"""Parsing the PostgREST query strings the hub contract allows.

Accepted parameters (each at most once)::

    select    = *  |  id,lnid,updated_at                      (required)
    order     = updated_at.asc,id.asc  |  id.asc              (required)
    limit     = 0..1000                                       (required)
    or        = (updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{id}))   both {ts} one instant
    updated_at= gte.{ts}
    deleted_at= is.null
    id        = gt.{id}

``{ts}`` is RFC 3339 with any offset and 0 to 6 fractional digits (compared as
an instant; a ``+`` must arrive percent-encoded, a bare ``+`` decodes to a
space and is refused like PostgreSQL would). Values may be wrapped in double
quotes inside ``or``. Anything else raises :class:`QueryError` (HTTP 400).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qsl

from syncd.core.timestamps import parse_rfc3339

__all__ = ["MAX_LIMIT", "Query", "QueryError", "parse_query"]

MAX_LIMIT = 1000
Order = Literal["updated_at", "id"]

_SELECTS = {"*": False, "id,lnid,updated_at": True}
_ORDERS: dict[str, Order] = {"updated_at.asc,id.asc": "updated_at", "id.asc": "id"}
_VALUE = r'"?([^,()"]+)"?'
_OR = re.compile(rf"\(updated_at\.gt\.{_VALUE},and\(updated_at\.eq\.{_VALUE},id\.gt\.{_VALUE}\)\)")


class QueryError(ValueError):
    """The query string is outside the contract; carries a PostgREST-style error body."""

    def __init__(self, message: str, *, details: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = "PGRST100"
        self.message = message
        self.details = details
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Query:
    """One parsed request: which columns, which order, how many rows, which filters."""

    keys_only: bool
    order: Order
    limit: int
    after: tuple[datetime, uuid.UUID] | None = None
    since: datetime | None = None
    live_only: bool = False
    id_after: uuid.UUID | None = None


def _timestamp(value: str, param: str) -> datetime:
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise QueryError(
            f'invalid input syntax for type timestamp with time zone: "{value}"',
            details=f"in parameter {param}",
            hint="percent-encode the timestamp (a bare '+' decodes to a space)",
        ) from None


def _uuid(value: str, param: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise QueryError(
            f'invalid input syntax for type uuid: "{value}"', details=f"in parameter {param}"
        ) from None


def _one_of(params: dict[str, str], name: str, allowed: dict[str, object]) -> str:
    value = params.get(name)
    if value is None:
        raise QueryError(f"missing parameter {name}", hint=f"one of: {', '.join(allowed)}")
    if value not in allowed:
        raise QueryError(f"unsupported {name}: {value}", hint=f"one of: {', '.join(allowed)}")
    return value


def _limit(params: dict[str, str]) -> int:
    raw = params.get("limit")
    if raw is None:
        raise QueryError("missing parameter limit")
    if not raw.isdigit():
        raise QueryError(f'"failed to parse limit parameter ({raw})"')
    value = int(raw)
    if value > MAX_LIMIT:
        raise QueryError(f"limit {value} is above {MAX_LIMIT}", hint=f"ask for at most {MAX_LIMIT} rows")
    return value


def _keyset(raw: str) -> tuple[datetime, uuid.UUID]:
    match = _OR.fullmatch(raw)
    if match is None:
        raise QueryError(
            "failed to parse logic tree",
            details=raw,
            hint="expected (updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{id}))",
        )
    gt, eq = _timestamp(match[1], "or"), _timestamp(match[2], "or")
    if gt != eq:
        raise QueryError("the two timestamps of the keyset filter differ", details=raw)
    return gt, _uuid(match[3], "or")


def _filter(params: dict[str, str], name: str, prefix: str) -> str | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.startswith(prefix):
        raise QueryError(f"unsupported filter {name}={raw}", hint=f"only {name}={prefix}... is supported")
    return raw[len(prefix) :]


def parse_query(query_string: str) -> Query:
    """Parse a raw (still percent-encoded) query string into a :class:`Query`."""
    params: dict[str, str] = {}
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, strict_parsing=bool(query_string))
    except ValueError:
        raise QueryError("malformed query string", details=query_string) from None
    for name, value in pairs:
        if name in params:
            raise QueryError(f"parameter {name} given twice")
        params[name] = value
    unknown = sorted(set(params) - {"select", "order", "limit", "or", "updated_at", "deleted_at", "id"})
    if unknown:
        raise QueryError(f"unsupported parameter(s): {', '.join(unknown)}")
    keys_only = _SELECTS[_one_of(params, "select", dict(_SELECTS))]
    order = _ORDERS[_one_of(params, "order", dict(_ORDERS))]
    limit = _limit(params)
    after = _keyset(params["or"]) if "or" in params else None
    since_raw = _filter(params, "updated_at", "gte.")
    deleted = _filter(params, "deleted_at", "is.")
    if deleted is not None and deleted != "null":
        raise QueryError(f"unsupported filter deleted_at=is.{deleted}", hint="only deleted_at=is.null")
    id_raw = _filter(params, "id", "gt.")
    return Query(
        keys_only=keys_only,
        order=order,
        limit=limit,
        after=after,
        since=None if since_raw is None else _timestamp(since_raw, "updated_at"),
        live_only=deleted is not None,
        id_after=None if id_raw is None else _uuid(id_raw, "id"),
    )
