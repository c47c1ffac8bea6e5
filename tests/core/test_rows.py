import uuid

import pytest

from syncd.core.resources.space import parse_space
from syncd.core.resources.space_block import parse_block
from syncd.core.rows import content_hash, row_key
from syncd.errors import RowRejected
from tests.support.builders import block_row, space_row


def test_content_hash_matches_lamindbs_hash_string() -> None:
    # values read off lamindb 2.12.1's hash_string
    assert content_hash("hello\n") == "sZRqySSS0jR8YjW00mERhA"
    assert content_hash("a comment") == "PWCde_wXtKDqySC0hMuE_Q"
    assert content_hash("") is None


def test_valid_rows_parse_with_unknown_extra_columns_ignored() -> None:
    space = parse_space(space_row(1, extra_column="ignored"))
    assert space.id == uuid.UUID(int=1) and space.name == "Space 1"
    block = parse_block(block_row(1, 1, new_hub_column=[1, 2]))
    assert block.space_id == uuid.UUID(int=1) and block.hash == content_hash(block.content)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "not-a-uuid"}, "id"),
        ({"lnid": "short"}, "lnid"),
        ({"lnid": "sp00000000-1"}, "lnid"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"updated_at": "2026-03-01T12:00:00"}, "updated_at"),
        ({"created_at": None}, "created_at"),
        ({"deleted_at": "soon"}, "deleted_at"),
        ({"created_by": {"lnid": "x", "handle": "a"}}, "created_by.lnid"),
        ({"created_by": {"lnid": "usr00001", "handle": ""}}, "created_by.handle"),
        ({"created_by": "alice"}, "created_by"),
    ],
)
def test_bad_space_rows_are_rejected_naming_the_field(change: dict[str, object], field: str) -> None:
    row = space_row(1)
    row.update(change)
    with pytest.raises(RowRejected) as info:
        parse_space(row)
    assert info.value.reason.startswith(field + ":")


def test_missing_required_field_is_named() -> None:
    row = space_row(1)
    del row["lnid"]
    with pytest.raises(RowRejected, match="^lnid: missing"):
        parse_space(row)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "hash"),
        ({"kind": "note"}, "kind"),
        ({"version_tag": "v" * 31}, "version_tag"),
        ({"is_latest": "yes"}, "is_latest"),
        ({"space_id": None}, "space_id"),
        ({"lnid": "bl" + "0" * 17}, "lnid"),
        ({"created_by": None}, "created_by"),
        ({"content": None}, "content"),
    ],
)
def test_bad_block_rows_are_rejected_naming_the_field(change: dict[str, object], field: str) -> None:
    row = block_row(1, 1)
    row.update(change)
    with pytest.raises(RowRejected) as info:
        parse_block(row)
    assert info.value.reason.startswith(field + ":")


def test_content_over_one_mib_is_rejected_and_empty_content_needs_a_null_hash() -> None:
    big = "é" * (512 * 1024 + 1)  # 2 bytes each in UTF-8: just over 1 MiB
    with pytest.raises(RowRejected, match="^content: .* more than the 1 MiB"):
        parse_block(block_row(1, 1, content=big))
    assert parse_block(block_row(2, 1, content="")).hash is None
    with pytest.raises(RowRejected, match="^hash:"):
        parse_block({**block_row(3, 1, content=""), "hash": "x"})


def test_row_key_is_the_hub_id_or_a_stable_digest() -> None:
    assert row_key(space_row(7)) == str(uuid.UUID(int=7))
    assert row_key({"id": "nope"}) == row_key({"id": "nope"})
    assert row_key({"id": "nope"}).startswith("sha256:")


