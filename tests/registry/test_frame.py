"""``to_dataframe``: LaminDB's columns, order, index, dtypes, include, limit and ordering."""

from __future__ import annotations

import pandas as pd
import pytest

from syncd.registry import FeatureValue, FieldError, Instance, Space, SpaceBlock, User


def test_space_frame_columns_index_dtypes_and_default_order(reg: Instance) -> None:
    frame = Space.to_dataframe()
    assert list(frame.columns) == ["uid", "name", "description", "created_at", "created_by_id"]
    assert frame.index.name == "id"
    assert list(frame.index) == list(range(13, 0, -1))
    assert str(frame["created_at"].dtype).startswith("datetime64") and str(frame["created_at"].dt.tz) == "UTC"
    assert frame.loc[2, "created_at"] == pd.Timestamp("2025-01-01 11:00:00.123456", tz="UTC")
    assert frame["created_by_id"].dtype == "float64"  # ints with missing values, as pandas makes them


def test_block_and_user_frames(reg: Instance) -> None:
    blocks = SpaceBlock.to_dataframe(limit=None)
    assert list(blocks.columns) == ["uid", "content", "hash", "kind", "version_tag", "is_latest", "created_at",
                                    "created_by_id", "branch_id", "created_on_id", "space_id"]
    assert list(blocks.index) == [12, 11, 10, 9, 8, 6, 3, 2, 1]  # trash and archive hidden
    assert blocks["is_latest"].dtype == bool
    assert list(User.to_dataframe().columns) == ["uid", "handle", "name", "created_at"]


def test_limit_and_ordering(reg: Instance) -> None:
    assert list(Space.to_dataframe(limit=3).index) == [13, 12, 11]
    assert list(Space.to_dataframe(order_by="name").index)[:3] == [6, 8, 11]
    already = Space.filter(name__icontains="lab").order_by("name").to_dataframe(order_by="-id")
    assert list(already["name"]) == ["Genomics | Lab", "Imaging, Lab", "Lab A", "Lab-A", "Laboratory", "lab_a!"]


def test_include_forward_reverse_and_plain_fields(reg: Instance) -> None:
    forward = Space.to_dataframe(include=["created_by__handle", "created_by__name"], limit=None)
    assert list(forward.columns) == ["uid", "name", "created_by__handle", "created_by__name"]
    assert forward.loc[2, "created_by__handle"] == "alice"
    assert forward.loc[2, "created_by__name"] == "Alice Ärger"
    reverse = Space.to_dataframe(include="ablocks__kind", limit=None)
    assert reverse.loc[2, "ablocks__kind"] == {"comment", "readme"}
    assert reverse.loc[12, "ablocks__kind"] == {None}
    plain = Space.to_dataframe(include=["description"], limit=None)
    assert list(plain.columns) == ["uid", "name", "description"]
    with pytest.raises(FieldError, match="Unknown field"):
        Space.to_dataframe(include="created_by__nope")


def test_empty_frame_keeps_id_as_a_column(reg: Instance) -> None:
    empty = Space.filter(name="nope").to_dataframe()
    assert list(empty.columns) == ["uid", "id", "name", "description", "created_at", "created_by_id"]
    assert len(empty) == 0


def test_a_joined_query_set_gives_one_row_per_record(reg: Instance) -> None:
    frame = Space.filter(ablocks__kind="readme").to_dataframe()
    assert list(frame.index) == [4, 3, 2]


def test_df_is_a_deprecated_alias(reg: Instance) -> None:
    with pytest.warns(DeprecationWarning, match="to_dataframe"):
        old = Space.df()
    assert old.equals(Space.to_dataframe())
    with pytest.warns(DeprecationWarning, match="to_dataframe"):
        assert list(FeatureValue.df().index) == [6, 4, 3, 2, 1]
