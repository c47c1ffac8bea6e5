"""The emulator's binding of each resource: what a new row gets, what may be written, what is served."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from syncd.core.models import Resource
from syncd.core.resources import describe
from syncd.hubsim import HubStore, ManualClock
from syncd.hubsim.query import parse_query
from syncd.hubsim.resources import DEFAULT_CREATOR, emulated

START = datetime(2025, 1, 1, 12, tzinfo=UTC)


def _store() -> HubStore:
    return HubStore(clock=ManualClock(START), seed=3)


def _new_rows(store: HubStore) -> dict[Resource, dict[str, object]]:
    space = store.create_space("Lab")
    return {Resource.SPACE: space, Resource.SPACE_BLOCK: store.create_block(space["id"], "# hi")}


@pytest.mark.parametrize("resource", list(Resource))
def test_a_new_row_gets_the_resources_defaults_and_an_lnid_of_its_length(resource: Resource) -> None:
    row = _new_rows(_store())[resource]
    kind = emulated(resource)
    assert {column: row[column] for column in kind.defaults} == dict(kind.defaults)
    lnid = str(row["lnid"])
    assert len(lnid) == describe(resource).lnid_length and lnid.endswith(kind.lnid_suffix)


@pytest.mark.parametrize("resource", list(Resource))
def test_rows_are_served_with_exactly_the_described_columns_in_order(resource: Resource) -> None:
    store = _store()
    _new_rows(store)
    [served] = store.select(resource, parse_query("select=*&order=updated_at.asc,id.asc&limit=5"), "all", 5)
    assert tuple(json.loads(served)) == describe(resource).columns


def test_a_new_row_without_a_required_column_is_refused_naming_it() -> None:
    store = _store()
    with pytest.raises(ValueError, match="missing column.*space_block: space_id, content"):
        store.write(Resource.SPACE_BLOCK, {"kind": "readme"})
    with pytest.raises(ValueError, match="missing column.*space: name"):
        store.write(Resource.SPACE, {"description": "x"})


def test_only_writable_columns_may_be_written() -> None:
    store = _store()
    space = store.create_space("Lab")
    with pytest.raises(ValueError, match="not writable on space: hash, space_id"):
        store.update(Resource.SPACE, space["id"], space_id=str(uuid.UUID(int=1)), hash="x")
    assert store.update(Resource.SPACE, space["id"], name="Renamed")["name"] == "Renamed"


def test_derived_columns_and_scope_follow_the_binding() -> None:
    store = _store()
    rows = _new_rows(store)
    block = store.update(Resource.SPACE_BLOCK, rows[Resource.SPACE_BLOCK]["id"], content="")
    assert block["hash"] is None  # the hub computes the hash from the content: none for empty content
    assert block["created_by"] == DEFAULT_CREATOR
    space_id = rows[Resource.SPACE]["id"]
    assert isinstance(space_id, uuid.UUID)
    query = parse_query("select=*&order=updated_at.asc,id.asc&limit=5")
    for resource in Resource:  # a token that sees the space sees the space and its block
        assert len(store.select(resource, query, frozenset({space_id}), 5)) == 1
        assert store.select(resource, query, frozenset({uuid.UUID(int=9)}), 5) == []


def test_only_a_versioned_resource_has_versions_and_bulk_imports() -> None:
    assert [r for r in Resource if emulated(r).versioned] == [Resource.SPACE_BLOCK]
    assert [r for r in Resource if emulated(r).bulk_import] == [Resource.SPACE_BLOCK]
