"""The field checks every resource's parser is built from: the hub is untrusted input.

Each resource's parser (``parse`` in :mod:`syncd.core.resources.space` and its
siblings) turns a raw row into its row type with these checks, which raise
:class:`~syncd.errors.RowRejected` with a reason naming the field and what is
wrong. ``*_field`` functions read a key of the row (missing is an error),
``*_value`` ones check a value already read. Checks follow the hub contract and
LaminDB's column limits.
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

from syncd.core.models import Creator, RawRow
from syncd.core.timestamps import parse_rfc3339, parse_stamp
from syncd.errors import RowRejected

__all__ = [
    "MAX_CONTENT_BYTES",
    "content_hash",
    "creator_field",
    "creator_value",
    "hash_of",
    "lnid_field",
    "lnid_pattern",
    "lnid_value",
    "required_field",
    "row_key",
    "row_object",
    "stamp_field",
    "stamp_text_field",
    "stamp_text_value",
    "stamp_value",
    "text_field",
    "text_value",
    "updated_field",
    "utf8_value",
    "uuid_field",
    "uuid_value",
]

MAX_CONTENT_BYTES = 1024 * 1024
_ALNUM = "[0-9a-zA-Z]"
_USER_LNID = re.compile(f"{_ALNUM}{{8}}")
_CANONICAL_UUID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def lnid_pattern(length: int) -> re.Pattern[str]:
    """What an ``lnid`` of ``length`` characters must match (the LaminDB ``uid`` it becomes)."""
    return re.compile(f"{_ALNUM}{{{length}}}")


def row_object(raw: object) -> RawRow:
    """``raw`` itself when it is a JSON object, else rejected."""
    # a decoded JSON object is a dict: the exact type check first, the Mapping check (slower) after
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise RowRejected(f"row: must be an object, got {type(raw).__name__}")
    return raw


def content_hash(content: str) -> str | None:
    """LaminDB's ``hash_string``: urlsafe base64 MD5, ``=`` stripped, 22 chars; None when empty."""
    return hash_of(content.encode("utf-8"))


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def hash_of(data: bytes) -> str | None:
    """:func:`content_hash` of text already encoded in UTF-8."""
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


def utf8_value(key: str, value: str) -> bytes:
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


def required_field(raw: RawRow, key: str) -> Any:
    if key not in raw:
        raise RowRejected(f"{key}: missing")
    return raw[key]


def uuid_field(raw: RawRow, key: str) -> str:
    """A uuid field as canonical text (lower case, hyphenated), the form syncd stores."""
    return uuid_value(key, required_field(raw, key))


def uuid_value(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise RowRejected(f"{key}: must be a uuid string, got {type(value).__name__}")
    if _CANONICAL_UUID.fullmatch(value):
        return value  # the form the hub sends: no need for uuid.UUID's general parsing
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise RowRejected(f"{key}: not a uuid: {value[:60]!r}") from None


def text_field(raw: RawRow, key: str, *, low: int, high: int, nullable: bool = False) -> str | None:
    return text_value(key, required_field(raw, key), low=low, high=high, nullable=nullable)


def text_value(key: str, value: object, *, low: int, high: int, nullable: bool = False) -> str | None:
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


def stamp_field(raw: RawRow, key: str, *, nullable: bool = False) -> datetime | None:
    return stamp_value(key, required_field(raw, key), nullable=nullable)


def stamp_value(key: str, value: object, *, nullable: bool = False) -> datetime | None:
    if value is None:
        if nullable:
            return None
        raise RowRejected(f"{key}: must not be null")
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise RowRejected(f"{key}: {exc}") from None


def stamp_text_field(raw: RawRow, key: str) -> tuple[datetime, str]:
    """A required timestamp and its canonical text (see :func:`syncd.core.timestamps.parse_stamp`)."""
    return stamp_text_value(key, required_field(raw, key))


def stamp_text_value(key: str, value: object) -> tuple[datetime, str]:
    if value is None:
        raise RowRejected(f"{key}: must not be null")
    try:
        return parse_stamp(value)
    except ValueError as exc:
        raise RowRejected(f"{key}: {exc}") from None


def lnid_field(raw: RawRow, pattern: re.Pattern[str], length: int) -> str:
    return lnid_value(required_field(raw, "lnid"), pattern, length)


def lnid_value(value: object, pattern: re.Pattern[str], length: int) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        shown = value[:40] if isinstance(value, str) else type(value).__name__
        raise RowRejected(f"lnid: must be exactly {length} characters of [0-9a-zA-Z], got {shown!r}")
    return value


def creator_field(raw: RawRow, *, nullable: bool) -> Creator | None:
    return creator_value(required_field(raw, "created_by"), nullable=nullable)


def creator_value(value: object, *, nullable: bool) -> Creator | None:
    if value is None:
        if nullable:
            return None
        raise RowRejected("created_by: must not be null")
    if type(value) is not dict and not isinstance(value, Mapping):
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


def updated_field(raw: RawRow) -> tuple[datetime, str, str]:
    """``updated_at`` as an instant, as the hub spelled it, and in canonical text."""
    moment, canonical = stamp_text_field(raw, "updated_at")
    return moment, raw["updated_at"], canonical
