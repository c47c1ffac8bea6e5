"""The emulator's in-memory hub: spaces and blocks, stamped by an injectable clock.

Every mutation stamps ``updated_at`` with the clock's "now": create, update or
rename, soft delete (a tombstone: ``deleted_at`` set, ``updated_at`` bumped),
hard delete (the row vanishes), and a new block version (a new ``lnid`` on the
same 16-char stem; the previous latest version loses ``is_latest`` and is
bumped too). :meth:`HubStore.commit_late` writes a row stamped in the past that
only becomes visible now, as a late-committing hub transaction would.

Rows of each resource are kept in a :class:`~syncd.hubsim.tables.Table`,
sorted as the hub's queries read them; each row caches its JSON. What a new
row of each resource gets is said in :mod:`syncd.hubsim.resources`. All
methods are thread-safe.

Every write is told to the store's :class:`~syncd.hubsim.changes.ChangeFeed`
(``changes``), which the Realtime endpoint listens to; while its ``lag`` is
above zero, writes become visible to reads only that much later (a new row
still held back cannot be updated yet: ``KeyError``).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from syncd.core.models import Resource
from syncd.hubsim.changes import Change, ChangeFeed
from syncd.hubsim.clock import Clock, utc_now
from syncd.hubsim.columns import as_uuid, hash_content
from syncd.hubsim.query import Query
from syncd.hubsim.resources import DEFAULT_CREATOR, emulated
from syncd.hubsim.rows import Record, Spelling
from syncd.hubsim.tables import Table, Visibility

__all__ = ["DEFAULT_CREATOR", "HubStore", "Visibility"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _increment(suffix: str) -> str:
    digits = [_ALPHABET.index(c) for c in suffix]
    for i in reversed(range(len(digits))):
        digits[i] += 1
        if digits[i] < len(_ALPHABET):
            break
        digits[i] = 0
    return "".join(_ALPHABET[d] for d in digits)


class HubStore:
    """Spaces and space blocks, as the hub holds them.

    ``clock`` stamps every mutation (default: the real UTC clock). ``seed``
    makes generated ids and lnids reproducible. ``spelling`` decides how
    timestamps are written out (default canonical ``+00:00``, 6 digits).
    """

    def __init__(self, *, clock: Clock = utc_now, seed: int = 0, spelling: Spelling | None = None) -> None:
        self.clock = clock
        self.spelling = spelling or Spelling()
        # salted, so ids made here never repeat the sample generator's (which uses the same seed)
        self._rng = random.Random(f"hubsim-store-{seed}")
        self._lock = threading.RLock()
        self._tables = {resource: Table(emulated(resource).stem_length) for resource in Resource}
        self.changes = ChangeFeed()

    # -- reading ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The clock's current time, as aware UTC."""
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the hub clock returned a naive datetime")
        return moment.astimezone(UTC)

    def get(self, resource: Resource | str, row_id: uuid.UUID | str) -> dict[str, Any] | None:
        """A copy of one row's values, or ``None`` when it does not exist (or was hard-deleted)."""
        with self._lock:
            self._apply_held()
            record = self._tables[Resource(resource)].rows.get(as_uuid(row_id).int)
            return None if record is None else record.as_dict()

    def rows(self, resource: Resource | str) -> list[dict[str, Any]]:
        """Copies of every row of a resource, in ``(updated_at, id)`` order."""
        with self._lock:
            self._apply_held()
            table = self._tables[Resource(resource)]
            return [table.rows[key[1]].as_dict() for key in table.order]

    def count(self, resource: Resource | str) -> int:
        with self._lock:
            self._apply_held()
            return len(self._tables[Resource(resource)].rows)

    def select(self, resource: Resource | str, query: Query, visible: Visibility, cap: int) -> list[bytes]:
        """Serialised rows answering ``query`` for a token that sees ``visible``, at most ``cap``."""
        resource = Resource(resource)
        wanted = min(query.limit, cap)
        if wanted <= 0:
            return []
        with self._lock:
            self._apply_held()
            return self._tables[resource].select(query, visible, wanted)

    # -- mutations -------------------------------------------------------------------------------

    def create_space(
        self,
        name: str,
        *,
        description: str | None = None,
        created_by: Mapping[str, Any] | None = None,
        id: uuid.UUID | str | None = None,
        lnid: str | None = None,
    ) -> dict[str, Any]:
        """Create a space stamped now and return its values."""
        changes: dict[str, Any] = {"name": name, "description": description, "created_by": created_by}
        changes.update({k: v for k, v in (("id", id), ("lnid", lnid)) if v is not None})
        return self.write(Resource.SPACE, changes)

    def update_space(self, space_id: uuid.UUID | str, **changes: Any) -> dict[str, Any]:
        """Change a space's columns (``name``, ``description``, ...) and bump ``updated_at``.

        ``KeyError`` when the space does not exist.
        """
        return self.update(Resource.SPACE, space_id, **changes)

    def rename_space(self, space_id: uuid.UUID | str, name: str) -> dict[str, Any]:
        return self.update_space(space_id, name=name)

    def create_block(
        self,
        space_id: uuid.UUID | str,
        content: str,
        *,
        kind: str = "readme",
        version_tag: str | None = None,
        created_by: Mapping[str, Any] | None = None,
        id: uuid.UUID | str | None = None,
        lnid: str | None = None,
    ) -> dict[str, Any]:
        """Create the first version of a block (``lnid`` ends in ``0000``) stamped now."""
        changes: dict[str, Any] = {
            "space_id": space_id,
            "content": content,
            "kind": kind,
            "version_tag": version_tag,
            "created_by": created_by or DEFAULT_CREATOR,
        }
        changes.update({k: v for k, v in (("id", id), ("lnid", lnid)) if v is not None})
        return self.write(Resource.SPACE_BLOCK, changes)

    def update_block(self, block_id: uuid.UUID | str, **changes: Any) -> dict[str, Any]:
        """Change a block in place (``content``, ``kind``, ``version_tag``, ...); ``hash`` follows content.

        ``KeyError`` when the block does not exist.
        """
        return self.update(Resource.SPACE_BLOCK, block_id, **changes)

    def update(self, resource: Resource | str, row_id: uuid.UUID | str, **changes: Any) -> dict[str, Any]:
        """Change a row's columns and bump ``updated_at``; ``KeyError`` when the row does not exist."""
        with self._lock:
            self._require(Resource(resource), row_id)
            return self.write(resource, {**changes, "id": row_id})

    def new_block_version(
        self, block_id: uuid.UUID | str, content: str, *, version_tag: str | None = None
    ) -> dict[str, Any]:
        """Add a version after ``block_id``: same stem, next suffix, ``is_latest``; others lose it."""
        with self._lock:
            record = self._require(Resource.SPACE_BLOCK, block_id)
            base, table = record.values, self._tables[Resource.SPACE_BLOCK]
            stem = table.stem(record)
            suffixes = [table.rows[i].values["lnid"][len(stem) :] for i in table.stems[stem]]
            changes = {
                "space_id": base["space_id"],
                "content": content,
                "kind": base["kind"],
                "version_tag": version_tag,
                "created_by": base["created_by"],
                "lnid": stem + _increment(max(suffixes, key=lambda text: [_ALPHABET.index(c) for c in text])),
            }
            return self.write(Resource.SPACE_BLOCK, changes)

    def soft_delete(self, resource: Resource | str, row_id: uuid.UUID | str) -> dict[str, Any]:
        """Tombstone a row: ``deleted_at`` and ``updated_at`` set to now; ``KeyError`` if missing."""
        with self._lock:
            self._require(Resource(resource), row_id)
            return self.write(resource, {"id": row_id, "deleted_at": self.now()})

    def hard_delete(self, resource: Resource | str, row_id: uuid.UUID | str) -> None:
        """Remove a row without a tombstone; ``KeyError`` when it does not exist."""
        with self._lock:
            record = self._require(Resource(resource), row_id)
            self._tables[record.resource].remove(record)
            self.changes.emit(Change(record.resource, "DELETE", {"id": record.id}, self.now()))

    def commit_late(
        self, resource: Resource | str, row: Mapping[str, Any], age_seconds: float
    ) -> dict[str, Any]:
        """Insert or update a row stamped ``age_seconds`` ago that becomes visible only now.

        ``row`` holds the columns to write; with the ``id`` of an existing row
        it updates that row, otherwise it creates one (``name`` for a space;
        ``space_id`` and ``content`` for a block).
        """
        with self._lock:
            return self.write(resource, row, stamp=self.now() - timedelta(seconds=age_seconds))

    def bulk_import(
        self,
        n: int,
        *,
        space_id: uuid.UUID | str | None = None,
        content_size: int = 500,
        spread_seconds: float = 60.0,
        kind: str = "readme",
    ) -> list[uuid.UUID]:
        """Create ``n`` blocks stamped evenly over the last ``spread_seconds`` (0: one shared stamp).

        Without ``space_id`` a new space "Bulk import" is created for them.
        Returns the new block ids in stamp order.
        """
        with self._lock:
            if kind not in ("readme", "comment"):
                raise ValueError("kind: not 'readme' or 'comment'")
            target = as_uuid(space_id) if space_id is not None else self.create_space("Bulk import")["id"]
            now = self.now()
            step = timedelta(seconds=spread_seconds) / n if n and spread_seconds else timedelta(0)
            ids = [self._new_uuid() for _ in range(n)]
            padding = "x" * max(0, content_size - 24)
            records = []
            for i, block_id in enumerate(ids):
                stamp = now - step * (n - 1 - i)
                content = f"# Imported block {i}\n\n{padding}"
                # Generated here, so already valid: skip the per-row checks of write().
                values = {
                    "id": block_id,
                    "lnid": self._new_lnid(16) + "0000",
                    "space_id": target,
                    "content": content,
                    "hash": hash_content(content),
                    "kind": kind,
                    "version_tag": None,
                    "is_latest": True,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "deleted_at": None,
                    "created_by": DEFAULT_CREATOR,
                }
                records.append(Record(Resource.SPACE_BLOCK, values, self.spelling))
            self._tables[Resource.SPACE_BLOCK].insert_many(records)
            for record in records:
                self.changes.emit(Change(Resource.SPACE_BLOCK, "INSERT", record.values, now))
            return ids

    def load(self, resource: Resource | str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert complete rows with their own stamps (sample data); returns how many."""
        resource = Resource(resource)
        records = []
        for row in rows:
            changes = {k: v for k, v in row.items() if k not in ("updated_at", "hash")}
            stamp = emulated(resource).normalise({"created_at": row["updated_at"]})["created_at"]
            values = self._compose(resource, None, changes, stamp)
            records.append(Record(resource, values, self.spelling))
        with self._lock:
            self._tables[resource].insert_many(records)
        return len(records)

    def write(
        self, resource: Resource | str, changes: Mapping[str, Any], *, stamp: datetime | None = None
    ) -> dict[str, Any]:
        """Create a row, or update the row whose ``id`` is in ``changes``; stamped ``stamp`` or now.

        A new block version with ``is_latest`` (the default) takes it from the
        other versions of its stem, which are bumped with the same stamp.
        """
        resource = Resource(resource)
        with self._lock:
            self._apply_held()
            moment = self.now() if stamp is None else stamp
            base = None
            if "id" in changes:
                key = as_uuid(changes["id"]).int
                held = self.changes.held(lambda r: r.resource is resource and r.id.int == key)
                existing = self._tables[resource].rows.get(key)
                base = held.values if held is not None else None if existing is None else existing.values
            values = self._compose(resource, base, changes, moment)
            record = Record(resource, values, self.spelling)
            self.changes.emit(Change(resource, "INSERT" if base is None else "UPDATE", values, moment))
            if not self.changes.hold(record):
                self._commit(record)
            return record.as_dict()

    def _commit(self, record: Record) -> None:
        table = self._tables[record.resource]
        if table.stem_length is not None and record.values["is_latest"]:
            self._demote_siblings(table, record, record.values["updated_at"])
        existing = table.rows.get(record.id.int)
        if existing is not None:
            table.remove(existing)
        table.insert(record)

    def _apply_held(self) -> None:
        for record in self.changes.due():
            self._commit(record)

    # -- internals -------------------------------------------------------------------------------

    def _require(self, resource: Resource, row_id: uuid.UUID | str) -> Record:
        self._apply_held()
        record = self._tables[resource].rows.get(as_uuid(row_id).int)
        if record is None:
            raise KeyError(f"no {resource.value} with id {row_id}")
        return record

    def _new_uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    def _new_lnid(self, length: int) -> str:
        return "".join(self._rng.choices(_ALPHABET, k=length))

    def _compose(
        self, resource: Resource, base: Mapping[str, Any] | None, changes: Mapping[str, Any], stamp: datetime
    ) -> dict[str, Any]:
        kind = emulated(resource)
        normalised = kind.normalise(changes)
        if base is None:
            values: dict[str, Any] = {
                "id": normalised["id"] if "id" in normalised else self._new_uuid(),
                "created_at": stamp,
                "deleted_at": None,
                "created_by": None,
                **kind.defaults,
            }
            if "lnid" not in normalised:
                random_part = kind.description.lnid_length - len(kind.lnid_suffix)
                values["lnid"] = self._new_lnid(random_part) + kind.lnid_suffix
        else:
            values = dict(base)
        values.update(normalised)
        values["updated_at"] = stamp
        kind.complete(values)
        return values

    def _demote_siblings(self, table: Table, record: Record, stamp: datetime) -> None:
        for sibling_id in sorted(table.stems.get(table.stem(record), ())):
            sibling = table.rows[sibling_id]
            if sibling_id != record.id.int and sibling.values["is_latest"]:
                table.remove(sibling)
                demoted = {**sibling.values, "is_latest": False, "updated_at": stamp}
                table.insert(Record(record.resource, demoted, self.spelling))
