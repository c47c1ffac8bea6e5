"""What a sync run did, per instance: the result types the CLI, the daemon and health share."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from syncd.core.models import Resource

__all__ = ["ACTIONS", "Action", "InStep", "InstanceReport", "Outcome", "RunReport"]

Action = Literal["inserted", "updated", "deleted", "deferred", "rejected", "unchanged"]
ACTIONS: tuple[Action, ...] = ("inserted", "updated", "deleted", "deferred", "rejected", "unchanged")
Outcome = Literal["ok", "failed", "interrupted", "skipped"]
"""``interrupted``: a shutdown stopped the run after committing what it applied; not a failure.
``skipped``: another replica held the instance's lock, so this one left it to that replica."""


@dataclass(frozen=True, slots=True)
class InStep:
    """When an instance was last brought in step with the hub, by whom, read from the instance itself.

    ``pull_started`` is the hub's clock (its ``Date``) when the oldest of the
    last completed pulls of each resource began: every change the hub had
    visible then is in the instance (late commits aside, which the lookback
    repairs). ``hub_offset_seconds`` is the hub's clock minus the local clock
    of the replica that pulled, measured then.
    """

    pull_started: datetime
    hub_offset_seconds: float
    finished_at: datetime
    replica: str
    hub: str

    def staleness(self, now: datetime) -> float:
        """Hub-clock seconds since ``pull_started``, ``now`` being the local clock."""
        return max(0.0, (now - self.pull_started).total_seconds() + self.hub_offset_seconds)


@dataclass(slots=True)
class InstanceReport:
    """One instance's part of a run.

    ``counts[(resource, action)]`` counts rows; ``deferred``/``quarantined`` are
    what is parked in the instance *after* the run; ``held`` counts tombstoned
    spaces kept because LaminDB records still reference them; ``rereads`` names
    each stream the instance read again from the beginning, and why (``space_block:
    space_restored``, ``space: rows_missing``). ``untrusted_dates`` counts hub
    responses whose ``Date`` was too far ahead of the local clock to be used
    (the furthest by ``hub_clock_ahead_seconds``); ``newly_quarantined`` counts
    row versions this run quarantined for the first time.
    """

    name: str
    outcome: Outcome = "ok"
    error: str | None = None
    error_kind: str | None = None
    counts: Counter[tuple[Resource, Action]] = field(default_factory=Counter)
    deferred: int = 0
    quarantined: int = 0
    held: int = 0
    held_spaces: list[str] = field(default_factory=list)
    rereads: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    finished_at: datetime | None = None
    hub_date: datetime | None = None
    lag_seconds: float | None = None
    hub_requests: int = 0
    in_step: InStep | None = None
    untrusted_dates: int = 0
    hub_clock_ahead_seconds: float | None = None
    newly_quarantined: int = 0

    def count(self, resource: Resource, action: Action) -> int:
        return self.counts[(resource, action)]

    @property
    def changed(self) -> int:
        return sum(
            n for (_, action), n in self.counts.items() if action in ("inserted", "updated", "deleted")
        )


@dataclass(slots=True)
class RunReport:
    """A whole run: every selected instance, in configuration order."""

    instances: list[InstanceReport]
    full: bool = False

    @property
    def ok(self) -> bool:
        return all(i.outcome in ("ok", "skipped") for i in self.instances)

    @property
    def failed(self) -> list[InstanceReport]:
        """Instances that did not finish in step with the hub (failed or interrupted)."""
        return [i for i in self.instances if i.outcome in ("failed", "interrupted")]
