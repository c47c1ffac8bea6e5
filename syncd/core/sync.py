"""The synchroniser: pages from one hub group applied to every instance of the group.

It depends on two small protocols, :class:`Source` (the hub) and
:class:`Sink` (an instance database; both in :mod:`syncd.core.protocols`),
never on HTTP or SQL. Per resource
(``space`` first, then ``space_block``) it reads one stream of pages starting
where the least advanced instance stands, checks each page once (its
``Date`` against the local clock, its rows against the contract:
:mod:`syncd.core.pagecheck`), and
applies it to every instance in a transaction together with that instance's
cursor (an instance may group consecutive pages in one transaction; the pass
commits them at its end). The next page is fetched and validated while the
current one is applied, and each instance applies its pages in order on a
thread of its own (:class:`syncd.core.lanes.Lanes`): a slow instance does not hold
the others back page by page.
An instance that fails drops out of the run; the others go on
(:mod:`syncd.core.members` keeps each instance's part). A hub failure
fails the whole group; pages already applied stay applied (they are whole).
A run that passes its deadline stops after the page in flight, likewise.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from syncd.core.hubclock import DateCheck
from syncd.core.lanes import HOLD_FOR_NEXT_PAGE_SECONDS, Lanes, in_context
from syncd.core.listing import KeyListing
from syncd.core.members import (
    Member,
    commit,
    commit_everywhere,
    count,
    drain,
    fail,
    fail_all,
    finish,
    interrupt_all,
    retry_parked,
)
from syncd.core.models import HubRow, Page, Position, Resource
from syncd.core.observe import NullObserver, Observer
from syncd.core.pagecheck import CheckedPage, check_page
from syncd.core.protocols import Sink, Source
from syncd.core.report import InstanceReport
from syncd.core.resources import DESCRIPTIONS
from syncd.core.results import Rejection
from syncd.core.timestamps import format_canonical, utc_now
from syncd.core.watermark import CursorState, PassTracker, earliest_start
from syncd.errors import HubError, HubIncompatibleError, HubUnavailableError, StoreError

__all__ = ["RESOURCES", "Sink", "Source", "SyncOptions", "sync_group"]

RESOURCES = tuple(description.resource for description in DESCRIPTIONS)
"""Every synced resource in pull order (:data:`syncd.core.resources.DESCRIPTIONS`)."""


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How a group syncs. ``clock`` is the local wall clock the hub's is checked against
    (:mod:`syncd.core.hubclock`); ``deadline_seconds`` bounds one run (None: no bound)."""

    page_size: int = 1000
    lookback: timedelta = timedelta(seconds=120)
    full: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    clock_skew: timedelta = timedelta(seconds=300)
    clock: Callable[[], datetime] = utc_now
    deadline_seconds: float | None = None

    # the resources this run pulls, in RESOURCES order (a doorbell pull may name one)
    resources: tuple[Resource, ...] = RESOURCES


class Interrupted(Exception):
    """The stop event was set; the page in flight has been committed."""


class DeadlineReached(Exception):
    """The run's deadline passed; the pages read so far have been committed."""


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.core.sync")  # type: ignore[no-any-return]


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
    members = [Member(s, reports[s.name], monotonic()) for s in sinks]
    last_date: datetime | None = None
    deadline = None if options.deadline_seconds is None else monotonic() + options.deadline_seconds

    def expired() -> bool:
        return deadline is not None and monotonic() >= deadline

    try:
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncd-fetch") as pool,
            # a lane even for one instance: this thread then takes the next page from the fetch and
            # starts the one after while the instance applies, so the fetch never waits on the apply
            Lanes(members, functools.partial(commit, obs=obs)) as lanes,
        ):
            for resource in [r for r in RESOURCES if r in options.resources]:
                last_date = (
                    _sync_resource(source, members, resource, options, obs, pool, lanes, expired)
                    or last_date
                )
                retry_parked(members, resource, obs)
        if options.full:
            _reconcile(source, members, options, obs, expired)
    except HubError as exc:
        commit_everywhere(members, obs)  # the pages applied so far are whole: keep them
        if options.stop.is_set() and isinstance(exc, HubUnavailableError):
            interrupt_all(members)  # shutdown cut the retry waits short: not the hub's failure
        else:
            fail_all(members, str(exc), _hub_error_kind(exc))
    except Interrupted:
        interrupt_all(members)
    except DeadlineReached:
        fail_all(
            members,
            f"run deadline of {options.deadline_seconds:g} s ([sync] run_deadline_seconds) reached; "
            "the pages read are committed and the next run continues from there",
            "deadline",
        )

    def close_out(m: Member) -> None:
        finish(m, last_date)
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


def _hub_error_kind(exc: HubError) -> str:
    from syncd.errors import HubAuthError

    if isinstance(exc, HubAuthError):
        return "auth"
    if isinstance(exc, HubIncompatibleError):
        return "hub_incompatible"
    if isinstance(exc, HubUnavailableError):
        return "hub_unavailable"
    return "hub"


def _apply_everywhere(
    members: list[Member],
    resource: Resource,
    page: Page,
    checked: tuple[list[HubRow], list[Rejection]],
    states: dict[str, CursorState],
    new_state: Callable[[CursorState], CursorState],
    obs: Observer,
    lanes: Lanes[Member] | None,
) -> None:
    """Hand one page to every live instance: to its lane, or applied here without lanes."""
    valid, rejected = checked

    def apply(m: Member, state: CursorState) -> None:
        if not m.alive:  # failed on an earlier page: nothing after that page is applied
            return
        try:
            count(m, m.sink.apply_page(resource, valid, rejected, state, page.hub_date), obs)
        except StoreError as exc:
            fail(m, str(exc), exc.kind)
        except Exception as exc:
            # a bug: it still ends the group, but pages already queued in this lane must not
            # be applied after the one that failed (their cursor would pass its rows)
            _log().exception("sync.apply_crashed", instance=m.sink.name, error_type=type(exc).__name__)
            fail(m, f"internal error ({type(exc).__name__}); see the log for the traceback", "internal")
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
    members: list[Member],
    resource: Resource,
    options: SyncOptions,
    obs: Observer,
    pool: ThreadPoolExecutor,
    lanes: Lanes[Member] | None = None,
    expired: Callable[[], bool] = lambda: False,
) -> datetime | None:
    states: dict[str, CursorState] = {}
    for m in [m for m in members if m.alive]:
        try:
            states[m.sink.name] = m.sink.cursor(resource)
        except StoreError as exc:
            fail(m, str(exc), exc.kind)
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
            commit_everywhere(members, obs, lanes)
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
            commit_everywhere(members, obs, lanes)
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
            commit_everywhere(members, obs, lanes)
            raise Interrupted if options.stop.is_set() else DeadlineReached
        if not any(m.alive for m in members):
            pending.cancel()
            drain(lanes)  # a lane's bug is raised here rather than lost
            return None


def _distrust(
    members: list[Member], resource: Resource, date: DateCheck, tolerance: timedelta, *, first: bool
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


def _reconcile(
    source: Source,
    members: list[Member],
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
                fail(m, str(exc), exc.kind)
                continue
            count(m, result, obs)
            reread = reread or bool(result.rescans)
    if reread:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncd-fetch") as pool:
            for resource in RESOURCES:  # spaces first: restored spaces may send blocks back too
                _sync_resource(source, members, resource, options, obs, pool, expired=expired)
                retry_parked(members, resource, obs)
