"""Spaces from recorded hub pages into a real SQLite instance."""

import uuid
from datetime import timedelta, timezone

from sqlalchemy import text

from syncd.core.models import Resource
from syncd.store.instance import InstanceStore
from tests.support.applying import CursorState, apply, counts, opened, query, spaces
from tests.support.builders import space_row, stamp

S = Resource.SPACE


def test_new_spaces_are_inserted_with_stable_local_ids_and_renames_update_in_place(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        result = apply(store, S, [space_row(1), space_row(2)])
        assert counts(result, S) == {"inserted": 2}
        before = spaces(sqlite_url)
        result = apply(store, S, [space_row(1, name="Renamed", at=10)])
        assert counts(result, S) == {"updated": 1}
    after = spaces(sqlite_url)
    assert after["sp0000000001"] == (before["sp0000000001"][0], "Renamed")
    assert after["aaaaaaaaaaaa"] == (1, "all")


def test_the_version_applied_writes_nothing_and_one_stamped_older_is_the_current_state(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, name="New", at=10)])
        assert counts(apply(store, S, [space_row(1, name="New", at=10)]), S) == {"unchanged": 1}
        # a late commit stamps its transaction's start: served later, it is the hub's current state
        result = apply(store, S, [space_row(1, name="Later", at=5)])
        assert counts(result, S) == {"updated": 1}
    assert spaces(sqlite_url)["sp0000000001"][1] == "Later"


def test_a_name_swap_and_a_case_only_rename_in_one_page(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, name="Alpha"), space_row(2, name="Beta"), space_row(3, name="lab")])
        ids = {uid: i for uid, (i, _) in spaces(sqlite_url).items()}
        result = apply(
            store,
            S,
            [
                space_row(1, name="Beta", at=5),
                space_row(2, name="Alpha", at=5),
                space_row(3, name="LAB", at=5),
            ],
        )
        assert counts(result, S) == {"updated": 3}
    after = spaces(sqlite_url)
    assert after["sp0000000001"] == (ids["sp0000000001"], "Beta")
    assert after["sp0000000002"] == (ids["sp0000000002"], "Alpha")
    assert after["sp0000000003"] == (ids["sp0000000003"], "LAB")


def test_a_rename_onto_a_name_still_held_by_another_hub_space_waits_for_that_rename(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, name="Alpha"), space_row(2, name="Beta")])
        # page 1 of a swap: space 1 takes "Beta", space 2's rename comes in a later page
        first = apply(store, S, [space_row(1, name="Beta", at=5)])
        assert counts(first, S) == {"deferred": 1}
        assert spaces(sqlite_url)["sp0000000001"][1] == "Alpha"
        # the second half of the swap arrives: the parked half joins its batch, both apply
        second = apply(store, S, [space_row(2, name="Alpha", at=6)])
        assert counts(second, S) == {"updated": 2}
        assert counts(store.retry_parked(S), S) == {}
    after = spaces(sqlite_url)
    assert (after["sp0000000001"][1], after["sp0000000002"][1]) == ("Beta", "Alpha")
    assert query(sqlite_url, "SELECT count(*) FROM syncd_deferred") == [(0,)]


