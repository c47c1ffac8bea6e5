"""Remembering live hub rows an instance lacks on purpose: once per id, whatever a page repeats."""

from __future__ import annotations

import pytest

from syncd.core.models import Resource
from syncd.store.unseen import remember_unseen
from tests.support.applying import opened, query

IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(6)]


@pytest.mark.parametrize(
    ("url_fixture", "json"), [("sqlite_url", True), ("sqlite_url", False), ("pg_url", True)]
)
def test_ids_are_remembered_once_per_resource(
    url_fixture: str, json: bool, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(url_fixture)
    with opened(url) as store, store.conn.begin():
        if not json:  # a SQLite without the JSON functions: plain IN lists and one INSERT per id
            store.conn.info["syncd.sqlite_json"] = False
        remember_unseen(store.conn, Resource.SPACE_BLOCK, [IDS[0], IDS[1], IDS[1]])
        remember_unseen(store.conn, Resource.SPACE_BLOCK, IDS[1:4])  # one new page repeats an id
        remember_unseen(store.conn, Resource.SPACE, [IDS[0]])  # the same id under another resource
        remember_unseen(store.conn, Resource.SPACE_BLOCK, [])
    rows = query(url, "SELECT resource, hub_id FROM syncd_unseen ORDER BY resource, hub_id")
    assert rows == [("space", IDS[0]), *(("space_block", i) for i in IDS[:4])]
