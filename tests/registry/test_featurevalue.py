"""FeatureValue (LaminDB's JsonValue), declared in a few lines: read-only queries of every kind."""

from __future__ import annotations

import pytest

from syncd.registry import FeatureValue, Instance, JsonValue, Space


def test_feature_value_is_json_value(reg: Instance) -> None:
    assert FeatureValue is JsonValue


def test_filter_get_and_json_values(reg: Instance) -> None:
    assert [v.id for v in FeatureValue.filter().order_by("id")] == [1, 2, 3, 4, 6]  # trash hidden
    assert [v.value for v in FeatureValue.filter(space__name="Lab A").order_by("id")] == [42, "lab value"]
    assert FeatureValue.get(3).value == {"a": 1}
    assert FeatureValue.get(4).value == ["x", "y"]
    assert FeatureValue.get(3).space == Space.get(5)
    assert FeatureValue.filter(branch=None).count() == 6
    assert [v.id for v in FeatureValue.filter(feature_id__isnull=True, space_id=2).order_by("id")] == [1, 2]
    assert [v.id for v in FeatureValue.filter(value="lab value")] == [2]
    assert [v.id for v in FeatureValue.filter(value=42)] == [1]
    assert [v.id for v in FeatureValue.filter(value={"a": 1})] == [3]
    assert [v.id for v in FeatureValue.filter(value__in=[42, ["x", "y"]]).order_by("id")] == [1, 4]
    with pytest.raises(Exception, match="supports exact, in, isnull and contains"):
        FeatureValue.filter(value__icontains="lab")
    with pytest.raises(Exception, match="filter on run_id"):
        FeatureValue.filter(run__name="x")


def test_frames_search_lookup_using(reg: Instance) -> None:
    frame = FeatureValue.to_dataframe()
    assert list(frame.columns) == ["value", "hash", "is_locked", "created_at", "branch_id", "created_on_id",
                                   "space_id", "created_by_id", "run_id", "feature_id"]
    assert list(frame.index) == [6, 4, 3, 2, 1]
    assert [v.id for v in FeatureValue.search("hlab")] == [2, 6]
    assert FeatureValue.lookup()._fields == ("lab_value", "trashed_value", "dict")
    assert FeatureValue.using(reg).filter(space__name__icontains="lab").count() == 3
