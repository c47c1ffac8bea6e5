"""A late commit that re-stamps a row older than the version applied: the instance converges to it.

The hub stamps ``updated_at`` with its transaction's start, so a transaction
that began earlier but changed the row later leaves it with an older stamp than
the version syncd already applied. What the hub serves is the row's current
state: a later run's lookback applies it, ``--full`` repairs an instance that
kept the old content, and an identical version writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncd.core.models import Resource
from syncd.hubsim import HubStore, ManualClock
from tests.support.builders import settings_for
from tests.support.syncenv import (
    LAMINDB_TABLES,
    START,
    assert_in_step,
    emulator,
    execute,
    fetch,
    local_blocks,
    local_spaces,
    manual_clock,
    parked,
    sync,
)

S, B = Resource.SPACE, Resource.SPACE_BLOCK


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/late.db"
    return str(request.getfixturevalue("pg_url"))


def _rows_with_versions(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """LaminDB's rows; on PostgreSQL with ``xmin``, which any rewrite changes, even to equal values."""
    version = "xmin::text, " if url.startswith("postgresql") else ""
    return {t: fetch(url, f"SELECT {version}* FROM {t} ORDER BY id") for t in LAMINDB_TABLES}


def _audit_sqlite_writes(url: str) -> None:
    """On SQLite, log every write to LaminDB's space tables (a rewrite to equal values included)."""
    if not url.startswith("sqlite"):
        return
    execute(url, "CREATE TABLE audit (what TEXT)")
    for table in ("lamindb_space", "lamindb_spaceblock"):
        for op in ("INSERT", "UPDATE", "DELETE"):
            execute(url, f"CREATE TRIGGER audit_{table}_{op} AFTER {op} ON {table} "
                         f"BEGIN INSERT INTO audit VALUES ('{op} {table}'); END")


def _audited(url: str) -> list[str]:
    return [w for (w,) in fetch(url, "SELECT what FROM audit")] if url.startswith("sqlite") else []


def _hub() -> tuple[HubStore, dict[str, Any], dict[str, Any]]:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    block = store.create_block(home["id"], "first words")
    return store, home, block


def test_a_version_re_stamped_older_is_applied_by_the_next_runs_lookback(url: str) -> None:
    store, home, block = _hub()
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"lab": url}, lookback_seconds=120)
        assert sync(settings).ok
        clock.advance(20)
        store.rename_space(home["id"], "Home, renamed")
        store.update_block(block["id"], content="second words", version_tag="v2")
        assert sync(settings).ok
        applied_space = local_spaces(url)[home["lnid"]]
        assert applied_space.name == "Home, renamed"
        # transactions that began 15 s ago change both rows now: stamped 15 s before what was applied
        clock.advance(5)
        store.commit_late(S, {"id": home["id"], "name": "Home, late"}, age_seconds=15)
        late_block = store.commit_late(B, {"id": block["id"], "content": "late words"}, age_seconds=15)
        clock.advance(5)
        report = sync(settings).instances[0]
        assert report.outcome == "ok"
        assert report.count(S, "updated") == 1
        assert report.count(B, "updated") == 1
        assert local_spaces(url)[home["lnid"]].name == "Home, late"
        assert local_blocks(url)[block["lnid"]].content == "late words"
        assert local_spaces(url)[home["lnid"]].id == applied_space.id  # same local id: a rename in place
        assert late_block["updated_at"] == store.get(B, block["id"])["updated_at"]
        assert_in_step(url, store)
        # the lookback serves both again: identical now, so nothing is rewritten
        before = _rows_with_versions(url)
        _audit_sqlite_writes(url)
        clock.advance(5)
        report = sync(settings).instances[0]
        assert report.changed == 0
        assert _rows_with_versions(url) == before
        assert _audited(url) == []


