"""Signals in ``syncd serve``: SIGTERM and SIGINT ask the daemon to stop, SIGHUP to reload.

The handlers only set flags and ring the daemon's :class:`~syncd.daemon.wakeup.Wakeup`
(no lock), and its write end becomes the interpreter's wakeup fd, so a signal
the kernel hands to another thread still wakes the main loop.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

__all__ = ["SignalTarget", "install_signal_handlers"]


class SignalTarget(Protocol):
    """What the handlers ask of the daemon; both requests are safe to make in a signal handler."""

    def request_stop(self, signum: int = ...) -> None: ...

    def request_reload(self) -> None: ...

    def wakeup_fd(self) -> int:
        """A non-blocking descriptor the interpreter writes a byte to on every signal."""
        ...


def install_signal_handlers(daemon: SignalTarget) -> Callable[[], None]:
    """SIGTERM/SIGINT stop, SIGHUP reloads; returns a function restoring the previous handlers.

    Call it on the main thread (``signal`` accepts handlers nowhere else).
    """

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        daemon.request_stop(signum)

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        daemon.request_reload()

    previous: dict[int, Any] = {}
    for signum, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, on_hup)):
        previous[signum] = signal.signal(signum, handler)
    previous_fd = signal.set_wakeup_fd(daemon.wakeup_fd(), warn_on_full_buffer=False)

    def restore() -> None:
        signal.set_wakeup_fd(previous_fd)
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
