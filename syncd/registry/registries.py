"""The registries: each is a table, LaminDB's field order, and its relations.

Field order is Django's ``_meta.fields`` order in LaminDB 2.12; it decides the
columns of ``to_dataframe``, the fields of ``repr``, and which fields ``search``
and ``lookup`` use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Table

from syncd.registry import tables
from syncd.registry.model import Forward, Reverse
from syncd.registry.record import Record
from syncd.registry.tables import jsonvalue
from syncd.store import schema

__all__ = ["Branch", "FeatureValue", "JsonValue", "Space", "SpaceBlock", "User"]


class User(Record):
    """``lamindb_user``: the accounts that created records."""

    _table = schema.user
    _fields = ("id", "uid", "handle", "name", "created_at", "updated_at")
    _name_field = "handle"
    _read_only = True

    id: int
    uid: str
    handle: str
    name: str | None
    created_at: datetime
    updated_at: datetime


class Space(Record):
    """``lamindb_space``: spaces, mostly synchronised from the hub."""

    _table = schema.space
    _fields = ("id", "name", "uid", "description", "created_at", "created_by")
    _relations = (Forward("created_by", "User"), Reverse("ablocks", "SpaceBlock", via="space"))
    _hub_map: ClassVar[Table | None] = schema.space_map

    id: int
    name: str
    uid: str
    description: str | None
    created_at: datetime
    created_by_id: int | None
    created_by: User | None
    ablocks: Any


class Branch(Record):
    """``lamindb_branch``: main (1), archive (0), trash (-1) and any others."""

    _table = schema.branch
    _fields = ("id", "name", "uid", "space", "description", "created_at", "created_by", "_status_code")
    _relations = (Forward("space", "Space"), Forward("created_by", "User"))
    _read_only = True

    id: int
    name: str
    uid: str
    description: str | None
    created_at: datetime
    space_id: int
    created_by_id: int


class SpaceBlock(Record):
    """``lamindb_spaceblock``: versioned readme and comment blocks of a space."""

    _table = tables.spaceblock
    _fields = ("version_tag", "is_latest", "id", "uid", "content", "hash", "kind", "created_at", "created_by",
               "_status_code", "_aux", "branch", "created_on", "space")
    _relations = (Forward("created_by", "User"), Forward("branch", "Branch"), Forward("created_on", "Branch"),
                  Forward("space", "Space"))
    _versioned = True
    _hub_map: ClassVar[Table | None] = schema.block_map

    id: int
    uid: str
    version_tag: str | None
    is_latest: bool
    content: str
    hash: str | None
    kind: str
    created_at: datetime
    created_by_id: int
    branch_id: int
    created_on_id: int
    space_id: int
    space: Space
    created_by: User

    @property
    def version(self) -> str:
        """The version tag, or the last four characters of the uid when there is none (as LaminDB)."""
        return self.version_tag or self.uid[-4:]


class JsonValue(Record):
    """``lamindb_jsonvalue``: feature values (read-only here); LaminDB's old name is ``FeatureValue``."""

    _table = jsonvalue
    _fields = ("id", "branch", "created_on", "space", "is_locked", "_aux", "created_at", "created_by", "run",
               "feature", "value", "hash")
    # run and feature are plain ids here: their registries are not part of this library
    _relations = (Forward("branch", "Branch"), Forward("created_on", "Branch"), Forward("space", "Space"),
                  Forward("created_by", "User"), Forward("run", None), Forward("feature", None))
    _name_field = "value"
    _read_only = True

    id: int
    is_locked: bool
    created_at: datetime
    value: Any
    hash: str | None
    branch_id: int
    created_on_id: int
    space_id: int
    created_by_id: int
    run_id: int | None
    feature_id: int | None
    space: Space


FeatureValue = JsonValue
