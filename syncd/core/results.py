"""What a Sink answers the engine: the result types of the Source/Sink protocols."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from syncd.core.models import Resource
from syncd.core.report import Action, InStep

__all__ = ["ApplyResult", "FinishState", "Rejection", "Rescan", "RescanReason"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected row and why. ``stamp_trusted`` False: its ``updated_at`` is itself what is wrong
    (later than the hub's clock), so the entry gives way to any valid version of the row."""

    payload: object
    reason: str
    stamp_trusted: bool = True


RescanReason = Literal["space_restored", "rows_missing", "versions_differ"]


@dataclass(frozen=True, slots=True)
class Rescan:
    """A resource whose stream an instance reads again from the beginning, why, and for which hub ids.

    ``space_restored``: spaces the hub brought back, whose blocks it need not
    re-stamp. ``rows_missing``: live rows a complete key listing showed that the
    stream had gone past without serving them (e.g. access granted to old rows).
    ``versions_differ``: synced rows whose listed ``updated_at`` is not the one
    applied here, which the stream has gone past (a late commit re-stamped them
    older while an earlier syncd kept the version it had).
    """

    resource: Resource
    reason: RescanReason
    hub_ids: tuple[str, ...]


@dataclass(slots=True)
class ApplyResult:
    """Counts per (resource, action), the uids of tombstoned spaces kept because referenced, and
    the streams sent back to the beginning (see :class:`Rescan`)."""

    counts: Counter[tuple[Resource, Action]] = field(default_factory=Counter)
    held: list[str] = field(default_factory=list)
    rescans: list[Rescan] = field(default_factory=list)

    def add(self, resource: Resource, action: Action, n: int = 1) -> None:
        if n:
            self.counts[(resource, action)] += n

    def merge(self, other: ApplyResult) -> None:
        self.counts.update(other.counts)
        self.held.extend(other.held)
        self.rescans.extend(other.rescans)


@dataclass(frozen=True, slots=True)
class FinishState:
    """An instance at the end of a successful run.

    ``complete_before`` is the oldest of its resources' watermarks: every hub
    row stamped earlier has been applied (None until each resource has one).
    ``in_step`` is the instance's freshness record (:mod:`syncd.store.freshness`).
    ``newly_quarantined`` counts the quarantine entries this run wrote (new
    rows, or new versions of rows already there).
    """

    deferred: int
    quarantined: int
    held: list[str]
    complete_before: datetime | None
    in_step: InStep | None = None
    newly_quarantined: int = 0
