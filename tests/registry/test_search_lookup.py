"""``search`` ranking and ``lookup`` attribute names, as LaminDB computes them."""

from __future__ import annotations

import pytest

from syncd.registry import FieldError, Instance, Space, SpaceBlock, User
from syncd.registry.lookup import attribute_name
from syncd.registry.search import rank


def test_rank_weights() -> None:
    assert rank(["Lab"], "lab", case_sensitive=False) == 200 + 200 + 10 + 8 + 2 + 2 + 1
    assert rank(["Genomics | Lab"], "lab", case_sensitive=False) == 10 + 2 + 2 + 1
    assert rank(["x|lab|y"], "lab", case_sensitive=False) == 200 + 10 + 8 + 2 + 2 + 1
    assert rank(["Laboratory"], "lab", case_sensitive=False) == 8 + 2 + 1
    assert rank(["the lab work"], "lab", case_sensitive=False) == 10 + 2 + 2 + 1
    assert rank([None, "xlabx"], "lab", case_sensitive=False) == 1
    assert rank(["Lab"], "lab", case_sensitive=True) == 0


def test_portable_search_ranks_and_breaks_ties_by_id(portable: Instance) -> None:
    assert [s.id for s in Space.search("lab")] == [8, 2, 3, 10, 5, 9, 11, 12, 4]
    assert [s.id for s in Space.search("LAB")] == [8, 2, 3, 10, 5, 9, 11, 12, 4]
    assert [s.id for s in Space.search("Ops")] == [12]
    assert [s.id for s in Space.search("lab", limit=3)] == [8, 2, 3]
    assert [s.id for s in Space.search("ärzte")] == [5]
    assert [s.id for s in Space.search("zzzz")] == []


def test_portable_search_fields_query_sets_and_branches(portable: Instance) -> None:
    assert [s.id for s in Space.search("lab", field="description")] == [8, 2, 3, 5, 9, 10, 12]
    assert [s.id for s in Space.filter(id__gt=5).search("lab")] == [8, 10, 9, 11, 12]
    # as in LaminDB, the registry-wide search includes trashed blocks
    assert [b.id for b in SpaceBlock.search("lab")] == [10, 1, 2, 3, 4, 8, 9, 12]
    assert [u.handle for u in User.search("ali")] == ["alice"]
    with pytest.raises(FieldError, match="text fields: name, uid, description"):
        Space.search("lab", field="nope")


def test_portable_search_result_keeps_rank_order_in_frames(portable: Instance) -> None:
    frame = Space.search("lab").to_dataframe()
    assert list(frame.index) == [8, 2, 3, 10, 5, 9, 11, 12, 4]
    with pytest.raises(TypeError, match="slice"):
        Space.search("lab").filter(id=2)


@pytest.mark.parametrize(("value", "key"), [
    ("Lab A", "lab_a"), ("lab_a!", "lab_a_"), ("Übersicht Ärzte", "ln__bersicht_rzte"),
    ("1st floor", "ln_1st_floor"), ("Genomics | Lab", "genomics_lab"), ("", None), ("__x", "ln___x"),
])
def test_attribute_names(value: str, key: str | None) -> None:
    assert attribute_name(value) == key


def test_lookup_keys_duplicates_keywords_and_dict(reg: Instance) -> None:
    spaces = Space.lookup()
    assert spaces._fields == ("all", "lab_a", "lab_a_", "ln__bersicht_rzte", "ln_1st_floor", "class_",
                              "genomics_lab", "proteomics", "laboratory", "imaging_lab", "ops", "ln__cole", "dict")
    assert spaces.lab_a.id == 2  # "Lab A" and "Lab-A" share the key: the first wins
    assert spaces.class_.name == "class"
    assert spaces.dict()["Lab-A"].id == 3
    with pytest.raises(AttributeError):
        _ = spaces.nope
    assert Space.lookup(return_field="uid").ops == "OP88kkkkkkkk"
    assert Space.lookup(keep="last").lab_a.id == 3
    assert [s.id for s in Space.lookup(keep=False).lab_a] == [2, 3]
    assert Space.lookup(keep=False).ops.id == 12
    assert Space.lookup(field="uid").qq00aaaaaaaa.id == 2
    assert SpaceBlock.lookup()._fields == ("v1", "v2", "dict")
    assert User.lookup().alice.uid == "usr00002"
    assert Space.filter(id__gt=11).lookup()._fields == ("ops", "ln__cole", "dict")
    with pytest.raises(FieldError, match="Unknown field 'nope'"):
        Space.lookup(field="nope")
