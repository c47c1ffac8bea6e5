"""Pages share one transaction until it is full: nothing of them is visible or counted before the commit.

Consecutive pages of one resource are applied together (``store.batch``): as
page by page, the last version served wins and a rejection a later page
supersedes is not kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import syncd.store.batch as batch
from syncd.core.models import HubRow, Resource
from syncd.core.resources import parse_row
from syncd.core.results import Rejection
from syncd.store.context import ApplyContext
from syncd.store.share import ROOMY_GROUP, share_of
from tests.support.applying import counts, opened, query
from tests.support.builders import block_row, space_row

S, B = Resource.SPACE, Resource.SPACE_BLOCK


def _page(n: int) -> list[object]:
    return [parse_row(S, space_row(n))]


def test_pages_wait_for_the_commit_with_their_cursor_and_counts(sqlite_url: str) -> None:
    with opened(sqlite_url, transaction_rows=1000) as store:
        state = store.cursor(S)
        for n in (1, 2):
            assert store.apply_page(S, _page(n), [], state, None).counts == {}  # nothing committed yet
        assert query(sqlite_url, "SELECT count(*) FROM syncd_space_map") == [(0,)]
        done = store.commit()
        assert counts(done, S) == {"inserted": 2}
        assert store.commit().counts == {}  # reported once
    assert query(sqlite_url, "SELECT count(*) FROM syncd_space_map") == [(2,)]
    assert query(sqlite_url, "SELECT count(*) FROM syncd_cursor WHERE resource = 'space'") == [(1,)]


def test_a_full_batch_commits_with_the_page_that_fills_it(sqlite_url: str) -> None:
    with opened(sqlite_url, transaction_rows=2) as store:
        state = store.cursor(S)
        assert store.apply_page(S, _page(1), [], state, None).counts == {}
        assert counts(store.apply_page(S, _page(2), [], state, None), S) == {"inserted": 2}
        assert query(sqlite_url, "SELECT count(*) FROM syncd_space_map") == [(2,)]


def test_another_call_commits_the_open_batch_and_reports_it_with_its_own_result(sqlite_url: str) -> None:
    with opened(sqlite_url, transaction_rows=1000) as store:
        store.apply_page(S, _page(1), [], store.cursor(S), None)
        result = store.retry_parked(S)  # commits the batch first: its counts come with this result
        assert counts(result, S) == {"inserted": 1}


def _applied_together(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Resource, int]]:
    """(resource, rows) of every call that applies held pages, from now on."""
    calls: list[tuple[Resource, int]] = []
    real = batch.apply_rows

    def spy(conn: Any, resource: Resource, rows: Sequence[HubRow], ctx: ApplyContext) -> Any:
        calls.append((resource, len(rows)))
        return real(conn, resource, rows, ctx)

    monkeypatch.setattr(batch, "apply_rows", spy)
    return calls


def _blocks(first: int, n: int) -> list[HubRow]:
    return [parse_row(B, block_row(k, 1)) for k in range(first, first + n)]


def test_pages_are_held_until_enough_rows_to_apply_them_in_one_go(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _applied_together(monkeypatch)
    size = batch.APPLY_ROWS * 2 // 5  # two pages hold less than APPLY_ROWS, three more
    with opened(sqlite_url, transaction_rows=100_000) as store:
        state = store.cursor(S)
        store.apply_page(S, _page(1), [], state, None)
        store.commit()
        for first in (1, size + 1, 2 * size + 1):
            store.apply_page(B, _blocks(first, size), [], state, None)
        assert calls == [(S, 1), (B, 3 * size)]  # the third page filled the batch: all three in one go
        store.apply_page(B, _blocks(3 * size + 1, 7), [], state, None)
        assert calls == [(S, 1), (B, 3 * size)]  # held until the commit
        assert counts(store.commit(), B) == {"inserted": 3 * size + 7}
        assert calls == [(S, 1), (B, 3 * size), (B, 7)]
    assert query(sqlite_url, "SELECT count(*) FROM lamindb_spaceblock") == [(3 * size + 7,)]


def test_an_instance_of_a_larger_group_applies_each_page_as_it_comes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held pages cost memory in every instance at once: only a small group's instances hold them."""
    calls = _applied_together(monkeypatch)
    with opened(sqlite_url, share=share_of(ROOMY_GROUP + 1), transaction_rows=100_000) as store:
        state = store.cursor(S)
        store.apply_page(S, _page(1), [], state, None)
        store.apply_page(B, _blocks(1, 3), [], state, None)
        store.apply_page(B, _blocks(4, 3), [], state, None)
        assert calls == [(S, 1), (B, 3), (B, 3)]
        assert counts(store.commit(), B) == {"inserted": 6}


def test_a_page_of_another_resource_applies_the_held_pages_first(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _applied_together(monkeypatch)
    with opened(sqlite_url, transaction_rows=100_000) as store:
        state = store.cursor(S)
        store.apply_page(S, _page(1), [], state, None)
        store.apply_page(B, _blocks(1, 3), [], state, None)
        assert calls == [(S, 1)]  # the space went in before the blocks were taken
        store.commit()
        assert calls == [(S, 1), (B, 3)]
    assert query(sqlite_url, "SELECT count(*) FROM lamindb_spaceblock WHERE space_id IS NOT NULL") == [(3,)]


def test_the_version_served_last_wins_across_held_pages_even_when_stamped_older(sqlite_url: str) -> None:
    """A late commit re-stamps a row older: the later page serves the hub's current state."""
    newer = parse_row(B, block_row(1, 1, content="served first", at=20.0))
    older = parse_row(B, block_row(1, 1, content="served last", at=10.0))
    with opened(sqlite_url, transaction_rows=100_000) as store:
        state = store.cursor(S)
        store.apply_page(S, _page(1), [], state, None)
        store.apply_page(B, [newer], [], state, None)
        store.apply_page(B, [older], [], state, None)
        store.commit()
    assert query(sqlite_url, "SELECT content FROM lamindb_spaceblock") == [("served last",)]


def _rejected(n: int) -> Rejection:
    raw = block_row(n, 1, content="tampered")
    raw["hash"] = "not-the-hash"
    return Rejection(raw, "hash: does not match the content")


def test_a_rejection_that_a_later_held_page_serves_valid_is_not_kept(sqlite_url: str) -> None:
    with opened(sqlite_url, transaction_rows=100_000) as store:
        state = store.cursor(S)
        store.apply_page(S, _page(1), [], state, None)
        store.apply_page(B, [], [_rejected(1)], state, None)
        store.apply_page(B, _blocks(1, 1), [], state, None)
        assert counts(store.commit(), B) == {"inserted": 1}
    assert query(sqlite_url, "SELECT count(*) FROM syncd_quarantine") == [(0,)]
    assert query(sqlite_url, "SELECT count(*) FROM lamindb_spaceblock") == [(1,)]


def test_a_rejection_served_after_a_valid_version_is_kept_and_the_valid_one_applied(sqlite_url: str) -> None:
    with opened(sqlite_url, transaction_rows=100_000) as store:
        state = store.cursor(S)
        store.apply_page(S, _page(1), [], state, None)
        store.apply_page(B, _blocks(1, 1), [], state, None)
        store.apply_page(B, [], [_rejected(1)], state, None)
        assert counts(store.commit(), B) == {"inserted": 1, "rejected": 1}
    assert query(sqlite_url, "SELECT reason FROM syncd_quarantine") == [("hash: does not match the content",)]
    assert query(sqlite_url, "SELECT content FROM lamindb_spaceblock") == [("# Block 1\n\nsome text",)]
