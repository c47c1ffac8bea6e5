"""Each instance's part in a run: what counting, committing, failing and finishing leave in its report."""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

from syncd.core.listing import KeyListing
from syncd.core.members import (
    Member,
    commit,
    commit_everywhere,
    count,
    fail,
    fail_all,
    finish,
    interrupt_all,
    retry_parked,
)
from syncd.core.models import Resource
from syncd.core.observe import NullObserver
from syncd.core.report import Action, InstanceReport
from syncd.core.results import ApplyResult, FinishState, Rescan
from syncd.errors import InstanceUnreachableError, StoreError

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class FakeSink:
    """Answers with scripted results; ``broken`` makes every call raise that store error."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.broken: StoreError | None = None
        self.failures: list[str] = []
        self.result = ApplyResult()
        self.state = FinishState(deferred=0, quarantined=0, held=[], complete_before=None)

    def _answer(self) -> ApplyResult:
        if self.broken is not None:
            raise self.broken
        return self.result

    def commit(self) -> ApplyResult:
        return self._answer()

    def retry_parked(self, resource: Resource) -> ApplyResult:
        return self._answer()

    def reconcile(self, resource: Resource, listing: KeyListing) -> ApplyResult:
        return self._answer()

    def finish(self, hub_date: datetime | None) -> FinishState:
        if self.broken is not None:
            raise self.broken
        return self.state

    def record_failure(self, message: str) -> None:
        self.failures.append(message)


class CountingObserver(NullObserver):
    def __init__(self) -> None:
        self.applied: list[tuple[str, Resource, Action, int]] = []

    def rows_applied(self, instance: str, resource: Resource, action: Action, count: int) -> None:
        self.applied.append((instance, resource, action, count))


def _member(name: str = "lab-a") -> tuple[Member, FakeSink]:
    sink = FakeSink(name)
    return Member(sink, InstanceReport(name), started=0.0), sink


def test_counts_and_rereads_add_up_in_the_report_and_reach_the_observer() -> None:
    member, _ = _member()
    obs = CountingObserver()
    result = ApplyResult(
        counts=Counter({(Resource.SPACE, "inserted"): 3}),
        rescans=[Rescan(Resource.SPACE_BLOCK, "space_restored", ("b1",))],
    )
    count(member, result, obs)
    count(member, ApplyResult(counts=Counter({(Resource.SPACE, "inserted"): 2})), obs)
    assert member.report.count(Resource.SPACE, "inserted") == 5
    assert member.report.rereads == ["space_block: space_restored"]
    assert obs.applied == [("lab-a", Resource.SPACE, "inserted", 3), ("lab-a", Resource.SPACE, "inserted", 2)]


def test_a_failure_takes_the_instance_out_of_the_run_and_is_recorded_in_it(
    logs: list[MutableMapping[str, Any]],
) -> None:
    member, sink = _member()
    fail(member, "disk full", "store")
    assert not member.alive
    assert (member.report.outcome, member.report.error, member.report.error_kind) == ("failed", "disk full", "store")
    assert sink.failures == ["disk full"]
    assert [(e["event"], e["instance"]) for e in logs] == [("sync.instance_failed", "lab-a")]


def test_a_store_error_while_committing_fails_that_instance_alone() -> None:
    (good, good_sink), (bad, bad_sink) = _member("lab-a"), _member("lab-b")
    good_sink.result = ApplyResult(counts=Counter({(Resource.SPACE, "updated"): 1}))
    bad_sink.broken = InstanceUnreachableError("lab-b is gone")
    commit_everywhere([good, bad], NullObserver())
    assert good.alive and good.report.count(Resource.SPACE, "updated") == 1
    assert not bad.alive and bad.report.error_kind == "unreachable"


def test_an_instance_out_of_the_run_is_neither_committed_nor_retried_nor_failed_again() -> None:
    member, sink = _member()
    fail(member, "first", "store")
    sink.result = ApplyResult(counts=Counter({(Resource.SPACE, "inserted"): 9}))
    commit(member, NullObserver())
    retry_parked([member], Resource.SPACE, NullObserver())
    fail_all([member], "second", "hub")
    interrupt_all([member])
    assert member.report.counts == Counter()
    assert (member.report.outcome, member.report.error, sink.failures) == ("failed", "first", ["first"])


def test_an_interruption_is_not_recorded_as_the_instance_failure() -> None:
    member, sink = _member()
    interrupt_all([member])
    assert not member.alive
    assert (member.report.outcome, member.report.error_kind) == ("interrupted", "interrupted")
    assert sink.failures == []


def test_finishing_fills_in_parked_rows_held_spaces_and_lag() -> None:
    member, sink = _member()
    sink.state = FinishState(deferred=2, quarantined=1, held=["sp1", "sp2"],
                             complete_before=T0 - timedelta(seconds=90), newly_quarantined=1)
    finish(member, T0)
    report = member.report
    assert (report.deferred, report.quarantined, report.newly_quarantined) == (2, 1, 1)
    assert (report.held_spaces, report.held) == (["sp1", "sp2"], 2)
    assert (report.hub_date, report.lag_seconds) == (T0, 90.0)


def test_a_failed_instance_finishes_with_the_hub_date_only() -> None:
    member, sink = _member()
    fail(member, "broken", "store")
    sink.state = FinishState(deferred=5, quarantined=0, held=[], complete_before=T0)
    finish(member, T0)
    assert (member.report.hub_date, member.report.deferred, member.report.lag_seconds) == (T0, 0, None)


def test_a_store_error_while_finishing_fails_the_instance() -> None:
    member, sink = _member()
    sink.broken = InstanceUnreachableError("gone")
    finish(member, None)
    assert (member.alive, member.report.outcome, member.report.error) == (False, "failed", "gone")
