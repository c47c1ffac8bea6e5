"""PostgreSQL instances: bootstrapped from an empty database, synced alongside SQLite, same results.

Every test gets a fresh database (``pg_url``), dropped afterwards; without a
server they skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from syncd.core.models import Resource
from syncd.hubsim import HubStore, ManualClock, Spelling, populate
from syncd.store.references import SpaceReferences
from syncd.store.resources import dependents
from tests.support.applying import opened
from tests.support.builders import settings_for
from tests.support.syncenv import (
    LAMINDB_TABLES,
    START,
    assert_in_step,
    count,
    emulator,
    execute,
    fetch,
    local_spaces,
    manual_clock,
    requests_by_resource,
    reset_requests,
    sync,
    synced_content,
    synced_spaces,
)

pytestmark = pytest.mark.postgres
S, B = Resource.SPACE, Resource.SPACE_BLOCK


def sample_store(**kwargs: Any) -> HubStore:
    store = HubStore(clock=ManualClock(START), seed=1000, **kwargs)
    populate(store, spaces=8, blocks=150, seed=2)
    return store


def pg_rows_with_versions(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of LaminDB's tables with its ``xmin``: any rewrite, even to equal values, changes it."""
    return {t: fetch(url, f"SELECT xmin::text, * FROM {t} ORDER BY id") for t in LAMINDB_TABLES}


def test_an_empty_database_is_bootstrapped_and_synced_like_sqlite(tmp_path: Path, pg_url: str) -> None:
    store = sample_store(spelling=Spelling(seed=3))
    lite = f"sqlite:///{tmp_path}/lite.db"
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"pg": pg_url, "lite": lite}, page_size=11)
        report = sync(settings)
        assert report.ok, [i.error for i in report.instances]
        pg_report, lite_report = report.instances
        assert pg_report.counts == lite_report.counts
    assert_in_step(pg_url, store)
    assert synced_content(pg_url) == synced_content(lite)
    # the seed rows LaminDB starts with are there too
    assert fetch(pg_url, "SELECT id, name, uid FROM lamindb_space WHERE id = 1") == [(1, "all", "aaaaaaaaaaaa")]
    assert sorted(fetch(pg_url, "SELECT id, uid FROM lamindb_branch")) == [
        (-1, "tttttttttttt"), (0, "aaaaaaaaaaaa"), (1, "mmmmmmmmmmmm")]


def test_renames_swaps_and_case_only_renames_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    store = HubStore(clock=ManualClock(START))
    a, b, c = (store.create_space(n) for n in ("Alpha", "Beta", "Équipe β"))
    lite = f"sqlite:///{tmp_path}/lite.db"
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"pg": pg_url, "lite": lite}, page_size=1)
        assert sync(settings).ok
        ids = {u: s.id for u, s in local_spaces(pg_url).items()}
        clock.advance(1)
        store.rename_space(a["id"], "Beta")
        clock.advance(1)
        store.rename_space(b["id"], "Alpha")
        store.rename_space(c["id"], "ÉQUIPE \u0392")  # case-only, outside ASCII: PostgreSQL's lower() folds it
        clock.advance(1)
        report = sync(settings)
        assert report.ok, [i.error for i in report.instances]
        assert [i.deferred for i in report.instances] == [0, 0]
    expected = {a["lnid"]: "Beta", b["lnid"]: "Alpha", c["lnid"]: "ÉQUIPE \u0392"}
    for url in (pg_url, lite):
        assert {u: s.name for u, s in synced_spaces(url).items()} == expected
    assert {u: s.id for u, s in local_spaces(pg_url).items()} == ids


