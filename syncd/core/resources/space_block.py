"""The ``space_block`` resource: a versioned note attached to a space, LaminDB's ``SpaceBlock``.

Its validated row type, its parser and its description, which
:mod:`syncd.core.resources` finds by this module's name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from syncd.core.description import SHARED_COLUMNS, ResourceDescription
from syncd.core.models import Creator, KeyedRow, RawRow, Resource
from syncd.core.rows import (
    MAX_CONTENT_BYTES,
    creator_value,
    hash_of,
    lnid_pattern,
    lnid_value,
    row_object,
    stamp_text_value,
    stamp_value,
    text_value,
    utf8_value,
    uuid_value,
)
from syncd.errors import RowRejected

__all__ = ["DESCRIPTION", "LNID_LENGTH", "HubBlock", "parse_block"]

LNID_LENGTH = 20
_LNID = lnid_pattern(LNID_LENGTH)
_KINDS = ("readme", "comment")

# Built once per hub row on the hot path of a full sync (a hundred thousand a sync) and never
# changed afterwards; hub ids are kept as canonical text, as in :mod:`syncd.core.resources.space`.


@dataclass(slots=True)
class HubBlock(KeyedRow):
    """A validated ``space_block`` row."""

    key: str
    """The hub id as canonical uuid text (lower case, hyphenated)."""
    lnid: str
    space_key: str
    """The hub id of the block's space, as canonical uuid text."""
    content: str
    hash: str | None
    kind: str
    version_tag: str | None
    is_latest: bool
    created_at: datetime
    created_text: str
    """``created_at`` in syncd's canonical text form (see :func:`syncd.core.timestamps.format_canonical`)."""
    updated_at: datetime
    updated_at_raw: str
    stamp: str
    """``updated_at`` in syncd's canonical text form (see :func:`syncd.core.timestamps.format_canonical`)."""
    deleted_at: datetime | None
    created_by: Creator
    raw: RawRow

    @property
    def space_id(self) -> uuid.UUID:
        return uuid.UUID(self.space_key)


def parse_block(raw: RawRow) -> HubBlock:
    """Validate one ``space_block`` row, including its content hash."""
    raw = row_object(raw)
    try:  # every field is required: read them all first (the hot path: a hundred thousand rows a sync)
        hub_id, lnid, space_id, content = raw["id"], raw["lnid"], raw["space_id"], raw["content"]
        given_hash, kind, version_tag = raw["hash"], raw["kind"], raw["version_tag"]
        is_latest, created, updated = raw["is_latest"], raw["created_at"], raw["updated_at"]
        deleted, creator = raw["deleted_at"], raw["created_by"]
    except KeyError as exc:
        raise RowRejected(f"{exc.args[0]}: missing") from None
    key = uuid_value("id", hub_id)
    lnid = lnid_value(lnid, _LNID, LNID_LENGTH)
    space_key = uuid_value("space_id", space_id)
    if not isinstance(content, str):
        raise RowRejected(f"content: must be a string, got {type(content).__name__}")
    if len(content) > MAX_CONTENT_BYTES:  # at least one byte per character: too big already
        raise RowRejected(f"content: {len(content)} characters, more than the 1 MiB allowed")
    data = utf8_value("content", content)
    if len(data) > MAX_CONTENT_BYTES:
        raise RowRejected(f"content: {len(data)} bytes in UTF-8, more than the 1 MiB allowed")
    expected = hash_of(data)
    if given_hash != expected:
        raise RowRejected(f"hash: {given_hash!r} does not match the content (expected {expected!r})")
    if kind not in _KINDS:
        raise RowRejected(f"kind: must be 'readme' or 'comment', got {kind!r}")
    version_tag = text_value("version_tag", version_tag, low=0, high=30, nullable=True)
    if not isinstance(is_latest, bool):
        raise RowRejected(f"is_latest: must be a boolean, got {is_latest!r}")
    created_at, created_text = stamp_text_value("created_at", created)
    updated_at, stamp = stamp_text_value("updated_at", updated)
    deleted_at = stamp_value("deleted_at", deleted, nullable=True)
    created_by = creator_value(creator, nullable=False)
    assert created_by is not None
    # positional, in the order of the fields: sixteen keywords cost more on this path (every hub row)
    return HubBlock(
        key,
        lnid,
        space_key,
        content,
        expected,  # hash
        kind,
        version_tag,
        is_latest,
        created_at,
        created_text,
        updated_at,
        updated,  # updated_at_raw
        stamp,
        deleted_at,
        created_by,
        raw,
    )


DESCRIPTION = ResourceDescription(
    resource=Resource.SPACE_BLOCK,
    columns=(
        "id", "lnid", "space_id", "content", "hash", "kind", "version_tag", "is_latest", *SHARED_COLUMNS,
    ),
    parse=parse_block,
    row_type=HubBlock,
    lnid_length=LNID_LENGTH,
    lamindb_table="lamindb_spaceblock",
    map_table="syncd_block_map",
    depends_on=Resource.SPACE,
    parent_column="space_id",
)
