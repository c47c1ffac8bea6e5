"""One description per synced hub resource: what every layer needs to know about it.

A :class:`ResourceDescription` names the resource, the columns of its rows,
how a raw row is validated and which type that gives, the local tables it
lands in, and what it depends on (a block waits for its space). The engine
pulls resources in :data:`DESCRIPTIONS` order, which puts every resource after
the one it depends on. Layers with I/O bind each description to their own
objects in one place each: :mod:`syncd.store.resources` (tables and apply
functions) and :mod:`syncd.hubsim.resources` (the emulator's column rules).
Nothing outside those bindings tells resources apart by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from syncd.core.models import HubBlock, HubRow, HubSpace, RawRow, Resource
from syncd.core.rows import parse_block, parse_space

__all__ = ["DESCRIPTIONS", "SPACE", "SPACE_BLOCK", "ResourceDescription", "describe", "parse_row"]


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceDescription:
    """Everything syncd knows about one hub resource, independent of any database or HTTP."""

    resource: Resource
    columns: tuple[str, ...]
    """The columns of a row as the hub contract defines them, in the contract's order."""
    parse: Callable[[RawRow], HubRow]
    """Validates one raw row (raises :class:`~syncd.errors.RowRejected`)."""
    row_type: type[HubRow]
    """What :attr:`parse` returns."""
    lnid_length: int
    """The length of the row's ``lnid``, which becomes the LaminDB ``uid``."""
    lamindb_table: str
    """The LaminDB table the rows are written to."""
    map_table: str
    """syncd's own table linking hub id, uid and local id."""
    depends_on: Resource | None = None
    """The resource a row refers to and waits for (applied only once that row is here)."""
    parent_column: str | None = None
    """The column holding the hub id of the row this one depends on."""

    @property
    def name(self) -> str:
        """The resource's name in the hub's URL path and in syncd's bookkeeping tables."""
        return self.resource.value

    @property
    def path(self) -> str:
        """The resource's path below the hub's base URL."""
        return f"/rest/v1/{self.name}"


_SHARED = ("created_at", "updated_at", "deleted_at", "created_by")

SPACE = ResourceDescription(
    resource=Resource.SPACE,
    columns=("id", "lnid", "name", "description", *_SHARED),
    parse=parse_space,
    row_type=HubSpace,
    lnid_length=12,
    lamindb_table="lamindb_space",
    map_table="syncd_space_map",
)

SPACE_BLOCK = ResourceDescription(
    resource=Resource.SPACE_BLOCK,
    columns=("id", "lnid", "space_id", "content", "hash", "kind", "version_tag", "is_latest", *_SHARED),
    parse=parse_block,
    row_type=HubBlock,
    lnid_length=20,
    lamindb_table="lamindb_spaceblock",
    map_table="syncd_block_map",
    depends_on=Resource.SPACE,
    parent_column="space_id",
)

DESCRIPTIONS: tuple[ResourceDescription, ...] = (SPACE, SPACE_BLOCK)
"""Every synced resource, in pull order: a resource comes after the one it depends on."""

_BY_RESOURCE = {description.resource: description for description in DESCRIPTIONS}


def describe(resource: Resource) -> ResourceDescription:
    """The description of ``resource``."""
    return _BY_RESOURCE[resource]


def parse_row(resource: Resource, raw: RawRow) -> HubRow:
    """Validate a row of any resource."""
    return _BY_RESOURCE[resource].parse(raw)
