"""Normalising and checking column values written into the emulator's store.

Values may arrive as JSON (strings for uuids and timestamps, from the admin
API) or as Python objects; they leave as ``uuid.UUID`` and aware UTC datetimes.
Violations raise ``ValueError`` naming the column.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from syncd.core.models import Resource
from syncd.core.timestamps import parse_rfc3339

__all__ = ["WRITABLE", "as_uuid", "check_row", "normalise_changes"]

WRITABLE: dict[Resource, frozenset[str]] = {
    Resource.SPACE: frozenset(
        {"id", "lnid", "name", "description", "created_at", "deleted_at", "created_by"}
    ),
    Resource.SPACE_BLOCK: frozenset(
        {
            "id",
            "lnid",
            "space_id",
            "content",
            "kind",
            "version_tag",
            "is_latest",
            "created_at",
            "deleted_at",
            "created_by",
        }
    ),
}
_LNID_LENGTH = {Resource.SPACE: 12, Resource.SPACE_BLOCK: 20}
_BASE62 = re.compile(r"[0-9a-zA-Z]+")
_MAX_CONTENT_BYTES = 1024 * 1024


def as_uuid(value: object) -> uuid.UUID:
    """A uuid from a ``uuid.UUID`` or its text form; ``ValueError`` otherwise."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value)
    raise ValueError(f"not a uuid: {value!r}")


def _as_time(column: str, value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{column}: naive datetime")
        return value.astimezone(UTC)
    return parse_rfc3339(value)


def _as_creator(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("created_by: not an object")
    lnid, handle, name = value.get("lnid"), value.get("handle"), value.get("name")
    if not isinstance(lnid, str) or len(lnid) != 8 or not _BASE62.fullmatch(lnid):
        raise ValueError("created_by.lnid: not 8 chars of [0-9a-zA-Z]")
    if not isinstance(handle, str) or not 1 <= len(handle) <= 30:
        raise ValueError("created_by.handle: not 1..30 chars")
    if name is not None and not isinstance(name, str):
        raise ValueError("created_by.name: not a string or null")
    return {"lnid": lnid, "handle": handle, "name": name}


def normalise_changes(resource: Resource, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check column names and convert values to the store's Python types."""
    unknown = sorted(set(changes) - WRITABLE[resource])
    if unknown:
        raise ValueError(f"not writable on {resource.value}: {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for column, value in changes.items():
        if column in ("id", "space_id"):
            out[column] = as_uuid(value)
        elif column in ("created_at", "deleted_at"):
            out[column] = _as_time(column, value)
        elif column == "created_by":
            out[column] = _as_creator(value)
        else:
            out[column] = value
    return out


def check_row(resource: Resource, row: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` when a complete row breaks the hub contract's column rules."""
    lnid = row["lnid"]
    if not isinstance(lnid, str) or len(lnid) != _LNID_LENGTH[resource] or not _BASE62.fullmatch(lnid):
        raise ValueError(f"lnid: not {_LNID_LENGTH[resource]} chars of [0-9a-zA-Z]")
    if resource is Resource.SPACE:
        name = row["name"]
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise ValueError("name: not 1..100 chars")
        if row["description"] is not None and not isinstance(row["description"], str):
            raise ValueError("description: not a string or null")
        return
    content = row["content"]
    if not isinstance(content, str) or len(content.encode("utf-8")) > _MAX_CONTENT_BYTES:
        raise ValueError("content: not a string of at most 1 MiB")
    if row["kind"] not in ("readme", "comment"):
        raise ValueError("kind: not 'readme' or 'comment'")
    tag = row["version_tag"]
    if tag is not None and (not isinstance(tag, str) or len(tag) > 30):
        raise ValueError("version_tag: not a string of at most 30 chars")
    if not isinstance(row["is_latest"], bool):
        raise ValueError("is_latest: not a boolean")
    if row["created_by"] is None:
        raise ValueError("created_by: required on space_block")
