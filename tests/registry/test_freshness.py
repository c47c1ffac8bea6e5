"""How fresh the data is: ``syncd.registry.freshness()`` and ``max_staleness``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from syncd import registry
from syncd.core.timestamps import format_canonical
from syncd.registry import Instance, Space, StaleDataError
from syncd.store.cursors import write_meta
from tests.support.registry_fixture import sqlite_instance

SYNCED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HUB_DATE = datetime(2026, 3, 1, 11, 59, 58, tzinfo=UTC)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    yield sqlite_instance(tmp_path)
    registry.disconnect()


def _record_run(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        write_meta(conn, "last_success", format_canonical(SYNCED))
        write_meta(conn, "last_success_hub_date", format_canonical(HUB_DATE))
    engine.dispose()


def test_an_instance_syncd_never_synced_has_no_freshness(url: str) -> None:
    registry.connect(url)
    seen = registry.freshness()
    assert (seen.synced_at, seen.hub_date, seen.hub) == (None, None, None)
    assert seen.age(SYNCED) is None


def test_freshness_is_read_from_syncd_meta(url: str) -> None:
    _record_run(url)
    registry.connect(url)
    seen = registry.freshness()
    assert seen.synced_at == SYNCED
    assert seen.hub_date == HUB_DATE
    assert seen.age(SYNCED + timedelta(minutes=5)) == timedelta(minutes=5)


def test_the_hub_is_the_configured_one_when_opened_through_the_configuration(url: str, tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text(f'[hub]\nurl = "http://127.0.0.1:9/api"\ntoken_env = "SYNCD_TEST_TOKEN"\n\n'
                      f'[[instances]]\nname = "lab"\nurl = "{url}"\n')
    registry.connect(config=config, instance="lab", environ={})
    assert registry.freshness().hub == "http://127.0.0.1:9/api"


def test_max_staleness_refuses_queries_on_older_data(url: str) -> None:
    _record_run(url)
    fresh = Instance(url, max_staleness=timedelta(hours=1), now=lambda: SYNCED + timedelta(minutes=59))
    assert Space.using(fresh).filter(name="Lab A").count() == 1
    stale = Instance(url, max_staleness=timedelta(hours=1), now=lambda: SYNCED + timedelta(minutes=61))
    with pytest.raises(StaleDataError, match=r"last brought in step with the hub at 2026-03-01T12:00:00\+00:00"):
        Space.using(stale).filter(name="Lab A").count()
    with pytest.raises(StaleDataError):
        Space.using(stale).get(2)
    for opened in (fresh, stale):
        opened.dispose()


def test_max_staleness_refuses_an_instance_syncd_never_synced(url: str) -> None:
    never = Instance(url, max_staleness=timedelta(days=365))
    with pytest.raises(StaleDataError, match="never synced"):
        Space.using(never).filter().count()
    never.dispose()
    registry.connect(url)  # without max_staleness the same data is answered
    assert Space.filter(name="Lab A").count() == 1


def test_after_a_sync_the_record_of_the_last_pull_says_when_from_which_hub_and_by_whom(tmp_path: Path) -> None:
    from syncd.hubsim import HubStore, ManualClock
    from syncd.runner import sync_group
    from tests.support.builders import settings_for
    from tests.support.syncenv import START, emulator, manual_clock

    store = HubStore(clock=ManualClock(START))
    store.create_block(store.create_space("Home")["id"], "words")
    url = f"sqlite:///{tmp_path}/synced.db"
    with emulator(store) as hub:
        manual_clock(hub).advance(30)
        settings = settings_for(hub.url, {"lab": url})
        [report] = sync_group(settings.groups()[0], settings, replica="r-7", clock=lambda: START + timedelta(seconds=30),
                              sleep=lambda _s: None)
    assert report.outcome == "ok"
    opened = Instance(url, now=lambda: START + timedelta(seconds=90))
    try:
        seen = opened.freshness()
        assert seen.in_step_since == START + timedelta(seconds=30)  # the hub's clock at the pull's start
        assert (seen.hub, seen.replica) == (hub.url, "r-7")  # recorded by the pull, not configured
        assert seen.age(START + timedelta(seconds=90)) == timedelta(seconds=60)
        strict = Instance(url, max_staleness=timedelta(seconds=59), now=lambda: START + timedelta(seconds=90))
        with pytest.raises(StaleDataError, match=r"in step with the hub at 2026-06-01T12:00:30\+00:00"):
            Space.using(strict).filter().count()
        strict.dispose()
    finally:
        opened.dispose()
