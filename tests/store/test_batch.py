"""Pages share one transaction until it is full: nothing of them is visible or counted before the commit."""

from __future__ import annotations

from syncd.core.models import Resource
from syncd.core.resources import parse_row
from tests.support.applying import counts, opened, query
from tests.support.builders import space_row

S = Resource.SPACE


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
