"""Retrying parked rows: a row that depends on another is retried only once that row is here."""

from __future__ import annotations

from syncd.core.models import Resource
from tests.support.applying import apply, counts, opened, query
from tests.support.builders import block_row, space_row

S, B = Resource.SPACE, Resource.SPACE_BLOCK


def test_a_block_waits_until_its_space_is_here_and_then_applies(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        assert counts(apply(store, B, [block_row(1, 5), block_row(2, 6)]), B) == {"deferred": 2}
        assert store.retry_parked(B).counts == {}  # neither space is here: nothing retried, nothing counted
        apply(store, S, [space_row(6)])
        assert counts(store.retry_parked(B), B) == {"inserted": 1}  # only the block whose space arrived
    waiting = query(sqlite_url, "SELECT waiting_for FROM syncd_deferred")
    assert len(waiting) == 1 and waiting[0][0].endswith("5")


def test_spaces_depend_on_nothing_and_retry_whatever_is_deferred(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, S, [space_row(1, name="Alpha")])
        # the second space wants a name the first still holds: deferred, waiting for no row in particular
        assert counts(apply(store, S, [space_row(2, name="Alpha", at=3)]), S) == {"deferred": 1}
        assert query(sqlite_url, "SELECT waiting_for FROM syncd_deferred") == [(None,)]
        apply(store, S, [space_row(1, at=4, deleted=True)])  # the name is free once the first is gone
        assert counts(store.retry_parked(S), S) == {"inserted": 1}
    assert query(sqlite_url, "SELECT count(*) FROM syncd_deferred") == [(0,)]
