"""Fault knobs of the emulator's Realtime endpoint, adjustable while it runs.

- ``refuse``: answer every websocket upgrade with this status (401, 403, 404,
  429 or 500) instead of accepting it; ``None`` accepts;
- ``drop_rate``: probability that a change event is never sent;
- ``duplicate_rate``: probability that a change event is sent twice;
- ``delay_ms``: how long each change event waits before it is sent;
- ``early_ms``: each write becomes visible to REST reads this long after its
  event is sent (the event precedes visibility, as behind a lagging replica);
- ``silent``: the server stops answering (no heartbeat replies, no events),
  as a hung connection would;
- ``seed``: seeds the draws of ``drop_rate``.

Closing every open connection is an action, not a setting:
:meth:`syncd.hubsim.realtime.RealtimeHub.close_all` (``POST /_sim/realtime/close``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from typing import Any

from syncd.hubsim.faults import checked_number

__all__ = ["REFUSALS", "RealtimeFaults"]

REFUSALS = (401, 403, 404, 429, 500)
_SETTINGS = frozenset({"refuse", "drop_rate", "duplicate_rate", "delay_ms", "early_ms", "silent", "seed"})


def _checked(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting validated before any is applied, so a bad update changes nothing."""
    unknown = set(settings) - _SETTINGS
    if unknown:
        raise ValueError(f"unknown realtime fault setting(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for name, value in settings.items():
        if name == "refuse":
            if value is not None and (isinstance(value, bool) or int(value) not in REFUSALS):
                raise ValueError(f"refuse: null or one of {', '.join(map(str, REFUSALS))}")
            out[name] = None if value is None else int(value)
        elif name == "silent":
            if not isinstance(value, bool):
                raise ValueError("silent: true or false")
            out[name] = value
        elif name == "seed":
            out[name] = int(value)
        else:
            out[name] = checked_number(name, value)
    return out


class RealtimeFaults:
    """The Realtime endpoint's fault settings plus their seeded RNG; thread-safe."""

    def __init__(
        self,
        *,
        refuse: int | None = None,
        drop_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        delay_ms: float = 0.0,
        early_ms: float = 0.0,
        silent: bool = False,
        seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self.refuse: int | None = None
        self.drop_rate = self.duplicate_rate = self.delay_ms = self.early_ms = 0.0
        self.silent = False
        self.seed = seed
        self._rng = random.Random(seed)
        self.update({"refuse": refuse, "drop_rate": drop_rate, "duplicate_rate": duplicate_rate,
                     "delay_ms": delay_ms,
                     "early_ms": early_ms, "silent": silent})

    def update(self, settings: Mapping[str, Any]) -> None:
        """Change some settings; ``ValueError`` (and no change at all) on a bad one."""
        checked = _checked(settings)
        with self._lock:
            for name, value in checked.items():
                setattr(self, name, value)
            if "seed" in checked:
                self._rng = random.Random(self.seed)

    def clear(self) -> None:
        """No faults; the RNG restarts from the seed."""
        with self._lock:
            self.refuse = None
            self.drop_rate = self.duplicate_rate = self.delay_ms = self.early_ms = 0.0
            self.silent = False
            self._rng = random.Random(self.seed)

    def copies(self) -> int:
        """Draw how many times the next event is sent: 0 (dropped), 1, or 2 (duplicated)."""
        with self._lock:
            if self.drop_rate > 0 and self._rng.random() < self.drop_rate:
                return 0
            return 2 if self.duplicate_rate > 0 and self._rng.random() < self.duplicate_rate else 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"refuse": self.refuse, "drop_rate": self.drop_rate, "duplicate_rate": self.duplicate_rate,
                    "delay_ms": self.delay_ms,
                    "early_ms": self.early_ms, "silent": self.silent, "seed": self.seed}