def test_tombstones_and_held_spaces_on_postgresql(pg_url: str) -> None:
    store = HubStore(clock=ManualClock(START))
    held, gone = store.create_space("Held"), store.create_space("Gone")
    for space in (held, gone):
        for n in range(3):
            store.create_block(space["id"], f"{space['name']} {n}")
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"pg": pg_url})
        assert sync(settings).ok
        held_id = local_spaces(pg_url)[str(held["lnid"])].id
        execute(pg_url, "INSERT INTO lamindb_branch (id, name, uid, space_id, created_by_id) "
                        "VALUES (2, 'feature', 'fffffffffff2', :s, 1)", {"s": held_id})
        clock.advance(1)
        store.soft_delete(S, held["id"])
        store.soft_delete(S, gone["id"])
        report = sync(settings).instances[0]
        assert report.outcome == "ok", report.error
        assert report.held_spaces == [held["lnid"]]
        assert report.count(S, "deleted") == 1
        assert set(synced_spaces(pg_url)) == {held["lnid"]}
        clock.advance(1)
        assert sync(settings).instances[0].held_spaces == [held["lnid"]]  # reported again
        execute(pg_url, "DELETE FROM lamindb_branch WHERE id = 2")
        clock.advance(1)
        report = sync(settings).instances[0]
        assert report.held_spaces == []
        assert synced_spaces(pg_url) == {}
        assert count(pg_url, "lamindb_spaceblock") == 0


def test_a_quiet_run_rewrites_no_row_on_postgresql(pg_url: str) -> None:
    store = sample_store()
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"pg": pg_url}, page_size=50)
        store.bulk_import(200, spread_seconds=20, content_size=50)
        assert sync(settings).ok
        before = pg_rows_with_versions(pg_url)
        clock.advance(10)
        assert sync(settings).instances[0].changed == 0
        clock.advance(300)
        assert sync(settings).instances[0].changed == 0
        reset_requests(hub)
        assert sync(settings).instances[0].changed == 0
        assert requests_by_resource(hub) == {"space": 1, "space_block": 1}
    assert pg_rows_with_versions(pg_url) == before


def test_new_ids_on_postgresql_continue_after_the_seed_rows(pg_url: str) -> None:
    store = HubStore(clock=ManualClock(START))
    space = store.create_space("First")
    store.create_block(space["id"], "one")
    with emulator(store) as hub:
        assert sync(settings_for(hub.url, {"pg": pg_url})).ok
    # identity sequences were moved past the seed rows: LaminDB's own inserts do not collide
    execute(pg_url, "INSERT INTO lamindb_space (name, uid) VALUES ('made by lamindb', 'lamindbmade1')")
    ids = dict(fetch(pg_url, "SELECT uid, id FROM lamindb_space"))
    assert len(set(ids.values())) == 3 and ids["aaaaaaaaaaaa"] == 1


