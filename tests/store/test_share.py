"""A group's instances split its memory budget: small groups get the roomy share."""

from __future__ import annotations

import pytest

from syncd.store.share import ROOMY, ROOMY_GROUP, share_of


@pytest.mark.parametrize("instances", [0, 1, 2, ROOMY_GROUP])
def test_a_small_group_gets_the_roomy_share(instances: int) -> None:
    assert share_of(instances) == ROOMY
    assert ROOMY.roomy
    assert ROOMY.cache_kib == 8000


@pytest.mark.parametrize(("instances", "cache_kib"), [(ROOMY_GROUP + 1, 6000), (10, 2400), (48, 500), (500, 500)])
def test_a_larger_group_splits_24_mb_of_page_cache_and_keeps_small_statements(
    instances: int, cache_kib: int
) -> None:
    share = share_of(instances)
    assert share.cache_kib == cache_kib
    assert not share.roomy