def test_a_name_or_uid_held_by_a_local_space_is_rejected_naming_both(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        store.conn.execute(_local_space("Local Lab", "loc000000001"))
        store.conn.commit()
        result = apply(
            store,
            S,
            [
                space_row(1, name="local lab"),
                space_row(2, lnid="loc000000001"),
                space_row(3, name="ALL"),
                space_row(4, lnid="aaaaaaaaaaaa"),
            ],
        )
        assert counts(result, S) == {"rejected": 4}
    reasons = dict(query(sqlite_url, "SELECT row_key, reason FROM syncd_quarantine"))
    assert "'Local Lab'" in reasons["00000000-0000-0000-0000-000000000001"]
    assert "on_name_conflict" in reasons["00000000-0000-0000-0000-000000000001"]
    assert "loc000000001" in reasons["00000000-0000-0000-0000-000000000002"]
    assert "built-in" in reasons["00000000-0000-0000-0000-000000000003"]
    assert "built-in" in reasons["00000000-0000-0000-0000-000000000004"]
    assert spaces(sqlite_url)["loc000000001"][1] == "Local Lab"
    assert spaces(sqlite_url)["aaaaaaaaaaaa"] == (1, "all")


def test_adopt_takes_over_the_local_row_keeping_its_id(sqlite_url: str) -> None:
    with opened(sqlite_url, on_name_conflict="adopt") as store:
        store.conn.execute(_local_space("Local Lab", "loc000000001"))
        store.conn.commit()
        local_id = spaces(sqlite_url)["loc000000001"][0]
        result = apply(store, S, [space_row(1, name="Local Lab")])
        assert counts(result, S) == {"updated": 1}
    assert spaces(sqlite_url)["sp0000000001"] == (local_id, "Local Lab")


def test_a_changed_lnid_for_the_same_id_is_rejected(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        result = apply(store, S, [space_row(1, lnid="zz0000000001", at=5)])
        assert counts(result, S) == {"rejected": 1}
    assert "sp0000000001" in spaces(sqlite_url)
    [(reason,)] = query(sqlite_url, "SELECT reason FROM syncd_quarantine")
    assert reason.startswith("lnid: changed from sp0000000001 to zz0000000001")


def test_bad_rows_are_quarantined_and_leave_when_the_hub_fixes_them(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        result = apply(store, S, [space_row(1, name=""), space_row(2)])
        assert counts(result, S) == {"rejected": 1, "inserted": 1}
        [(key, reason, payload)] = query(sqlite_url, "SELECT row_key, reason, payload FROM syncd_quarantine")
        assert reason.startswith("name:") and '"name": ""' in payload
        fixed = apply(store, S, [space_row(1, name="Fixed", at=5)])
        assert counts(fixed, S) == {"inserted": 1}
    assert query(sqlite_url, "SELECT count(*) FROM syncd_quarantine") == [(0,)]


def test_quarantine_compares_instants_whatever_the_offset_the_hub_spelled(sqlite_url: str) -> None:
    from tests.support.builders import T0

    def spelled(seconds: float, offset_hours: int) -> str:
        tz = timezone(timedelta(hours=offset_hours))
        return (T0 + timedelta(seconds=seconds)).astimezone(tz).isoformat(timespec="microseconds")

    with opened(sqlite_url) as store:
        # bad versions stamped at T0+10 s, spelled east and west of UTC, and one with no usable stamp
        apply(store, S, [
            space_row(1, name="", updated_at=spelled(10, 13)),
            space_row(2, name="", updated_at=spelled(10, -5)),
            space_row(3, name="", updated_at="yesterday"),
        ])
        stored = dict(query(sqlite_url, "SELECT row_key, hub_updated_at FROM syncd_quarantine"))
        assert sorted(stored.values(), key=str) == [stamp(10), stamp(10), None]  # UTC, canonical
        # a valid version served later is the hub's current state: it releases the bad one even when a
        # late commit stamped it older...
        apply(store, S, [space_row(2, name="Late", updated_at=spelled(5, 0))])
        assert query(sqlite_url, "SELECT count(*) FROM syncd_quarantine") == [(2,)]
        # ...and a newer one releases each entry, the one without a usable stamp included
        fixed = apply(store, S, [space_row(n, name=f"Fixed {n}", updated_at=spelled(20, 0)) for n in (1, 3)])
        assert counts(fixed, S) == {"inserted": 2}
    assert query(sqlite_url, "SELECT count(*) FROM syncd_quarantine") == [(0,)]


def test_quarantine_entries_in_the_hubs_spelling_are_released_too(sqlite_url: str) -> None:
    """Entries written before quarantine kept the canonical form hold the hub's own spelling."""
    from tests.support.builders import T0

    late_east = (T0 + timedelta(seconds=10)).astimezone(timezone(timedelta(hours=13, minutes=45)))
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, name="")])
    query_args = {"spelled": late_east.isoformat(timespec="microseconds")}
    from sqlalchemy import create_engine

    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE syncd_quarantine SET hub_updated_at = :spelled"), query_args)
    engine.dispose()
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, name="Fixed", at=20)])
    assert query(sqlite_url, "SELECT count(*) FROM syncd_quarantine") == [(0,)]


def test_tombstone_removes_an_unreferenced_space_with_its_blocks(sqlite_url: str) -> None:
    from tests.support.builders import block_row

    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1), space_row(2)])
        apply(store, Resource.SPACE_BLOCK, [block_row(1, 1), block_row(2, 2)])
        result = apply(store, S, [space_row(1, at=9, deleted=True)])
        assert counts(result, S) == {"deleted": 1}
        assert counts(result, Resource.SPACE_BLOCK) == {"deleted": 1}
    assert "sp0000000001" not in spaces(sqlite_url)
    assert query(sqlite_url, "SELECT count(*) FROM lamindb_spaceblock") == [(1,)]


def test_a_space_live_again_after_it_was_removed_sends_the_block_stream_back_to_the_start(
    sqlite_url: str,
) -> None:
    from syncd.core.results import Rescan
    from tests.support.builders import T0, block_row

    B = Resource.SPACE_BLOCK
    read_up_to = CursorState(complete_before=T0 + timedelta(hours=1))
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1), space_row(2)])
        apply(store, B, [block_row(1, 1), block_row(2, 2)])
        store.apply_page(B, [], [], read_up_to, None)
        removed = apply(store, S, [space_row(1, at=9, deleted=True)])
        fresh = apply(store, S, [space_row(2, name="Renamed", at=10), space_row(3, at=10)])
        assert removed.rescans == [] and fresh.rescans == []
        assert store.cursor(B) == read_up_to  # a removal, a rename, a new space: the stream goes on
        back = apply(store, S, [space_row(1, at=20)])
        assert counts(back, S) == {"inserted": 1}
        assert back.rescans == [Rescan(B, "space_restored", (str(uuid.UUID(int=1)),))]
        assert store.cursor(B) == CursorState()  # its blocks were never re-stamped: read them all again
        again = apply(store, B, [block_row(1, 1), block_row(2, 2)])
        assert counts(again, B) == {"inserted": 1, "unchanged": 1}
    assert query(sqlite_url, "SELECT count(*) FROM syncd_space_gone") == [(0,)]


