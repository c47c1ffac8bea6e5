"""Fault injection for the emulator, adjustable while it runs.

A :class:`Faults` object decides, per request, whether to misbehave:

- ``error_rates``: probability of answering with a status, e.g. ``{503: 0.1, 429: 0.05}``;
  429 and 503 carry ``Retry-After: {retry_after}`` (whole seconds);
- ``reset_rate``: close the connection without any response;
- ``truncate_rate``: answer 200 with the JSON body cut in half (not a JSON array);
- ``latency_ms``: wait before answering (through the injected ``sleep``);
- ``down``: ``"503"`` answers every request 503, ``"reset"`` resets every connection
  (refusing connections outright is :meth:`RunningHub.stop_listening`);
- :meth:`Faults.fail_next`: a deterministic queue, "the next N requests fail with S".

Random draws come from an RNG seeded with ``seed``, so a test sees the same
faults in the same order every run.
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ConnectionAbort", "DownMode", "FaultAction", "FaultKind", "Faults"]

DownMode = Literal["503", "reset"]
FaultKind = int | Literal["reset", "truncate"]


class ConnectionAbort(Exception):
    """Raised by the WSGI app to ask the server to drop the connection without answering."""


@dataclass(frozen=True, slots=True)
class FaultAction:
    """What to do to one request: wait, then fail with a status, reset, truncate, or answer normally."""

    latency_seconds: float = 0.0
    status: int | None = None
    retry_after: int | None = None
    reset: bool = False
    truncate: bool = False


class Faults:
    """Fault settings plus the seeded RNG that draws from them; thread-safe."""

    def __init__(
        self,
        *,
        error_rates: Mapping[int, float] | None = None,
        retry_after: float = 1.0,
        reset_rate: float = 0.0,
        truncate_rate: float = 0.0,
        latency_ms: float = 0.0,
        down: DownMode | None = None,
        seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._queue: deque[FaultKind] = deque()
        self.error_rates: dict[int, float] = {}
        self.retry_after = retry_after
        self.reset_rate = reset_rate
        self.truncate_rate = truncate_rate
        self.latency_ms = latency_ms
        self.down: DownMode | None = down
        self.seed = seed
        self._rng = random.Random(seed)
        self.update({"error_rates": dict(error_rates or {})})

    def fail_next(self, count: int, status: FaultKind = 503) -> None:
        """Make the next ``count`` requests fail with ``status`` (or ``"reset"``/``"truncate"``)."""
        if not (status in ("reset", "truncate") or (isinstance(status, int) and 400 <= status <= 599)):
            raise ValueError(f"not a fault: {status!r}")
        with self._lock:
            self._queue.extend([status] * count)

    def clear(self) -> None:
        """No faults at all, queue emptied; the RNG restarts from the seed."""
        with self._lock:
            self._queue.clear()
            self.error_rates = {}
            self.reset_rate = self.truncate_rate = self.latency_ms = 0.0
            self.down = None
            self._rng = random.Random(self.seed)

    def update(self, settings: Mapping[str, Any]) -> None:
        """Change some settings (keys as in the constructor); ``ValueError`` on a bad one."""
        unknown = set(settings) - {
            "error_rates",
            "retry_after",
            "reset_rate",
            "truncate_rate",
            "latency_ms",
            "down",
            "seed",
        }
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            if "error_rates" in settings:
                rates = {int(status): float(rate) for status, rate in dict(settings["error_rates"]).items()}
                if (
                    any(not 400 <= s <= 599 or not 0 <= r <= 1 for s, r in rates.items())
                    or sum(rates.values()) > 1
                ):
                    raise ValueError("error_rates: statuses 400..599, rates 0..1 summing to at most 1")
                self.error_rates = rates
            for name in ("retry_after", "reset_rate", "truncate_rate", "latency_ms"):
                if name in settings:
                    value = float(settings[name])
                    if value < 0 or (name.endswith("_rate") and value > 1):
                        raise ValueError(f"{name}: out of range")
                    setattr(self, name, value)
            if "down" in settings:
                if settings["down"] not in (None, "503", "reset"):
                    raise ValueError("down: null, '503' or 'reset'")
                self.down = settings["down"]
            if "seed" in settings:
                self.seed = int(settings["seed"])
                self._rng = random.Random(self.seed)

    def snapshot(self) -> dict[str, Any]:
        """The current settings as JSON-ready values (what ``GET /_sim/faults`` shows)."""
        with self._lock:
            return {
                "error_rates": {str(s): r for s, r in sorted(self.error_rates.items())},
                "retry_after": self.retry_after,
                "reset_rate": self.reset_rate,
                "truncate_rate": self.truncate_rate,
                "latency_ms": self.latency_ms,
                "down": self.down,
                "seed": self.seed,
                "queued": [str(kind) for kind in self._queue],
            }

    def decide(self) -> FaultAction:
        """Draw the fate of one request."""
        with self._lock:
            latency = self.latency_ms / 1000.0
            kind: FaultKind | None = None
            if self._queue:
                kind = self._queue.popleft()
            elif self.down is not None:
                kind = "reset" if self.down == "reset" else 503
            else:
                kind = self._draw()
            if kind is None:
                return FaultAction(latency_seconds=latency)
            if kind == "reset":
                return FaultAction(latency_seconds=latency, reset=True)
            if kind == "truncate":
                return FaultAction(latency_seconds=latency, truncate=True)
            retry_after = math.ceil(self.retry_after) if kind in (429, 503) else None
            return FaultAction(latency_seconds=latency, status=kind, retry_after=retry_after)

    def _draw(self) -> FaultKind | None:
        # One draw per request whatever the settings, so a seed gives one sequence of fates.
        roll = self._rng.random()
        chances: list[tuple[FaultKind, float]] = [("reset", self.reset_rate)]
        chances.extend(sorted(self.error_rates.items()))
        for kind, rate in chances:
            if roll < rate:
                return kind
            roll -= rate
        if roll < self.truncate_rate:
            return "truncate"
        return None
