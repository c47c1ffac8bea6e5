"""The emulator's side of each resource description: what may be written and what a new row gets.

:mod:`syncd.core.resources` describes each resource (its columns, its lnid
length, what it depends on); this module adds, in one place, what the
emulator's store needs to create and change rows of it. The store, the rows
and the admin API ask :func:`emulated` and never tell resources apart by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from syncd.core.models import Resource
from syncd.core.resources import ResourceDescription, describe
from syncd.hubsim.columns import check_block, check_lnid, check_space, normalise_value, with_block_hash

__all__ = ["DEFAULT_CREATOR", "EMULATED", "EmulatedResource", "emulated"]

DEFAULT_CREATOR: dict[str, Any] = {"lnid": "hubsim01", "handle": "hubsim", "name": "Hub Emulator"}


@dataclasses.dataclass(frozen=True, slots=True)
class EmulatedResource:
    """How the emulator creates, changes and checks rows of one resource."""

    description: ResourceDescription
    writable: frozenset[str]
    """The columns a write may set (the others are the hub's: ``updated_at``, derived ones)."""
    required: tuple[str, ...]
    """The columns a new row must be given."""
    defaults: Mapping[str, Any]
    """What a new row gets for the columns it is not given (besides id, stamps and creator)."""
    rules: Callable[[Mapping[str, Any]], None]
    """The contract's rules for a complete row's own columns (``ValueError`` when broken)."""
    scope_column: str
    """The column holding the space id row-level security checks."""
    lnid_suffix: str = ""
    """A new row's lnid ends in this (a block's first version: ``0000``), after random characters."""
    derive: Callable[[dict[str, Any]], None] | None = None
    """Sets the columns the hub computes from others (a block's hash)."""
    stem_length: int | None = None
    """Rows are versions: those sharing this many leading lnid characters, one ``is_latest``."""
    bulk_import: bool = False
    """Whether the admin API bulk-imports rows of it."""

    @property
    def resource(self) -> Resource:
        return self.description.resource

    @property
    def versioned(self) -> bool:
        return self.stem_length is not None

    def normalise(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Check column names and convert values to the store's Python types."""
        unknown = sorted(set(changes) - self.writable)
        if unknown:
            raise ValueError(f"not writable on {self.resource.value}: {', '.join(unknown)}")
        ids = frozenset({"id", *(c for c in (self.description.parent_column,) if c is not None)})
        return {column: normalise_value(column, value, ids) for column, value in changes.items()}

    def complete(self, values: dict[str, Any]) -> None:
        """Derive the hub's own columns, then check the whole row (``ValueError`` naming the column)."""
        if self.derive is not None:
            self.derive(values)
        missing = [c for c in self.required if c not in values]
        if missing:
            raise ValueError(f"missing column(s) for a new {self.resource.value}: {', '.join(missing)}")
        check_lnid(values, self.description.lnid_length)
        self.rules(values)


EMULATED: dict[Resource, EmulatedResource] = {
    Resource.SPACE: EmulatedResource(
        describe(Resource.SPACE),
        writable=frozenset({"id", "lnid", "name", "description", "created_at", "deleted_at", "created_by"}),
        required=("name",),
        defaults={"description": None},
        rules=check_space,
        scope_column="id",
    ),
    Resource.SPACE_BLOCK: EmulatedResource(
        describe(Resource.SPACE_BLOCK),
        writable=frozenset(
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
        required=("space_id", "content"),
        defaults={"kind": "readme", "version_tag": None, "is_latest": True, "created_by": DEFAULT_CREATOR},
        rules=check_block,
        scope_column="space_id",
        lnid_suffix="0000",
        derive=with_block_hash,
        stem_length=16,
        bulk_import=True,
    ),
}


def emulated(resource: Resource | str) -> EmulatedResource:
    """The emulator's description of ``resource`` (a :class:`Resource` or its name)."""
    return EMULATED[Resource(resource)]
