"""The ``space`` resource: an access-control workspace, LaminDB's ``Space``.

Its validated row type, its parser and its description, which
:mod:`syncd.core.resources` finds by this module's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.core.description import SHARED_COLUMNS, ResourceDescription
from syncd.core.models import Creator, KeyedRow, RawRow, Resource
from syncd.core.rows import (
    creator_field,
    lnid_field,
    lnid_pattern,
    row_object,
    stamp_field,
    text_field,
    updated_field,
    uuid_field,
)
from syncd.errors import RowRejected

__all__ = ["DESCRIPTION", "LNID_LENGTH", "HubSpace", "parse_space"]

LNID_LENGTH = 12
_LNID = lnid_pattern(LNID_LENGTH)

# Built once per hub row on the hot path of a full sync and never changed afterwards. The hub id
# is kept as its canonical text (``key``), the form syncd's tables store and compare; ``id``
# builds the ``uuid.UUID`` only where one is asked for.


@dataclass(slots=True)
class HubSpace(KeyedRow):
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


def parse_space(raw: RawRow) -> HubSpace:
    """Validate one ``space`` row."""
    raw = row_object(raw)
    hub_id = uuid_field(raw, "id")
    lnid = lnid_field(raw, _LNID, LNID_LENGTH)
    name = text_field(raw, "name", low=1, high=100)
    assert name is not None
    if name.strip() == "":
        raise RowRejected("name: must not be blank")
    description = None
    if "description" in raw:
        description = text_field(raw, "description", low=0, high=10_000_000, nullable=True)
    created_at = stamp_field(raw, "created_at")
    assert created_at is not None
    updated_at, updated_raw, stamp = updated_field(raw)
    deleted_at = stamp_field(raw, "deleted_at", nullable=True)
    created_by = creator_field(raw, nullable=True) if "created_by" in raw else None
    return HubSpace(
        key=hub_id,
        lnid=lnid,
        name=name,
        description=description,
        created_at=created_at,
        updated_at=updated_at,
        updated_at_raw=updated_raw,
        stamp=stamp,
        deleted_at=deleted_at,
        created_by=created_by,
        raw=raw,
    )


DESCRIPTION = ResourceDescription(
    resource=Resource.SPACE,
    columns=("id", "lnid", "name", "description", *SHARED_COLUMNS),
    parse=parse_space,
    row_type=HubSpace,
    lnid_length=LNID_LENGTH,
    lamindb_table="lamindb_space",
    map_table="syncd_space_map",
)