def test_a_version_re_stamped_older_with_the_same_content_writes_nothing(url: str) -> None:
    store, home, block = _hub()
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"lab": url}, lookback_seconds=120)
        clock.advance(20)
        store.update_space(home["id"], description="about home")
        store.update_block(block["id"], content="second words")
        assert sync(settings).ok
        before = _rows_with_versions(url)
        _audit_sqlite_writes(url)
        # a transaction that began 15 s ago writes what the rows already hold, stamped older
        clock.advance(5)
        store.commit_late(S, {"id": home["id"], "name": "Home"}, age_seconds=15)
        store.commit_late(B, {"id": block["id"], "content": "second words"}, age_seconds=15)
        clock.advance(5)
        report = sync(settings).instances[0]
        assert report.outcome == "ok" and report.changed == 0
        assert _rows_with_versions(url) == before
        assert _audited(url) == []
        assert_in_step(url, store)


def test_a_re_stamped_rename_that_swaps_names_converges(url: str) -> None:
    store = HubStore(clock=ManualClock(START))
    alpha, beta = store.create_space("Alpha"), store.create_space("Beta")
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"lab": url}, lookback_seconds=120)
        clock.advance(30)
        store.rename_space(alpha["id"], "Alpha 2")
        assert sync(settings).ok
        clock.advance(5)
        # a transaction that began before that rename swaps the names, committing after it
        store.commit_late(S, {"id": alpha["id"], "name": "Beta"}, age_seconds=20)
        store.commit_late(S, {"id": beta["id"], "name": "Alpha"}, age_seconds=20)
        clock.advance(5)
        assert sync(settings).ok
        names = {uid: s.name for uid, s in local_spaces(url).items()}
        assert (names[alpha["lnid"]], names[beta["lnid"]]) == ("Beta", "Alpha")
        assert_in_step(url, store)


def test_a_deferred_block_is_replaced_by_the_version_served_later_even_if_stamped_older(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/late.db"
        settings = settings_for(hub.url, {"lab": url}, lookback_seconds=120)
        assert sync(settings).ok
        clock.advance(30)
        # a block in a space the hub shows later: deferred with its payload
        hidden = store.commit_late(S, {"name": "Later"}, age_seconds=0)
        block = store.create_block(hidden["id"], "parked words")
        store.hard_delete(S, hidden["id"])
        assert sync(settings).ok
        assert [p["payload"]["content"] for p in parked(url, "syncd_deferred")] == ["parked words"]
        clock.advance(5)
        # the block's late version (stamped before the parked one) moves it to a known space
        store.commit_late(B, {"id": block["id"], "space_id": home["id"], "content": "moved words"}, age_seconds=20)
        clock.advance(5)
        assert sync(settings).ok
        assert local_blocks(url)[block["lnid"]].content == "moved words"
        assert parked(url, "syncd_deferred") == []
        assert_in_step(url, store)


def test_full_repairs_an_instance_that_kept_the_older_content(url: str) -> None:
    store, home, block = _hub()
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"lab": url}, lookback_seconds=120)
        clock.advance(20)
        store.rename_space(home["id"], "Home, renamed")
        store.update_block(block["id"], content="second words")
        assert sync(settings).ok
        clock.advance(5)
        store.commit_late(S, {"id": home["id"], "name": "Home, late"}, age_seconds=15)
        store.commit_late(B, {"id": block["id"], "content": "late words"}, age_seconds=15)
        clock.advance(5)
        assert sync(settings).ok
        # once the hub's clock is past the lookback window, no plain run reads these rows again
        clock.advance(300)
        assert sync(settings).ok
        # what an earlier syncd left behind: the newer-stamped version's content, and its stamp
        execute(url, "UPDATE lamindb_space SET name = 'Home, renamed' WHERE uid = :uid", {"uid": home["lnid"]})
        execute(url, "UPDATE lamindb_spaceblock SET content = 'second words' WHERE uid = :uid",
                {"uid": block["lnid"]})
        for table in ("syncd_space_map", "syncd_block_map"):
            execute(url, f"UPDATE {table} SET hub_updated_at = '2099-01-01T00:00:00.000000+00:00'")
        clock.advance(10)
        assert sync(settings).instances[0].changed == 0
        assert local_spaces(url)[home["lnid"]].name == "Home, renamed"
        report = sync(settings, full=True).instances[0]
        assert report.outcome == "ok"
        assert report.count(S, "updated") == 1
        assert report.count(B, "updated") == 1
        assert_in_step(url, store)
        # and the next --full finds nothing to re-read
        again = sync(settings, full=True).instances[0]
        assert again.changed == 0
