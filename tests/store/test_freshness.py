"""Each instance records when it was last brought in step, and by whom; replicas share instances.

The record (``syncd_in_step``) is written with the cursor a pull completes;
staleness is the hub-clock time since that pull began. A replica that finds an
instance held by another skips it and reports the holder's record. A
PostgreSQL session that stays silent past its lease is ended by the server (its
lock passes on, and its own writes fail), unless the keepalive pings it.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from syncd.core.models import Resource
from syncd.errors import StoreError
from syncd.hubsim import HubStore, ManualClock
from syncd.runner import sync_group
from syncd.settings import InstanceSettings, SyncSettings
from syncd.store.engine import create_instance_engine
from syncd.store.instance import InstanceStore
from syncd.store.session import Keepalive
from tests.support.builders import settings_for
from tests.support.syncenv import START, emulator, fetch, manual_clock, sync

LOCK_SQL = "SELECT pg_advisory_lock(1937337955, 100)"  # syncd's instance lock (store.lock)


def _hub() -> HubStore:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    store.create_block(home["id"], "words")
    return store


def _synced(url: str) -> InstanceSettings:
    """An instance synced once from a small hub; its settings."""
    with emulator(_hub()) as hub:
        settings = settings_for(hub.url, {"pg": url})
        assert sync(settings).ok
    return settings.instances[0]


def _until(predicate: object, what: str, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        threading.Event().wait(0.05)


def test_a_completed_pull_is_recorded_with_its_hub_clock_start_and_replica(tmp_path: Path) -> None:
    store = _hub()
    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store) as hub:
        clock = manual_clock(hub)
        clock.advance(30)
        local = START + timedelta(seconds=28)  # this replica's clock runs 2 s behind the hub's
        settings = settings_for(hub.url, {"a": url})
        [report] = sync_group(settings.groups()[0], settings, replica="r-1", clock=lambda: local,
                              sleep=lambda _s: None)
    assert report.outcome == "ok" and report.in_step is not None
    record = report.in_step
    assert record.replica == "r-1"
    assert record.pull_started == START + timedelta(seconds=30)  # the hub's Date at the first page
    assert record.hub_offset_seconds == pytest.approx(2.0)
    assert record.hub == hub.url
    # staleness is hub-clock time since the pull began: zero now, growing with the clock
    assert record.staleness(local) == pytest.approx(0.0)
    assert record.staleness(local + timedelta(seconds=45)) == pytest.approx(45.0)
    rows = fetch(url, "SELECT resource, replica, pull_started FROM syncd_in_step ORDER BY resource")
    assert [(r, rep) for r, rep, _ in rows] == [("space", "r-1"), ("space_block", "r-1")]


def test_staleness_grows_while_the_hub_is_unreachable(tmp_path: Path) -> None:
    store = _hub()
    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"a": url})
        first = sync(settings).instances[0]
    assert first.in_step is not None
    started = first.in_step.pull_started
    # the hub is gone: the run fails, and the record still tells when the data was last in step
    down = sync(settings_for("http://127.0.0.1:9", {"a": url})).instances[0]
    assert down.outcome == "failed"
    from syncd.store.freshness import peek_in_step
    record = peek_in_step(url)
    assert record is not None and record.pull_started == started


@pytest.mark.postgres
def test_an_instance_held_by_another_replica_is_skipped_with_that_replicas_record(pg_url: str) -> None:
    store = _hub()
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"pg": pg_url})
        [done] = sync_group(settings.groups()[0], settings, replica="peer:7", sleep=lambda _s: None)
        assert done.outcome == "ok"
        holder = create_engine(pg_url)
        try:
            with holder.connect() as conn:
                conn.execute(text(LOCK_SQL))  # another replica's session holds the instance's lock
                [skipped] = sync_group(settings.groups()[0], settings, replica="me:1",
                                       when_locked="skip", sleep=lambda _s: None)
                waiting = replace(settings, sync=SyncSettings(lock_timeout_seconds=0.2))
                [waited] = sync_group(waiting.groups()[0], waiting, replica="me:1", sleep=lambda _s: None)
        finally:
            holder.dispose()
    assert (skipped.outcome, skipped.error_kind) == ("skipped", None)
    assert skipped.in_step is not None and skipped.in_step.replica == "peer:7"
    assert (waited.outcome, waited.error_kind) == ("failed", "locked")  # run-once waits, then fails


@pytest.mark.postgres
def test_a_silent_session_is_ended_by_the_server_and_its_lock_passes_on(pg_url: str) -> None:
    inst = _synced(pg_url)
    fenced = functools.partial(create_instance_engine, application_name="syncd fenced",
                               session_timeout_seconds=0.3)
    first = InstanceStore(inst, SyncSettings(), engine_factory=fenced)
    first.open()
    try:
        _until(lambda: not fetch(pg_url, "SELECT 1 FROM pg_stat_activity WHERE application_name = 'syncd fenced'"),
               "the server to end the silent session")
        second = InstanceStore(inst, SyncSettings(lock_timeout_seconds=0.0), replica="next")
        second.open()  # the lock passed on
        second.close()
        with pytest.raises(StoreError):
            first.cursor(Resource.SPACE)  # whatever the first one tries now fails: it never writes again
    finally:
        first.close()


@pytest.mark.postgres
def test_the_keepalive_keeps_a_waiting_replicas_session(pg_url: str) -> None:
    inst = _synced(pg_url)
    fenced = functools.partial(create_instance_engine, application_name="syncd kept",
                               session_timeout_seconds=0.6)
    kept = InstanceStore(inst, SyncSettings(), engine_factory=fenced)
    kept.open()
    try:
        with Keepalive([kept], every_seconds=0.15):
            threading.Event().wait(2.0)  # more than three leases of silence from the caller
        assert kept.cursor(Resource.SPACE).complete_before is not None
    finally:
        kept.close()


@pytest.mark.postgres
def test_a_store_whose_session_died_never_reconnects_without_its_lock(pg_url: str) -> None:
    inst = _synced(pg_url)
    store = InstanceStore(inst, SyncSettings(), replica="dying")
    store.open()
    sessions = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'syncd dying'"
    try:
        # the server ends the session that holds the lock (as after lease_seconds of silence)
        fetch(pg_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'syncd dying'")
        with pytest.raises(StoreError):
            store.cursor(Resource.SPACE)
        # SQLAlchemy would reconnect here: a new session without the instance's lock
        with pytest.raises(StoreError, match="lost its database session"):
            store.cursor(Resource.SPACE)
        assert fetch(pg_url, sessions) == [(0,)]
    finally:
        store.close()
