"""Progress on a terminal during long syncs: one status line, rewritten in place.

Log lines go to the same terminal. :meth:`TerminalProgress.log_stream` is the
stream to hand the log handler: before a log line is written the status line
is cleared, and after it the status line is drawn again below it, so the two
never run into each other.
"""

from __future__ import annotations

import io
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO, cast

from syncd.core.models import Resource
from syncd.core.report import Action, InstanceReport

__all__ = ["TerminalProgress"]


def _terminal_columns() -> int:
    return shutil.get_terminal_size().columns


class TerminalProgress:
    """An :class:`~syncd.core.observe.Observer` showing rows applied per instance, at most 5 times a second.

    The status line is cut to the terminal's width (``columns``), since a
    wrapped line cannot be rewritten in place. Observer calls come from the
    instances' threads, log lines from any thread: one lock orders them.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        columns: Callable[[], int] = _terminal_columns,
    ) -> None:
        self._stream = stream
        self._monotonic = monotonic
        self._columns = columns
        self._lock = threading.RLock()
        self._rows: Counter[str] = Counter()
        self._requests = 0
        self._shown = 0.0
        self._line = ""  # the status line on screen now ("" when none)
        self._mid_log_line = False  # a log line has started but not ended

    def log_stream(self) -> TextIO:
        """A stream for log lines that keeps them apart from the status line."""
        return cast(TextIO, _LogLines(self))

    def hub_request(self, resource: str, status: str, seconds: float) -> None:
        with self._lock:
            self._requests += 1

    def hub_retry(self, reason: str, delay: float, message: str = "") -> None:
        what, then = message or reason, f"; retrying in {delay:.1f} s"
        room = max(1, self._columns() - 1 - len(then))
        if len(what) > room:  # a narrow terminal: cut what failed, keep when it is retried
            what = what[: max(0, room - 1)] + "…"
        self._show(what + then)

    def rows_applied(self, instance: str, resource: Resource, action: Action, count: int) -> None:
        with self._lock:
            if action != "unchanged":
                self._rows[instance] += count
            now = self._monotonic()
            if now - self._shown < 0.2:
                return
            self._shown = now
            parts = ", ".join(f"{name}: {n} rows" for name, n in self._rows.items())
            self._show(f"syncing… {self._requests} hub requests; {parts}")

    def instance_done(self, report: InstanceReport) -> None:
        self._show("")

    def write_log(self, text: str) -> None:
        """Write log output: clear the status line first, draw it again once the log line has ended."""
        if not text:
            return
        with self._lock:
            if not self._mid_log_line:
                self._erase()
            self._stream.write(text)
            self._mid_log_line = not text.endswith("\n")
            if not self._mid_log_line and self._line:
                self._stream.write(self._line)
            self._stream.flush()

    def flush(self) -> None:
        with self._lock:
            self._stream.flush()

    def _show(self, text: str) -> None:
        with self._lock:
            text = text[: max(1, self._columns() - 1)] if text else ""
            if self._mid_log_line:  # never draw into the middle of a log line; it is drawn after it
                self._line = text
                return
            self._erase()
            self._stream.write(text)
            self._stream.flush()
            self._line = text

    def _erase(self) -> None:
        if self._line:
            self._stream.write("\r" + " " * len(self._line) + "\r")


class _LogLines(io.TextIOBase):
    """What the log handler writes to: every write goes through :meth:`TerminalProgress.write_log`."""

    def __init__(self, progress: TerminalProgress) -> None:
        super().__init__()
        self._progress = progress

    def write(self, text: str) -> int:
        self._progress.write_log(text)
        return len(text)

    def flush(self) -> None:
        self._progress.flush()

    def isatty(self) -> bool:
        return True
