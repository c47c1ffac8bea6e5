"""One resource's rows in the emulator: both orders kept, versions indexed by stem, pages selected."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from syncd.core.models import Resource
from syncd.hubsim.query import parse_query
from syncd.hubsim.rows import Record, Spelling
from syncd.hubsim.tables import Table

START = datetime(2025, 1, 1, tzinfo=UTC)


def _block(n: int, seconds: int, lnid: str, space: int = 1) -> Record:
    stamp = START + timedelta(seconds=seconds)
    values = {
        "id": uuid.UUID(int=n), "lnid": lnid, "space_id": uuid.UUID(int=space), "content": "x", "hash": None,
        "kind": "readme", "version_tag": None, "is_latest": True, "created_at": stamp, "updated_at": stamp,
        "deleted_at": None, "created_by": None,
    }
    return Record(Resource.SPACE_BLOCK, values, Spelling())


def _ids(rows: list[bytes]) -> list[int]:
    return [uuid.UUID(json.loads(row)["id"]).int for row in rows]


def test_rows_are_selected_in_either_order_whatever_order_they_came_in() -> None:
    table = Table(stem_length=16)
    table.insert(_block(3, 1, "a" * 20))
    table.insert_many([_block(1, 3, "b" * 20), _block(2, 2, "c" * 20)])
    by_time = parse_query("select=*&order=updated_at.asc,id.asc&limit=10")
    by_id = parse_query("select=id,lnid,updated_at&deleted_at=is.null&order=id.asc&limit=10")
    assert _ids(table.select(by_time, "all", 10)) == [3, 2, 1]
    assert _ids(table.select(by_id, "all", 10)) == [1, 2, 3]
    assert _ids(table.select(by_time, "all", 2)) == [3, 2]
    assert table.select(by_time, frozenset({uuid.UUID(int=9)}), 10) == []  # another space's token


def test_versions_are_indexed_by_their_stem_until_removed() -> None:
    table = Table(stem_length=16)
    first, second = _block(1, 1, "s" * 16 + "0000"), _block(2, 2, "s" * 16 + "0001")
    table.insert_many([first, second])
    assert table.stems == {"s" * 16: {1, 2}}
    table.remove(first)
    assert table.stems == {"s" * 16: {2}} and list(table.rows) == [2] and table.ids == [2]
