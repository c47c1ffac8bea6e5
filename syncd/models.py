"""Pure domain types shared by the hub client, the synchroniser and the store.

No I/O here: no httpx, no SQLAlchemy. Datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncd.timestamps import format_canonical

__all__ = [
    "Creator",
    "HubBlock",
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


@dataclass(frozen=True, slots=True)
class HubSpace:
    """A validated ``space`` row."""

    id: uuid.UUID
    lnid: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    updated_at_raw: str
    deleted_at: datetime | None
    created_by: Creator | None
    raw: RawRow = field(repr=False, compare=False)
    key: str = field(init=False, repr=False, compare=False)
    """``str(id)``: how the hub id is stored and compared in syncd's tables."""
    stamp: str = field(init=False, repr=False, compare=False)
    """``updated_at`` in syncd's canonical text form (see :func:`syncd.timestamps.format_canonical`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", str(self.id))
        object.__setattr__(self, "stamp", format_canonical(self.updated_at))

    @property
    def position(self) -> Position:
        return Position(self.updated_at, self.updated_at_raw, self.id)


@dataclass(frozen=True, slots=True)
class HubBlock:
    """A validated ``space_block`` row."""

    id: uuid.UUID
    lnid: str
    space_id: uuid.UUID
    content: str
    hash: str | None
    kind: str
    version_tag: str | None
    is_latest: bool
    created_at: datetime
    updated_at: datetime
    updated_at_raw: str
    deleted_at: datetime | None
    created_by: Creator
    raw: RawRow = field(repr=False, compare=False)
    key: str = field(default="", repr=False, compare=False)
    """``str(id)``: how the hub id is stored and compared in syncd's tables (derived when not given)."""
    stamp: str = field(init=False, repr=False, compare=False)
    """``updated_at`` in syncd's canonical text form (see :func:`syncd.timestamps.format_canonical`)."""
    space_key: str = field(default="", repr=False, compare=False)
    """``str(space_id)`` (derived when not given)."""

    def __post_init__(self) -> None:
        # computed once here, not once per instance and lookup on the apply path
        if not self.key:
            object.__setattr__(self, "key", str(self.id))
        if not self.space_key:
            object.__setattr__(self, "space_key", str(self.space_id))
        object.__setattr__(self, "stamp", format_canonical(self.updated_at))

    @property
    def position(self) -> Position:
        return Position(self.updated_at, self.updated_at_raw, self.id)
