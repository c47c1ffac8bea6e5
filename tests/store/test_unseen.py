"""Live hub rows the stream went past without showing them, found by a complete key listing."""

from datetime import timedelta
from typing import Any

from syncd.core.listing import KeyListing
from syncd.core.models import Resource
from syncd.core.results import Rescan
from tests.support.applying import CursorState, apply, counts, opened, query
from tests.support.builders import T0, block_row, space_row

S, B = Resource.SPACE, Resource.SPACE_BLOCK
PASSED = CursorState(complete_before=T0 + timedelta(hours=1))  # every row stamped earlier was read


def listing(*rows: dict[str, Any]) -> KeyListing:
    """The key listing of these hub rows, as the hub serves it."""
    keys = KeyListing()
    keys.add_rows([{"id": r["id"], "lnid": r["lnid"], "updated_at": r["updated_at"]} for r in rows])
    return keys


def test_live_rows_the_stream_went_past_send_it_back_to_the_beginning_once(sqlite_url: str) -> None:
    synced, granted = space_row(1), space_row(2)  # both old; granted was never served to this token
    with opened(sqlite_url) as store:
        apply(store, S, [synced])
        store.apply_page(S, [], [], PASSED, None)
        result = store.reconcile(S, listing(synced, granted))
        assert result.rescans == [Rescan(S, "rows_missing", (granted["id"],))]
        assert store.cursor(S) == CursorState()
        # the stream read again without bringing it: the next listing knows it was looked for
        store.apply_page(S, [], [], PASSED, None)
        assert store.reconcile(S, listing(synced, granted)).rescans == []
        assert store.cursor(S) == PASSED
        # once it has arrived it is forgotten, so going missing again is news again
        apply(store, S, [granted])
        assert store.reconcile(S, listing(synced, granted)).rescans == []
        assert query(sqlite_url, "SELECT count(*) FROM syncd_unseen") == [(0,)]


def test_rows_stamped_since_complete_before_are_left_to_the_stream(sqlite_url: str) -> None:
    # committed while the listing was read, say: the stream's next pass serves them anyway
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        store.apply_page(S, [], [], PASSED, None)
        result = store.reconcile(S, listing(space_row(1), space_row(2, at=3600)))
        assert result.rescans == []
        assert store.cursor(S) == PASSED


def test_parked_rows_and_blocks_dropped_with_their_space_are_not_missing(sqlite_url: str) -> None:
    blocks = [
        block_row(1, 1),
        block_row(2, 2),
        block_row(3, 9),
        block_row(4, 1, kind="bogus"),
        block_row(5, 8),
    ]
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1), space_row(2)])
        parked = apply(store, B, blocks)
        assert counts(parked, B) == {"inserted": 2, "deferred": 2, "rejected": 1}
        # spaces 2 (synced) and 8 (awaited) are deleted on the hub; their blocks stay live there
        # but cannot exist here
        apply(store, S, [space_row(2, at=9, deleted=True), space_row(8, at=9, deleted=True)])
        store.apply_page(B, [], [], PASSED, None)
        result = store.reconcile(B, listing(*blocks))
        assert result.rescans == []
        assert store.cursor(B) == PASSED
    assert sorted(query(sqlite_url, "SELECT hub_id FROM syncd_unseen")) == [
        (blocks[1]["id"],),
        (blocks[4]["id"],),
    ]


def test_blocks_met_in_a_deleted_space_or_moved_into_one_are_not_missing(sqlite_url: str) -> None:
    # a first sync meets deleted spaces whose blocks are live on the hub: before, the first --full
    # after it read the whole block stream again for them
    moved = block_row(1, 1)
    born_homeless = block_row(2, 2)
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1), space_row(2, deleted=True)])
        apply(store, B, [moved, born_homeless])
        moved = block_row(1, 2, at=9)  # the hub moves it into the deleted space
        apply(store, B, [moved])
        store.apply_page(B, [], [], PASSED, None)
        result = store.reconcile(B, listing(moved, born_homeless))
        assert result.rescans == []
        assert store.cursor(B) == PASSED
    assert query(sqlite_url, "SELECT count(*) FROM lamindb_spaceblock") == [(0,)]


def test_without_stamps_or_a_finished_pass_a_listing_only_removes(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1), space_row(3)])
        # ids listed without stamps: nothing tells a missed row from one still to come
        result = store.reconcile(S, KeyListing(ids={space_row(1)["id"], space_row(2)["id"]}))
        assert counts(result, S) == {"deleted": 1}
        assert result.rescans == []
        # no finished pass yet: the stream is reading everything anyway
        assert store.reconcile(S, listing(space_row(1), space_row(2))).rescans == []
        assert store.cursor(S) == CursorState()


def test_a_listing_leaves_out_ids_that_are_not_uuids() -> None:
    keys = KeyListing()
    good = space_row(1)
    keys.add_rows([
        {"id": good["id"].upper(), "lnid": good["lnid"], "updated_at": good["updated_at"]},
        {"id": "x" * 80, "updated_at": good["updated_at"]},
        {"id": "caf\ud800", "updated_at": good["updated_at"]},
        {"id": None},
    ])
    assert keys.ids == {good["id"]} and keys.skipped == 3
