"""One resource's rows in the emulator, kept in the orders the hub's queries read them in.

Rows are kept sorted by ``(updated_at, id)`` and by ``id`` (integer keys,
:mod:`bisect`), so a keyset page costs a binary search plus the rows it
returns. A versioned resource (blocks) also indexes its rows by lnid stem.
Not thread-safe on its own: :class:`syncd.hubsim.store.HubStore` holds its
lock around every call.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field
from typing import Literal

from syncd.hubsim.query import Query
from syncd.hubsim.rows import Record, micros

__all__ = ["Table", "Visibility"]

Visibility = frozenset[uuid.UUID] | Literal["all"]
"""What one token may see: a set of space ids, or every space."""


@dataclass
class Table:
    """The committed rows of one resource; ``stem_length`` set for a versioned one."""

    stem_length: int | None = None
    rows: dict[int, Record] = field(default_factory=dict)
    order: list[tuple[int, int]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    stems: dict[str, set[int]] = field(default_factory=dict)
    """The ids of the versions sharing each lnid stem (versioned resources only)."""

    def stem(self, record: Record) -> str:
        assert self.stem_length is not None
        return str(record.values["lnid"][: self.stem_length])

    def insert(self, record: Record) -> None:
        self.rows[record.id.int] = record
        insort(self.order, record.order_key)
        insort(self.ids, record.id.int)
        if self.stem_length is not None:
            self.stems.setdefault(self.stem(record), set()).add(record.id.int)

    def insert_many(self, records: list[Record]) -> None:
        """Insert (or replace) many records at once: one sort instead of an insort each."""
        for record in records:
            old = self.rows.get(record.id.int)
            if old is not None:
                self.remove(old)
        for record in records:
            self.rows[record.id.int] = record
            if self.stem_length is not None:
                self.stems.setdefault(self.stem(record), set()).add(record.id.int)
        self.order = sorted([*self.order, *(r.order_key for r in records)])
        self.ids = sorted([*self.ids, *(r.id.int for r in records)])

    def remove(self, record: Record) -> None:
        del self.rows[record.id.int]
        del self.order[bisect_left(self.order, record.order_key)]
        del self.ids[bisect_left(self.ids, record.id.int)]
        if self.stem_length is not None:
            self.stems[self.stem(record)].discard(record.id.int)

    def select(self, query: Query, visible: Visibility, wanted: int) -> list[bytes]:
        """Serialised rows answering ``query`` for a token that sees ``visible``, at most ``wanted``."""
        out: list[bytes] = []
        keys: list[tuple[int, int]] | list[int]
        if query.order == "updated_at":
            keys, start = self.order, self._start_by_time(query)
        else:
            start = 0 if query.id_after is None else bisect_right(self.ids, query.id_after.int)
            keys = self.ids
        rows = self.rows
        for position in range(start, len(keys)):
            key = keys[position]
            record = rows[key[1] if isinstance(key, tuple) else key]
            if _matches(record, query) and (visible == "all" or record.scope in visible):
                out.append(record.json(query.keys_only))
                if len(out) >= wanted:
                    break
        return out

    def _start_by_time(self, query: Query) -> int:
        start = 0
        if query.after is not None:
            start = bisect_right(self.order, (micros(query.after[0]), query.after[1].int))
        if query.since is not None:
            start = max(start, bisect_left(self.order, (micros(query.since), -1)))
        return start


def _matches(record: Record, query: Query) -> bool:
    """The full filter of ``query``; the bisect start only skips rows this would reject."""
    if query.live_only and record.deleted:
        return False
    if query.id_after is not None and record.id.int <= query.id_after.int:
        return False
    if query.since is not None and record.updated_micros < micros(query.since):
        return False
    return query.after is None or record.order_key > (micros(query.after[0]), query.after[1].int)