def test_lookups_price_index_probes_as_cached_in_syncds_session_only(pg_url: str) -> None:
    """syncd's connections lower random_page_cost to 1.1 (lookups probe unique indexes on hot pages);
    a lower value set for the database is kept, and the database itself is never altered."""
    from sqlalchemy import create_engine, text

    from syncd.store.engine import create_instance_engine

    def cost(engine: Any) -> float:
        try:
            with engine.connect() as conn:
                return float(conn.execute(text("SHOW random_page_cost")).scalar_one())
        finally:
            engine.dispose()

    server_default = cost(create_engine(pg_url))
    assert cost(create_instance_engine(pg_url)) == min(server_default, 1.1)
    assert cost(create_engine(pg_url)) == server_default  # other sessions: untouched
    database = pg_url.rsplit("/", 1)[1]
    admin = create_engine(pg_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" SET random_page_cost = 0.5'))
            conn.commit()
    finally:
        admin.dispose()
    assert cost(create_instance_engine(pg_url)) == 0.5


def test_a_server_that_refuses_the_planner_setting_is_used_as_it_is() -> None:
    from syncd.store.engine import price_random_reads_as_cached

    class Refused(Exception):
        pass

    class Cursor:
        def __enter__(self) -> Cursor:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def execute(self, sql: str) -> None:
            raise Refused("unrecognized configuration parameter")

    class Connection:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def cursor(self) -> Cursor:
            return Cursor()

        def commit(self) -> None:
            self.calls.append("commit")

        def rollback(self) -> None:
            self.calls.append("rollback")

    conn = Connection()
    price_random_reads_as_cached(conn, Refused)  # no error: the connection is still usable
    assert conn.calls == ["rollback"]


def test_a_local_block_holds_its_space_while_the_block_foreign_keys_wait(pg_url: str) -> None:
    """A new database gets lamindb_spaceblock's foreign keys after its first load: until then the
    catalog does not name the table, and a local block must still keep its space from deletion."""
    with opened(pg_url):
        pass  # bootstrapped; the first run never finished, so the foreign keys are still pending
    execute(
        pg_url,
        "INSERT INTO lamindb_space (id, name, uid, created_by_id) VALUES (5, 'lab', 'labspace0000', 1)",
    )
    execute(
        pg_url,
        "INSERT INTO lamindb_spaceblock (id, uid, content, kind, is_latest, space_id, created_by_id, "
        "_status_code, branch_id, created_on_id) "
        "VALUES (3, 'localblock0000000000', 'x', 'readme', true, 5, 1, 0, 1, 1)",
    )
    block_keys = (
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'lamindb_spaceblock'::regclass"
    )
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql(block_keys).scalar_one() == 0
        references = SpaceReferences(dependents(Resource.SPACE))
        assert references.referencing(conn, 5) == ["lamindb_spaceblock"]
        assert references.referencing(conn, 6) == []  # a space nothing points at
    engine.dispose()


def test_names_are_compared_as_each_database_lowers_them(tmp_path: Path, pg_url: str) -> None:
    """Python's str.lower is neither SQLite's lower() (ASCII only) nor PostgreSQL's (found by a soak).

    PostgreSQL lowers a word-final capital sigma to U+03C3 where Python gives U+03C2, and
    U+0130 (capital I with a dot) to 'i' where Python adds a combining dot: a rename planned on Python's keys hit the
    unique index on lower(name) in every run, or a space was deferred for a name
    the index does not see as taken.
    """
    store = HubStore(clock=ManualClock(START))
    # ids chosen so that, in one page, the space taking the name comes before the one leaving it
    leaving = store.create_space("ΟΔΟΣ", id="ffffffff-0000-0000-0000-000000000001")
    taking = store.create_space("other", id="00000000-0000-0000-0000-000000000002")
    lite = f"sqlite:///{tmp_path}/lite.db"
    with emulator(store) as hub:
        clock = manual_clock(hub)
        settings = settings_for(hub.url, {"pg": pg_url, "lite": lite})
        assert sync(settings).ok
        ids = {u: s.id for u, s in local_spaces(pg_url).items()}
        clock.advance(1)
        store.rename_space(leaving["id"], "zzz")  # at one instant: one page, one batch
        store.rename_space(taking["id"], "οδοσ")  # PostgreSQL: lower() equal to the name it leaves
        # two names PostgreSQL tells apart (so its index allows both) but Python's lower() does not
        final_sigma = store.create_space("ΝΟΜΟΣ")
        small_sigma = store.create_space("νομος")
        # two names PostgreSQL's lower() takes as one (Python's does not): one must wait
        dotted = store.create_space("İzmir")
        plain = store.create_space("izmir")
        clock.advance(1)
        report = sync(settings)
        assert report.ok, [i.error for i in report.instances]
        pg, sqlite = report.instances
        assert pg.deferred == 1 and sqlite.deferred == 0  # SQLite's lower() folds ASCII only
        [(reason,)] = fetch(pg_url, "SELECT reason FROM syncd_deferred")
        assert reason.startswith(("name: 'izmir'", "name: 'İzmir'")), reason  # waits for the other
    names = {u: s.name for u, s in synced_spaces(pg_url).items()}
    assert names[leaving["lnid"]] == "zzz" and names[taking["lnid"]] == "οδοσ"
    assert names[final_sigma["lnid"]] == "ΝΟΜΟΣ" and names[small_sigma["lnid"]] == "νομος"
    assert len({dotted["lnid"], plain["lnid"]} & names.keys()) == 1
    assert {u: s.id for u, s in local_spaces(pg_url).items() if u in ids} == ids
    lite_names = {u: s.name for u, s in synced_spaces(lite).items()}
    assert {lite_names[s["lnid"]] for s in (dotted, plain)} == {"İzmir", "izmir"}
