"""Writes: local records may be saved and deleted; rows the hub owns may not; LaminDB's delete rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from syncd import registry
from syncd.registry import (
    FeatureValue,
    HubOwnedError,
    InvalidArgument,
    ReadOnlyRegistryError,
    Space,
    SpaceBlock,
    User,
)
from syncd.registry.writes import hash_string
from tests.support.registry_fixture import make_instance, sqlite_instance


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[registry.Instance]:
    opened = registry.connect(sqlite_instance(tmp_path))
    yield opened
    registry.disconnect()


def test_hub_owned_rows_refuse_save_and_delete(fresh: registry.Instance) -> None:
    lab = Space.get(2)
    lab.name = "renamed"
    with pytest.raises(HubOwnedError, match="'QQ00aaaaaaaa'.*the hub, which owns it"):
        lab.save()
    with pytest.raises(HubOwnedError):
        lab.delete()
    with pytest.raises(HubOwnedError):
        SpaceBlock.get(3).delete(permanent=True)
    with pytest.raises(HubOwnedError):
        Space.filter(id__in=[3, 8]).delete()
    assert Space.get(2).name == "Lab A"
    assert Space.get(3).name == "Lab-A"  # the batch was refused as a whole


def test_local_space_round_trip_with_laminDB_warning(fresh: registry.Instance) -> None:
    with capture_logs() as logs:
        made = Space(name="Local lab", description="mine").save()
    assert [e["event"] for e in logs] == ["registry.space.created"]
    assert "demo purposes" in logs[0]["note"]
    assert made.id is not None and len(made.uid) == 12
    made.description = "changed"
    made.save()
    assert Space.get(name="Local lab").description == "changed"
    made.delete()
    assert not Space.filter(name="Local lab").exists()


def test_a_name_taken_in_any_case_is_refused_clearly(fresh: registry.Instance) -> None:
    with pytest.raises(registry.FieldError, match="cannot save Space: UNIQUE constraint failed"):
        Space(name="OPS").save()
    local = Space(name="Local").save()
    local.name = "ops"
    with pytest.raises(registry.FieldError, match="cannot save Space"):
        local.save()
    assert Space.get(local.id).name == "Local"


def test_local_space_in_a_plain_laminDB_instance_without_syncd_tables(tmp_path: Path) -> None:
    url = sqlite_instance(tmp_path, hub_owned=False)
    registry.connect(url)
    try:
        lab = Space.get(2)  # no syncd_space_map rows: nothing is hub-owned
        lab.description = "edited locally"
        lab.save()
        assert Space.get(2).description == "edited locally"
    finally:
        registry.disconnect()


def test_delete_permanent_false_and_builtin_space_are_refused(fresh: registry.Instance) -> None:
    with pytest.raises(InvalidArgument, match="Soft delete is not possible for Space"):
        Space.get(3).delete(permanent=False)
    with pytest.raises(InvalidArgument, match="built-in space"):
        Space.get(1).delete()
    assert Space.filter(id__in=[1, 3]).count() == 2


def test_deleting_a_local_space_deletes_its_local_blocks(fresh: registry.Instance) -> None:
    Space.get(4).delete()
    assert not Space.filter(id=4).exists()
    assert not SpaceBlock.filter(space_id=4, branch=None).exists()


def test_new_readme_revises_the_latest_and_delete_promotes_the_previous(fresh: registry.Instance) -> None:
    first = SpaceBlock(space=Space.get(3), content="hello\n", kind="comment").save()
    assert first.uid.endswith("0000") and first.hash == hash_string("hello\n") == "sZRqySSS0jR8YjW00mERhA"
    readme = SpaceBlock(space=Space.get(6), content="v1", kind="readme").save()
    second = SpaceBlock(space=Space.get(6), content="v2", kind="readme").save()
    assert second.uid == readme.uid[:16] + "0001"
    assert SpaceBlock.get(readme.uid[:16]).id == second.id
    readme.refresh_from_db()
    assert readme.is_latest is False
    second.delete()
    readme.refresh_from_db()
    assert readme.is_latest is True
    with pytest.raises(registry.FieldError, match="kind='readme' or kind='comment'"):
        SpaceBlock(space=Space.get(6), content="x", kind="note")


def test_a_new_readme_never_revises_one_the_hub_owns(fresh: registry.Instance) -> None:
    """Found by a soak: saving a readme demoted the hub's latest readme and took its uid stem."""
    hub_readme = SpaceBlock.get(3)  # the latest readme of space 2, synchronised from the hub
    before = SpaceBlock.filter(space=Space.get(2)).count()
    with pytest.raises(HubOwnedError, match="latest readme 'BlkStemA000000010002' is synchronised from the hub"):
        SpaceBlock(space=Space.get(2), content="# mine", kind="readme").save()
    hub_readme.refresh_from_db()
    assert hub_readme.is_latest is True
    assert SpaceBlock.filter(space=Space.get(2)).count() == before
    # a comment is not a revision: it may be added to a hub space
    assert SpaceBlock(space=Space.get(2), content="a note", kind="comment").save().id is not None


