"""Pure domain types shared by the hub client, the synchroniser and the store.

No I/O here: no httpx, no SQLAlchemy. Datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "Creator",
    "HubBlock",
    "HubRow",
    "HubSpace",
    "Page",
    "Position",
    "RawRow",
    "Resource",
]

RawRow = Mapping[str, Any]
"""One row object exactly as the hub served it (already JSON-decoded)."""


class Resource(enum.StrEnum):
    """The hub resources syncd follows, in the order they are pulled."""

    SPACE = "space"
    SPACE_BLOCK = "space_block"


@dataclass(frozen=True, slots=True)
class Position:
    """A keyset position ``(updated_at, id)`` in a resource's total order.

    ``updated_at_raw`` is the timestamp exactly as the hub spelled it: the
    contract wants it echoed back verbatim in the next query.
    """

    updated_at: datetime
    updated_at_raw: str
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows from the hub.

    ``hub_date`` is the hub's ``Date`` header: the hub's clock when it answered.
    """

    resource: Resource
    rows: list[RawRow]
    hub_date: datetime | None
    requested_after: Position | None = None


@dataclass(frozen=True, slots=True)
class Creator:
    """The account that created a space or block (``created_by``)."""

    lnid: str
    handle: str
    name: str | None


# HubSpace and HubBlock are built once per hub row on the hot path of a full sync and never
# changed afterwards. Hub ids are kept as their canonical text (``key``), the form syncd's tables
# store and compare; ``id`` builds the ``uuid.UUID`` only where one is asked for.


@dataclass(slots=True)
class HubSpace:
    """A validated ``space`` row."""

    key: str
    """The hub id as canonical uuid text (lower case, hyphenated)."""
    lnid: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    updated_at_raw: str
    stamp: str
    """``updated_at`` in syncd's canonical text form (see :func:`syncd.core.timestamps.format_canonical`)."""
    deleted_at: datetime | None
    created_by: Creator | None
    raw: RawRow

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.key)

    @property
    def position(self) -> Position:
        return Position(self.updated_at, self.updated_at_raw, self.id)


@dataclass(slots=True)
class HubBlock:
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
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.key)

    @property
    def space_id(self) -> uuid.UUID:
        return uuid.UUID(self.space_key)

    @property
    def position(self) -> Position:
        return Position(self.updated_at, self.updated_at_raw, self.id)


HubRow = HubSpace | HubBlock
"""A validated row of any resource (:mod:`syncd.core.resources` says which type each one has)."""
