"""The synced hub resources: one module per :class:`~syncd.core.models.Resource` member.

A resource's module, named after its member's value (``space``,
``space_block``), holds its validated row type, its parser and its
:class:`~syncd.core.description.ResourceDescription` as ``DESCRIPTION``. This
package finds each module by that name, so adding a resource adds a module
here and a member to the enum, and edits no list. The engine pulls resources
in the enum's order, which must put every resource after the one it depends
on (checked on import). Layers with I/O find their own per-resource module
the same way (:mod:`syncd.store.resources`) or bind the description in one
place (:mod:`syncd.hubsim.resources`); nothing else tells resources apart.
"""

from __future__ import annotations

import importlib

from syncd.core.description import ResourceDescription
from syncd.core.models import HubRow, RawRow, Resource

__all__ = ["DESCRIPTIONS", "ResourceDescription", "describe", "parse_row"]


def _load(resource: Resource) -> ResourceDescription:
    name = f"{__name__}.{resource.value}"
    description = getattr(importlib.import_module(name), "DESCRIPTION", None)
    if not isinstance(description, ResourceDescription) or description.resource is not resource:
        raise ImportError(f"{name} must define DESCRIPTION, the ResourceDescription of {resource.value!r}")
    return description


def _in_pull_order(descriptions: tuple[ResourceDescription, ...]) -> tuple[ResourceDescription, ...]:
    seen: set[Resource] = set()
    for description in descriptions:
        if description.depends_on is not None and description.depends_on not in seen:
            raise ImportError(
                f"Resource.{description.resource.name} depends on {description.depends_on.value!r}, "
                "which must come before it in the Resource enum"
            )
        seen.add(description.resource)
    return descriptions


DESCRIPTIONS: tuple[ResourceDescription, ...] = _in_pull_order(tuple(_load(r) for r in Resource))
"""Every synced resource, in pull order: a resource comes after the one it depends on."""

_BY_RESOURCE = {description.resource: description for description in DESCRIPTIONS}


def describe(resource: Resource) -> ResourceDescription:
    """The description of ``resource``."""
    return _BY_RESOURCE[resource]


def parse_row(resource: Resource, raw: RawRow) -> HubRow:
    """Validate a row of any resource."""
    return _BY_RESOURCE[resource].parse(raw)
