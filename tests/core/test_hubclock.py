"""A hub whose clock lies: a far-future ``Date`` and rows stamped after it never poison the cursor."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine

from syncd.cli import main
from syncd.core.hubclock import check_date
from syncd.core.models import Resource
from syncd.core.timestamps import parse_stored
from syncd.hubsim import HubStore, ManualClock
from syncd.store.bootstrap import prepare_schema
from syncd.store.lock import instance_lock
from syncd.summary import render_table, summary_event
from tests.support.builders import settings_for
from tests.support.syncenv import (
    START,
    Interposer,
    cursors,
    emulator,
    execute,
    manual_clock,
    parked,
    sync,
    synced_spaces,
    write_config,
)

FAR_FUTURE = "Fri, 31 Dec 9999 23:59:59 GMT"
TOLERANCE = timedelta(seconds=300)
S = Resource.SPACE


class LyingClock(Interposer):
    """The emulator behind a proxy that dates every response ``date`` while ``lying`` is set."""

    def __init__(self, date: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.date = date
        self.lying = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not self.lying:
            return response
        body = response.read()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("date", "content-length")]
        return httpx.Response(response.status_code, headers=[*headers, ("date", self.date)], content=body)


def _local(hub_clock: ManualClock) -> Callable[[], datetime]:
    return hub_clock  # the local clock agrees with the honest hub's


def test_a_far_future_date_advances_no_cursor_and_is_reported(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    store = HubStore(clock=ManualClock(START))
    store.create_space("first")
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"a": db})
        liar = LyingClock(FAR_FUTURE)
        report = sync(settings, transport=liar, clock=_local(clock))
        inst = report.instances[0]
        assert inst.outcome == "ok"
        assert inst.untrusted_dates >= 2  # every response of the run: one per resource at least
        assert inst.hub_clock_ahead_seconds is not None and inst.hub_clock_ahead_seconds > 1e10
        for row in cursors(db).values():
            assert row["complete_before"] is None or parse_stored(row["complete_before"]) <= START
            assert row["last_hub_date"] is None
        assert "ahead of the local clock" in render_table(report)
        assert summary_event(report)["instances"][0]["untrusted_dates"] == inst.untrusted_dates

        # the next change on the hub still arrives once the hub's clock is honest again
        clock.advance(600)
        store.create_space("second")
        liar.lying = False
        clock.advance(600)
        assert sync(settings, transport=liar, clock=_local(clock)).ok
    assert sorted(s.name for s in synced_spaces(db).values()) == ["first", "second"]


def test_rows_stamped_after_the_hubs_date_are_quarantined_and_do_not_move_the_cursor(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    store = HubStore(clock=ManualClock(START))
    good = store.create_space("good")
    bad = store.create_space("from-the-future")

    def stamp_in_9999(resource: str, row: dict[str, Any]) -> dict[str, Any]:
        if row["id"] == str(bad["id"]):
            return {**row, "updated_at": "9999-12-31T00:00:00+00:00"}
        return row

    with emulator(store) as hub:
        clock = manual_clock(hub)
        clock.advance(600)
        settings = settings_for(hub.url, {"a": db})
        report = sync(settings, transport=Interposer(rewrite=stamp_in_9999), clock=_local(clock))
        assert report.ok
        for row in cursors(db).values():
            assert row["complete_before"] is not None
            assert parse_stored(row["complete_before"]) <= clock()
        store.create_space("later")
        clock.advance(600)
        assert sync(settings, transport=Interposer(rewrite=stamp_in_9999), clock=_local(clock)).ok
        names = sorted(s.name for s in synced_spaces(db).values())
        assert names == sorted([good["name"], "later"])
        entries = parked(db)
        assert [e["row_key"] for e in entries] == [str(bad["id"])]
        assert "later than the hub's Date" in entries[0]["reason"]

        # the hub fixes its clock and serves the row again, re-stamped: it leaves quarantine
        store.update_space(bad["id"], description="re-stamped")
        clock.advance(600)
        assert sync(settings, clock=_local(clock)).ok
    assert "from-the-future" in {s.name for s in synced_spaces(db).values()}
    assert parked(db) == []


def test_the_date_check_trusts_a_date_behind_the_local_clock_and_within_tolerance() -> None:
    now = START
    assert check_date(now - timedelta(days=3), now=now, tolerance=TOLERANCE).trusted == now - timedelta(days=3)
    assert check_date(now + TOLERANCE, now=now, tolerance=TOLERANCE).trusted == now + TOLERANCE
    beyond = check_date(now + TOLERANCE + timedelta(seconds=1), now=now, tolerance=TOLERANCE)
    assert beyond.trusted is None
    assert beyond.ahead_seconds == TOLERANCE.total_seconds() + 1
    assert beyond.rows_not_after == now + TOLERANCE


def test_status_warns_of_a_poisoned_cursor_and_reset_cursor_repairs_it(tmp_path: Path) -> None:
    db_path = tmp_path / "a.db"
    db = f"sqlite:///{db_path}"
    store = HubStore(clock=ManualClock(START))
    store.create_space("first")
    with emulator(store) as hub:
        clock = manual_clock(hub)
        config = write_config(tmp_path / "syncd.toml", hub.url, {"a": db})
        settings = settings_for(hub.url, {"a": db})
        assert sync(settings, clock=_local(clock)).ok
        # what a far-future Date did before it was checked: both cursors moved to 9999
        execute(db, "UPDATE syncd_cursor SET complete_before = '9999-12-31T23:58:00.000000Z'")
        clock.advance(600)
        store.create_space("missed")
        clock.advance(600)
        assert sync(settings, clock=_local(clock)).ok
        assert sorted(s.name for s in synced_spaces(db).values()) == ["first"]  # the poison at work

        out = io.StringIO()
        assert main(["status", "--config", str(config)], environ={}, stdout=out) == 0
        assert "WARNING: the space cursor (9999-12-31T23:58:00+00:00) is ahead of the local clock" in out.getvalue()
        assert "syncd reset-cursor --instance a" in out.getvalue()

        out = io.StringIO()
        assert main(["reset-cursor", "--config", str(config), "--instance", "a"], environ={}, stdout=out) == 0
        assert "a: cursor reset for space, space_block" in out.getvalue()
        report = sync(settings, clock=_local(clock))
        out = io.StringIO()
        assert main(["status", "--config", str(config)], environ={}, stdout=out) == 0
        assert "WARNING" not in out.getvalue()
    assert sorted(s.name for s in synced_spaces(db).values()) == ["first", "missed"]
    inst = report.instances[0]
    # read again from the start, written only where it differs
    assert (inst.count(S, "inserted"), inst.count(S, "updated"), inst.count(S, "unchanged")) == (1, 0, 1)


def test_reset_cursor_refuses_an_instance_never_synced(tmp_path: Path) -> None:
    config = write_config(tmp_path / "syncd.toml", "http://127.0.0.1:9", {"a": f"sqlite:///{tmp_path / 'a.db'}"})
    err = io.StringIO()
    code = main(["reset-cursor", "--config", str(config), "--instance", "a"], environ={}, stdout=io.StringIO(),
                stderr=err)
    assert code == 1
    assert "a: never synced" in err.getvalue()
    assert main(["reset-cursor", "--config", str(config), "--instance", "zz"], environ={},
                stdout=io.StringIO(), stderr=io.StringIO()) == 2


def test_reset_cursor_waits_for_the_instance_lock_then_fails_clearly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    config = write_config(tmp_path / "syncd.toml", "http://127.0.0.1:9", {"a": db}, lock_timeout_seconds=0)
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            with conn.begin():
                prepare_schema(conn)
            with instance_lock(conn, db, timeout=0):  # a daemon syncing this instance right now
                err = io.StringIO()
                code = main(["reset-cursor", "--config", str(config), "--instance", "a"], environ={},
                            stdout=io.StringIO(), stderr=err)
    finally:
        engine.dispose()
    assert code == 1
    assert "another syncd process is syncing this instance" in err.getvalue()
