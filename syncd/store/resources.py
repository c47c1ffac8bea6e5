"""The store's side of each resource description: how its rows are applied, removed and retried.

:mod:`syncd.core.resources` describes each resource without any database;
this module binds each description to the functions that write it into an
instance, in one place. The rest of the store asks the binding
(:func:`binding`) and never tells resources apart itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table

from syncd.core.models import HubRow, Resource
from syncd.core.resources import SPACE, SPACE_BLOCK, ResourceDescription
from syncd.core.results import ApplyResult
from syncd.store.blocks import apply_blocks, remove_blocks
from syncd.store.context import ApplyContext
from syncd.store.schema import map_table
from syncd.store.spaces import apply_spaces, remove_spaces, retry_held_spaces

__all__ = ["BINDINGS", "StoreResource", "apply_rows", "binding"]

Apply = Callable[[Connection, list[Any], ApplyContext], ApplyResult]
Remove = Callable[[Connection, ApplyResult, ApplyContext, list[tuple[str, int, str]]], None]


@dataclasses.dataclass(frozen=True, slots=True)
class StoreResource:
    """How one resource's rows reach an instance database."""

    description: ResourceDescription
    apply: Apply
    """Applies a page of validated rows (of the description's row type) in the open transaction."""
    remove: Remove
    """Removes rows the hub dropped without a tombstone, given ``(hub_id, local_id, uid)`` each."""
    retry_held: Callable[[Connection, ApplyContext], ApplyResult] | None = None
    """Retries rows kept back after a tombstone (a space LaminDB records still reference)."""

    @property
    def map_table(self) -> Table:
        return map_table(self.description.resource)


BINDINGS: dict[Resource, StoreResource] = {
    Resource.SPACE: StoreResource(SPACE, apply_spaces, remove_spaces, retry_held=retry_held_spaces),
    Resource.SPACE_BLOCK: StoreResource(SPACE_BLOCK, apply_blocks, remove_blocks),
}


def binding(resource: Resource) -> StoreResource:
    """The store's binding of ``resource``."""
    return BINDINGS[resource]


def apply_rows(
    conn: Connection, resource: Resource, rows: Sequence[HubRow], ctx: ApplyContext
) -> ApplyResult:
    """Apply validated rows of ``resource`` through its binding."""
    bound = BINDINGS[resource]
    row_type = bound.description.row_type
    return bound.apply(conn, [r for r in rows if isinstance(r, row_type)], ctx)
