"""Progress on a terminal during long syncs: one status line, rewritten in place."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from syncd.models import Resource
from syncd.report import Action, InstanceReport

__all__ = ["TerminalProgress"]


class TerminalProgress:
    """An :class:`~syncd.observe.Observer` that shows rows applied per instance, at most 5 times a second."""

    def __init__(self, stream: TextIO, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._monotonic = monotonic
        self._rows: Counter[str] = Counter()
        self._requests = 0
        self._shown = 0.0
        self._width = 0

    def hub_request(self, resource: str, status: str, seconds: float) -> None:
        self._requests += 1

    def hub_retry(self, reason: str, delay: float) -> None:
        self._write(f"hub answered {reason}; retrying in {delay:.1f}s", force=True)

    def rows_applied(self, instance: str, resource: Resource, action: Action, count: int) -> None:
        if action != "unchanged":
            self._rows[instance] += count
        now = self._monotonic()
        if now - self._shown >= 0.2:
            self._shown = now
            parts = ", ".join(f"{name}: {n} rows" for name, n in self._rows.items())
            self._write(f"syncing… {self._requests} hub requests; {parts}")

    def instance_done(self, report: InstanceReport) -> None:
        self._write("", force=True)

    def _write(self, text: str, *, force: bool = False) -> None:
        pad = max(0, self._width - len(text))
        self._stream.write("\r" + text + " " * pad + ("\r" if not text else ""))
        self._stream.flush()
        self._width = len(text)
