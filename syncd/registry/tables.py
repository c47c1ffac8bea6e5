"""Tables the registry reads beyond those of :mod:`syncd.store.schema`.

``lamindb_jsonvalue`` (LaminDB's ``JsonValue``, formerly ``FeatureValue``), and
``lamindb_spaceblock`` with LaminDB's private ``_aux`` column, are described on
a metadata object of their own so that the store's metadata stays exactly what
syncd writes. Foreign keys are left out: the
registry resolves relations itself and never creates these tables.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, MetaData, SmallInteger, String, Table

from syncd.store import schema
from syncd.store.dialects import json_type, row_id_type
from syncd.store.types import UTCDateTime

__all__ = ["jsonvalue", "registry_only", "spaceblock"]

registry_only = MetaData()

_json = json_type()

jsonvalue = Table(
    "lamindb_jsonvalue",
    registry_only,
    Column("id", row_id_type(), primary_key=True),
    Column("is_locked", Boolean, nullable=False),
    Column("_aux", _json),
    Column("created_at", UTCDateTime, nullable=False),
    Column("value", _json, nullable=False),
    Column("hash", String(22)),
    Column("branch_id", Integer, nullable=False),
    Column("created_on_id", Integer, nullable=False),
    Column("feature_id", Integer),
    Column("run_id", row_id_type()),
    Column("space_id", SmallInteger, nullable=False),
    Column("created_by_id", Integer, nullable=False),
)

# the store's lamindb_spaceblock plus LaminDB's private ``_aux`` JSON column, which syncd never writes
spaceblock = Table(
    "lamindb_spaceblock",
    registry_only,
    *(column._copy() for column in schema.spaceblock.columns),
    Column("_aux", _json),
)
