"""The serve loop's wake-up: rung from any thread without blocking, waited on with a bound."""

from __future__ import annotations

import threading

from syncd.daemon.wakeup import Wakeup


def test_wait_returns_false_after_the_timeout_when_nobody_rings() -> None:
    with Wakeup() as wakeup:
        assert wakeup.wait(0.05) is False
        wakeup.ring()
        assert wakeup.wait(0.05) is True


def test_a_ring_from_another_thread_wakes_the_waiter_once() -> None:
    with Wakeup() as wakeup:
        threading.Thread(target=wakeup.ring).start()
        assert wakeup.wait(10) is True
        assert wakeup.wait(0) is False  # drained: one wake-up per batch of rings


def test_ringing_never_blocks_even_when_nobody_drains() -> None:
    with Wakeup() as wakeup:
        for _ in range(1_000_000 // 4096 * 64):  # far past any socket buffer
            wakeup.ring()
        assert wakeup.wait(0) is True
        assert wakeup.wait(0) is False


def test_ringing_a_closed_wakeup_is_harmless() -> None:
    wakeup = Wakeup()
    wakeup.close()
    wakeup.ring()
    wakeup.close()
    assert wakeup.closed
