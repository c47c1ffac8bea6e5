"""One description per resource: complete, in an order that respects dependencies, bound by every layer."""

from __future__ import annotations

import pytest

from syncd.core.models import Resource
from syncd.core.resources import DESCRIPTIONS, describe, parse_row
from syncd.core.sync import RESOURCES
from syncd.errors import RowRejected
from syncd.hub.phoenix import TABLES, resources_of
from syncd.hub.queries import resource_path
from syncd.hubsim.resources import EMULATED
from syncd.registry import registries
from syncd.registry.record import Record
from syncd.store import schema
from syncd.store.resources import BINDINGS
from tests.support.builders import block_row, space_row

ROWS = {Resource.SPACE: space_row(1), Resource.SPACE_BLOCK: block_row(1, 1)}


def test_every_resource_has_exactly_one_description() -> None:
    assert sorted(d.resource for d in DESCRIPTIONS) == sorted(Resource)
    for resource in Resource:
        assert describe(resource).resource is resource
        assert describe(resource).name == resource.value
        assert resource_path(resource) == describe(resource).path == f"/rest/v1/{resource.value}"


def test_the_engine_pulls_in_description_order_and_a_dependency_comes_first() -> None:
    assert tuple(d.resource for d in DESCRIPTIONS) == RESOURCES
    for position, description in enumerate(DESCRIPTIONS):
        if description.depends_on is not None:
            assert description.depends_on in RESOURCES[:position], description.name
    # a block waits for its space, named in its space_id column
    assert describe(Resource.SPACE_BLOCK).depends_on is Resource.SPACE
    assert describe(Resource.SPACE).depends_on is None


def test_a_dependency_is_named_by_one_of_the_rows_columns() -> None:
    for description in DESCRIPTIONS:
        assert (description.parent_column is None) == (description.depends_on is None)
        if description.parent_column is not None:
            assert description.parent_column in description.columns
        assert {"id", "lnid", "updated_at", "deleted_at"} <= set(description.columns)


@pytest.mark.parametrize("resource", list(Resource))
def test_parse_row_uses_the_resources_parser_and_gives_its_row_type(resource: Resource) -> None:
    row = parse_row(resource, ROWS[resource])
    assert isinstance(row, describe(resource).row_type)
    assert len(row.lnid) == describe(resource).lnid_length
    other = next(r for r in Resource if r is not resource)
    with pytest.raises(RowRejected):  # the other resource's row does not pass this one's parser
        parse_row(resource, ROWS[other])


def test_the_store_binds_every_description_to_its_tables() -> None:
    assert list(BINDINGS) == list(RESOURCES)
    for description in DESCRIPTIONS:
        bound = BINDINGS[description.resource]
        assert bound.description is description
        assert bound.map_table.name == description.map_table
        assert schema.map_table(description) is bound.map_table
        assert bound.table.name == description.lamindb_table
        assert bound.table is schema.lamindb.tables[description.lamindb_table]


def test_each_resource_is_found_by_its_modules_name_in_core_and_store() -> None:
    import importlib

    for resource in Resource:
        core = importlib.import_module(f"syncd.core.resources.{resource.value}")
        store = importlib.import_module(f"syncd.store.resources.{resource.value}")
        assert core.DESCRIPTION is describe(resource)
        assert store.BINDING is BINDINGS[resource]


def test_a_resource_listed_before_the_one_it_depends_on_is_refused_on_import() -> None:
    from syncd.core import resources

    with pytest.raises(ImportError, match="SPACE_BLOCK depends on 'space', which must come before it"):
        resources._in_pull_order(tuple(reversed(DESCRIPTIONS)))
    assert resources._in_pull_order(DESCRIPTIONS) == DESCRIPTIONS


def test_a_resource_module_without_its_description_is_refused_on_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    from syncd.core import resources

    empty = types.ModuleType("syncd.core.resources.space")
    monkeypatch.setattr(resources.importlib, "import_module", lambda name: empty)
    with pytest.raises(ImportError, match=r"syncd.core.resources.space must define DESCRIPTION"):
        resources._load(Resource.SPACE)


def test_the_emulator_binds_every_description_and_writes_only_its_columns() -> None:
    assert list(EMULATED) == list(RESOURCES)
    for description in DESCRIPTIONS:
        emulated = EMULATED[description.resource]
        assert emulated.description is description
        assert emulated.writable <= set(description.columns)
        assert set(emulated.required) <= emulated.writable
        assert set(emulated.defaults) <= emulated.writable
        assert emulated.scope_column in description.columns


def test_the_registry_has_a_model_for_every_description() -> None:
    synced = {
        model._hub_map.name: model
        for model in vars(registries).values()
        if isinstance(model, type) and issubclass(model, Record) and model._hub_map is not None
    }
    assert sorted(synced) == sorted(d.map_table for d in DESCRIPTIONS)
    for description in DESCRIPTIONS:
        assert synced[description.map_table]._table.name == description.lamindb_table


def test_realtime_follows_every_described_table() -> None:
    assert tuple(d.name for d in DESCRIPTIONS) == TABLES
    assert resources_of({"data": {}}) == RESOURCES
    assert resources_of({"data": {"table": "space_block"}}) == (Resource.SPACE_BLOCK,)


def test_a_store_module_without_its_binding_is_refused_on_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from syncd.store import resources

    empty = types.ModuleType("syncd.store.resources.space_block")
    monkeypatch.setattr(resources.importlib, "import_module", lambda name: empty)
    with pytest.raises(ImportError, match=r"syncd.store.resources.space_block must define BINDING"):
        resources._load(Resource.SPACE_BLOCK)


def test_blocks_go_with_their_space_and_nothing_else_does() -> None:
    from syncd.store.resources import dependents

    assert [b.description.resource for b in dependents(Resource.SPACE)] == [Resource.SPACE_BLOCK]
    assert BINDINGS[Resource.SPACE_BLOCK].parent_key == describe(Resource.SPACE_BLOCK).parent_column
    assert dependents(Resource.SPACE_BLOCK) == ()


def test_a_binding_whose_tables_are_not_declared_is_refused_on_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses
    import types

    from syncd.store import resources

    renamed = dataclasses.replace(describe(Resource.SPACE), map_table="syncd_nowhere_map")
    module = types.ModuleType("syncd.store.resources.space")
    module.BINDING = dataclasses.replace(BINDINGS[Resource.SPACE], description=renamed)  # type: ignore[attr-defined]
    monkeypatch.setattr(resources.importlib, "import_module", lambda name: module)
    with pytest.raises(ImportError, match="no table syncd_nowhere_map is declared"):
        resources._load(Resource.SPACE)
