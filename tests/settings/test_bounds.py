"""The [sync] keys that bound what the hub can make a run consume."""

from __future__ import annotations

import pytest

from syncd.errors import ConfigError
from syncd.settings import parse_settings
from syncd.settings.model import MIN_RESPONSE_BYTES, SyncSettings

ENV = {"SYNCD_HUB_TOKEN": "t"}


def _load(sync: dict[str, object]) -> SyncSettings:
    data = {"hub": {"url": "http://127.0.0.1:9"}, "sync": sync, "instances": [{"name": "a", "url": "sqlite://"}]}
    return parse_settings(data, ENV, source="<test>").sync


def test_defaults_and_the_response_bound_sized_from_page_size() -> None:
    sync = _load({})
    assert (sync.clock_skew_seconds, sync.run_deadline_seconds, sync.response_bytes_per_row) == (300, 3600, 32768)
    assert sync.max_response_bytes == 1000 * 32768
    assert _load({"page_size": 10}).max_response_bytes == MIN_RESPONSE_BYTES  # room for one contract row
    assert _load({"page_size": 500, "response_bytes_per_row": 65536}).max_response_bytes == 500 * 65536


@pytest.mark.parametrize(
    ("key", "value"),
    [("clock_skew_seconds", 0), ("run_deadline_seconds", 1), ("response_bytes_per_row", 10)],
)
def test_values_out_of_range_are_refused_naming_the_key(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=f"sync.{key}"):
        _load({key: value})
