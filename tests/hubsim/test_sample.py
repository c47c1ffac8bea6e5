"""Sample data: deterministic by seed, one latest version per stem, stamped in the past."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from syncd.hubsim import HubStore, ManualClock, generate_sample, populate

UNTIL = datetime(2025, 6, 1, tzinfo=UTC)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    one = generate_sample(spaces=6, blocks=80, seed=7, until=UNTIL)
    two = generate_sample(spaces=6, blocks=80, seed=7, until=UNTIL)
    other = generate_sample(spaces=6, blocks=80, seed=8, until=UNTIL)
    assert one == two
    assert one.blocks != other.blocks


def test_shape() -> None:
    sample = generate_sample(spaces=12, blocks=300, seed=1, until=UNTIL, content_size=400)
    assert len(sample.spaces) == 12
    assert len(sample.blocks) == 300
    names = [s["name"] for s in sample.spaces]
    assert len({n.casefold() for n in names}) == 12
    assert "Lab A" in names
    assert any(not n.isascii() for n in names)
    assert {b["kind"] for b in sample.blocks} == {"readme", "comment"}
    assert any(b["deleted_at"] is not None for b in sample.blocks)
    assert all(300 <= len(b["content"].encode()) <= 700 for b in sample.blocks)
    creators = {b["created_by"]["lnid"] for b in sample.blocks}
    assert 2 <= len(creators) <= 4
    assert all(len(c) == 8 for c in creators)
    space_ids = {s["id"] for s in sample.spaces}
    assert {b["space_id"] for b in sample.blocks} <= space_ids


def test_exactly_one_latest_version_per_stem() -> None:
    sample = generate_sample(spaces=3, blocks=200, seed=5, until=UNTIL)
    stems: dict[str, list[bool]] = defaultdict(list)
    for block in sample.blocks:
        stems[block["lnid"][:16]].append(block["is_latest"])
    assert all(flags.count(True) == 1 for flags in stems.values())
    assert any(len(flags) > 1 for flags in stems.values())


def test_stamps_are_in_the_past_with_ties_and_varied_precision() -> None:
    sample = generate_sample(spaces=5, blocks=400, seed=2, until=UNTIL)
    stamps = [r["updated_at"] for r in [*sample.spaces, *sample.blocks]]
    assert max(stamps) <= UNTIL
    assert len(set(stamps)) < len(stamps)  # some rows share one updated_at
    assert any(s.microsecond == 0 for s in stamps)
    assert any(s.microsecond % 1000 != 0 for s in stamps)
    assert all(r["created_at"] <= r["updated_at"] for r in [*sample.spaces, *sample.blocks])


def test_populate_loads_rows_before_the_store_clock() -> None:
    clock = ManualClock(UNTIL)
    store = HubStore(clock=clock)
    sample = populate(store, spaces=4, blocks=30, seed=3)
    assert store.count("space") == 4
    assert store.count("space_block") == 30
    newest = max(r["updated_at"] for r in store.rows("space_block"))
    assert newest <= UNTIL - timedelta(minutes=10)
    loaded = {str(r["id"]): r for r in store.rows("space_block")}
    for block in sample.blocks:
        row = loaded[str(block["id"])]
        assert row["updated_at"] == block["updated_at"]
        assert row["is_latest"] == block["is_latest"]
        assert row["hash"] is not None
