"""Space blocks from recorded hub pages into a real SQLite instance."""

import json
import uuid

from sqlalchemy import create_engine, text

from syncd.core.models import Resource
from tests.support.applying import apply, counts, opened, query
from tests.support.builders import CREATOR, block_row, space_row

S, B = Resource.SPACE, Resource.SPACE_BLOCK


def test_blocks_land_on_their_spaces_with_creators_on_the_main_branch(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        result = apply(store, B, [block_row(1, 1, content="hello\n"), block_row(2, 1, content="")])
        assert counts(result, B) == {"inserted": 2}
    rows = query(
        sqlite_url,
        """
        SELECT b.uid, b.hash, b.kind, b.is_latest, b.branch_id, b.created_on_id, b._status_code,
               s.uid, u.handle, b.created_at
        FROM lamindb_spaceblock b JOIN lamindb_space s ON s.id = b.space_id
        JOIN lamindb_user u ON u.id = b.created_by_id ORDER BY b.uid""",
    )
    assert rows[0][:9] == (
        "bl000000000000010000",
        "sZRqySSS0jR8YjW00mERhA",
        "readme",
        1,
        1,
        1,
        0,
        "sp0000000001",
        "alice",
    )
    assert rows[1][1] is None
    # Django's SQLite datetime form: UTC, a space, six fractional digits
    assert rows[0][9] == "2026-03-01 12:00:00.000000"


def test_a_block_moved_into_a_deleted_space_leaves_the_space_it_was_in(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1), space_row(2)])
        apply(store, B, [block_row(1, 1), block_row(2, 1)])
        apply(store, S, [space_row(2, at=5, deleted=True)])  # space 2 goes
        # the hub moves block 1 into the deleted space: it is in no live space any more
        moved = apply(store, B, [block_row(1, 2, at=9)])
        assert counts(moved, B) == {"deleted": 1}
        again = apply(store, B, [block_row(1, 2, at=9)])  # the same version re-read in the lookback
        assert counts(again, B) == {"unchanged": 1}
    assert query(sqlite_url, "SELECT uid FROM lamindb_spaceblock") == [("bl000000000000020000",)]
    assert query(sqlite_url, "SELECT count(*) FROM syncd_block_map") == [(1,)]
    # live on the hub, absent here on purpose: a --full listing must not re-read the stream for it
    assert query(sqlite_url, "SELECT hub_id FROM syncd_unseen") == [(block_row(1, 2)["id"],)]


def test_blocks_first_seen_in_a_deleted_space_are_remembered_as_absent_on_purpose(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1), space_row(2, deleted=True)])
        result = apply(store, B, [block_row(1, 1), block_row(2, 2), block_row(3, 2, deleted=True)])
        assert counts(result, B) == {"inserted": 1, "unchanged": 2}
    assert query(sqlite_url, "SELECT hub_id FROM syncd_unseen") == [(block_row(2, 2)["id"],)]


def test_a_block_before_its_space_is_deferred_then_applied(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        early = apply(store, B, [block_row(1, 5)])
        assert counts(early, B) == {"deferred": 1}
        assert query(sqlite_url, "SELECT count(*) FROM lamindb_spaceblock") == [(0,)]
        apply(store, S, [space_row(5)])
        late = store.retry_parked(B)
        assert counts(late, B) == {"inserted": 1}
    assert query(sqlite_url, "SELECT count(*) FROM syncd_deferred") == [(0,)]
    assert query(sqlite_url, "SELECT uid FROM lamindb_spaceblock") == [("bl000000000000010000",)]


def test_a_deferred_row_that_fails_validation_on_retry_moves_to_quarantine(sqlite_url: str) -> None:
    # deferred by an older syncd whose checks let it through (a lone surrogate in version_tag)
    with opened(sqlite_url) as store:
        assert counts(apply(store, B, [block_row(1, 5)]), B) == {"deferred": 1}
    payload = json.dumps({**block_row(1, 5), "version_tag": "v\ud800"})
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE syncd_deferred SET payload = :p"), {"p": payload})
    engine.dispose()
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(5)])
        result = store.retry_parked(B)
        assert counts(result, B) == {}
        assert store.retry_parked(B).counts == {}  # not tried again: it left the deferred rows
    assert query(sqlite_url, "SELECT count(*) FROM syncd_deferred") == [(0,)]
    reasons = query(sqlite_url, "SELECT reason FROM syncd_quarantine")
    assert [r[0].split(":")[0] for r in reasons] == ["version_tag"]