def _reference_from_a_branch(store: InstanceStore, space_id: int) -> None:
    """A LaminDB record (branch 7) that references the space, committed."""
    store.conn.execute(
        text(
            "INSERT INTO lamindb_branch (id, name, uid, space_id, created_by_id) "
            "VALUES (7, 'feature', 'brbrbrbrbrbr', :s, 1)"
        ),
        {"s": space_id},
    )
    store.conn.commit()


def test_a_referenced_tombstoned_space_is_held_and_removed_once_free(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        local = spaces(sqlite_url)["sp0000000001"][0]
        _reference_from_a_branch(store, local)
        result = apply(store, S, [space_row(1, at=9, deleted=True)])
        assert result.held == ["sp0000000001"]
        assert spaces(sqlite_url)["sp0000000001"][0] == local
        assert store.retry_parked(S).held == ["sp0000000001"]
        store.conn.execute(text("DELETE FROM lamindb_branch WHERE id = 7"))
        store.conn.commit()
        freed = store.retry_parked(S)
        assert freed.held == [] and counts(freed, S) == {"deleted": 1}
    assert "sp0000000001" not in spaces(sqlite_url)
    # records were never re-pointed elsewhere
    assert query(sqlite_url, "SELECT count(*) FROM lamindb_branch WHERE space_id <> 1") == [(0,)]


def _local_space(name: str, uid: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from syncd.store.schema import space

    return insert(space).values(name=name, uid=uid)


def test_deleted_spaces_never_synced_here_are_remembered_together(sqlite_url: str) -> None:
    """A first sync meets every space the hub deleted: one page marks them all, and the blocks that
    waited for them are let go (remembered as unseen, not deferred for ever)."""
    from tests.support.builders import block_row

    B = Resource.SPACE_BLOCK
    waiting = [block_row(1, 7), block_row(2, 8), block_row(3, 8)]
    with opened(sqlite_url) as store:
        assert counts(apply(store, B, waiting), B) == {"deferred": 3}
        apply(store, S, [space_row(9, at=1, deleted=True)])  # already known as gone
        gone = apply(store, S, [space_row(n, at=5, deleted=True) for n in (6, 7, 8, 9)])
        assert counts(gone, S) == {"unchanged": 4}
        assert counts(apply(store, S, [space_row(1)]), S) == {"inserted": 1}
    assert sorted(query(sqlite_url, "SELECT hub_id, hub_updated_at FROM syncd_space_gone")) == sorted(
        [(str(uuid.UUID(int=n)), space_row(n, at=1 if n == 9 else 5)["updated_at"]) for n in (6, 7, 8, 9)]
    )
    assert query(sqlite_url, "SELECT count(*) FROM syncd_deferred") == [(0,)]
    assert sorted(query(sqlite_url, "SELECT hub_id FROM syncd_unseen")) == sorted((b["id"],) for b in waiting)


def test_a_name_the_hub_gave_away_is_released_by_the_held_space_that_had_it(sqlite_url: str) -> None:
    """Found by a soak: a live hub space waited for good for a name a held, deleted space kept."""
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, name="Shared")])
        local = spaces(sqlite_url)["sp0000000001"][0]
        _reference_from_a_branch(store, local)
        held = apply(store, S, [space_row(1, name="Shared", at=9, deleted=True)])
        assert held.held == ["sp0000000001"]
        # the hub gives the name to another space, in any case
        taken = apply(store, S, [space_row(2, name="SHARED", at=10)])
        assert counts(taken, S) == {"inserted": 1}
        assert store.retry_parked(S).held == ["sp0000000001"]  # still held, under another name
    names = {uid: name for uid, (_, name) in spaces(sqlite_url).items()}
    assert names["sp0000000002"] == "SHARED"
    assert names["sp0000000001"] == "Shared (deleted on the hub, sp0000000001)"
    assert spaces(sqlite_url)["sp0000000001"][0] == local  # the same row, still referenced
    assert query(sqlite_url, "SELECT count(*) FROM syncd_deferred") == [(0,)]


def test_a_name_held_by_a_space_whose_newest_version_is_quarantined_says_so(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, name="Alpha")])
        apply(store, S, [space_row(1, name="", at=5)])  # its rename arrives broken: quarantined
        waiting = apply(store, S, [space_row(2, name="Alpha", at=6)])
        assert counts(waiting, S) == {"deferred": 1}
        [(reason,)] = query(sqlite_url, "SELECT reason FROM syncd_deferred")
        assert reason.endswith("whose newest hub version is quarantined; waiting for the hub to fix it")
        # the hub fixes it: the name is free, and the waiting space takes it
        fixed = apply(store, S, [space_row(1, name="Gamma", at=7)])  # the parked space joins its batch
        assert counts(fixed, S) == {"updated": 1, "inserted": 1}
    names = {uid: name for uid, (_, name) in spaces(sqlite_url).items()}
    assert (names["sp0000000001"], names["sp0000000002"]) == ("Gamma", "Alpha")
