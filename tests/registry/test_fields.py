"""Field objects (``Space.name``), ``distinct``, ``values_list``/``values`` and SpaceBlock's ``version``."""

from __future__ import annotations

import pytest

from syncd.registry import FieldAttr, FieldError, Instance, Q, Space, SpaceBlock


def test_fields_are_class_attributes_and_values_on_records(reg: Instance) -> None:
    assert isinstance(Space.name, FieldAttr)
    assert repr(Space.description) == "FieldAttr(Space.description)"
    assert Space.get(2).name == "Lab A"
    assert SpaceBlock.get(3).content.startswith("# Lab A")


def test_field_objects_go_wherever_a_field_name_goes(reg: Instance) -> None:
    by_name = [s.id for s in Space.filter().order_by(Space.name)]
    assert by_name == [s.id for s in Space.filter().order_by("name")]
    assert Space.filter(id__lt=4).order_by("id").to_list(Space.name) == ["all", "Lab A", "Lab-A"]
    assert Space.filter(id__lt=4).order_by("id").values_list(Space.uid, flat=True) == [
        Space.get(1).uid, "QQ00aaaaaaaa", "QQ01bbbbbbbb"]
    found = Space.lookup(field=Space.description, return_field=Space.name)
    assert found.the_first_lab_space == "Lab A"
    assert [s.id for s in Space.search("lab", field=Space.name)] == [
        s.id for s in Space.search("lab", field="name")]
    frame = Space.to_dataframe(include=[Space.description], limit=None)
    assert list(frame.columns) == ["uid", "name", "description"]
    with pytest.raises(TypeError, match="field such as Space.name"):
        Space.filter().order_by(3)


def test_distinct_gives_each_record_once_after_a_reverse_filter(reg: Instance) -> None:
    joined = Space.filter(ablocks__kind="readme").order_by("id")
    assert [s.id for s in joined] == [2, 2, 2, 3, 4, 4]
    assert [s.id for s in joined.distinct()] == [2, 3, 4]
    assert Space.filter(ablocks__kind="readme").distinct().count() == 3
    newest = Space.filter(Q(ablocks__kind="comment")).distinct().order_by("-id").first()
    assert newest is not None and newest.id == 10
    with pytest.raises(TypeError, match="slice"):
        Space.filter()[:2].distinct()


def test_values_list_and_values(reg: Instance) -> None:
    assert Space.filter(id__in=[2, 3]).order_by("id").values_list("id", "name") == [(2, "Lab A"), (3, "Lab-A")]
    assert Space.filter(id=9).values("name", "created_by_id") == [{"name": "Proteomics", "created_by_id": 3}]
    assert Space.filter(id=9).values()[0]["uid"] == "PP55hhhhhhhh"
    with pytest.raises(TypeError, match="flat"):
        Space.filter().values_list("id", "name", flat=True)


def test_version_names_version_tag_in_filters_and_on_records(reg: Instance) -> None:
    assert [b.id for b in SpaceBlock.filter(version="v1").order_by("id")] == [1, 12]
    assert [b.id for b in SpaceBlock.filter(version__startswith="v").order_by("id")] == [1, 2, 12]
    assert SpaceBlock.get(version="v2").id == 2
    assert SpaceBlock.get(1).version == "v1"
    assert SpaceBlock.get(3).version == "0002"  # no tag: the uid's last four characters, as LaminDB
    with pytest.raises(FieldError, match="Unknown field 'version'"):
        SpaceBlock.filter(Q(version="v1")).count()  # LaminDB maps keyword arguments only


def test_a_relation_compared_with_a_word_is_refused_as_lamindb_does(reg: Instance) -> None:
    with pytest.raises(FieldError, match=r"Invalid lookup 'x' for space\. Did you mean space__name\?"):
        SpaceBlock.filter(space="x")
    with pytest.raises(FieldError, match="Unknown field 'space'"):
        Space.filter(space="x")
