"""Query sets over SQLite and PostgreSQL: lookups, Q, exclude, ordering, slicing and evaluation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.registry import (
    ArgumentTypeError,
    FieldError,
    Instance,
    InvalidArgument,
    MultipleObjectsReturned,
    Q,
    QuerySet,
    Space,
    SpaceBlock,
)


def ids(qs: QuerySet[Space] | QuerySet[SpaceBlock]) -> list[int]:
    return [r.id for r in qs]


@pytest.mark.parametrize(("expressions", "expected"), [
    ({"name": "Lab A"}, [2]),
    ({"name__iexact": "lab a"}, [2]),
    ({"name__iexact": "école"}, [13]),
    ({"name__contains": "Lab"}, [2, 3, 8, 10, 11]),
    ({"name__contains": "lab"}, [4]),
    ({"name__icontains": "LAB"}, [2, 3, 4, 8, 10, 11]),
    ({"name__icontains": "übersicht"}, [5]),
    ({"name__startswith": "Lab"}, [2, 3, 10]),
    ({"name__istartswith": "lab"}, [2, 3, 4, 10]),
    ({"name__endswith": "Lab"}, [8, 11]),
    ({"name__iendswith": "LAB"}, [8, 11]),
    ({"name__in": ["Lab A", "Ops", "nope"]}, [2, 12]),
    ({"name__in": []}, []),
    ({"id__gt": 11}, [12, 13]),
    ({"id__gte": 3, "id__lte": 5}, [3, 4, 5]),
    ({"id__lt": 2}, [1]),
    ({"id__range": (4, 6)}, [4, 5, 6]),
    ({"description__isnull": True}, [4, 11]),
    ({"created_by": None}, [1, 3, 6, 11, 13]),
    ({"created_by__isnull": False}, [2, 4, 5, 7, 8, 9, 10, 12]),
    ({"name__regex": r"^Lab.A$"}, [2, 3]),
    ({"name__iregex": r"^lab"}, [2, 3, 4, 10]),
    ({"created_at__year": 2025, "created_at__hour__gte": 20}, [11, 12, 13]),
    ({"created_at__gte": datetime(2025, 1, 1, 20, tzinfo=UTC)}, [11, 12, 13]),
    ({"created_at__date": datetime(2025, 1, 1).date(), "id__gt": 11}, [12, 13]),
    ({"created_by__handle": "alice"}, [2, 5, 7, 10, 12]),
    ({"created_by__name__icontains": "ärger"}, [2, 5, 7, 10, 12]),
    ({"pk": 3}, [3]),
])
def test_portable_lookups_select_the_same_rows_on_every_database(
    portable: Instance, expressions: dict[str, object], expected: list[int],
) -> None:
    assert ids(Space.filter(**expressions).order_by("id")) == expected


def test_q_objects_combine_with_or_and_not(reg: Instance) -> None:
    either = Space.filter(Q(name="Lab A") | Q(description__icontains="UNICODE")).order_by("id")
    assert ids(either) == [2, 5]
    but_not = Space.filter(Q(name__icontains="lab") & ~Q(name="Lab A")).order_by("id")
    assert ids(but_not) == [3, 4, 8, 10, 11]


def test_negation_keeps_rows_whose_field_is_null(reg: Instance) -> None:
    # as in Django: NOT (description contains 'lab') includes spaces without description
    assert ids(Space.filter(~Q(description__contains="lab")).order_by("id")) == [1, 4, 6, 7, 11, 13]


def test_reverse_relation_joins_once_per_filter_call(reg: Instance) -> None:
    # spaces 2 (three readme versions) and 4 (two) appear once per matching block, as with LaminDB
    assert ids(Space.filter(ablocks__kind="readme").order_by("id")) == [2, 2, 2, 3, 4, 4]
    assert Space.filter(ablocks__kind="readme").count() == 6
    same_block = Space.filter(ablocks__kind="comment", ablocks__content__contains="lab").order_by("id")
    # on SQLite, as LaminDB, contains ignores ASCII case: block 10 ("Lab") matches too
    assert ids(same_block) == ([2, 4, 5, 5, 10] if reg.like else [2, 4, 5, 10])


def test_exclude_over_a_reverse_relation_means_no_related_row_matches(reg: Instance) -> None:
    assert ids(Space.filter().exclude(ablocks__kind="readme").order_by("id")) == [1, 5, 6, 7, 8, 9, 10, 11, 12, 13]


def test_filters_chain_and_query_sets_are_immutable(reg: Instance) -> None:
    base = Space.filter(name__icontains="a")
    narrowed = base.filter(id__gt=4)
    assert ids(narrowed.order_by("id")) == [7, 8, 10, 11]
    assert base.count() == 8
    assert ids(base.order_by("-id")[:2]) == [11, 10]
    assert base.count() == 8


def test_ordering_by_text_is_code_point_order_on_every_database(reg: Instance) -> None:
    names = Space.filter().order_by("name").to_list("name")
    assert names == sorted(names)
    assert names[:3] == ["1st floor", "Genomics | Lab", "Imaging, Lab"]


def test_ordering_puts_nulls_where_the_database_does(reg: Instance) -> None:
    handles = Space.filter().order_by("created_by__handle", "id").to_list("created_by__handle")
    # as LaminDB: NULL sorts first on SQLite and last on PostgreSQL
    named = ["alice"] * 5 + ["bob"] * 3
    assert handles == ([None] * 5 + named if reg.dialect == "sqlite" else named + [None] * 5)


def test_portable_ordering_puts_nulls_first_on_every_database(portable: Instance) -> None:
    handles = Space.filter().order_by("created_by__handle", "id").to_list("created_by__handle")
    assert handles == [None] * 5 + ["alice"] * 5 + ["bob"] * 3


def test_slicing_indexing_first_last(reg: Instance) -> None:
    ordered = Space.filter().order_by("id")
    assert ids(ordered[2:5]) == [3, 4, 5]
    assert ordered[3].id == 4
    assert ids(ordered[2:5][1:]) == [4, 5]
    with pytest.raises(ValueError, match="Negative indexing"):
        ordered[-1]
    with pytest.raises(IndexError):
        ordered[100]
    lab = Space.filter(name__icontains="lab")
    assert lab.first().id == 2  # type: ignore[union-attr]
    assert lab.last().id == 11  # type: ignore[union-attr]
    assert Space.filter().order_by("-created_at").first().id == 13  # type: ignore[union-attr]
    assert Space.filter(name="nope").first() is None
    with pytest.raises(TypeError, match="slice"):
        ordered[:2].filter(id=1)


def test_count_exists_one_and_to_list(reg: Instance) -> None:
    assert Space.filter(name__icontains="lab").count() == 6
    assert Space.filter(name="Ops").exists()
    assert not Space.filter(name="nope").exists()
    assert Space.filter(name="Ops").one().uid == "OP88kkkkkkkk"
    with pytest.raises(MultipleObjectsReturned):
        Space.filter(name__icontains="lab").one()
    with pytest.raises(Space.DoesNotExist):
        Space.filter(name="nope").one()
    assert Space.filter(name="nope").one_or_none() is None
    assert Space.filter(name__startswith="Lab").order_by("id").to_list("uid") == [
        "QQ00aaaaaaaa", "QQ01bbbbbbbb", *(["qq00cccccccc"] if reg.like else []), "LL66iiiiiiii"]
    assert [s.name for s in Space.filter(id__in=[2, 3]).order_by("id").to_list()] == ["Lab A", "Lab-A"]
    assert SpaceBlock.filter(id=9).to_list("space__name") == ["Übersicht Ärzte"]


def test_unknown_fields_and_lookups_name_the_valid_ones(reg: Instance) -> None:
    with pytest.raises(FieldError, match=r"Unknown field 'nme'\. Available fields: ablocks, created_at"):
        Space.filter(nme="x")
    with pytest.raises(FieldError, match="Unsupported lookup 'nope'.*icontains"):
        Space.filter(name__nope="x")
    with pytest.raises(FieldError, match="Unknown field 'hndle'.*handle"):
        Space.filter(created_by__hndle="x")
    with pytest.raises(FieldError, match="Unknown field"):
        Space.filter().order_by("nope")
    with pytest.raises(ArgumentTypeError, match="list of values"):
        Space.filter(id__in=3).count()
    with pytest.raises(InvalidArgument, match="isnull lookup must be True or False"):
        Space.filter(description__isnull="yes").count()
    with pytest.raises(FieldError, match="malformed"):
        Space.filter(name__="x")
    with pytest.raises(TypeError, match="Q objects"):
        Q("name")  # type: ignore[arg-type]


def test_records_from_a_filter_by_record_and_by_id(reg: Instance) -> None:
    lab = Space.get(name="Lab A")
    assert ids(SpaceBlock.filter(space=lab).order_by("id")) == [1, 2, 3]
    assert ids(SpaceBlock.filter(space_id=4).order_by("id")) == [6, 8]
    assert ids(SpaceBlock.filter(space__in=[lab, 4]).order_by("id")) == [1, 2, 3, 6, 8]


def test_portable_case_folding_is_unicode_aware_even_where_sqlite_like_is_not(portable: Instance) -> None:
    kelvin = Space(name="\u212aelvin lab", uid="KELVKELVKELV").save()  # KELVIN SIGN lower-cases to "k"
    try:
        assert [s.id for s in Space.filter(name__istartswith="kelvin")] == [kelvin.id]
        assert [s.id for s in Space.filter(name__iexact="kelvin lab")] == [kelvin.id]
        assert Space.filter(name__icontains="ELVIN").count() == 1
    finally:
        kelvin.delete()
