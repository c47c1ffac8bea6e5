"""Apply-side harness: feed recorded hub pages into a real instance database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text

from syncd.core.models import Resource
from syncd.core.report import Action
from syncd.core.resources import parse_row
from syncd.core.results import ApplyResult, Rejection
from syncd.core.watermark import CursorState
from syncd.errors import RowRejected
from syncd.settings import SyncSettings
from syncd.store.instance import InstanceStore
from syncd.store.share import ROOMY, MemoryShare
from tests.support.builders import instance_settings

NOW = datetime(2026, 3, 2, tzinfo=UTC)


@contextmanager
def opened(url: str, share: MemoryShare = ROOMY, **sync: Any) -> Iterator[InstanceStore]:
    store = InstanceStore(instance_settings(url), SyncSettings(**sync), clock=lambda: NOW, share=share)
    store.open()
    try:
        yield store
    finally:
        store.close()


def apply(store: InstanceStore, resource: Resource, raws: Sequence[dict[str, Any]]) -> ApplyResult:
    """Validate and apply one recorded page (cursor untouched), then commit it."""
    valid, rejected = [], []
    for raw in raws:
        try:
            valid.append(parse_row(resource, raw))
        except RowRejected as exc:
            rejected.append(Rejection(raw, exc.reason))
    result = store.apply_page(resource, valid, rejected, store.cursor(resource), None)
    result.merge(store.commit())
    return result


def counts(result: ApplyResult, resource: Resource) -> dict[Action, int]:
    return {a: n for (r, a), n in result.counts.items() if r is resource}


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def spaces(url: str) -> dict[str, tuple[int, str]]:
    """{uid: (local id, name)} of every space."""
    return {uid: (i, name) for i, uid, name in query(url, "SELECT id, uid, name FROM lamindb_space")}


__all__ = ["NOW", "CursorState", "apply", "counts", "opened", "query", "spaces"]
