"""syncd run-once keeps what exists at its start out of garbage collection, and only during the run."""

from __future__ import annotations

import gc
import weakref

import pytest

from syncd.collector import fewer_passes, imports_frozen


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


def test_young_passes_are_rarer_during_the_run_and_as_before_after_it() -> None:
    before = gc.get_threshold()
    with fewer_passes(5000):
        assert gc.get_threshold() == (max(before[0], 5000), *before[1:])
    assert gc.get_threshold() == before


def test_a_higher_threshold_or_automatic_collection_turned_off_is_kept() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(50_000, *before[1:])
        with fewer_passes(5000):
            assert gc.get_threshold()[0] == 50_000
        gc.set_threshold(0)
        with fewer_passes(5000):
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


def test_thresholds_set_during_the_run_are_kept() -> None:
    before = gc.get_threshold()
    try:
        with fewer_passes(before[0] + 1000):
            gc.set_threshold(before[0] + 7, *before[1:])
        assert gc.get_threshold()[0] == before[0] + 7
    finally:
        gc.set_threshold(*before)


def test_the_thresholds_come_back_when_the_run_raises() -> None:
    before = gc.get_threshold()
    seen = []

    def run() -> None:
        with fewer_passes(before[0] + 1000):
            seen.append(gc.get_threshold()[0])
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError):
        run()
    assert seen == [before[0] + 1000]
    assert gc.get_threshold() == before


def test_cyclic_garbage_made_during_the_run_is_still_collected_automatically() -> None:
    with fewer_passes(2000):
        first = weakref.ref(_Node())  # garbage at once: a cycle nothing else refers to
        for _ in range(5000):  # enough new objects for at least two young passes
            _Node()
        assert first() is None


def test_the_run_makes_fewer_young_passes() -> None:
    def young_passes(objects: int) -> int:
        start = gc.get_stats()[0]["collections"]
        keep = [[] for _ in range(objects)]  # container objects, alive until the count is taken
        passes = gc.get_stats()[0]["collections"] - start
        del keep
        return passes

    gc.collect()
    before = gc.get_threshold()
    default = young_passes(20_000)
    with fewer_passes(before[0] * 10):
        fewer = young_passes(20_000)
    assert fewer <= default // 5
