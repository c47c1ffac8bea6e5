"""The emulator accepts exactly the query forms of the hub contract, and nothing else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from syncd.hubsim.query import Query, QueryError, parse_query

ID = uuid.UUID("12345678-1234-4234-8234-123456789abc")
FIRST = "select=*&order=updated_at.asc,id.asc&limit=1000"


def enc(value: str) -> str:
    return quote(value, safe="")


def test_first_page_form() -> None:
    assert parse_query(FIRST) == Query(keys_only=False, order="updated_at", limit=1000)


@pytest.mark.parametrize(
    ("spelling", "instant"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.123456+00:00", datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T17:30:00.5+05:30", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T09:00:00.000-03:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_keyset_form_compares_instants_of_any_spelling(spelling: str, instant: datetime) -> None:
    value = f"(updated_at.gt.{spelling},and(updated_at.eq.{spelling},id.gt.{ID}))"
    query = parse_query(f"{FIRST}&or={enc(value)}")
    assert query.after == (instant, ID)


def test_keyset_form_accepts_parentheses_and_commas_percent_encoded_or_not() -> None:
    ts = enc("2024-05-01T12:00:00+02:00")
    query = parse_query(f"{FIRST}&or=(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{ID}))")
    assert query.after == (datetime(2024, 5, 1, 10, tzinfo=UTC), ID)


def test_keyset_form_with_quoted_values() -> None:
    value = f'(updated_at.gt."2024-05-01T12:00:00Z",and(updated_at.eq."2024-05-01T12:00:00Z",id.gt."{ID}"))'
    assert parse_query(f"{FIRST}&or={enc(value)}").after == (datetime(2024, 5, 1, 12, tzinfo=UTC), ID)


def test_since_form() -> None:
    query = parse_query(f"{FIRST}&updated_at=gte.{enc('2024-05-01T12:00:00.25-03:00')}")
    assert query.since == datetime(2024, 5, 1, 15, 0, 0, 250000, tzinfo=UTC)


def test_key_listing_forms() -> None:
    base = "select=id,lnid,updated_at&deleted_at=is.null&order=id.asc&limit=500"
    assert parse_query(base) == Query(keys_only=True, order="id", limit=500, live_only=True)
    assert parse_query(f"{base}&id=gt.{ID}").id_after == ID


def test_unencoded_plus_is_refused_like_postgres() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(f"{FIRST}&updated_at=gte.2024-05-01T12:00:00+00:00")
    assert "timestamp" in caught.value.message
    assert caught.value.hint is not None


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "select=*&order=updated_at.asc,id.asc",  # no limit
        "select=*&limit=10",  # no order
        "order=id.asc&limit=10",  # no select
        "select=*&order=updated_at.asc,id.asc&limit=1001",
        "select=*&order=updated_at.asc,id.asc&limit=-1",
        "select=*&order=updated_at.asc,id.asc&limit=ten",
        "select=name&order=id.asc&limit=10",
        "select=*&order=updated_at.desc&limit=10",
        "select=*&order=id.asc&limit=10&limit=20",
        "select=*&order=id.asc&limit=10&offset=10",
        "select=*&order=id.asc&limit=10&deleted_at=not.is.null",
        "select=*&order=id.asc&limit=10&deleted_at=is.true",
        "select=*&order=id.asc&limit=10&id=gte.12345678-1234-4234-8234-123456789abc",
        "select=*&order=id.asc&limit=10&id=gt.not-a-uuid",
        "select=*&order=id.asc&limit=10&updated_at=gt.2024-05-01T12:00:00Z",
        "select=*&order=id.asc&limit=10&updated_at=gte.2024-05-01T12:00:00",  # no offset
        "select=*&order=id.asc&limit=10&updated_at=gte.2024-05-01T12:00:00.1234567Z",  # 7 digits
        "select=*&order=id.asc&limit=10&or=(updated_at.gt.2024-05-01T12:00:00Z)",
        "select=*&order=id.asc&limit=10&or=(updated_at.gt.2024-05-01T12:00:00Z,and(updated_at.eq."
        "2024-05-01T12:00:01Z,id.gt.12345678-1234-4234-8234-123456789abc))",  # two different instants
    ],
)
def test_everything_else_is_a_query_error(query_string: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query_string)
    assert caught.value.code == "PGRST100"
    assert caught.value.message


def test_limit_zero_is_allowed() -> None:
    assert parse_query("select=*&order=id.asc&limit=0").limit == 0
