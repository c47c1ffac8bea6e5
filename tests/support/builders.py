"""Test builders shared by the sync tests: settings for instances, hub rows for recorded pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from syncd.core.rows import content_hash
from syncd.settings import Settings, parse_settings

TOKEN = "test-token-0123456789"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CREATOR = {"lnid": "usr00001", "handle": "alice", "name": "Alice"}


def settings_for(hub_url: str, instances: Mapping[str, str], *, token: str = TOKEN, **sync: Any) -> Settings:
    """Settings with one hub and the given ``{name: database URL}`` instances."""
    data: dict[str, Any] = {
        "hub": {"url": hub_url, "retry_attempts": 3, "retry_max_seconds": 5},
        "instances": [{"name": n, "url": u} for n, u in instances.items()],
    }
    if sync:
        data["sync"] = sync
    return parse_settings(data, {"SYNCD_HUB_TOKEN": token}, source="<test>")


def stamp(seconds: float = 0.0, *, spelling: str = "+00:00") -> str:
    """An RFC 3339 timestamp ``seconds`` after T0."""
    moment = T0 + timedelta(seconds=seconds)
    text = moment.isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z") if spelling == "Z" else text


def space_row(
    n: int, *, name: str | None = None, at: float = 0.0, deleted: bool = False, **extra: Any
) -> dict[str, Any]:
    """A valid hub ``space`` row; ``n`` makes its id and lnid."""
    row: dict[str, Any] = {
        "id": str(uuid.UUID(int=n)),
        "lnid": f"sp{n:010d}",
        "name": name if name is not None else f"Space {n}",
        "description": f"about space {n}",
        "created_at": stamp(0),
        "updated_at": stamp(at),
        "deleted_at": stamp(at) if deleted else None,
        "created_by": dict(CREATOR),
    }
    row.update(extra)
    return row


def block_row(
    n: int,
    space: int,
    *,
    content: str | None = None,
    at: float = 0.0,
    deleted: bool = False,
    version: int = 0,
    is_latest: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """A valid hub ``space_block`` row attached to space ``space``."""
    body = content if content is not None else f"# Block {n}\n\nsome text"
    row: dict[str, Any] = {
        "id": str(uuid.UUID(int=1_000_000 + n * 100 + version)),
        "lnid": f"bl{n:014d}{version:04d}",
        "space_id": str(uuid.UUID(int=space)),
        "content": body,
        "hash": content_hash(body),
        "kind": "readme",
        "version_tag": None,
        "is_latest": is_latest,
        "created_at": stamp(0),
        "updated_at": stamp(at),
        "deleted_at": stamp(at) if deleted else None,
        "created_by": dict(CREATOR),
    }
    row.update(extra)
    return row


def instance_settings(url: str, name: str = "lab") -> Any:
    """One instance's settings (hub values are irrelevant for apply-side tests)."""
    return settings_for("http://127.0.0.1:9", {name: url}).instances[0]
