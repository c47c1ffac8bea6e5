"""Records: attributes, relations both ways, repr, refresh, equality."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from syncd.registry import Instance, Space, SpaceBlock, User


def test_attributes_have_python_types(reg: Instance) -> None:
    lab = Space.get(2)
    assert (lab.id, lab.uid, lab.name, lab.description, lab.created_by_id) == (
        2, "QQ00aaaaaaaa", "Lab A", "The first lab space", 2)
    assert lab.created_at == datetime(2025, 1, 1, 11, 0, 0, 123456, tzinfo=UTC)
    block = SpaceBlock.get(3)
    assert block.is_latest is True
    assert block.content == "# Lab A readme v3\n\nlab protocol"
    assert block.hash == "bOjZ73wcwbiCoidmpq5JVg"


def test_relations_both_ways(reg: Instance) -> None:
    lab = Space.get(name="Lab A")
    assert [b.uid[-4:] for b in lab.ablocks.order_by("id")] == ["0000", "0001", "0002", "0000"]
    assert lab.ablocks.filter(kind="readme").count() == 3
    block = SpaceBlock.get(9)
    assert block.space.name == "Übersicht Ärzte"
    assert block.created_by.handle == "bob"
    assert lab.created_by == User.get(handle="alice")
    assert Space.get(name="Lab-A").created_by is None
    assert block.space.ablocks.count() == 2


def test_repr_follows_laminDB_field_order(reg: Instance) -> None:
    assert repr(Space.get(2)) == (
        "Space(uid='QQ00aaaaaaaa', name='Lab A', description='The first lab space', created_by_id=2, "
        "created_at=2025-01-01 11:00:00 UTC)")
    assert repr(User.get(3)) == "User(uid='usr00003', handle='bob', name=None, created_at=2025-01-01 09:00:00 UTC)"
    block = repr(SpaceBlock.get(6))
    assert block.startswith("SpaceBlock(uid='BlkStemD000000040000', content='D first'")
    # as LaminDB 2.12: a block shows its related records themselves, in field order
    assert ", kind='readme', created_by=User(uid=" in block
    assert ", space=Space(uid='qq00cccccccc', name='lab_a!', description=None, created_by_id=3, " in block
    assert block.endswith(", version_tag=None, is_latest=False)")


def test_refresh_and_equality(reg: Instance) -> None:
    one, two = Space.get(2), Space.get("QQ00aaaaaaaa")
    assert one == two
    assert hash(one) == hash(two)
    assert one != Space.get(3)
    one.name = "changed in memory"
    one.refresh_from_db()
    assert one.name == "Lab A"
    two.name = "changed too"
    asyncio.run(two.arefresh_from_db())
    assert two.name == "Lab A"
