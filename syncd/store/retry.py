"""Retrying parked rows: deferred rows whose wait may be over, and rows held after a tombstone.

A resource that depends on another (a block on its space) retries the rows
waiting for a row that has arrived since; one that depends on nothing retries
every deferred row. Rows that no longer parse are quarantined instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, select

from syncd.core.models import HubRow, Resource
from syncd.core.results import ApplyResult, Rejection
from syncd.core.rows import row_key
from syncd.errors import RowRejected
from syncd.store.context import ApplyContext
from syncd.store.keysets import among
from syncd.store.parking import load_deferred, quarantine_rows
from syncd.store.resources import apply_rows, binding
from syncd.store.schema import deferred

__all__ = ["retry_parked"]


def retry_parked(conn: Connection, resource: Resource, ctx: ApplyContext) -> ApplyResult:
    """Retry what of ``resource`` is deferred and may apply now, and what its binding holds back."""
    bound = binding(resource)
    parent = bound.description.depends_on
    if parent is None:
        payloads = load_deferred(conn, resource)
    else:
        ready = select(deferred.c.hub_id).where(
            deferred.c.resource == resource.value,
            deferred.c.waiting_for.in_(select(binding(parent).map_table.c.hub_id)),
        )
        payloads = load_deferred(conn, resource, conn.execute(ready).scalars())
    result = ApplyResult()
    if bound.retry_held is not None:
        result.merge(bound.retry_held(conn, ctx))
    if payloads:
        result.merge(_reapply(conn, resource, payloads, ctx))
    return result


def _reapply(
    conn: Connection, resource: Resource, payloads: list[Mapping[str, Any]], ctx: ApplyContext
) -> ApplyResult:
    parse = binding(resource).description.parse
    rows: list[HubRow] = []
    rejected: list[Rejection] = []
    for payload in payloads:
        try:
            rows.append(parse(payload))
        except RowRejected as exc:
            rejected.append(Rejection(payload, exc.reason))
    result = apply_rows(conn, resource, rows, ctx)
    if rejected:
        quarantine_rows(conn, resource, rejected, ctx.now)
        dropped = [row_key(r.payload) for r in rejected]  # quarantined now: no longer deferred
        conn.execute(
            delete(deferred).where(
                deferred.c.resource == resource.value, among(conn, deferred.c.hub_id, dropped)
            )
        )
    # a retried row that is deferred again is not news: count only what moved
    result.counts.pop((resource, "deferred"), None)
    return result
