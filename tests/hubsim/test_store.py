"""The emulator's store: mutations stamp updated_at, keyset pages never skip or repeat."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.core.timestamps import parse_rfc3339
from syncd.hubsim import HubStore, ManualClock, Spelling, hash_content
from syncd.hubsim import tables as hubsim_tables
from syncd.hubsim.query import parse_query
from syncd.hubsim.rows import micros

START = datetime(2025, 1, 1, 12, tzinfo=UTC)
ORDERED = "select=*&order=updated_at.asc,id.asc&limit={n}"


def page(store: HubStore, resource: str, query: str, cap: int = 1000) -> list[dict[str, Any]]:
    return [json.loads(row) for row in store.select(resource, parse_query(query), "all", cap)]


def after(row: dict[str, Any]) -> str:
    ts = row["updated_at"]
    return quote(f"(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{row['id']}))", safe="")


def walk(store: HubStore, resource: str, n: int, cap: int = 1000) -> list[dict[str, Any]]:
    """Every row through keyset pagination, echoing timestamps as served."""
    rows: list[dict[str, Any]] = []
    query = ORDERED.format(n=n)
    for _ in range(100_000):  # bounded: a broken keyset must fail, not hang
        got = page(store, resource, query, cap)
        if not got:
            return rows
        rows.extend(got)
        query = ORDERED.format(n=n) + "&or=" + after(got[-1])
    raise AssertionError("pagination did not end")


def walk_keys(store: HubStore, resource: str, n: int) -> list[str]:
    base = f"select=id,lnid,updated_at&deleted_at=is.null&order=id.asc&limit={n}"
    ids: list[str] = []
    query = base
    while got := page(store, resource, query):
        assert len(ids) < 1_000_000, "key listing did not end"
        ids.extend(r["id"] for r in got)
        query = f"{base}&id=gt.{got[-1]['id']}"
    return ids


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store(clock: ManualClock) -> HubStore:
    return HubStore(clock=clock, seed=1)


def expected_hash(content: str) -> str:
    digest = hashlib.md5(content.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:22]


@pytest.mark.parametrize("content", ["a", "# Title\n\nsome text", "ünïcödé 実験 🧪", "x" * 100_000])
def test_hash_matches_lamindb_hash_string(content: str) -> None:
    assert hash_content(content) == expected_hash(content)
    assert len(expected_hash(content)) == 22


def test_hash_of_empty_content_is_none(store: HubStore) -> None:
    space = store.create_space("Lab A")
    assert store.create_block(space["id"], "")["hash"] is None


def test_create_stamps_now_and_fills_columns(store: HubStore) -> None:
    space = store.create_space("Lab A", description="d")
    block = store.create_block(space["id"], "hello", kind="comment", version_tag="v1")
    assert space["created_at"] == space["updated_at"] == START
    assert len(space["lnid"]) == 12
    assert space["deleted_at"] is None
    assert len(block["lnid"]) == 20
    assert block["lnid"].endswith("0000")
    assert block["hash"] == expected_hash("hello")
    assert block["is_latest"] is True
    assert block["created_by"]["handle"]


def test_update_and_rename_bump_updated_at_only(store: HubStore, clock: ManualClock) -> None:
    space = store.create_space("Lab A")
    block = store.create_block(space["id"], "one")
    clock.advance(5)
    renamed = store.rename_space(space["id"], "Lab B")
    changed = store.update_block(block["id"], content="two")
    assert renamed["name"] == "Lab B"
    assert renamed["updated_at"] == changed["updated_at"] == START + timedelta(seconds=5)
    assert renamed["created_at"] == START
    assert changed["hash"] == expected_hash("two")
    with pytest.raises(KeyError):
        store.update_space(uuid.uuid4(), name="x")


def test_soft_delete_tombstones_and_keeps_row_listed(store: HubStore, clock: ManualClock) -> None:
    space = store.create_space("Lab A")
    block = store.create_block(space["id"], "text")
    clock.advance(1)
    store.soft_delete("space_block", block["id"])
    rows = walk(store, "space_block", 10)
    assert [r["id"] for r in rows] == [str(block["id"])]
    assert parse_rfc3339(rows[0]["deleted_at"]) == START + timedelta(seconds=1)
    assert parse_rfc3339(rows[0]["updated_at"]) == START + timedelta(seconds=1)
    assert walk_keys(store, "space_block", 10) == []


def test_hard_delete_makes_the_row_vanish(store: HubStore) -> None:
    space = store.create_space("Lab A")
    block = store.create_block(space["id"], "text")
    store.hard_delete("space_block", block["id"])
    assert store.get("space_block", block["id"]) is None
    assert walk(store, "space_block", 10) == []
    assert walk_keys(store, "space_block", 10) == []
    with pytest.raises(KeyError):
        store.hard_delete("space_block", block["id"])


def test_new_version_shares_stem_and_moves_is_latest(store: HubStore, clock: ManualClock) -> None:
    space = store.create_space("Lab A")
    first = store.create_block(space["id"], "v1")
    clock.advance(2)
    second = store.new_block_version(first["id"], "v2", version_tag="2")
    third = store.new_block_version(second["id"], "v3")
    assert second["lnid"][:16] == third["lnid"][:16] == first["lnid"][:16]
    assert [first["lnid"][16:], second["lnid"][16:], third["lnid"][16:]] == ["0000", "0001", "0002"]
    rows = {r["id"]: r for r in store.rows("space_block")}
    assert [rows[b["id"]]["is_latest"] for b in (first, second, third)] == [False, False, True]
    assert rows[first["id"]]["updated_at"] == START + timedelta(seconds=2)


def test_commit_late_is_visible_after_the_fact_with_an_old_stamp(store: HubStore, clock: ManualClock) -> None:
    space = store.create_space("Lab A")
    clock.advance(100)
    newest = store.create_block(space["id"], "served first")
    seen = walk(store, "space_block", 10)
    late = store.commit_late("space_block", {"space_id": space["id"], "content": "late"}, age_seconds=45)
    assert late["updated_at"] == START + timedelta(seconds=55)
    # A client asking only after the newest position it saw misses the late row...
    query = ORDERED.format(n=10) + "&or=" + after(seen[-1])
    assert page(store, "space_block", query) == []
    # ...while re-reading a lookback window finds it.
    since = quote((START + timedelta(seconds=40)).isoformat(), safe="")
    found = page(store, "space_block", ORDERED.format(n=10) + f"&updated_at=gte.{since}")
    assert [r["id"] for r in found] == [str(late["id"]), str(newest["id"])]


def test_commit_late_updates_an_existing_row(store: HubStore, clock: ManualClock) -> None:
    space = store.create_space("Lab A")
    clock.advance(60)
    row = store.commit_late("space", {"id": space["id"], "name": "Renamed"}, age_seconds=30)
    assert row["name"] == "Renamed"
    assert row["updated_at"] == START + timedelta(seconds=30)
    assert store.count("space") == 1


@pytest.mark.parametrize(("n", "cap"), [(1, 1000), (3, 1000), (7, 5), (1000, 4)])
def test_keyset_pagination_with_ties_never_skips_or_repeats(n: int, cap: int) -> None:
    store = HubStore(clock=ManualClock(START), seed=3, spelling=Spelling(seed=9))
    space = store.create_space("Lab A")
    store.bulk_import(40, space_id=space["id"], spread_seconds=0)  # 40 rows on one stamp
    store.bulk_import(25, space_id=space["id"], spread_seconds=3)
    rows = walk(store, "space_block", n, cap)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 65
    keys = [(micros(parse_rfc3339(r["updated_at"])), uuid.UUID(r["id"]).int) for r in rows]
    assert keys == sorted(keys)


def test_key_listing_walks_live_ids_in_order(store: HubStore) -> None:
    space = store.create_space("Lab A")
    ids = store.bulk_import(30, space_id=space["id"])
    store.soft_delete("space_block", ids[0])
    store.hard_delete("space_block", ids[1])
    listed = walk_keys(store, "space_block", 7)
    assert listed == sorted(str(i) for i in ids[2:])


def test_since_filter_includes_the_boundary_instant(store: HubStore, clock: ManualClock) -> None:
    space = store.create_space("Lab A")
    clock.advance(10)
    block = store.create_block(space["id"], "x")
    boundary = quote("2025-01-01T17:30:10+05:30", safe="")  # START + 10 s, another offset
    found = page(store, "space_block", ORDERED.format(n=10) + f"&updated_at=gte.{boundary}")
    assert [r["id"] for r in found] == [str(block["id"])]


def test_spelling_varies_but_keeps_the_instant() -> None:
    store = HubStore(clock=ManualClock(START), spelling=Spelling(seed=5))
    space = store.create_space("Lab A")
    store.bulk_import(200, space_id=space["id"], spread_seconds=10)
    rows = walk(store, "space_block", 1000)
    spellings = [r["updated_at"] for r in rows]
    assert {s[-6:] for s in spellings if not s.endswith("Z")} >= {"+00:00", "+05:30", "-03:00"}
    assert any(s.endswith("Z") for s in spellings)
    digits = {len(m[1]) if (m := re.search(r"\.(\d+)", s)) else 0 for s in spellings}
    assert len(digits) >= 3
    stored = {str(r["id"]): r["updated_at"] for r in store.rows("space_block")}
    assert all(parse_rfc3339(r["updated_at"]) == stored[r["id"]] for r in rows)
    again = HubStore(clock=ManualClock(START), spelling=Spelling(seed=5))
    again_space = again.create_space("Lab A")
    again.bulk_import(200, space_id=again_space["id"], spread_seconds=10)
    assert [r["updated_at"] for r in walk(again, "space_block", 1000)] == spellings


def test_default_spelling_is_canonical(store: HubStore) -> None:
    store.create_space("Lab A")
    assert page(store, "space", ORDERED.format(n=1))[0]["updated_at"] == "2025-01-01T12:00:00.000000+00:00"


def test_rejects_rows_outside_the_contract(store: HubStore) -> None:
    with pytest.raises(ValueError, match="name"):
        store.create_space("")
    space = store.create_space("Lab A")
    with pytest.raises(ValueError, match="kind"):
        store.create_block(space["id"], "x", kind="note")
    with pytest.raises(ValueError, match="not writable"):
        store.write("space", {"colour": "red", "name": "x"})


def test_naive_clock_is_refused() -> None:
    store = HubStore(clock=lambda: datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        store.create_space("Lab A")


def test_a_page_of_1000_from_100k_blocks_looks_at_its_rows_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyset page costs a binary search plus the rows it returns, wherever it starts.

    How long that takes is a benchmark figure (``benchmarks/hubsim_store_bench.py``);
    here the rows the page examines are counted.
    """
    store = HubStore(clock=ManualClock(START))
    space = store.create_space("Lab A")
    ids = store.bulk_import(100_000, space_id=space["id"], content_size=500)
    middle = store.get("space_block", ids[50_000])
    assert middle is not None
    ts = middle["updated_at"].isoformat()
    query = parse_query(ORDERED.format(n=1000) + "&or=" + after({"updated_at": ts, "id": str(middle["id"])}))
    examined: list[object] = []
    matches = hubsim_tables._matches

    def counted(record: Any, query: Any) -> bool:
        examined.append(record)
        return matches(record, query)

    monkeypatch.setattr(hubsim_tables, "_matches", counted)
    rows = store.select("space_block", query, "all", 1000)
    assert len(rows) == 1000
    assert json.loads(rows[0])["id"] == str(ids[50_001])
    assert len(examined) == 1000  # not the 50,000 rows before the position


