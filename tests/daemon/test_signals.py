"""The serve process's signal handlers: SIGTERM and SIGINT ask to stop, SIGHUP to reload; restore undoes them."""

from __future__ import annotations

import signal

from syncd.daemon.signals import install_signal_handlers
from syncd.daemon.wakeup import Wakeup


class Target:
    def __init__(self, wakeup: Wakeup) -> None:
        self.requests: list[str] = []
        self.wakeup = wakeup

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        self.requests.append(f"stop {signal.Signals(signum).name}")

    def request_reload(self) -> None:
        self.requests.append("reload")

    def wakeup_fd(self) -> int:
        return self.wakeup.fileno()


def test_signals_become_requests_until_restored() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    fd_before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd_before)
    with Wakeup() as wakeup:
        target = Target(wakeup)
        restore = install_signal_handlers(target)
        try:
            for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                signal.raise_signal(signum)  # delivered to this (the main) thread before it returns
            rung = wakeup.wait(0)  # the interpreter wrote the signal numbers to the wakeup fd
        finally:
            restore()
        assert target.requests == ["reload", "stop SIGTERM", "stop SIGINT"]
        assert rung
        assert {s: signal.getsignal(s) for s in before} == before
        assert signal.set_wakeup_fd(fd_before) == fd_before
