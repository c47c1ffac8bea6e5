"""The synchroniser: pages from one hub group applied to every instance of the group.

It depends on two small protocols, :class:`Source` (the hub) and
:class:`Sink` (an instance database), never on HTTP or SQL. Per resource
(``space`` first, then ``space_block``) it reads one stream of pages starting
where the least advanced instance stands, checks each page once (its
``Date`` against the local clock, its rows against the contract:
:mod:`syncd.pagecheck`), and
applies it to every instance in a transaction together with that instance's
cursor (an instance may group consecutive pages in one transaction; the pass
commits them at its end). The next page is fetched and validated while the
current one is applied, and each instance applies its pages in order on a
thread of its own (:class:`syncd.lanes.Lanes`): a slow instance does not hold
the others back page by page.
An instance that fails drops out of the run; the others go on. A hub failure
fails the whole group; pages already applied stay applied (they are whole).
A run that passes its deadline stops after the page in flight, likewise.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

import msgspec
import structlog

from syncd.errors import HubError, HubIncompatibleError, HubUnavailableError, StoreError
from syncd.hub.dates import utc_now
from syncd.hubclock import DateCheck
from syncd.lanes import HOLD_FOR_NEXT_PAGE_SECONDS, Lanes, in_context
from syncd.listing import KeyListing
from syncd.models import HubBlock, HubSpace, Page, Position, RawRow, Resource
from syncd.observe import NullObserver, Observer
from syncd.pagecheck import CheckedPage, check_page
from syncd.report import InstanceReport
from syncd.store.context import ApplyResult, FinishState
from syncd.store.parking import Rejection
from syncd.timestamps import format_canonical
from syncd.watermark import CursorState, PassTracker, earliest_start

__all__ = ["RESOURCES", "Sink", "Source", "SyncOptions", "sync_group"]

RESOURCES = (Resource.SPACE, Resource.SPACE_BLOCK)


class Source(Protocol):
    def fetch_page(
        self, resource: Resource, *, limit: int, after: Position | None = None, since: str | None = None
    ) -> Page: ...

    def iter_keys(self, resource: Resource, *, limit: int) -> Iterator[list[RawRow]]: ...

    @property
    def requests_sent(self) -> int: ...


class Sink(Protocol):
    name: str

    def cursor(self, resource: Resource) -> CursorState: ...

    def apply_page(
        self,
        resource: Resource,
        rows: Sequence[HubSpace | HubBlock],
        rejected: list[Rejection],
        state: CursorState,
        hub_date: datetime | None,
    ) -> ApplyResult:
        """Apply a page with its cursor; returns the counts of what this call committed."""

    def commit(self) -> ApplyResult:
        """Commit pages applied but not yet committed (``apply_page`` may group them).

        ``apply_page`` and ``commit`` return what they committed, so counts never
        include rows that a failure rolled back.
        """

    def retry_parked(self, resource: Resource) -> ApplyResult: ...

    def reconcile(self, resource: Resource, listing: KeyListing) -> ApplyResult: ...

    def finish(self, hub_date: datetime | None) -> FinishState: ...

    def record_failure(self, message: str) -> None: ...


class SyncOptions(msgspec.Struct, frozen=True):
    """How a group syncs. ``clock`` is the local wall clock the hub's is checked against
    (:mod:`syncd.hubclock`); ``deadline_seconds`` bounds one run (None: no bound)."""

    page_size: int = 1000
    lookback: timedelta = timedelta(seconds=120)
    full: bool = False
    stop: threading.Event = msgspec.field(default_factory=threading.Event)
    clock_skew: timedelta = timedelta(seconds=300)
    clock: Callable[[], datetime] = utc_now
    deadline_seconds: float | None = None

    # the resources this run pulls, in RESOURCES order (a doorbell pull may name one)
    resources: tuple[Resource, ...] = RESOURCES


_INTERRUPTED_MESSAGE = "interrupted by shutdown; the next run resumes from the last committed page"


class Interrupted(Exception):
    """The stop event was set; the page in flight has been committed."""


class DeadlineReached(Exception):
    """The run's deadline passed; the pages read so far have been committed."""


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.sync")  # type: ignore[no-any-return]