def test_version_suffixes_keep_counting_past_letters(store: HubStore) -> None:
    space = store.create_space("Lab A")
    block = store.create_block(space["id"], "v", lnid="abcdefghijklmnop000y")
    lnids = [block["lnid"]]
    for i in range(3):
        block = store.new_block_version(block["id"], f"v{i}")
        lnids.append(block["lnid"])
    assert [lnid[16:] for lnid in lnids] == ["000y", "000z", "000A", "000B"]
    latest = {r["lnid"][16:]: r["is_latest"] for r in store.rows("space_block")}
    assert latest == {"000y": False, "000z": False, "000A": False, "000B": True}


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=8),
    n=st.integers(min_value=1, max_value=9),
    cap=st.integers(min_value=1, max_value=9),
    spelling=st.one_of(st.none(), st.integers(min_value=0, max_value=50)),
)
def test_keyset_walk_matches_the_total_order(
    sizes: list[int], n: int, cap: int, spelling: int | None
) -> None:
    clock = ManualClock(START)
    store = HubStore(clock=clock, seed=len(sizes), spelling=Spelling(spelling))
    space = store.create_space("Lab A")
    for size in sizes:  # each group shares one stamp, then the clock moves a little
        store.bulk_import(size, space_id=space["id"], spread_seconds=0)
        clock.advance(0.000_5)
    expected = [str(r["id"]) for r in store.rows("space_block")]
    assert [r["id"] for r in walk(store, "space_block", n, cap)] == expected
