"""The SQLite fast paths give LaminDB's answers: uid prefixes through the uid index, counts from a column index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event

from syncd.registry import FieldError, Instance, Q, Space, SpaceBlock
from syncd.registry.uidranges import MAX_LETTERS, case_ranges


def test_case_ranges_cover_every_ascii_case_variant() -> None:
    assert sorted(case_ranges("Q0") or []) == [("Q0", "Q1"), ("q0", "q1")]
    assert case_ranges("12") == [("12", "13")]
    assert case_ranges("") is None
    assert case_ranges("ab\U0010ffff") is None  # no successor for the last character
    # only the leading part with MAX_LETTERS letters is varied; LIKE checks the rest
    many = case_ranges("abcdefgh") or []
    assert len(many) == 2 ** MAX_LETTERS
    assert all(len(low) == MAX_LETTERS for low, _ in many)


@pytest.fixture
def statements(reg: Instance) -> Iterator[list[str]]:
    seen: list[str] = []

    def remember(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(reg._reader, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(reg._reader, "before_cursor_execute", remember)


def test_uid_prefixes_match_as_like_does(reg: Instance, statements: list[str]) -> None:
    if reg.like:
        with pytest.raises(Space.MultipleObjectsReturned):
            Space.get("qQ00")  # QQ00aaaaaaaa and qq00cccccccc
        assert Space.get("qq00c").id == 4
        assert SpaceBlock.get("BLKSTEMA00000001").id == 3  # the latest of the stem, ignoring ASCII case
        with pytest.raises(SpaceBlock.MultipleObjectsReturned):
            SpaceBlock.get("blkstema000000010000")  # block 1's uid, and block 8's in lower case
        assert any("lamindb_space.uid >= ?" in s for s in statements)
    else:
        with pytest.raises(Space.DoesNotExist):
            Space.get("qQ00")


def test_a_count_on_one_indexed_text_column_reads_the_index(reg: Instance, statements: list[str]) -> None:
    assert Space.filter(name__icontains="lab").count() == len(list(Space.filter(name__icontains="lab")))
    assert Space.filter(Q(name__contains="Lab") | Q(name="Ops")).count() == (7 if reg.like else 6)
    hinted = [s for s in statements if "INDEXED BY" in s]
    assert len(hinted) == (2 if reg.like else 0)
    # conditions on other columns, or on a column without its own index, count as before
    both = Space.filter(description__icontains="lab", name__icontains="a")
    assert both.count() == len(list(both)) == 4
    assert len([s for s in statements if "INDEXED BY" in s]) == len(hinted)


def test_a_count_with_the_default_branch_filter_reads_through_the_other_conditions(
    reg: Instance, statements: list[str],
) -> None:
    comments = SpaceBlock.filter(kind="comment")
    assert comments.count() == len(list(comments)) == 5
    counts = [s for s in statements if s.startswith("SELECT count(*)")]
    assert len(counts) == 1
    assert ("branch_id + " in counts[0]) == reg.like
    assert not any("branch_id + " in s for s in statements if not s.startswith("SELECT count(*)"))
    # alone, the branch filter is counted as written
    assert SpaceBlock.filter().count() == 9
    assert "branch_id + " not in statements[-1]


def test_get_by_plain_fields_answers_as_the_general_path(reg: Instance, statements: list[str]) -> None:
    assert Space.get(name="Lab A").id == 2
    assert Space.get(name="Lab A", uid="QQ00aaaaaaaa").id == 2
    assert Space.get(created_by_id="3", description="Mass spec; lab. core").id == 9
    with pytest.raises(Space.DoesNotExist, match="Space matching query does not exist"):
        Space.get(name="nope")
    with pytest.raises(Space.MultipleObjectsReturned):
        Space.get(created_by_id=2)
    with pytest.raises(FieldError, match="Invalid lookup 'abc' for created_by_id"):
        Space.get(created_by_id="abc")
    # one prepared statement per set of fields, without the general query set machinery's ORDER BY
    prepared = [s for s in statements if "WHERE lamindb_space.name = " in s and "uid" not in s.split("WHERE")[1]]
    assert prepared and all("ORDER BY" not in s for s in prepared)


def test_a_count_of_one_text_lookup_escapes_like_wildcards(reg: Instance, statements: list[str]) -> None:
    for lookup, value in (("contains", "_"), ("contains", "%"), ("icontains", "LAB"), ("istartswith", "lab"),
                          ("endswith", "Lab"), ("iexact", "lab a")):
        query = Space.filter(**{f"name__{lookup}": value})
        assert query.count() == len(list(query)), (lookup, value)
    assert Space.filter(name__contains="_").count() == 1  # only "lab_a!": the underscore is not a wildcard
    # sent as LaminDB's SQL: on SQLite through the name index; on PostgreSQL iexact takes the general path
    sent = [s for s in statements if s.startswith('SELECT count(*) FROM "lamindb_space" ')]
    if reg.like:
        assert len(sent) == 7 and all("INDEXED BY" in s for s in sent)
    else:
        assert len(sent) == 6 and any('UPPER("name"::text) LIKE UPPER(' in s for s in sent)


def test_a_search_result_is_iterated_from_the_rows_read_while_ranking(
    reg: Instance, statements: list[str],
) -> None:
    found = Space.search("lab")
    before = len(statements)
    assert [s.id for s in found][:1] == [8]
    assert len(statements) == before  # no second query
    # a window of it reads again, as any query set does
    assert [s.id for s in found[:2]] == [8, 2]
    assert len(statements) == before + 1


def test_a_whole_uid_is_looked_up_by_equality_where_the_column_bounds_its_length(
    reg: Instance, statements: list[str],
) -> None:
    space = Space.get("qq00cccccccc")
    assert (space.id, space.uid) == (4, "qq00cccccccc")
    whole = [s for s in statements if "uid = " in s]
    if reg.adapter.bounds_text_length:
        # PostgreSQL: a bound LIKE pattern cannot use the uid index in a prepared plan; equality can
        assert SpaceBlock.get("blkstema000000010000").id == 8  # not block 1, BLKSTEMA...: case counts
        whole = [s for s in statements if "uid = " in s]
        assert len(whole) == 2
        with pytest.raises(Space.DoesNotExist):
            Space.get("QQ00CCCCCCCC")  # case-sensitive there, as LaminDB's LIKE is
    else:
        # SQLite stores text longer than VARCHAR(12): a whole-length uid is still a prefix there
        assert whole == []