class _Member(msgspec.Struct):
    sink: Sink
    report: InstanceReport
    started: float
    alive: bool = True


def sync_group(
    source: Source,
    sinks: list[Sink],
    reports: dict[str, InstanceReport],
    options: SyncOptions,
    *,
    observer: Observer | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Sync every resource into every sink; fills ``reports`` (outcome, counts, parked rows)."""
    obs = observer if observer is not None else NullObserver()
    members = [_Member(s, reports[s.name], monotonic()) for s in sinks]
    last_date: datetime | None = None
    deadline = None if options.deadline_seconds is None else monotonic() + options.deadline_seconds

    def expired() -> bool:
        return deadline is not None and monotonic() >= deadline

    try:
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncd-fetch") as pool,
            # one instance applies in this thread: it has nobody to run ahead of
            (
                Lanes(members, functools.partial(_commit, obs=obs))
                if len(members) > 1
                else contextlib.nullcontext()
            ) as lanes,
        ):
            for resource in [r for r in RESOURCES if r in options.resources]:
                last_date = (
                    _sync_resource(source, members, resource, options, obs, pool, lanes, expired)
                    or last_date
                )
                _retry_parked(members, resource, obs)
        if options.full:
            _reconcile(source, members, options, obs, expired)
    except HubError as exc:
        _commit_everywhere(members, obs)  # the pages applied so far are whole: keep them
        if options.stop.is_set() and isinstance(exc, HubUnavailableError):
            _interrupt_all(members)  # shutdown cut the retry waits short: not the hub's failure
        else:
            _fail_all(members, str(exc), _hub_error_kind(exc))
    except Interrupted:
        _interrupt_all(members)
    except DeadlineReached:
        _fail_all(
            members,
            f"run deadline of {options.deadline_seconds:g} s ([sync] run_deadline_seconds) reached; "
            "the pages read are committed and the next run continues from there",
            "deadline",
        )

    def close_out(m: _Member) -> None:
        _finish(m, last_date)
        m.report.duration_seconds = monotonic() - m.started
        m.report.hub_requests = source.requests_sent

    if len(members) < 2:
        for m in members:
            close_out(m)
        return
    # in parallel: the first run of a new database builds its deferred indexes here (store.indexes)
    with ThreadPoolExecutor(max_workers=len(members), thread_name_prefix="syncd-finish") as finishers:
        for done in [finishers.submit(in_context(close_out), m) for m in members]:
            done.result()


def _finish(member: _Member, last_date: datetime | None) -> None:
    """Record the run in the instance and fill in its parked rows, held spaces and lag."""
    member.report.hub_date = last_date
    if not member.alive:
        return
    try:
        state = member.sink.finish(last_date)
    except StoreError as exc:
        _fail(member, str(exc), exc.kind)
        return
    member.report.deferred, member.report.quarantined = state.deferred, state.quarantined
    member.report.held_spaces, member.report.held = state.held, len(state.held)
    member.report.in_step = state.in_step
    member.report.newly_quarantined = state.newly_quarantined
    if last_date is not None and state.complete_before is not None:
        # how far the proven-complete watermark trails the hub's clock
        member.report.lag_seconds = max(0.0, (last_date - state.complete_before).total_seconds())


def _hub_error_kind(exc: HubError) -> str:
    from syncd.errors import HubAuthError

    if isinstance(exc, HubAuthError):
        return "auth"
    if isinstance(exc, HubIncompatibleError):
        return "hub_incompatible"
    if isinstance(exc, HubUnavailableError):
        return "hub_unavailable"
    return "hub"


def _fail_all(members: list[_Member], message: str, kind: str) -> None:
    for m in members:
        if m.alive:
            _fail(m, message, kind)


def _interrupt_all(members: list[_Member]) -> None:
    """A shutdown stopped the run: not a failure, so nothing is recorded as the instance's last error."""
    for m in members:
        if m.alive:
            m.alive = False
            m.report.outcome = "interrupted"
            m.report.error = _INTERRUPTED_MESSAGE
            m.report.error_kind = "interrupted"
            _log().info("sync.instance_interrupted", instance=m.sink.name, error=_INTERRUPTED_MESSAGE)


def _fail(member: _Member, message: str, kind: str) -> None:
    member.alive = False
    member.report.outcome = "failed"
    member.report.error = message
    member.report.error_kind = kind
    member.sink.record_failure(message)
    _log().error("sync.instance_failed", instance=member.sink.name, error=message, kind=kind)


def _count(member: _Member, result: ApplyResult, obs: Observer) -> None:
    member.report.counts.update(result.counts)
    member.report.rereads.extend(f"{r.resource.value}: {r.reason}" for r in result.rescans)
    for (resource, action), n in result.counts.items():
        obs.rows_applied(member.sink.name, resource, action, n)


def _apply_everywhere(
    members: list[_Member],
    resource: Resource,
    page: Page,
    checked: tuple[list[HubSpace | HubBlock], list[Rejection]],
    states: dict[str, CursorState],
    new_state: Callable[[CursorState], CursorState],
    obs: Observer,
    lanes: Lanes[_Member] | None,
) -> None:
    """Hand one page to every live instance: to its lane, or applied here without lanes."""
    valid, rejected = checked

    def apply(m: _Member, state: CursorState) -> None:
        if not m.alive:  # failed on an earlier page: nothing after that page is applied
            return
        try:
            _count(m, m.sink.apply_page(resource, valid, rejected, state, page.hub_date), obs)
        except StoreError as exc:
            _fail(m, str(exc), exc.kind)
        except Exception as exc:
            # a bug: it still ends the group, but pages already queued in this lane must not
            # be applied after the one that failed (their cursor would pass its rows)
            _log().exception("sync.apply_crashed", instance=m.sink.name, error_type=type(exc).__name__)
            _fail(m, f"internal error ({type(exc).__name__}); see the log for the traceback", "internal")
            raise

    for m in members:
        if not m.alive:
            continue
        state = new_state(states[m.sink.name])  # now: the tracker moves on with the next page
        if lanes is None:
            apply(m, state)
        else:
            lanes.submit(m, functools.partial(apply, m, state))


def _sync_resource(
    source: Source,
    members: list[_Member],
    resource: Resource,
    options: SyncOptions,
    obs: Observer,
    pool: ThreadPoolExecutor,
    lanes: Lanes[_Member] | None = None,
    expired: Callable[[], bool] = lambda: False,
) -> datetime | None:
    states: dict[str, CursorState] = {}
    for m in [m for m in members if m.alive]:
        try:
            states[m.sink.name] = m.sink.cursor(resource)
        except StoreError as exc:
            _fail(m, str(exc), exc.kind)
    if not states:
        return None
    start = earliest_start(list(states.values()))
    tracker = PassTracker(start, options.lookback)
    since = format_canonical(start.since) if start.since is not None else None

    def fetch(after: Position | None, since: str | None) -> CheckedPage:
        # checked in the fetch thread too, so it overlaps with applying the previous page
        page = source.fetch_page(resource, limit=options.page_size, after=after, since=since)
        return check_page(page, now=options.clock(), tolerance=options.clock_skew)

    pending: Future[CheckedPage] = pool.submit(in_context(fetch), start.after, since)
    pages = untrusted = 0
    while True:
        try:
            checked = pending.result(timeout=HOLD_FOR_NEXT_PAGE_SECONDS)
        except TimeoutError:
            # the hub is slow (or retrying with backoff): commit what is applied before waiting on,
            # so no instance's write lock is held while the hub takes its time
            _commit_everywhere(members, obs, lanes)
            checked = pending.result()
        page, valid, rejected, last = checked.page, checked.valid, checked.rejected, checked.last
        pages += 1
        untrusted += _distrust(members, resource, checked.date, options.clock_skew, first=not untrusted)
        unplaceable = bool(page.rows) and last is None
        if unplaceable:
            # no row gives a keyset position: quarantine them and end the pass here, proving
            # nothing past where the page began, so the next run reads this region again
            _log().warning("sync.unplaceable_page", resource=resource.value, rows=len(page.rows))
        if not page.rows or unplaceable:
            finished = tracker.finish(page.hub_date if not unplaceable else None)
            done = functools.partial(tracker.state_for, finished_at=finished, done=True)
            _apply_everywhere(members, resource, page, (valid, rejected), states, done, obs, lanes)
            _commit_everywhere(members, obs, lanes)
            _log().debug(
                "sync.pass_done",
                resource=resource.value,
                pages=pages,
                complete_before=format_canonical(finished) if finished else None,
            )
            return page.hub_date
        assert last is not None
        if tracker.position is not None and (last.updated_at, last.id) <= (
            tracker.position.updated_at,
            tracker.position.id,
        ):
            raise HubIncompatibleError(f"{resource.value}: pagination made no progress at {last.id}")
        pending = pool.submit(in_context(fetch), last, None)
        tracker.page(last, page.hub_date)
        _apply_everywhere(
            members, resource, page, (valid, rejected), states, lambda s: tracker.state_for(s), obs, lanes
        )
        if options.stop.is_set() or expired():
            pending.cancel()
            _commit_everywhere(members, obs, lanes)
            raise Interrupted if options.stop.is_set() else DeadlineReached
        if not any(m.alive for m in members):
            pending.cancel()
            _drain(lanes)  # a lane's bug is raised here rather than lost
            return None


def _distrust(
    members: list[_Member], resource: Resource, date: DateCheck, tolerance: timedelta, *, first: bool
) -> int:
    """1 when the response's ``Date`` was too far ahead of the local clock to be used (reported), else 0."""
    ahead = date.ahead_seconds
    if ahead is None:
        return 0
    for m in members:
        if m.alive:
            m.report.untrusted_dates += 1
            m.report.hub_clock_ahead_seconds = max(m.report.hub_clock_ahead_seconds or 0.0, ahead)
    if first:  # once per pass: every page of a hub whose clock is wrong would say the same
        _log().warning(
            "sync.hub_date_untrusted",
            resource=resource.value,
            ahead_seconds=round(ahead, 3),
            tolerance_seconds=tolerance.total_seconds(),
            effect="this response's Date advances no cursor",
        )
    return 1


def _drain(lanes: Lanes[_Member] | None) -> None:
    if lanes is not None:
        lanes.drain()


def _commit_everywhere(members: list[_Member], obs: Observer, lanes: Lanes[_Member] | None = None) -> None:
    if lanes is not None:
        # each instance commits on its own lane, all at once: a commit waits on the disk (or the
        # server), and one after the other those waits added up with the number of instances
        lanes.commit_all()
        return
    for m in members:
        _commit(m, obs)


def _commit(member: _Member, obs: Observer) -> None:
    if not member.alive:
        return
    try:
        _count(member, member.sink.commit(), obs)
    except StoreError as exc:
        _fail(member, str(exc), exc.kind)


def _retry_parked(members: list[_Member], resource: Resource, obs: Observer) -> None:
    for m in members:
        if not m.alive:
            continue
        try:
            _count(m, m.sink.retry_parked(resource), obs)
        except StoreError as exc:
            _fail(m, str(exc), exc.kind)


def _reconcile(
    source: Source,
    members: list[_Member],
    options: SyncOptions,
    obs: Observer,
    expired: Callable[[], bool] = lambda: False,
) -> None:
    """List every live key: remove what vanished, and re-read streams that went past live rows unseen.

    A sink given the listing may send a stream back to the beginning (rows that
    became visible without being re-stamped); those streams are read again in
    this run, after every resource has been listed.
    """
    reread = False
    for resource in RESOURCES:
        live = KeyListing()
        for rows in source.iter_keys(resource, limit=options.page_size):
            live.add_rows(rows)
            if options.stop.is_set():
                raise Interrupted
            if expired():
                raise DeadlineReached
        if live.skipped:
            _log().warning("sync.listing_bad_ids", resource=resource.value, skipped=live.skipped)
        # the listing is complete (it ended on an empty page): now it may delete
        for m in members:
            if not m.alive:
                continue
            try:
                result = m.sink.reconcile(resource, live)
            except StoreError as exc:
                _fail(m, str(exc), exc.kind)
                continue
            _count(m, result, obs)
            reread = reread or bool(result.rescans)
    if reread:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncd-fetch") as pool:
            for resource in RESOURCES:  # spaces first: restored spaces may send blocks back too
                _sync_resource(source, members, resource, options, obs, pool, expired=expired)
                _retry_parked(members, resource, obs)