def test_a_row_with_a_lone_surrogate_is_quarantined_and_the_page_applies(sqlite_url: str) -> None:
    bad = {**block_row(2, 1), "content": "caf\ud800"}  # JSON "\\ud800": no UTF-8 for it
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        assert counts(apply(store, B, [block_row(1, 1), bad]), B) == {"inserted": 1, "rejected": 1}
    [(payload, reason)] = query(sqlite_url, "SELECT payload, reason FROM syncd_quarantine")
    assert reason.startswith("content: not valid Unicode")
    assert json.loads(payload)["content"] == "caf\ud800"  # kept exactly, escaped in the stored text


def test_versions_update_in_place_and_tombstones_delete(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        apply(store, B, [block_row(1, 1, version=0), block_row(2, 1)])
        local_id = query(sqlite_url, "SELECT id FROM lamindb_spaceblock WHERE uid = 'bl000000000000010000'")
        result = apply(
            store,
            B,
            [
                block_row(1, 1, version=0, is_latest=False, at=5),
                block_row(1, 1, version=1, content="v2", at=5),
                block_row(2, 1, at=6, deleted=True),
            ],
        )
        assert counts(result, B) == {"updated": 1, "inserted": 1, "deleted": 1}
    assert (
        query(sqlite_url, "SELECT id FROM lamindb_spaceblock WHERE uid = 'bl000000000000010000'") == local_id
    )
    assert dict(query(sqlite_url, "SELECT uid, is_latest FROM lamindb_spaceblock")) == {
        "bl000000000000010000": 0,
        "bl000000000000010001": 1,
    }


def test_a_uid_freed_by_a_tombstone_goes_to_a_new_block_on_the_same_page(sqlite_url: str) -> None:
    """The page's lookups run before its deletes: a uid a tombstone frees must count as free."""
    old = block_row(1, 1)
    successor = {**block_row(1, 1, content="successor", at=6), "id": str(uuid.UUID(int=99))}
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        apply(store, B, [old])
        result = apply(store, B, [block_row(1, 1, at=5, deleted=True), successor])
        assert counts(result, B) == {"deleted": 1, "inserted": 1}
    assert query(sqlite_url, "SELECT uid, content FROM lamindb_spaceblock") == [
        ("bl000000000000010000", "successor")
    ]
    assert query(sqlite_url, "SELECT hub_id FROM syncd_block_map") == [(successor["id"],)]
    assert query(sqlite_url, "SELECT count(*) FROM syncd_quarantine") == [(0,)]


def test_existing_users_are_never_rewritten_and_taken_handles_get_a_documented_alias(sqlite_url: str) -> None:
    other = {"lnid": "usr00002", "handle": "alice", "name": "Another Alice"}
    renamed = {**CREATOR, "handle": "alice-renamed", "name": "New Name"}
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        apply(
            store,
            B,
            [block_row(1, 1), block_row(2, 1, created_by=other), block_row(3, 1, created_by=renamed)],
        )
    users = dict(query(sqlite_url, "SELECT uid, handle FROM lamindb_user"))
    assert users == {"00000000": "anonymous", "usr00001": "alice", "usr00002": "alice~usr00002"}
    assert query(sqlite_url, "SELECT uid, hub_handle, local_handle FROM syncd_user_alias") == [
        ("usr00002", "alice", "alice~usr00002")
    ]


def test_a_bad_block_is_quarantined_without_holding_up_the_page(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1)])
        result = apply(store, B, [block_row(1, 1, hash="AAAAAAAAAAAAAAAAAAAAAA"), block_row(2, 1)])
        assert counts(result, B) == {"rejected": 1, "inserted": 1}
        fixed = apply(store, B, [block_row(1, 1, at=3)])
        assert counts(fixed, B) == {"inserted": 1}
    assert query(sqlite_url, "SELECT count(*) FROM syncd_quarantine") == [(0,)]


def test_blocks_of_a_space_deleted_on_the_hub_are_skipped_not_parked(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, deleted=True)])
        result = apply(store, B, [block_row(1, 1)])
        assert counts(result, B) == {"unchanged": 1}
    assert query(sqlite_url, "SELECT count(*) FROM syncd_deferred") == [(0,)]
