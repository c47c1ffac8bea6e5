"""``get`` by id, uid, stub, stem and expressions; SpaceBlock's default branch filter."""

from __future__ import annotations

import pytest

from syncd.errors import RegistryError
from syncd.registry import (
    DoesNotExist,
    FieldError,
    Instance,
    InvalidArgument,
    MultipleObjectsReturned,
    Q,
    QuerySet,
    Space,
    SpaceBlock,
    ValidationError,
)


def ids(qs: QuerySet[SpaceBlock]) -> list[int]:
    return [r.id for r in qs.order_by("id")]


def test_get_by_id_uid_stub_and_expressions(reg: Instance) -> None:
    assert Space.get(3).name == "Lab-A"
    assert Space.get("QQ00aaaaaaaa").id == 2
    assert Space.get(name="Lab A").uid == "QQ00aaaaaaaa"
    if reg.like:
        # LaminDB on SQLite: a uid prefix matches without regard to ASCII case ("qq00cccccccc" too)
        with pytest.raises(Space.MultipleObjectsReturned):
            Space.get("QQ00")
        assert SpaceBlock.get("blkstemA00000001").id == 3
    else:
        assert Space.get("QQ00").id == 2
        assert Space.get("qq00").id == 4


def test_portable_uid_prefixes_are_case_sensitive_on_every_database(portable: Instance) -> None:
    assert Space.get("QQ00").id == 2
    assert Space.get("qq00").id == 4
    assert SpaceBlock.get("BlkStemA000000010000").id == 1
    with pytest.raises(SpaceBlock.DoesNotExist):
        SpaceBlock.get("blkstemA00000001")


def test_get_with_an_id_or_uid_ignores_further_expressions_as_lamindb_does(reg: Instance) -> None:
    assert Space.get(2, name="x").id == 2
    assert Space.get("QQ00aaaaaaaa", name="x").id == 2
    assert Space.get(True).id == 1  # a bool is an int, as in Python and LaminDB
    with pytest.raises(Space.DoesNotExist):
        Space.get(False)


def test_get_with_a_value_of_the_wrong_type_raises_as_lamindb_does(reg: Instance) -> None:
    with pytest.raises(InvalidArgument, match="Field 'id' expected a number but got 'abc'"):
        Space.get(id="abc")
    with pytest.raises(FieldError, match=r"Invalid lookup 'abc' for created_by\. Did you mean created_by__name"):
        Space.get(created_by="abc")
    with pytest.raises(FieldError, match="Invalid lookup 'Lab A' for space"):
        SpaceBlock.get(space="Lab A")
    with pytest.raises(FieldError, match="Unknown field 'space'"):
        Space.get(space="Lab A")
    with pytest.raises(ValidationError, match="must be either True or False"):
        SpaceBlock.get(is_latest="maybe")
    assert Space.get(id="3").id == 3


def test_get_errors_are_registry_errors_and_per_registry_classes(reg: Instance) -> None:
    with pytest.raises(Space.DoesNotExist, match="Space matching query does not exist"):
        Space.get(999)
    with pytest.raises(DoesNotExist, match=r"No record found with uid 'ZZZZ'.*Space.get\(name='ZZZZ'\)"):
        Space.get("ZZZZ")
    with pytest.raises(Space.MultipleObjectsReturned):
        Space.get("QQ0")
    with pytest.raises(MultipleObjectsReturned):
        Space.get(name__icontains="lab")
    with pytest.raises(RegistryError):
        Space.get(name="nope")
    assert issubclass(Space.DoesNotExist, DoesNotExist)
    assert not issubclass(Space.DoesNotExist, SpaceBlock.DoesNotExist)
    with pytest.raises(InvalidArgument, match="not float"):
        Space.get(3.5)


def test_block_stem_gives_the_latest_version(portable: Instance) -> None:
    assert SpaceBlock.get("BlkStemA00000001").id == 3
    assert SpaceBlock.get("BlkStemA000000010000").id == 1
    # the latest version is in the trash: a stem still finds it (id/uid look-ups ignore branches)
    assert SpaceBlock.get("BlkStemD00000004").id == 7
    assert SpaceBlock.get("BlkStemB000000020000").id == 4
    assert SpaceBlock.get("BlkStemC00000003").id == 5
    # a short stub matching several latest blocks is not an error for versioned registries
    assert SpaceBlock.get("BlkUni").id == 9
    with pytest.raises(SpaceBlock.DoesNotExist):
        SpaceBlock.get("blkstemA00000001")


def test_block_get_by_expressions_implies_latest_and_the_branch_filter(reg: Instance) -> None:
    assert SpaceBlock.get(space__name="Lab A", kind="readme").id == 3
    # no latest version tagged v1 in space 2: the newest matching version is returned
    assert SpaceBlock.get(version_tag="v1", space_id=2).id == 1
    with pytest.raises(SpaceBlock.DoesNotExist):
        SpaceBlock.get(content="trashed comment about the lab")
    assert SpaceBlock.get(content="trashed comment about the lab", branch_id=-1).id == 4
    assert SpaceBlock.get(4).branch_id == -1


def test_default_branch_filter_hides_trash_and_archive(reg: Instance) -> None:
    assert ids(SpaceBlock.filter()) == [1, 2, 3, 6, 8, 9, 10, 11, 12]
    assert SpaceBlock.filter().count() == 9
    assert ids(SpaceBlock.filter(branch_id=-1)) == [4, 7]
    assert ids(SpaceBlock.filter(branch=None)) == list(range(1, 13))
    assert ids(SpaceBlock.filter(branch__name="archive")) == [5]
    assert ids(SpaceBlock.filter(Q(branch_id=0) | Q(kind="readme"))) == [1, 2, 3, 5, 6, 7]


def test_exact_id_uid_or_hash_lift_the_branch_filter(reg: Instance) -> None:
    assert ids(SpaceBlock.filter(uid="BlkStemB000000020000")) == [4]
    assert ids(SpaceBlock.filter(uid__startswith="BlkStemB")) == []
    assert ids(SpaceBlock.filter(id__in=[4, 5, 6])) == [4, 5, 6]
    assert ids(SpaceBlock.filter(hash=SpaceBlock.get(4).hash)) == [4]


def test_exclude_and_relations_do_not_add_the_branch_filter(reg: Instance) -> None:
    assert ids(SpaceBlock.filter(kind="comment").exclude(content="Lab")) == [8, 9, 11, 12]
    assert ids(Space.get(2).ablocks) == [1, 2, 3, 4]
    assert ids(Space.get(2).ablocks.filter(kind="comment")) == [4]


def test_get_through_a_relation_implies_nothing(reg: Instance) -> None:
    # like Django's related managers: no implied is_latest, no branch filter
    assert Space.get(2).ablocks.get(kind="comment").id == 4
    with pytest.raises(MultipleObjectsReturned):
        Space.get(2).ablocks.get(kind="readme")
