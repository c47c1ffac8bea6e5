"""The store's side of each resource: one module per :class:`~syncd.core.models.Resource` member.

A resource's module here, named after its member's value like its module in
:mod:`syncd.core.resources`, declares the resource's tables that no other
module needs (on :data:`syncd.store.schema.lamindb` and
:data:`~syncd.store.schema.bookkeeping`) and holds its
:class:`~syncd.store.binding.StoreResource` as ``BINDING``. This package finds
each module by that name; the rest of the store asks :func:`binding` and
never tells resources apart itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from sqlalchemy import Connection

from syncd.core.models import HubRow, Resource
from syncd.core.resources import DESCRIPTIONS
from syncd.core.results import ApplyResult
from syncd.store.binding import StoreResource
from syncd.store.context import ApplyContext
from syncd.store.schema import bookkeeping, lamindb

__all__ = ["BINDINGS", "StoreResource", "apply_rows", "binding", "dependents"]


def _load(resource: Resource) -> StoreResource:
    name = f"{__name__}.{resource.value}"
    bound = getattr(importlib.import_module(name), "BINDING", None)
    if not isinstance(bound, StoreResource) or bound.description.resource is not resource:
        raise ImportError(f"{name} must define BINDING, the StoreResource of {resource.value!r}")
    description = bound.description
    for table, metadata in ((description.lamindb_table, lamindb), (description.map_table, bookkeeping)):
        if table not in metadata.tables:
            raise ImportError(f"{name}: no table {table} is declared, there or in syncd.store.schema")
    return bound


BINDINGS: dict[Resource, StoreResource] = {d.resource: _load(d.resource) for d in DESCRIPTIONS}
"""Every resource's binding, in pull order."""


def binding(resource: Resource) -> StoreResource:
    """The store's binding of ``resource``."""
    return BINDINGS[resource]


def dependents(resource: Resource) -> tuple[StoreResource, ...]:
    """The bindings whose synced rows go with a removed row of ``resource`` (blocks with a space)."""
    return tuple(
        bound for bound in BINDINGS.values()
        if bound.description.depends_on is resource and bound.parent_key is not None
    )


def apply_rows(
    conn: Connection, resource: Resource, rows: Sequence[HubRow], ctx: ApplyContext
) -> ApplyResult:
    """Apply validated rows of ``resource`` through its binding."""
    bound = BINDINGS[resource]
    row_type = bound.description.row_type
    return bound.apply(conn, [r for r in rows if isinstance(r, row_type)], ctx)
