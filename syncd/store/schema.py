"""Table definitions: the four LaminDB tables syncd touches, and syncd's own ``syncd_*`` tables.

The LaminDB tables are described here for querying only; an empty database is
given LaminDB's exact DDL by :mod:`syncd.store.bootstrap`, never by
``metadata.create_all``. The ``syncd_*`` tables belong to syncd and are
created with :data:`bookkeeping` (LaminDB ignores tables it does not know).

Timestamps in ``syncd_*`` tables are text in the canonical form of
:func:`syncd.core.timestamps.format_canonical`, which sorts as it compares.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)

from syncd.core.description import ResourceDescription
from syncd.store.dialects import row_id_type
from syncd.store.types import UTCDateTime

__all__ = [
    "BUILTIN_SPACE_ID",
    "BUILTIN_SPACE_UID",
    "SCHEMA_VERSION",
    "block_map",
    "bookkeeping",
    "branch",
    "cursor",
    "deferred",
    "in_step",
    "lamindb",
    "map_table",
    "meta",
    "quarantine",
    "space",
    "space_gone",
    "space_map",
    "spaceblock",
    "unseen",
    "user",
    "user_alias",
]

SCHEMA_VERSION = "2"  # see syncd.store.migrations
BUILTIN_SPACE_ID = 1
BUILTIN_SPACE_UID = "aaaaaaaaaaaa"

lamindb = MetaData()

user = Table(
    "lamindb_user",
    lamindb,
    Column("id", Integer, primary_key=True),
    Column("uid", String(8), nullable=False, unique=True),
    Column("handle", String(30), nullable=False, unique=True),
    Column("name", String(150)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

space = Table(
    "lamindb_space",
    lamindb,
    Column("id", SmallInteger, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("uid", String(12), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by_id", Integer, ForeignKey("lamindb_user.id")),
)

branch = Table(
    "lamindb_branch",
    lamindb,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("uid", String(12), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("space_id", SmallInteger, ForeignKey("lamindb_space.id"), nullable=False),
    Column("created_by_id", Integer, ForeignKey("lamindb_user.id"), nullable=False),
    Column("_status_code", SmallInteger, nullable=False),
)

spaceblock = Table(
    "lamindb_spaceblock",
    lamindb,
    Column("version_tag", String(30)),
    Column("is_latest", Boolean, nullable=False),
    Column("id", row_id_type(), primary_key=True),
    Column("uid", String(20), nullable=False, unique=True),
    Column("content", Text, nullable=False),
    Column("hash", String(22)),
    Column("kind", String(22), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("space_id", SmallInteger, ForeignKey("lamindb_space.id"), nullable=False),
    Column("created_by_id", Integer, ForeignKey("lamindb_user.id"), nullable=False),
    Column("_status_code", SmallInteger, nullable=False),
    Column("branch_id", Integer, ForeignKey("lamindb_branch.id"), nullable=False),
    Column("created_on_id", Integer, ForeignKey("lamindb_branch.id"), nullable=False),
)

bookkeeping = MetaData()

meta = Table(
    "syncd_meta",
    bookkeeping,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

cursor = Table(
    "syncd_cursor",
    bookkeeping,
    Column("resource", String(32), primary_key=True),
    # every row stamped before this instant has been applied
    Column("complete_before", String(40)),
    # a pass in progress: the last position applied, verbatim as the hub spelled it
    Column("pass_ts_raw", String(64)),
    Column("pass_ts", String(40)),
    Column("pass_id", String(36)),
    # the earliest stamp the pass in progress may have missed (late commits)
    Column("pass_floor", String(40)),
    Column("last_hub_date", String(40)),
    Column("last_success", String(40)),
    Column("updated_at", String(40), nullable=False),
)

space_map = Table(
    "syncd_space_map",
    bookkeeping,
    Column("hub_id", String(36), primary_key=True),
    Column("local_id", Integer, nullable=False, unique=True),
    Column("uid", String(12), nullable=False, unique=True),
    Column("hub_updated_at", String(40), nullable=False),
    # set while a tombstoned space is kept because LaminDB records still reference it
    Column("tombstoned_at", String(40)),
    Column("adopted", Boolean, nullable=False, default=False),
)

block_map = Table(
    "syncd_block_map",
    bookkeeping,
    # keyed by the local id (on SQLite the rowid itself) with one index, on hub_id: a full sync
    # writes a map row per block, and every index is one more random B-tree insert per row. The
    # uid needs no index of its own: it is lamindb_spaceblock.uid of local_id, unique there.
    Column("local_id", row_id_type(), primary_key=True, autoincrement=False),
    Column("hub_id", String(36), nullable=False, unique=True),
    Column("uid", String(20), nullable=False),
    Column("hub_updated_at", String(40), nullable=False),
)

deferred = Table(
    "syncd_deferred",
    bookkeeping,
    Column("resource", String(32), nullable=False),
    Column("hub_id", String(36), nullable=False),
    Column("hub_updated_at", String(40), nullable=False),
    # the hub id of the space a deferred block waits for (None: retried every run)
    Column("waiting_for", String(36)),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("first_seen", String(40), nullable=False),
    Column("last_seen", String(40), nullable=False),
    PrimaryKeyConstraint("resource", "hub_id"),
)

quarantine = Table(
    "syncd_quarantine",
    bookkeeping,
    Column("resource", String(32), nullable=False),
    # the hub id when it parses, else a digest of the payload
    Column("row_key", String(64), nullable=False),
    Column("hub_updated_at", String(64)),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("first_seen", String(40), nullable=False),
    Column("last_seen", String(40), nullable=False),
    PrimaryKeyConstraint("resource", "row_key"),
)

space_gone = Table(
    "syncd_space_gone",
    bookkeeping,
    # hub spaces known to be deleted: their live blocks cannot exist locally and are skipped
    Column("hub_id", String(36), primary_key=True),
    Column("hub_updated_at", String(40), nullable=False),
)

unseen = Table(
    "syncd_unseen",
    bookkeeping,
    # live hub rows this instance knowingly lacks although its stream has gone past them: blocks
    # removed with their deleted space, and rows a --full listing found missing (for which the
    # stream was re-read once already); a listing that finds them missing again re-reads nothing
    Column("resource", String(32), nullable=False),
    Column("hub_id", String(36), nullable=False),
    PrimaryKeyConstraint("resource", "hub_id"),
)

user_alias = Table(
    "syncd_user_alias",
    bookkeeping,
    # hub accounts whose handle was already taken locally by another uid
    Column("uid", String(8), primary_key=True),
    Column("hub_handle", String(30), nullable=False),
    Column("local_handle", String(30), nullable=False),
)

in_step = Table(
    "syncd_in_step",
    bookkeeping,
    # per resource, the last pull that completed (read up to the hub's empty page): written in the
    # transaction that saves the cursor it completed, read by every replica and by the registry
    Column("resource", String(32), primary_key=True),
    # the hub's clock (its Date header) at the first page of that pull
    Column("pull_started", String(40), nullable=False),
    # the hub's clock minus the puller's local clock, measured at that first page
    Column("hub_offset_seconds", Float, nullable=False),
    Column("finished_at", String(40), nullable=False),
    # who pulled: the replica id (host:pid unless configured) and the hub URL (no token)
    Column("replica", String(200), nullable=False),
    Column("hub", String(500), nullable=False),
)


def map_table(description: ResourceDescription) -> Table:
    """The table linking hub id, uid and local id of a resource's rows (named by its description).

    Declared here or by the resource's module in :mod:`syncd.store.resources`, which is loaded
    before any of its rows is applied.
    """
    return bookkeeping.tables[description.map_table]
