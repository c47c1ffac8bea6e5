"""The thread switch interval ``syncd run-once`` picks (see syncd.switching for the measurements)."""

from __future__ import annotations

import sys

import pytest

from syncd.switching import MANY_WRITERS_SECONDS, ONE_WRITER_SECONDS, switch_interval_for


class _Interval:
    def __init__(self, value: float) -> None:
        self.value = value
        self.history: list[float] = []

    def get(self) -> float:
        return self.value

    def set(self, value: float) -> None:
        self.history.append(value)
        self.value = value


def test_one_instance_at_a_time_gets_the_short_interval_and_the_old_one_comes_back() -> None:
    interval = _Interval(0.005)
    with switch_interval_for(1, get_interval=interval.get, set_interval=interval.set) as inside:
        assert inside == ONE_WRITER_SECONDS == interval.value
    assert interval.value == 0.005 and interval.history == [ONE_WRITER_SECONDS, 0.005]


def test_several_instances_at_once_get_the_long_interval_and_the_old_one_comes_back() -> None:
    interval = _Interval(0.005)
    with switch_interval_for(3, get_interval=interval.get, set_interval=interval.set) as inside:
        assert inside == MANY_WRITERS_SECONDS == interval.value
    assert interval.value == 0.005 and interval.history == [MANY_WRITERS_SECONDS, 0.005]


def test_the_interval_is_restored_when_the_run_raises() -> None:
    interval = _Interval(0.005)
    with (
        pytest.raises(RuntimeError),
        switch_interval_for(1, get_interval=interval.get, set_interval=interval.set),
    ):
        raise RuntimeError("the run failed")
    assert interval.value == 0.005


def test_the_real_interpreter_setting_round_trips() -> None:
    before = sys.getswitchinterval()
    with switch_interval_for(1):
        assert abs(sys.getswitchinterval() - ONE_WRITER_SECONDS) < 1e-9
    assert sys.getswitchinterval() == before
