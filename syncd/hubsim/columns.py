"""Normalising and checking column values written into the emulator's store.

Values may arrive as JSON (strings for uuids and timestamps, from the admin
API) or as Python objects; they leave as ``uuid.UUID`` and aware UTC datetimes.
Violations raise ``ValueError`` naming the column. Which rules apply to which
resource is said once, in :mod:`syncd.hubsim.resources`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from syncd.core.timestamps import parse_rfc3339

__all__ = [
    "as_uuid",
    "check_block",
    "check_lnid",
    "check_space",
    "hash_content",
    "normalise_value",
    "with_block_hash",
]

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


def hash_content(content: str) -> str | None:
    """LaminDB's ``hash_string``: urlsafe base64 of the MD5 of the UTF-8 text, unpadded, 22 chars.

    ``None`` for empty content, as the hub contract says.
    """
    if not content:
        return None
    digest = hashlib.md5(content.encode("utf-8"), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:22]


def normalise_value(column: str, value: object, uuid_columns: frozenset[str]) -> object:
    """One column's value in the store's Python type (``uuid_columns`` hold ids)."""
    if column in uuid_columns:
        return as_uuid(value)
    if column in ("created_at", "deleted_at"):
        return _as_time(column, value)
    if column == "created_by":
        return _as_creator(value)
    return value


def check_lnid(row: Mapping[str, Any], length: int) -> None:
    """Raise ``ValueError`` unless the row's ``lnid`` is ``length`` characters of [0-9a-zA-Z]."""
    lnid = row["lnid"]
    if not isinstance(lnid, str) or len(lnid) != length or not _BASE62.fullmatch(lnid):
        raise ValueError(f"lnid: not {length} chars of [0-9a-zA-Z]")


def check_space(row: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` when a complete space row breaks the hub contract's column rules."""
    name = row["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise ValueError("name: not 1..100 chars")
    if row["description"] is not None and not isinstance(row["description"], str):
        raise ValueError("description: not a string or null")


def check_block(row: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` when a complete block row breaks the hub contract's column rules."""
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


def with_block_hash(values: dict[str, Any]) -> None:
    """Set a block's ``hash`` from its content (the hub computes it; nobody writes it)."""
    values["hash"] = hash_content(values.get("content", ""))
