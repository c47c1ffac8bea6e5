"""Fault injection for the emulator, adjustable while it runs.

A :class:`Faults` object decides, per request, whether to misbehave:

- ``error_rates``: probability of answering with a status, e.g. ``{503: 0.1, 429: 0.05}``;
  429 and 503 carry ``Retry-After: {retry_after}`` (whole seconds, rounded up);
- ``reset_rate``: close the connection without any response (a TCP reset);
- ``truncate_rate``: answer 200 with the JSON body cut in half (not a JSON array);
- ``latency_ms``: wait before answering (through the app's injected ``sleep``);
- ``down``: ``"503"`` answers every request 503, ``"reset"`` resets every
  connection, ``"refuse"`` makes the server close its listening socket so
  connections are refused (the server notices within one poll interval);
  ``down_seconds`` ends any down mode after that many seconds (monotonic clock);
- :meth:`Faults.fail_next`: a deterministic queue, "the next N requests fail with S",
  served before any random draw.

Random draws come from an RNG seeded with ``seed`` (one draw per request), so
a test sees the same faults in the same order every run.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ConnectionAbort", "DownMode", "FaultAction", "FaultKind", "Faults"]

DownMode = Literal["503", "reset", "refuse"]
FaultKind = int | Literal["reset", "truncate"]
_SETTINGS = frozenset(
    {
        "error_rates",
        "retry_after",
        "reset_rate",
        "truncate_rate",
        "latency_ms",
        "down",
        "down_seconds",
        "seed",
    }
)


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


def _rates(value: object) -> dict[int, float]:
    if not isinstance(value, Mapping):
        raise ValueError("error_rates: expected a mapping of status to rate")
    rates = {int(status): float(rate) for status, rate in value.items()}
    if any(not 400 <= s <= 599 or not 0 <= r <= 1 for s, r in rates.items()) or sum(rates.values()) > 1:
        raise ValueError("error_rates: statuses 400..599, rates 0..1 summing to at most 1")
    return rates


def _checked(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validate every setting before any is applied, so a bad update changes nothing."""
    unknown = set(settings) - _SETTINGS
    if unknown:
        raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for name, value in settings.items():
        if name == "error_rates":
            out[name] = _rates(value)
        elif name == "down":
            if value not in (None, "503", "reset", "refuse"):
                raise ValueError("down: null, '503', 'reset' or 'refuse'")
            out[name] = value
        elif name == "seed":
            out[name] = int(value)
        elif name == "down_seconds" and value is None:
            out[name] = None
        else:
            out[name] = checked_number(name, value)
    return out


def checked_number(name: str, value: Any) -> float:
    """A numeric fault setting: never negative, and a ``*_rate`` at most 1."""
    number = float(value)
    if number < 0 or (name.endswith("_rate") and number > 1):
        raise ValueError(f"{name}: out of range")
    return number


class Faults:
    """Fault settings plus the seeded RNG that draws from them; thread-safe.

    ``monotonic`` times ``down_seconds`` (a real clock by default; tests pass their own).
    """

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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._queue: deque[FaultKind] = deque()
        self.error_rates: dict[int, float] = {}
        self.retry_after = 0.0
        self.reset_rate = self.truncate_rate = self.latency_ms = 0.0
        self.down: DownMode | None = None
        self._down_until: float | None = None
        self.seed = seed
        self._rng = random.Random(seed)
        self.update(
            {
                "error_rates": dict(error_rates or {}),
                "retry_after": retry_after,
                "reset_rate": reset_rate,
                "truncate_rate": truncate_rate,
                "latency_ms": latency_ms,
                "down": down,
            }
        )

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
            self.down = self._down_until = None
            self._rng = random.Random(self.seed)

    def update(self, settings: Mapping[str, Any]) -> None:
        """Change some settings (constructor keys, plus ``down_seconds``); ``ValueError`` on a bad one."""
        checked = _checked(settings)
        with self._lock:
            for name in ("error_rates", "retry_after", "reset_rate", "truncate_rate", "latency_ms"):
                if name in checked:
                    setattr(self, name, checked[name])
            if "down" in checked:
                self.down = checked["down"]
                self._down_until = None
            if checked.get("down_seconds") is not None:
                self._down_until = self._monotonic() + checked["down_seconds"]
            if "seed" in checked:
                self.seed = checked["seed"]
                self._rng = random.Random(self.seed)

    def refusing(self) -> bool:
        """True while ``down == "refuse"``: the server should not listen."""
        with self._lock:
            return self._current_down() == "refuse"

    def snapshot(self) -> dict[str, Any]:
        """The current settings as JSON-ready values (what ``GET /_sim/faults`` shows)."""
        with self._lock:
            down = self._current_down()
            left = None if self._down_until is None else max(0.0, self._down_until - self._monotonic())
            return {
                "error_rates": {str(s): r for s, r in sorted(self.error_rates.items())},
                "retry_after": self.retry_after,
                "reset_rate": self.reset_rate,
                "truncate_rate": self.truncate_rate,
                "latency_ms": self.latency_ms,
                "down": down,
                "down_seconds_left": left,
                "seed": self.seed,
                "queued": [str(kind) for kind in self._queue],
            }

    def decide(self) -> FaultAction:
        """Draw the fate of one request."""
        with self._lock:
            latency = self.latency_ms / 1000.0
            down = self._current_down()
            kind: FaultKind | None
            if self._queue:
                kind = self._queue.popleft()
            elif down is not None:
                kind = 503 if down == "503" else "reset"  # a request slipping in while refusing is reset
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

    def _current_down(self) -> DownMode | None:
        if self._down_until is not None and self._monotonic() >= self._down_until:
            self.down = self._down_until = None
        return self.down

    def _draw(self) -> FaultKind | None:
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
