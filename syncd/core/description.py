"""What syncd knows about one hub resource, independent of any database or HTTP.

Each resource's module in :mod:`syncd.core.resources` holds one
:class:`ResourceDescription`; layers with I/O bind it to their own objects
(:mod:`syncd.store.resources`, :mod:`syncd.hubsim.resources`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from syncd.core.models import HubRow, RawRow, Resource

__all__ = ["SHARED_COLUMNS", "ResourceDescription"]

SHARED_COLUMNS = ("created_at", "updated_at", "deleted_at", "created_by")
"""The columns every resource's rows carry, after their own."""


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