def test_deleting_a_local_version_leaves_a_hub_owned_one_as_the_hub_has_it(fresh: registry.Instance) -> None:
    from sqlalchemy import text

    # as an earlier syncd left it: a local version on top of the hub's readme, which it demoted
    with fresh.write() as conn:
        conn.execute(text("UPDATE lamindb_spaceblock SET is_latest = 0 WHERE id = 3"))
    local = SpaceBlock(space=Space.get(2), content="# mine", kind="readme").save()
    with fresh.write() as conn:
        conn.execute(text("UPDATE lamindb_spaceblock SET uid = 'BlkStemA000000010003' WHERE id = :id"),
                     {"id": local.id})
    SpaceBlock.get(local.id).delete()
    assert SpaceBlock.get(3).is_latest is False  # syncd, not the registry, keeps hub rows in step


def test_a_stem_differing_only_in_case_is_another_stem(fresh: registry.Instance) -> None:
    from sqlalchemy import text

    first = SpaceBlock(space=Space.get(6), content="v1", kind="readme").save()
    twin = SpaceBlock(space=Space.get(7), content="other", kind="comment").save()
    twin_uid = first.uid[:16].swapcase() + "0005"
    with fresh.write() as conn:  # SQLite's LIKE would take this stem for the first one's
        conn.execute(text("UPDATE lamindb_spaceblock SET uid = :uid WHERE id = :id"), {"uid": twin_uid, "id": twin.id})
    second = SpaceBlock(space=Space.get(6), content="v2", kind="readme").save()
    assert second.uid == first.uid[:16] + "0001"
    second.delete()
    first.refresh_from_db()
    assert first.is_latest is True
    assert SpaceBlock.get(twin.id).is_latest is True


def test_query_set_delete_moves_blocks_to_the_trash_unless_permanent(fresh: registry.Instance) -> None:
    assert SpaceBlock.filter(space_id=10).delete() == 2
    assert SpaceBlock.filter(branch_id=-1, space_id=10).count() == 2
    SpaceBlock.filter(space_id=10, branch_id=-1).delete(permanent=True)
    assert not SpaceBlock.filter(space_id=10, branch=None).exists()
    with pytest.raises(InvalidArgument):
        Space.filter(id=12).delete(permanent=False)


def test_read_only_registries(fresh: registry.Instance) -> None:
    with pytest.raises(ReadOnlyRegistryError, match="FeatureValue|JsonValue"):
        FeatureValue.get(1).save()
    with pytest.raises(ReadOnlyRegistryError):
        FeatureValue.get(1).delete()
    with pytest.raises(ReadOnlyRegistryError):
        User.get(2).save()


@pytest.mark.postgres
def test_writes_on_postgresql(pg_url: str) -> None:
    make_instance(pg_url, hub_owned=True)
    registry.connect(pg_url)
    try:
        with pytest.raises(HubOwnedError):
            Space.get(8).save()
        made = Space(name="PG local", uid="pglocal00001").save()
        assert made.id == 14
        made.delete()
        assert not Space.filter(name="PG local").exists()
    finally:
        registry.disconnect()
