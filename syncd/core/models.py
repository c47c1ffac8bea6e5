"""Pure domain types shared by the hub client, the synchroniser and the store.

No I/O here: no httpx, no SQLAlchemy. Datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "Creator",
    "HubRow",
    "KeyedRow",
    "Page",
    "Position",
    "RawRow",
    "Resource",
]

RawRow = Mapping[str, Any]
"""One row object exactly as the hub served it (already JSON-decoded)."""


class Resource(enum.StrEnum):
    """The hub resources syncd follows, in the order they are pulled.

    Each member has a module named after its value in :mod:`syncd.core.resources`
    (row type, parser, description) and in :mod:`syncd.store.resources` (tables,
    how rows are applied); a resource comes after the one it depends on.
    """

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


class KeyedRow:
    """What a row type derives from its hub id and stamp; the base of every resource's row type."""

    __slots__ = ()
    key: str
    updated_at: datetime
    updated_at_raw: str

    @property
    def id(self) -> uuid.UUID:
        """The hub id as a ``uuid.UUID``, built only where one is asked for."""
        return uuid.UUID(self.key)

    @property
    def position(self) -> Position:
        """The row's place in its resource's keyset order."""
        return Position(self.updated_at, self.updated_at_raw, self.id)


class HubRow(Protocol):
    """A validated row of any resource, as the engine and the store's generic parts see it.

    Each resource's module in :mod:`syncd.core.resources` defines the concrete
    type with the resource's own columns besides these.
    """

    @property
    def key(self) -> str:
        """The hub id as canonical uuid text (lower case, hyphenated)."""
        ...

    @property
    def lnid(self) -> str:
        """The hub's ``lnid``, which becomes the LaminDB ``uid``."""
        ...

    @property
    def updated_at(self) -> datetime: ...

    @property
    def updated_at_raw(self) -> str:
        """``updated_at`` exactly as the hub spelled it."""
        ...

    @property
    def stamp(self) -> str:
        """``updated_at`` in canonical text (:func:`syncd.core.timestamps.format_canonical`)."""
        ...

    @property
    def deleted_at(self) -> datetime | None: ...

    @property
    def raw(self) -> RawRow:
        """The row as the hub served it."""
        ...

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def position(self) -> Position: ...
