"""What the serve loop sleeps on: a socket pair rung by signals and by other threads.

A signal's Python handler runs on the main thread, and only once that thread
executes bytecode again. The kernel may hand the signal to any thread, so a
main thread asleep on a lock can miss it indefinitely; and a handler that takes
a lock (``threading.Event.set``) deadlocks if the signal interrupts the main
thread while it holds that lock. So:

- the write end is the interpreter's wakeup fd (``signal.set_wakeup_fd``):
  whichever thread receives a signal writes a byte, and the main thread's
  ``select`` returns;
- :meth:`Wakeup.ring` is a non-blocking ``send``, safe in a handler and from
  any thread; a full buffer means the loop is awake already;
- :meth:`Wakeup.wait` is bounded, so the loop looks at its flags at least
  once per ``timeout`` whatever happens.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
from types import TracebackType

__all__ = ["Wakeup"]

_DRAIN_BYTES = 4096


class Wakeup:
    """A self-pipe: :meth:`ring` from anywhere, :meth:`wait` on the main loop."""

    def __init__(self) -> None:
        self._read, self._write = socket.socketpair()
        for end in (self._read, self._write):
            end.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._read, selectors.EVENT_READ)
        self.closed = False

    def fileno(self) -> int:
        """The write end, for ``signal.set_wakeup_fd``."""
        return self._write.fileno()

    def ring(self) -> None:
        """Wake the waiter; takes no lock, so a signal handler may call it."""
        # BlockingIOError: a byte is waiting already; closed: nobody waits any more
        with contextlib.suppress(OSError):
            self._write.send(b"\x00")

    def wait(self, timeout: float) -> bool:
        """Sleep until rung or ``timeout`` seconds have passed; true when rung."""
        if not self._selector.select(timeout):
            return False
        try:
            while self._read.recv(_DRAIN_BYTES):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._selector.close()
        self._read.close()
        self._write.close()

    def __enter__(self) -> Wakeup:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None,
    ) -> None:
        self.close()
