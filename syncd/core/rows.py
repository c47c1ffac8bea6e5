"""Validation of hub rows: the hub is untrusted input.

:func:`parse_space` and :func:`parse_block` turn a raw row into a domain type
or raise :class:`~syncd.errors.RowRejected` whose reason names the field and
what is wrong. Checks follow the hub contract and LaminDB's column limits.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syncd.core.models import Creator, HubBlock, HubSpace, RawRow
from syncd.core.timestamps import parse_rfc3339, parse_stamp
from syncd.errors import RowRejected

__all__ = ["MAX_CONTENT_BYTES", "content_hash", "parse_block", "parse_space", "row_key"]

MAX_CONTENT_BYTES = 1024 * 1024
_ALNUM = "[0-9a-zA-Z]"
_SPACE_LNID = re.compile(f"{_ALNUM}{{12}}")
_BLOCK_LNID = re.compile(f"{_ALNUM}{{20}}")
_USER_LNID = re.compile(f"{_ALNUM}{{8}}")
_KINDS = ("readme", "comment")
_CANONICAL_UUID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def content_hash(content: str) -> str | None:
    """LaminDB's ``hash_string``: urlsafe base64 MD5, ``=`` stripped, 22 chars; None when empty."""
    return _hash_of(content.encode("utf-8"))


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _hash_of(data: bytes) -> str | None:
    if not data:
        return None
    digest = hashlib.md5(data, usedforsecurity=False).digest()
    # urlsafe base64 (binascii and a translation: base64.urlsafe_b64encode, in fewer calls);
    # 16 bytes give 22 characters and "=="
    return binascii.b2a_base64(digest, newline=False)[:22].translate(_URLSAFE).decode("ascii")


def _check_storable(key: str, value: str) -> bytes | None:
    """Reject text no database can store (NUL, lone surrogates); the UTF-8 bytes when not ASCII."""
    if "\x00" in value:
        raise RowRejected(f"{key}: contains a NUL character")
    if value.isascii():
        return None
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RowRejected(f"{key}: not valid Unicode (a lone surrogate at position {exc.start})") from None


def _utf8(key: str, value: str) -> bytes:
    """``value`` in UTF-8 (which the content hash needs anyway), checked as :func:`_check_storable` does."""
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RowRejected(f"{key}: not valid Unicode (a lone surrogate at position {exc.start})") from None
    if b"\x00" in data:  # a byte search: faster than searching the text when it is not ASCII
        raise RowRejected(f"{key}: contains a NUL character")
    return data


def row_key(raw: object) -> str:
    """The hub id of a raw row when it has a valid one, else a digest of the payload."""
    if isinstance(raw, Mapping):
        value = raw.get("id")
        if isinstance(value, str):
            try:
                return str(uuid.UUID(value))
            except ValueError:
                pass
    digest = hashlib.sha256(repr(raw).encode("utf-8")).hexdigest()[:32]
    return f"sha256:{digest}"


def _require(raw: RawRow, key: str) -> Any:
    if key not in raw:
        raise RowRejected(f"{key}: missing")
    return raw[key]


def _uuid_key(raw: RawRow, key: str) -> str:
    """A uuid field as canonical text (lower case, hyphenated), the form syncd stores."""
    return _uuid_text(key, _require(raw, key))


