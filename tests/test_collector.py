"""syncd run-once keeps what exists at its start out of garbage collection, and only during the run."""

from __future__ import annotations

import gc
import weakref

import pytest

from syncd.collector import imports_frozen


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_cycle_made_before_the_run_stays_during_it_and_is_collected_after_it() -> None:
    before = gc.get_freeze_count()
    node = _Node()
    alive = weakref.ref(node)
    with imports_frozen() as frozen:
        assert frozen > before and gc.get_freeze_count() > before
        del node
        gc.collect()
        assert alive() is not None  # frozen: no pass looks at it
    assert gc.get_freeze_count() == before
    gc.collect()
    assert alive() is None


def test_a_cycle_made_during_the_run_is_still_collected() -> None:
    with imports_frozen():
        node = _Node()
        alive = weakref.ref(node)
        del node
        gc.collect()
        assert alive() is None


def test_a_freeze_the_process_made_itself_is_left_alone() -> None:
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with imports_frozen() as frozen:
            assert frozen == 0
        assert gc.get_freeze_count() >= before > 0  # not undone by the run
    finally:
        gc.unfreeze()


def test_the_freeze_ends_when_the_run_raises() -> None:
    before = gc.get_freeze_count()
    with pytest.raises(RuntimeError), imports_frozen():
        raise RuntimeError("the run failed")
    assert gc.get_freeze_count() == before
