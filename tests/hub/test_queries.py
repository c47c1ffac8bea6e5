"""The hub contract's query strings, byte for byte."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.models import Position, Resource
from syncd.hub.queries import MAX_LIMIT, changes_query, encode, keys_query, resource_path

ID = uuid.UUID("0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d")
BASE = "select=*&order=updated_at.asc,id.asc&limit=500"


def position(raw: str) -> Position:
    return Position(datetime(2024, 5, 1, 11, tzinfo=UTC), raw, ID)


def test_first_page() -> None:
    assert changes_query(limit=500) == BASE


def test_after_position_with_offset_and_fraction_is_percent_encoded_verbatim() -> None:
    query = changes_query(limit=500, after=position("2024-05-01T12:00:00.123+01:00"))
    ts = "2024-05-01T12%3A00%3A00.123%2B01%3A00"
    assert query == (
        f"{BASE}&or=(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d))"
    )


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("2024-05-01T11:00:00Z", "2024-05-01T11%3A00%3A00Z"),
        ("2024-05-01T11:00:00.000000+00:00", "2024-05-01T11%3A00%3A00.000000%2B00%3A00"),
        ("2024-05-01T06:30:00.5-04:30", "2024-05-01T06%3A30%3A00.5-04%3A30"),
    ],
)
def test_after_position_keeps_the_hubs_spelling(raw: str, encoded: str) -> None:
    query = changes_query(limit=500, after=position(raw))
    assert query.endswith(f"&or=(updated_at.gt.{encoded},and(updated_at.eq.{encoded},id.gt.{ID}))")


def test_since() -> None:
    query = changes_query(limit=1000, since="2024-05-01T12:00:00.25+02:00")
    assert query == (
        "select=*&order=updated_at.asc,id.asc&limit=1000&updated_at=gte.2024-05-01T12%3A00%3A00.25%2B02%3A00"
    )


def test_keys_first_and_next() -> None:
    base = "select=id,lnid,updated_at&deleted_at=is.null&order=id.asc&limit=3"
    assert keys_query(limit=3) == base
    assert keys_query(limit=3, after_id=ID) == f"{base}&id=gt.0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d"


def test_resource_path() -> None:
    assert resource_path(Resource.SPACE) == "/rest/v1/space"
    assert resource_path(Resource.SPACE_BLOCK) == "/rest/v1/space_block"


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True])
def test_limit_out_of_range_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        changes_query(limit=limit)
    with pytest.raises(ValueError, match="limit"):
        keys_query(limit=limit)


def test_after_and_since_together_are_refused() -> None:
    with pytest.raises(ValueError, match="at most one"):
        changes_query(limit=10, after=position("2024-05-01T11:00:00Z"), since="2024-05-01T11:00:00Z")


def test_since_must_be_a_timestamp() -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        changes_query(limit=10, since="yesterday")


@given(st.text())
def test_encode_round_trips_and_leaves_only_unreserved_characters(value: str) -> None:
    encoded = encode(value)
    assert unquote(encoded) == value
    assert re.fullmatch(r"(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})*", encoded)
