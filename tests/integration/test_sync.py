"""The sync engine against the bundled emulator: pagination, late commits, renames, deferrals, deletes.

Each test drives the emulator on a manual clock, runs ``run_sync`` into real
SQLite instances and checks the databases, the reports and the requests the
emulator answered.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from syncd.core.models import Resource
from syncd.core.report import RunReport
from syncd.core.timestamps import format_sqlite
from syncd.hubsim import HubStore, ManualClock, Spelling, populate
from syncd.settings import parse_settings
from syncd.summary import render_table
from tests.support.builders import TOKEN, settings_for
from tests.support.syncenv import (
    START,
    Interposer,
    assert_in_step,
    count,
    cursors,
    emulator,
    execute,
    fetch,
    hub_live_blocks,
    lamindb_dump,
    local_blocks,
    local_spaces,
    manual_clock,
    parked,
    requests_by_resource,
    reset_requests,
    run_cli,
    scalar,
    summary_of,
    sync,
    synced_content,
    synced_spaces,
    write_config,
)

S, B = Resource.SPACE, Resource.SPACE_BLOCK
QUIET = {"space": 1, "space_block": 1}


def sample_store(spaces: int = 6, blocks: int = 60, **kwargs: object) -> HubStore:
    # the store's own id generator must not share the sample's seed: with equal seeds the emulator
    # hands out the sample's ids again (reported as an emulator bug)
    store = HubStore(clock=ManualClock(START), seed=1000, **kwargs)  # type: ignore[arg-type]
    populate(store, spaces=spaces, blocks=blocks, seed=0)
    return store


def test_sample_data_arrives_whole_and_a_second_run_is_one_request_per_resource(tmp_path: Path) -> None:
    store = sample_store()
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"a": f"sqlite:///{tmp_path}/a.db", "b": f"sqlite:///{tmp_path}/b.db"},
                                page_size=7)
        first = sync(settings)
        assert first.ok, [i.error for i in first.instances]
        for name in ("a", "b"):
            assert_in_step(f"sqlite:///{tmp_path}/{name}.db", store)
        # one stream of pages serves the whole group
        pages = requests_by_resource(hub)
        assert pages["space"] == -(-len(store.rows(S)) // 7) + 1
        assert pages["space_block"] == -(-len(store.rows(B)) // 7) + 1
        reset_requests(hub)
        second = sync(settings)
        assert second.ok
        assert requests_by_resource(hub) == QUIET
        assert [i.changed for i in second.instances] == [0, 0]


@pytest.mark.parametrize(("page_size", "max_rows"), [(7, 1000), (1000, 5), (7, 3)])
def test_a_tie_group_split_across_pages_arrives_exactly_once(tmp_path: Path, page_size: int,
                                                            max_rows: int) -> None:
    store = HubStore(clock=ManualClock(START))
    target = store.create_space("Ties")["id"]
    store.bulk_import(53, space_id=target, spread_seconds=0, content_size=40)  # 53 rows, one updated_at
    clock = store.clock
    assert isinstance(clock, ManualClock)
    clock.advance(600)
    with emulator(store, max_rows=max_rows) as hub:
        settings = settings_for(hub.url, {"a": f"sqlite:///{tmp_path}/a.db"}, page_size=page_size)
        report = sync(settings).instances[0]
        assert report.outcome == "ok", report.error
        assert report.count(B, "inserted") == 53
        assert report.count(B, "unchanged") == 0  # no row was served twice
        per_page = min(page_size, max_rows)
        assert requests_by_resource(hub)["space_block"] == -(-53 // per_page) + 1  # the last page is the empty one
        assert_in_step(f"sqlite:///{tmp_path}/a.db", store)


def test_a_late_commit_inside_the_lookback_window_arrives(tmp_path: Path) -> None:
    store = sample_store()
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url}, page_size=10)
        assert sync(settings).ok
        clock.advance(5)
        space_id = store.create_space("Fresh")["id"]
        clock.advance(5)
        assert sync(settings).ok
        # a transaction that began 30 s ago commits now, stamped before rows already served
        late = store.commit_late(B, {"space_id": space_id, "content": "late but here"}, age_seconds=30)
        late_space = store.commit_late(S, {"name": "Late space"}, age_seconds=25)
        clock.advance(5)
        report = sync(settings).instances[0]
        assert report.outcome == "ok"
        assert report.count(B, "inserted") == 1
        assert report.count(S, "inserted") == 1
        assert local_blocks(url)[late["lnid"]].content == "late but here"
        assert late_space["lnid"] in local_spaces(url)
        assert_in_step(url, store)


def test_once_the_hub_clock_has_moved_on_a_quiet_run_is_one_request_per_resource(tmp_path: Path) -> None:
    store = sample_store()
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url}, page_size=10, lookback_seconds=120)
        space_id = store.create_space("Recent")["id"]
        for n in range(25):
            store.create_block(space_id, f"recent {n}")
        assert sync(settings).ok
        # inside the window the recent rows are re-read (a late commit may still land among them) ...
        clock.advance(30)
        reset_requests(hub)
        report = sync(settings).instances[0]
        assert report.changed == 0
        assert requests_by_resource(hub)["space_block"] > 1
        # ... and once the hub's clock is past the window, there is nothing left to re-read
        clock.advance(200)
        assert sync(settings).instances[0].changed == 0
        reset_requests(hub)
        before = lamindb_dump(url)
        report = sync(settings).instances[0]
        assert report.outcome == "ok" and report.changed == 0
        assert requests_by_resource(hub) == QUIET
        assert report.hub_requests == 2
        assert lamindb_dump(url) == before


@pytest.mark.parametrize("clock_moves_before_first_sync", [True, False])
def test_right_after_a_bulk_import_a_quiet_run_is_one_request_per_resource(
        tmp_path: Path, clock_moves_before_first_sync: bool) -> None:
    store = sample_store(spaces=2, blocks=5)
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url}, page_size=1000)
        assert sync(settings).ok
        store.bulk_import(5000, spread_seconds=60, content_size=100)
        if clock_moves_before_first_sync:
            clock.advance(300)
        report = sync(settings).instances[0]
        assert report.count(B, "inserted") == 5000
        clock.advance(300)
        assert sync(settings).instances[0].changed == 0  # may re-read the import once, writes nothing
        reset_requests(hub)
        report = sync(settings).instances[0]
        assert report.outcome == "ok" and report.changed == 0
        assert requests_by_resource(hub) == QUIET
        assert count(url, "lamindb_spaceblock") == len(hub_live_blocks(store))


def test_a_name_swap_and_a_case_only_rename_apply_in_one_run(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    a = store.create_space("Alpha")
    b = store.create_space("Beta")
    c = store.create_space("gamma")
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        ids_before = {uid: s.id for uid, s in local_spaces(url).items()}
        clock.advance(1)
        store.rename_space(a["id"], "Beta")
        store.rename_space(b["id"], "Alpha")
        store.rename_space(c["id"], "GAMMA")
        clock.advance(1)
        report = sync(settings).instances[0]
        assert report.outcome == "ok", report.error
        assert report.count(S, "updated") == 3
        assert report.deferred == 0 and report.quarantined == 0
        spaces = local_spaces(url)
        assert {uid: s.name for uid, s in spaces.items() if s.id != 1} == {
            a["lnid"]: "Beta", b["lnid"]: "Alpha", c["lnid"]: "GAMMA"}
        assert {uid: s.id for uid, s in spaces.items()} == ids_before  # renamed in place


def test_a_name_swap_split_across_two_pages_completes_in_the_same_run(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    a = store.create_space("Alpha")
    b = store.create_space("Beta")
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url}, page_size=1)
        assert sync(settings).ok
        clock.advance(1)
        store.rename_space(a["id"], "Beta")  # served on one page, while Beta is still held by b
        clock.advance(1)
        store.rename_space(b["id"], "Alpha")  # served on the next page
        clock.advance(1)
        report = sync(settings).instances[0]
        assert report.outcome == "ok", report.error
        assert {u: s.name for u, s in synced_spaces(url).items()} == {a["lnid"]: "Beta", b["lnid"]: "Alpha"}
        assert report.deferred == 0
        assert count(url, "syncd_deferred") == 0


def test_a_block_served_before_its_space_is_deferred_then_applied(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    store.create_block(home["id"], "home block")
    late: dict[str, dict[str, object]] = {}

    def between_reads(request: httpx.Request) -> None:
        # the hub changes after syncd read `space` and before it reads `space_block`
        if request.url.path.endswith("/space_block") and not late:
            late["space"] = store.create_space("Arrived later")
            late["block"] = store.create_block(late["space"]["id"], "waiting for its space")

    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        first = sync(settings, transport=Interposer(before=between_reads)).instances[0]
        assert first.outcome == "ok", first.error
        assert first.count(B, "deferred") == 1
        assert first.deferred == 1
        assert late["block"]["lnid"] not in local_blocks(url)
        [waiting] = parked(url, "syncd_deferred")
        assert waiting["hub_id"] == str(late["block"]["id"])
        assert waiting["waiting_for"] == str(late["space"]["id"])
        manual_clock(hub).advance(1)
        second = sync(settings).instances[0]
        assert second.outcome == "ok"
        assert second.deferred == 0
        block = local_blocks(url)[str(late["block"]["lnid"])]
        assert block.space_uid == late["space"]["lnid"]
        assert_in_step(url, store)


def test_block_tombstones_remove_the_block(tmp_path: Path) -> None:
    store = sample_store(spaces=2, blocks=10)
    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        victim = next(iter(hub_live_blocks(store).values()))
        assert victim["lnid"] in local_blocks(url)
        manual_clock(hub).advance(1)
        store.soft_delete(B, victim["id"])
        report = sync(settings).instances[0]
        assert report.count(B, "deleted") == 1
        assert victim["lnid"] not in local_blocks(url)
        assert_in_step(url, store)


def _space_with_blocks(store: HubStore, name: str, n: int) -> dict[str, object]:
    created = store.create_space(name)
    for i in range(n):
        store.create_block(created["id"], f"{name} block {i}")
    return created


def _restarts(logs: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(e["instance"], e["resource"], e["reason"], e["rows"]) for e in logs
            if e["event"] == "sync.stream_restarted"]


def test_an_unreferenced_tombstoned_space_goes_with_its_blocks(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    keep = _space_with_blocks(store, "Keep", 2)
    gone = _space_with_blocks(store, "Gone", 3)
    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        assert count(url, "lamindb_spaceblock") == 5
        manual_clock(hub).advance(1)
        store.soft_delete(S, gone["id"])
        report = sync(settings).instances[0]
        assert report.outcome == "ok"
        assert report.count(S, "deleted") == 1
        assert report.held == 0 and report.held_spaces == []
        assert set(synced_spaces(url)) == {keep["lnid"]}
        assert {b.space_uid for b in local_blocks(url).values()} == {keep["lnid"]}
        assert_in_step(url, store)


def test_a_referenced_tombstoned_space_is_held_reported_every_run_then_deleted(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    held = _space_with_blocks(store, "Held", 2)
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        local_id = local_spaces(url)[str(held["lnid"])].id
        # a LaminDB record of this instance lives in that space: a branch
        execute(url, "INSERT INTO lamindb_branch (id, name, uid, created_at, space_id, created_by_id, "
                     "_status_code, _aux) VALUES (2, 'feature', 'fffffffffff2', '2026-01-01 00:00:00.000000', "
                     ":space, 1, 0, 'null')", {"space": local_id})
        clock.advance(1)
        store.soft_delete(S, held["id"])
        for _ in range(2):
            clock.advance(1)
            report = sync(settings).instances[0]
            assert report.outcome == "ok"
            assert report.held == 1 and report.held_spaces == [held["lnid"]]
            assert local_spaces(url)[str(held["lnid"])].id == local_id
            assert scalar(url, "SELECT space_id FROM lamindb_branch WHERE id = 2") == local_id  # never re-pointed
        execute(url, "DELETE FROM lamindb_branch WHERE id = 2")
        clock.advance(1)
        report = sync(settings).instances[0]
        assert report.outcome == "ok"
        assert report.held == 0 and report.held_spaces == []
        assert held["lnid"] not in local_spaces(url)
        assert count(url, "lamindb_spaceblock") == 0


def test_a_space_referenced_through_another_tables_foreign_key_is_held(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    target = _space_with_blocks(store, "Referenced", 1)
    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        local_id = local_spaces(url)[str(target["lnid"])].id
        execute(url, 'CREATE TABLE "lamindb_artifact" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, '
                     '"space_id" smallint NOT NULL REFERENCES "lamindb_space" ("id") DEFERRABLE INITIALLY DEFERRED)')
        execute(url, "INSERT INTO lamindb_artifact (space_id) VALUES (:s)", {"s": local_id})
        manual_clock(hub).advance(1)
        store.soft_delete(S, target["id"])
        report = sync(settings).instances[0]
        assert report.held_spaces == [target["lnid"]]
        assert target["lnid"] in local_spaces(url)


def test_hard_deletes_are_found_only_by_a_full_run(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    keep = _space_with_blocks(store, "Keep", 3)
    vanish = _space_with_blocks(store, "Vanish", 2)
    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url}, page_size=2)
        assert sync(settings).ok
        block = next(r for r in store.rows(B) if r["space_id"] == keep["id"])
        store.hard_delete(B, block["id"])
        for row in [r for r in store.rows(B) if r["space_id"] == vanish["id"]]:
            store.hard_delete(B, row["id"])
        store.hard_delete(S, vanish["id"])
        manual_clock(hub).advance(600)
        assert sync(settings).ok
        assert block["lnid"] in local_blocks(url)  # nothing told an incremental run
        assert vanish["lnid"] in local_spaces(url)
        config = write_config(tmp_path / "syncd.toml", hub.url, {"a": url}, page_size=2)
        done = run_cli(["run-once", "--config", str(config), "--full"], TOKEN, tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = summary_of(done.stdout)
    assert summary["full"] is True
    [report] = summary["instances"]
    assert (report["space"]["deleted"], report["space_block"]["deleted"]) == (1, 3)
    assert_in_step(url, store)


@pytest.mark.parametrize("fault", [503, "truncate", "reset"])
def test_a_failed_key_listing_deletes_nothing(tmp_path: Path, fault: int | str) -> None:
    store = HubStore(clock=ManualClock(START))
    spaces = [_space_with_blocks(store, f"S{n}", 3) for n in range(3)]
    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url}, page_size=2)
        assert sync(settings).ok
        for row in store.rows(B):
            store.hard_delete(B, row["id"])
        store.hard_delete(S, spaces[0]["id"])
        manual_clock(hub).advance(600)
        before = lamindb_dump(url)
        listed: list[str] = []

        def break_second_listing_page(request: httpx.Request) -> None:
            if "deleted_at=is.null" in str(request.url):
                listed.append(str(request.url))
                if len(listed) == 2:  # the listing fails midway, beyond the retries
                    hub.faults.fail_next(50, fault)

        report = sync(settings, full=True, transport=Interposer(before=break_second_listing_page)).instances[0]
        hub.faults.clear()
        assert report.outcome == "failed"
        assert report.error_kind == "hub_unavailable"
        assert lamindb_dump(url) == before
        # once the listing works, the vanished rows go
        report = sync(settings, full=True).instances[0]
        assert report.outcome == "ok"
        assert report.count(S, "deleted") == 1
        assert count(url, "lamindb_spaceblock") == 0
        assert_in_step(url, store)


def test_every_timestamp_spelling_stores_the_canonical_instant(tmp_path: Path) -> None:
    canonical = sample_store(spaces=8, blocks=120)
    varied = sample_store(spaces=8, blocks=120, spelling=Spelling(seed=11))
    assert canonical.rows(B) == varied.rows(B)  # the same rows, spelled differently on the wire
    with emulator(canonical) as plain_hub, emulator(varied) as varied_hub:
        raw = httpx.get(f"{varied_hub.url}/rest/v1/space_block?select=*&order=updated_at.asc,id.asc&limit=1000",
                        headers={"Authorization": "Bearer test-token-0123456789",
                                 "apikey": "test-token-0123456789"}).json()
        offsets = {r["updated_at"][-6:] for r in raw} | {r["created_at"][-1] for r in raw}
        assert {"Z", "+05:30", "-03:00"} <= offsets  # the wire really varies
        assert len({len(r["updated_at"]) for r in raw}) > 3
        plain_url, varied_url = f"sqlite:///{tmp_path}/plain.db", f"sqlite:///{tmp_path}/varied.db"
        assert sync(settings_for(plain_hub.url, {"p": plain_url}, page_size=9)).ok
        assert sync(settings_for(varied_hub.url, {"v": varied_url}, page_size=9)).ok
    assert synced_content(varied_url) == synced_content(plain_url)
    assert_in_step(varied_url, varied)
    stored = dict(fetch(varied_url, "SELECT uid, created_at FROM lamindb_spaceblock"))
    for lnid, row in hub_live_blocks(varied).items():
        assert stored[lnid] == format_sqlite(row["created_at"])  # Django's text form, 6 digits, UTC
    # the cursors hold the same instants whichever spelling the hub used
    plain_cursor, varied_cursor = cursors(plain_url), cursors(varied_url)
    assert {k: v["complete_before"] for k, v in plain_cursor.items()} == {
        k: v["complete_before"] for k, v in varied_cursor.items()}


def test_a_quiet_run_writes_nothing_to_lamindb_tables(tmp_path: Path) -> None:
    store = sample_store()
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url}, page_size=10)
        store.bulk_import(300, spread_seconds=30, content_size=50)  # rows still inside the window
        assert sync(settings).ok
        # count every write to LaminDB's tables, even one that rewrites identical values
        execute(url, "CREATE TABLE probe_writes (tbl text, op text)")
        for table in ("lamindb_user", "lamindb_branch", "lamindb_space", "lamindb_spaceblock"):
            for op in ("INSERT", "UPDATE", "DELETE"):
                execute(url, f"CREATE TRIGGER probe_{table}_{op} AFTER {op} ON {table} "
                             f"BEGIN INSERT INTO probe_writes VALUES ('{table}', '{op}'); END")
        before = lamindb_dump(url)
        clock.advance(10)
        assert sync(settings).instances[0].changed == 0  # re-reads the window
        clock.advance(300)
        assert sync(settings).instances[0].changed == 0
        assert sync(settings).instances[0].changed == 0
        assert count(url, "probe_writes") == 0
        assert lamindb_dump(url) == before


def test_an_instance_that_was_behind_catches_up_from_its_own_cursor(tmp_path: Path) -> None:
    store = sample_store(spaces=3, blocks=20)
    with emulator(store) as hub:
        clock = manual_clock(hub)
        a, b = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
        only_a = settings_for(hub.url, {"a": a}, page_size=5)
        both = settings_for(hub.url, {"a": a, "b": b}, page_size=5)
        assert sync(only_a).ok
        clock.advance(300)
        new_space = store.create_space("Later")
        store.create_block(new_space["id"], "later block")
        clock.advance(300)
        report = sync(both)
        assert report.ok
        a_report, b_report = report.instances
        assert a_report.count(S, "inserted") == 1 and a_report.count(B, "inserted") == 1
        assert b_report.count(B, "inserted") == len(hub_live_blocks(store))
        assert_in_step(a, store)
        assert_in_step(b, store)


def test_a_hub_block_with_a_changed_lnid_is_rejected(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    block = store.create_block(home["id"], "stable identity")
    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        manual_clock(hub).advance(1)
        store.write(B, {"id": block["id"], "lnid": "Zz" + str(block["lnid"])[2:], "content": "new"})
        report = sync(settings).instances[0]
        assert report.quarantined == 1
        assert local_blocks(url)[str(block["lnid"])].content == "stable identity"
        [entry] = parked(url)
        assert "lnid" in entry["reason"] and entry["row_key"] == str(block["id"])


def test_a_block_moved_to_another_space_moves_locally(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    first, second = store.create_space("First"), store.create_space("Second")
    block = store.create_block(first["id"], "on the move")
    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        local_id = local_blocks(url)[str(block["lnid"])].id
        manual_clock(hub).advance(1)
        store.update_block(block["id"], space_id=second["id"])
        report = sync(settings).instances[0]
        assert report.count(B, "updated") == 1
        moved = local_blocks(url)[str(block["lnid"])]
        assert (moved.space_uid, moved.id) == (second["lnid"], local_id)
        assert_in_step(url, store)


def test_a_hub_account_whose_handle_is_taken_locally_gets_a_lossless_alias(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home", created_by={"lnid": "hubUser1", "handle": "anonymous", "name": "Not me"})
    store.create_block(home["id"], "by the other anonymous",
                       created_by={"lnid": "hubUser1", "handle": "anonymous", "name": "Not me"})
    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        assert sync(settings_for(hub.url, {"a": url})).ok
    users = dict((uid, (handle, name)) for uid, handle, name in fetch(url, "SELECT uid, handle, name FROM lamindb_user"))
    assert users["00000000"] == ("anonymous", None)  # the local user is never rewritten
    handle, name = users["hubUser1"]
    assert handle != "anonymous" and handle.startswith("anonymous") and len(handle) <= 30
    assert name == "Not me"
    assert fetch(url, "SELECT uid, hub_handle, local_handle FROM syncd_user_alias") == [
        ("hubUser1", "anonymous", handle)]
    [block] = local_blocks(url).values()
    assert block.creator == "hubUser1"


def test_a_late_commit_landing_behind_a_pass_in_progress_arrives_on_the_next_run(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    clock = store.clock
    assert isinstance(clock, ManualClock)
    for n in range(20):
        clock.advance(1)
        store.create_block(home["id"], f"recent {n}")
    pages: list[str] = []
    late: list[dict[str, object]] = []

    def commit_behind_the_pass(request: httpx.Request) -> None:
        if request.url.path.endswith("/space_block"):
            pages.append(str(request.url))
            if len(pages) == 3:  # pages 1 and 2 are applied; this row lands inside their range
                late.append(store.commit_late(B, {"space_id": home["id"], "content": "behind"}, age_seconds=18))

    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url}, page_size=5)
        assert sync(settings, transport=Interposer(before=commit_behind_the_pass)).ok
        assert late and late[0]["lnid"] not in local_blocks(url)  # the pass had already gone past it
        clock.advance(5)
        report = sync(settings).instances[0]
        assert report.count(B, "inserted") == 1
        assert_in_step(url, store)
        clock.advance(300)
        assert sync(settings).ok
        reset_requests(hub)
        assert sync(settings).ok
        assert requests_by_resource(hub) == QUIET


def test_a_deferred_block_whose_space_is_deleted_before_it_arrives_is_dropped(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    store.create_space("Home")
    late: dict[str, dict[str, object]] = {}

    def between_reads(request: httpx.Request) -> None:
        if request.url.path.endswith("/space_block") and not late:
            late["space"] = store.create_space("Short-lived")
            late["block"] = store.create_block(late["space"]["id"], "orphan to be")

    with emulator(store) as hub:
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings, transport=Interposer(before=between_reads)).instances[0].deferred == 1
        manual_clock(hub).advance(1)
        store.soft_delete(S, late["space"]["id"])
        report = sync(settings).instances[0]
        assert report.outcome == "ok"
        assert report.deferred == 0
        assert count(url, "syncd_deferred") == 0
        assert_in_step(url, store)


def test_a_space_restored_on_the_hub_comes_back_with_its_blocks(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    home = _space_with_blocks(store, "Restored", 3)
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        clock.advance(300)
        store.soft_delete(S, home["id"])
        clock.advance(300)
        assert sync(settings).ok
        assert count(url, "lamindb_spaceblock") == 0
        clock.advance(300)
        store.update_space(home["id"], deleted_at=None)  # undone on the hub; its blocks were never deleted
        clock.advance(300)
        with capture_logs() as logs:
            report = sync(settings).instances[0]
        assert report.outcome == "ok", report.error
        # spaces are read first: the restored space sends the block stream back, in the same run
        assert (report.count(S, "inserted"), report.count(B, "inserted")) == (1, 3)
        assert _restarts(logs) == [("a", "space_block", "space_restored", 1)]
        assert report.rereads == ["space_block: space_restored"]  # in the summary too
        assert "read again from the beginning: space_block: space_restored" in render_table(
            RunReport([report]))
        quiet = sync(settings).instances[0]
        assert (quiet.changed, quiet.rereads) == (0, [])
        assert home["lnid"] in local_spaces(url)
        assert_in_step(url, store)


def test_a_space_restored_where_only_one_instance_had_removed_it_returns_there_and_nothing_moves_elsewhere(
        tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    home = _space_with_blocks(store, "Restored", 3)
    _space_with_blocks(store, "Other", 2)
    with emulator(store) as hub:
        clock = manual_clock(hub)
        a, b = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
        only_a = settings_for(hub.url, {"a": a})
        both = settings_for(hub.url, {"a": a, "b": b})
        assert sync(both).ok
        clock.advance(300)
        store.soft_delete(S, home["id"])
        clock.advance(300)
        assert sync(only_a).ok  # b never sees the tombstone
        assert count(a, "lamindb_spaceblock") == 2 and count(b, "lamindb_spaceblock") == 5
        clock.advance(300)
        store.update_space(home["id"], deleted_at=None)
        clock.advance(300)
        b_blocks = lamindb_dump(b)["lamindb_spaceblock"]
        with capture_logs() as logs:
            report = sync(both)
        assert report.ok
        assert _restarts(logs) == [("a", "space_block", "space_restored", 1)]
        a_report, b_report = report.instances
        # a starts its block stream from the beginning; the group's stream starts there, and b,
        # already current, reads it again without writing
        assert a_report.count(B, "inserted") == 3
        assert b_report.count(S, "updated") == 1
        assert b_report.count(B, "unchanged") == 5 and b_report.changed == 1
        assert lamindb_dump(b)["lamindb_spaceblock"] == b_blocks
        assert_in_step(a, store)
        assert_in_step(b, store)
        assert {k: v["complete_before"] for k, v in cursors(a).items()} == {
            k: v["complete_before"] for k, v in cursors(b).items()}
        clock.advance(300)
        assert sync(both).ok
        reset_requests(hub)
        assert [i.changed for i in sync(both).instances] == [0, 0]
        assert requests_by_resource(hub) == QUIET


def test_tokens_that_see_different_spaces_form_groups_each_with_its_own_stream(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    shared = _space_with_blocks(store, "Shared", 2)
    private = _space_with_blocks(store, "Private", 3)
    tokens = {"all-token": "all", "narrow-token": [shared["id"]]}
    with emulator(store, tokens=tokens) as hub:
        clock = manual_clock(hub)
        wide, narrow = f"sqlite:///{tmp_path}/wide.db", f"sqlite:///{tmp_path}/narrow.db"
        settings = parse_settings({
            "hub": {"url": hub.url, "retry_attempts": 3, "token_env": "WIDE"},
            "instances": [{"name": "wide", "url": wide},
                          {"name": "narrow", "url": narrow, "token_env": "NARROW"}],
        }, {"WIDE": "all-token", "NARROW": "narrow-token"}, source="<test>")
        assert len(settings.groups()) == 2
        assert sync(settings).ok
        assert_in_step(wide, store)
        assert set(synced_spaces(narrow)) == {shared["lnid"]}
        assert {b.space_uid for b in local_blocks(narrow).values()} == {shared["lnid"]}
        assert count(narrow, "lamindb_spaceblock") == 2
        # access to Shared is withdrawn: no tombstone for this token, only the key listing shows it
        hub.app.tokens["narrow-token"] = frozenset()
        clock.advance(300)
        assert sync(settings).ok
        assert shared["lnid"] in synced_spaces(narrow)
        report = sync(settings, full=True)
        assert report.ok
        assert synced_spaces(narrow) == {}
        assert count(narrow, "lamindb_spaceblock") == 0
        assert private["lnid"] in synced_spaces(wide)
        assert_in_step(wide, store)


def test_a_full_run_brings_an_old_space_the_token_was_granted_without_a_re_stamp(tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    shared = _space_with_blocks(store, "Shared", 2)
    granted = _space_with_blocks(store, "Granted later", 3)
    with emulator(store, tokens={"narrow-token": [shared["id"]]}) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/narrow.db"
        settings = settings_for(hub.url, {"narrow": url}, token="narrow-token", page_size=2)
        clock.advance(300)
        assert sync(settings).ok
        assert set(synced_spaces(url)) == {shared["lnid"]}
        # the hub lets the token see an old space: nothing is re-stamped, the change stream never shows it
        hub.app.tokens["narrow-token"] = frozenset({shared["id"], granted["id"]})
        clock.advance(300)
        report = sync(settings).instances[0]
        assert report.outcome == "ok" and report.changed == 0
        assert granted["lnid"] not in synced_spaces(url)
        clock.advance(300)
        with capture_logs() as logs:
            report = sync(settings, full=True).instances[0]
        assert report.outcome == "ok", report.error
        assert _restarts(logs) == [("narrow", "space", "rows_missing", 1),
                                   ("narrow", "space_block", "rows_missing", 3)]
        # re-read in the same run: the new rows once, the ones already here unchanged
        assert (report.count(S, "inserted"), report.count(B, "inserted")) == (1, 3)
        assert (report.count(S, "unchanged"), report.count(B, "unchanged")) == (1, 2)
        assert_in_step(url, store)  # the token now sees every hub space
        assert count(url, "lamindb_spaceblock") == count(url, "syncd_block_map") == 5
        clock.advance(300)
        with capture_logs() as logs:
            report = sync(settings, full=True).instances[0]
        assert report.outcome == "ok" and report.changed == 0
        assert _restarts(logs) == []
        assert_in_step(url, store)


def test_live_blocks_of_deleted_spaces_never_send_a_full_run_back_to_the_beginning(
        tmp_path: Path) -> None:
    store = HubStore(clock=ManualClock(START))
    _space_with_blocks(store, "Kept", 2)
    removed = _space_with_blocks(store, "Removed here", 2)
    with emulator(store) as hub:
        clock = manual_clock(hub)
        url = f"sqlite:///{tmp_path}/a.db"
        settings = settings_for(hub.url, {"a": url})
        assert sync(settings).ok
        clock.advance(300)
        store.soft_delete(S, removed["id"])
        never = _space_with_blocks(store, "Never here", 3)  # created and deleted between two runs
        store.soft_delete(S, never["id"])
        clock.advance(300)
        assert sync(settings).ok
        # the hub keeps both spaces' blocks live: every key listing shows them
        assert len([r for r in store.rows(B) if r["deleted_at"] is None]) == 7
        seen = []
        for _ in range(3):
            clock.advance(300)
            with capture_logs() as logs:
                report = sync(settings, full=True).instances[0]
            assert report.outcome == "ok" and report.changed == 0
            seen.append(_restarts(logs))
        # blocks removed with their space, and blocks skipped because their space was already
        # deleted, are known at once: no listing re-reads the stream for them
        assert seen == [[], [], []]
        assert_in_step(url, store)
