"""Fault settings: deterministic draws, the fail-next queue, validation."""

from __future__ import annotations

import pytest

from syncd.hubsim import Faults
from syncd.hubsim.faults import FaultAction


def test_no_faults_by_default() -> None:
    faults = Faults()
    assert all(faults.decide() == FaultAction() for _ in range(100))


def test_fail_next_is_served_in_order_before_random_draws() -> None:
    faults = Faults(error_rates={503: 1.0})
    faults.fail_next(2, 429)
    faults.fail_next(1, "reset")
    faults.fail_next(1, "truncate")
    actions = [faults.decide() for _ in range(5)]
    assert [a.status for a in actions] == [429, 429, None, None, 503]
    assert actions[2].reset
    assert actions[3].truncate
    assert actions[0].retry_after == 1


def test_seeded_draws_repeat() -> None:
    settings = {"error_rates": {500: 0.2}, "reset_rate": 0.1, "truncate_rate": 0.1}
    one, two = Faults(seed=3), Faults(seed=3)
    one.update(settings)
    two.update(settings)
    first = [one.decide() for _ in range(300)]
    assert first == [two.decide() for _ in range(300)]
    assert 30 <= sum(a.status == 500 for a in first) <= 90
    assert 10 <= sum(a.reset for a in first) <= 50
    assert 10 <= sum(a.truncate for a in first) <= 50


def test_clear_removes_everything() -> None:
    faults = Faults(error_rates={503: 1.0}, down="503", latency_ms=5)
    faults.fail_next(3)
    faults.clear()
    assert faults.decide() == FaultAction()
    assert faults.snapshot()["queued"] == []


@pytest.mark.parametrize(
    "settings",
    [
        {"error_rates": {200: 0.5}},
        {"error_rates": {503: 0.7, 429: 0.7}},
        {"reset_rate": 2},
        {"latency_ms": -1},
        {"down": "maybe"},
        {"colour": "red"},
    ],
)
def test_bad_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each message names its own setting
        Faults().update(settings)


def test_bad_fail_next_is_refused() -> None:
    with pytest.raises(ValueError, match="not a fault"):
        Faults().fail_next(1, 200)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_down_modes_and_their_expiry() -> None:
    monotonic = FakeMonotonic()
    faults = Faults(monotonic=monotonic)
    faults.update({"down": "503", "down_seconds": 30})
    assert faults.decide().status == 503
    assert faults.snapshot()["down_seconds_left"] == 30
    monotonic.now += 30
    assert faults.decide() == FaultAction()
    assert faults.snapshot()["down"] is None
    faults.update({"down": "refuse"})
    assert faults.refusing()
    assert faults.decide().reset  # a request that still slips through is dropped
    faults.update({"down": "reset"})
    assert not faults.refusing()
    assert faults.decide().reset


def test_a_bad_update_changes_nothing() -> None:
    faults = Faults(latency_ms=5)
    before = faults.snapshot()
    with pytest.raises(ValueError, match="down"):
        faults.update({"latency_ms": 99, "down": "sideways"})
    assert faults.snapshot() == before
