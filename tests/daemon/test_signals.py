"""The serve process's signal handlers: SIGTERM and SIGINT ask to stop, SIGHUP to reload; restore undoes them."""

from __future__ import annotations

import signal

from syncd.daemon.signals import install_signal_handlers


class Target:
    def __init__(self) -> None:
        self.requests: list[str] = []

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        self.requests.append(f"stop {signal.Signals(signum).name}")

    def request_reload(self) -> None:
        self.requests.append("reload")


def test_signals_become_requests_until_restored() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    target = Target()
    restore = install_signal_handlers(target)
    try:
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.raise_signal(signum)  # delivered to this (the main) thread before it returns
    finally:
        restore()
    assert target.requests == ["reload", "stop SIGTERM", "stop SIGINT"]
    assert {s: signal.getsignal(s) for s in before} == before