@pytest.mark.parametrize(
    ("parse", "row", "field"),
    [
        (parse_block, {**block_row(1, 1), "content": "caf\ud800e"}, "content"),
        (parse_block, block_row(1, 1, version_tag="v\udfff"), "version_tag"),
        (parse_space, space_row(1, name="Lab \ud83d"), "name"),
        (parse_space, space_row(1, description="\udc00"), "description"),
        (parse_block, block_row(1, 1, created_by={"lnid": "usr00001", "handle": "al\ud800"}), "created_by.handle"),
        (parse_block, block_row(1, 1, created_by={"lnid": "usr00001", "handle": "al\x00ice"}), "created_by.handle"),
        (parse_space, space_row(1, created_by={"lnid": "usr00001", "handle": "a", "name": "\ud800"}),
         "created_by.name"),
    ],
)
def test_text_no_database_can_store_is_rejected_not_raised(parse, row, field) -> None:  # type: ignore[no-untyped-def]
    # JSON may carry lone surrogates (\ud800); UTF-8 cannot encode them and NUL cannot be stored in
    # PostgreSQL text: such a row must be quarantined, never fail the page or the group
    with pytest.raises(RowRejected, match=f"^{field}: (not valid Unicode|contains a NUL)"):
        parse(row)


def test_ids_in_any_uuid_spelling_are_keyed_canonically() -> None:
    fast = parse_block(block_row(7, 1))  # the canonical spelling the hub sends
    assert fast.key == str(fast.id) and fast.space_key == str(fast.space_id)
    assert fast.stamp == "2026-03-01T12:00:00.000000+00:00"
    spelled = {**block_row(7, 1), "id": fast.key.upper(), "space_id": "{" + fast.space_key + "}"}
    other = parse_block(spelled)
    assert (other.id, other.key, other.space_key) == (fast.id, fast.key, fast.space_key)


def test_creators_are_validated_even_when_seen_before() -> None:
    good = {"lnid": "usr00001", "handle": "alice", "name": None}
    assert parse_block(block_row(1, 1, created_by=good)).created_by.handle == "alice"
    bad = {"lnid": "usr00001", "handle": "x" * 31, "name": None}
    for _ in range(2):  # a rejection is never remembered as a valid creator
        with pytest.raises(RowRejected, match="created_by.handle"):
            parse_block(block_row(1, 1, created_by=bad))


@pytest.mark.parametrize("raw", [["id"], "row", 3, None])
def test_a_row_that_is_not_an_object_is_rejected_naming_its_type(raw: object) -> None:
    for parse in (parse_space, parse_block):
        with pytest.raises(RowRejected, match=f"row: must be an object, got {type(raw).__name__}"):
            parse(raw)  # type: ignore[arg-type]


def test_any_mapping_is_an_object_not_only_a_dict() -> None:
    from types import MappingProxyType

    row = block_row(1, 1)
    creator = MappingProxyType(dict(row["created_by"]))
    parsed = parse_block(MappingProxyType({**row, "created_by": creator}))
    assert parsed.created_by.handle == row["created_by"]["handle"]
    with pytest.raises(RowRejected, match="created_by: must be an object, got str"):
        parse_block({**row, "created_by": "someone"})


def test_a_parsed_block_holds_each_value_in_the_field_named_after_it() -> None:
    """Every field differs from the others here, so a value put in the wrong field shows."""
    raw = block_row(9, 3, content="the content", version=2, is_latest=False, kind="comment", version_tag="v2")
    raw["created_at"] = "2026-03-01T08:00:00.000000+00:00"
    raw["updated_at"] = "2026-03-02T09:30:00Z"
    raw["deleted_at"] = "2026-03-02T09:30:00.000001+00:00"
    row = parse_block(raw)
    assert (row.key, row.lnid, row.space_key) == (raw["id"], raw["lnid"], raw["space_id"])
    assert (row.content, row.hash, row.kind) == ("the content", content_hash("the content"), "comment")
    assert (row.version_tag, row.is_latest) == ("v2", False)
    assert row.created_at.isoformat() == "2026-03-01T08:00:00+00:00"
    assert row.created_text == "2026-03-01T08:00:00.000000+00:00"
    assert (row.updated_at_raw, row.stamp) == ("2026-03-02T09:30:00Z", "2026-03-02T09:30:00.000000+00:00")
    assert row.updated_at.isoformat() == "2026-03-02T09:30:00+00:00"
    assert row.deleted_at is not None and row.deleted_at.isoformat() == "2026-03-02T09:30:00.000001+00:00"
    assert row.created_by.lnid == raw["created_by"]["lnid"]
    assert row.raw is raw