def _uuid_text(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise RowRejected(f"{key}: must be a uuid string, got {type(value).__name__}")
    if _CANONICAL_UUID.fullmatch(value):
        return value  # the form the hub sends: no need for uuid.UUID's general parsing
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise RowRejected(f"{key}: not a uuid: {value[:60]!r}") from None


def _text(raw: RawRow, key: str, *, low: int, high: int, nullable: bool = False) -> str | None:
    return _text_value(key, _require(raw, key), low=low, high=high, nullable=nullable)


def _text_value(key: str, value: object, *, low: int, high: int, nullable: bool = False) -> str | None:
    if value is None:
        if nullable:
            return None
        raise RowRejected(f"{key}: must not be null")
    if not isinstance(value, str):
        raise RowRejected(f"{key}: must be a string, got {type(value).__name__}")
    if not low <= len(value) <= high:
        raise RowRejected(f"{key}: length {len(value)} outside {low}..{high}")
    _check_storable(key, value)
    return value


def _stamp(raw: RawRow, key: str, *, nullable: bool = False) -> datetime | None:
    return _stamp_value(key, _require(raw, key), nullable=nullable)


def _stamp_value(key: str, value: object, *, nullable: bool = False) -> datetime | None:
    if value is None:
        if nullable:
            return None
        raise RowRejected(f"{key}: must not be null")
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise RowRejected(f"{key}: {exc}") from None


def _stamp_text(raw: RawRow, key: str) -> tuple[datetime, str]:
    """A required timestamp and its canonical text (see :func:`syncd.core.timestamps.parse_stamp`)."""
    return _stamp_and_text(key, _require(raw, key))


def _stamp_and_text(key: str, value: object) -> tuple[datetime, str]:
    if value is None:
        raise RowRejected(f"{key}: must not be null")
    try:
        return parse_stamp(value)
    except ValueError as exc:
        raise RowRejected(f"{key}: {exc}") from None


def _lnid(raw: RawRow, pattern: re.Pattern[str], length: int) -> str:
    return _lnid_value(_require(raw, "lnid"), pattern, length)


def _lnid_value(value: object, pattern: re.Pattern[str], length: int) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        shown = value[:40] if isinstance(value, str) else type(value).__name__
        raise RowRejected(f"lnid: must be exactly {length} characters of [0-9a-zA-Z], got {shown!r}")
    return value


def _creator(raw: RawRow, *, nullable: bool) -> Creator | None:
    return _creator_value(_require(raw, "created_by"), nullable=nullable)


def _creator_value(value: object, *, nullable: bool) -> Creator | None:
    if value is None:
        if nullable:
            return None
        raise RowRejected("created_by: must not be null")
    if not isinstance(value, Mapping):
        raise RowRejected(f"created_by: must be an object, got {type(value).__name__}")
    lnid, handle, name = value.get("lnid"), value.get("handle"), value.get("name")
    if isinstance(lnid, str) and isinstance(handle, str) and (name is None or isinstance(name, str)):
        return _checked_creator(lnid, handle, name)  # a page names the same few accounts again and again
    return _check_creator(lnid, handle, name)


@functools.lru_cache(maxsize=1024)
def _checked_creator(lnid: str, handle: str, name: str | None) -> Creator:
    return _check_creator(lnid, handle, name)


def _check_creator(lnid: object, handle: object, name: object) -> Creator:
    if not isinstance(lnid, str) or _USER_LNID.fullmatch(lnid) is None:
        raise RowRejected(f"created_by.lnid: must be 8 characters of [0-9a-zA-Z], got {lnid!r}")
    if not isinstance(handle, str) or not 1 <= len(handle) <= 30:
        raise RowRejected(f"created_by.handle: must be a string of 1..30 characters, got {handle!r}")
    _check_storable("created_by.handle", handle)
    if name is None:
        return Creator(lnid=lnid, handle=handle, name=None)
    if not isinstance(name, str) or len(name) > 150:
        raise RowRejected("created_by.name: must be null or a string of at most 150 characters")
    _check_storable("created_by.name", name)
    return Creator(lnid=lnid, handle=handle, name=name)


def _updated(raw: RawRow) -> tuple[datetime, str, str]:
    """``updated_at`` as an instant, as the hub spelled it, and in canonical text."""
    moment, canonical = _stamp_text(raw, "updated_at")
    return moment, raw["updated_at"], canonical


def parse_space(raw: RawRow) -> HubSpace:
    """Validate one ``space`` row."""
    if not isinstance(raw, Mapping):
        raise RowRejected(f"row: must be an object, got {type(raw).__name__}")
    hub_id = _uuid_key(raw, "id")
    lnid = _lnid(raw, _SPACE_LNID, 12)
    name = _text(raw, "name", low=1, high=100)
    assert name is not None
    if name.strip() == "":
        raise RowRejected("name: must not be blank")
    description = (
        _text(raw, "description", low=0, high=10_000_000, nullable=True) if "description" in raw else None
    )
    created_at = _stamp(raw, "created_at")
    assert created_at is not None
    updated_at, updated_raw, stamp = _updated(raw)
    deleted_at = _stamp(raw, "deleted_at", nullable=True)
    created_by = _creator(raw, nullable=True) if "created_by" in raw else None
    return HubSpace(
        key=hub_id,
        lnid=lnid,
        name=name,
        description=description,
        created_at=created_at,
        updated_at=updated_at,
        updated_at_raw=updated_raw,
        stamp=stamp,
        deleted_at=deleted_at,
        created_by=created_by,
        raw=raw,
    )


def parse_block(raw: RawRow) -> HubBlock:
    """Validate one ``space_block`` row, including its content hash."""
    if not isinstance(raw, Mapping):
        raise RowRejected(f"row: must be an object, got {type(raw).__name__}")
    try:  # every field is required: read them all first (the hot path: a hundred thousand rows a sync)
        hub_id, lnid, space_id, content = raw["id"], raw["lnid"], raw["space_id"], raw["content"]
        given_hash, kind, version_tag = raw["hash"], raw["kind"], raw["version_tag"]
        is_latest, created, updated = raw["is_latest"], raw["created_at"], raw["updated_at"]
        deleted, creator = raw["deleted_at"], raw["created_by"]
    except KeyError as exc:
        raise RowRejected(f"{exc.args[0]}: missing") from None
    key = _uuid_text("id", hub_id)
    lnid = _lnid_value(lnid, _BLOCK_LNID, 20)
    space_key = _uuid_text("space_id", space_id)
    if not isinstance(content, str):
        raise RowRejected(f"content: must be a string, got {type(content).__name__}")
    if len(content) > MAX_CONTENT_BYTES:  # at least one byte per character: too big already
        raise RowRejected(f"content: {len(content)} characters, more than the 1 MiB allowed")
    data = _utf8("content", content)
    if len(data) > MAX_CONTENT_BYTES:
        raise RowRejected(f"content: {len(data)} bytes in UTF-8, more than the 1 MiB allowed")
    expected = _hash_of(data)
    if given_hash != expected:
        raise RowRejected(f"hash: {given_hash!r} does not match the content (expected {expected!r})")
    if kind not in _KINDS:
        raise RowRejected(f"kind: must be 'readme' or 'comment', got {kind!r}")
    version_tag = _text_value("version_tag", version_tag, low=0, high=30, nullable=True)
    if not isinstance(is_latest, bool):
        raise RowRejected(f"is_latest: must be a boolean, got {is_latest!r}")
    created_at, created_text = _stamp_and_text("created_at", created)
    updated_at, stamp = _stamp_and_text("updated_at", updated)
    deleted_at = _stamp_value("deleted_at", deleted, nullable=True)
    created_by = _creator_value(creator, nullable=False)
    assert created_by is not None
    return HubBlock(
        key=key,
        lnid=lnid,
        space_key=space_key,
        content=content,
        hash=expected,
        kind=kind,
        version_tag=version_tag,
        is_latest=is_latest,
        created_at=created_at,
        created_text=created_text,
        updated_at=updated_at,
        updated_at_raw=updated,
        stamp=stamp,
        deleted_at=deleted_at,
        created_by=created_by,
        raw=raw,
    )

