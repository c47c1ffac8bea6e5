"""What the store needs of each resource: :class:`StoreResource`, defined once per resource.

Each resource's module in :mod:`syncd.store.resources` holds one as
``BINDING``: the core's description, the functions that apply and remove its
rows in an instance, and its tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table

from syncd.core.description import ResourceDescription
from syncd.core.results import ApplyResult
from syncd.store.context import ApplyContext
from syncd.store.schema import lamindb, map_table

__all__ = ["Apply", "Remove", "RetryHeld", "StoreResource"]

Apply = Callable[[Connection, list[Any], ApplyContext], ApplyResult]
Remove = Callable[[Connection, ApplyResult, ApplyContext, list[tuple[str, int, str]]], None]
RetryHeld = Callable[[Connection, ApplyContext], ApplyResult]


@dataclasses.dataclass(frozen=True, slots=True)
class StoreResource:
    """How one resource's rows reach an instance database."""

    description: ResourceDescription
    apply: Apply
    """Applies a page of validated rows (of the description's row type) in the open transaction."""
    remove: Remove
    """Removes rows the hub dropped without a tombstone, given ``(hub_id, local_id, uid)`` each."""
    retry_held: RetryHeld | None = None
    """Retries rows kept back after a tombstone (a space LaminDB records still reference)."""
    parent_key: str | None = None
    """The column of its LaminDB table holding the local id of the row it depends on; set when
    its synced rows go with that row (a block with its space) and do not keep it alive."""

    @property
    def table(self) -> Table:
        """The LaminDB table its rows are written to (named by the description)."""
        return lamindb.tables[self.description.lamindb_table]

    @property
    def map_table(self) -> Table:
        """syncd's table linking hub id, uid and local id (named by the description)."""
        return map_table(self.description)
