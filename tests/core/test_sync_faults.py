"""Faults on the way: hub errors of every kind, authentication failures, broken instances.

Transient faults must never change the outcome, only delay it: a faulted run
(repeated until it succeeds) leaves the same database as a fault-free run.
Permanent failures are reported per instance and never stop the others.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from syncd.core.models import Resource
from syncd.core.timestamps import parse_rfc3339
from syncd.hubsim import Faults, HubStore, ManualClock, RunningHub, populate
from tests.support.builders import settings_for
from tests.support.syncenv import (
    START,
    assert_in_step,
    count,
    cursors,
    emulator,
    execute,
    hub_live_blocks,
    local_blocks,
    manual_clock,
    requests_by_resource,
    reset_requests,
    run_cli,
    summary_of,
    sync,
    synced_content,
    write_config,
)

S, B = Resource.SPACE, Resource.SPACE_BLOCK
FAULT_KINDS: list[int | str] = [408, 425, 429, 500, 502, 503, 504, "reset", "truncate"]


def sample_store(spaces: int = 5, blocks: int = 80) -> HubStore:
    store = HubStore(clock=ManualClock(START), seed=1000)
    populate(store, spaces=spaces, blocks=blocks, seed=3)
    return store


def served(hub: RunningHub) -> dict[str, int]:
    """Answers per status (and "reset") over both resources."""
    totals: dict[str, int] = {}
    for counts in hub.app.stats.snapshot().values():
        for status, n in counts.items():
            totals[status] = totals.get(status, 0) + n
    return totals


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, int]:
    """What a fault-free run leaves behind, and how many requests it took."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ref')}/ref.db"
    store = sample_store()
    with emulator(store) as hub:
        assert sync(settings_for(hub.url, {"ref": url}, page_size=7)).ok
        requests = sum(requests_by_resource(hub).values())
    assert_in_step(url, store)
    return synced_content(url), requests


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_faults_at_random_converge_to_the_fault_free_result(tmp_path: Path, fault: int | str,
                                                           reference: tuple[Any, int]) -> None:
    faults = Faults(seed=5)
    if fault == "reset":
        faults.update({"reset_rate": 0.3})
    elif fault == "truncate":
        faults.update({"truncate_rate": 0.3})
    else:
        faults.update({"error_rates": {fault: 0.3}, "retry_after": 1})
    store = sample_store()
    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store, faults=faults) as hub:
        settings = settings_for(hub.url, {"a": url}, page_size=7)
        outcomes = [sync(settings)]
        while not outcomes[-1].ok and len(outcomes) < 15:
            outcomes.append(sync(settings))
        assert outcomes[-1].ok, outcomes[-1].instances[0].error
        if isinstance(fault, int):
            assert served(hub).get(str(fault), 0) > 0
        elif fault == "reset":
            assert served(hub).get("reset", 0) > 0
        assert sum(requests_by_resource(hub).values()) > reference[1]  # faults did cost requests
        # every failed run failed as a whole group, cleanly
        for report in outcomes[:-1]:
            assert report.instances[0].error_kind == "hub_unavailable"
    assert synced_content(url) == reference[0]
    assert_in_step(url, store)


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_a_few_faults_in_a_row_are_retried_within_one_run(tmp_path: Path, fault: int | str) -> None:
    store = sample_store(spaces=2, blocks=10)
    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"a": url}, page_size=100)
        hub.faults.fail_next(2, fault)  # two failures, a third attempt succeeds (retry_attempts = 3)
        report = sync(settings).instances[0]
        assert report.outcome == "ok", report.error
        # 2 failed + 1 good for space, then space's empty page, then 2 block pages
        assert report.hub_requests == 2 + 2 + 2
        assert_in_step(url, store)


def test_latency_slows_but_does_not_change_the_result(tmp_path: Path, reference: tuple[Any, int]) -> None:
    store = sample_store()
    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store, faults=Faults(latency_ms=15)) as hub:
        assert sync(settings_for(hub.url, {"a": url}, page_size=7)).ok
        assert sum(requests_by_resource(hub).values()) == reference[1]
    assert synced_content(url) == reference[0]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(tmp_path: Path, status: int) -> None:
    store = sample_store(spaces=1, blocks=1)
    slept: list[float] = []
    with emulator(store, faults=Faults(retry_after=2)) as hub:
        hub.faults.fail_next(1, status)
        from syncd.runner import run_sync

        report = run_sync(settings_for(hub.url, {"a": f"sqlite:///{tmp_path}/a.db"}), sleep=slept.append)
    assert report.ok
    assert 2.0 in slept


def test_a_hub_that_stays_down_fails_the_group_and_applies_only_whole_pages(tmp_path: Path) -> None:
    store = sample_store()
    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"a": url, "b": f"sqlite:///{tmp_path}/b.db"}, page_size=7)
        seen: list[int] = []

        from tests.support.syncenv import Interposer

        def go_down_midway(_request: object) -> None:
            seen.append(1)
            if len(seen) == 6:
                hub.faults.update({"down": "503"})

        report = sync(settings, transport=Interposer(before=go_down_midway))
        assert not report.ok
        assert {i.error_kind for i in report.instances} == {"hub_unavailable"}
        assert all("503" in (i.error or "") for i in report.instances)
        # what was applied is whole pages: exactly the rows up to the committed cursor position
        position = cursors(url)["space_block"]
        assert position["pass_id"] is not None
        last = (parse_rfc3339(position["pass_ts"]), uuid.UUID(position["pass_id"]))
        expected = {lnid for lnid, row in hub_live_blocks(store).items()
                    if (row["updated_at"], row["id"]) <= last}
        assert 0 < len(expected) < len(hub_live_blocks(store))
        assert set(local_blocks(url)) == expected
        assert count(url, "syncd_block_map") == len(expected)
        hub.faults.clear()
        assert sync(settings).ok
        assert_in_step(url, store)


@pytest.mark.parametrize(("status", "kind"), [(401, "auth"), (403, "auth"), (400, "hub_incompatible"),
                                              (404, "hub_incompatible")])
def test_refusals_are_not_retried(tmp_path: Path, status: int, kind: str) -> None:
    store = sample_store(spaces=1, blocks=2)
    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store) as hub:
        hub.faults.fail_next(1, status)
        report = sync(settings_for(hub.url, {"a": url})).instances[0]
        assert report.outcome == "failed"
        assert report.error_kind == kind
        assert str(status) in (report.error or "")
        assert requests_by_resource(hub) == {"space": 1}
        assert report.hub_requests == 1
    assert count(url, "lamindb_spaceblock") == 0


def test_a_wrong_token_fails_with_auth_after_one_request_and_is_never_printed(tmp_path: Path) -> None:
    secret = "s3cr3t-token-that-must-not-leak"
    store = sample_store(spaces=1, blocks=2)
    with emulator(store, tokens={"the-right-token": "all"}) as hub:
        report = sync(settings_for(hub.url, {"a": f"sqlite:///{tmp_path}/a.db"}, token=secret)).instances[0]
        assert (report.outcome, report.error_kind) == ("failed", "auth")
        assert hub.app.stats.snapshot() == {"space": {"401": 1}}
        assert secret not in (report.error or "")
        reset_requests(hub)
        config = write_config(tmp_path / "syncd.toml", hub.url, {"lab-a": f"sqlite:///{tmp_path}/cli.db"})
        done = run_cli(["run-once", "--config", str(config)], secret, tmp_path)
        assert hub.app.stats.snapshot() == {"space": {"401": 1}}
    assert done.returncode == 1, done.stderr
    assert secret not in done.stdout and secret not in done.stderr
    summary = summary_of(done.stdout)
    [failed] = summary["instances"]
    assert (failed["instance"], failed["outcome"], failed["error_kind"]) == ("lab-a", "failed", "auth")
    assert "401" in failed["error"]


def test_one_broken_instance_among_good_ones(tmp_path: Path) -> None:
    store = sample_store(spaces=3, blocks=20)
    foreign = tmp_path / "foreign.db"
    execute(f"sqlite:///{foreign}", "CREATE TABLE invoices (id integer primary key)")
    incompatible = tmp_path / "old-lamindb.db"
    execute(f"sqlite:///{incompatible}", "CREATE TABLE lamindb_space (id integer primary key, name text)")
    instances = {
        "good-1": f"sqlite:///{tmp_path}/good1.db",
        "no-server": "postgresql+psycopg://postgres:pw-must-not-leak@127.0.0.1:9/nowhere",
        "no-dir": f"sqlite:///{tmp_path}/missing-dir/x.db",
        "not-lamindb": f"sqlite:///{foreign}",
        "old-schema": f"sqlite:///{incompatible}",
        "good-2": f"sqlite:///{tmp_path}/good2.db",
    }
    with emulator(store) as hub:
        report = sync(settings_for(hub.url, instances))
        by_name = {i.name: i for i in report.instances}
        assert [by_name[n].outcome for n in ("good-1", "good-2")] == ["ok", "ok"]
        for name in ("no-server", "no-dir", "not-lamindb", "old-schema"):
            assert by_name[name].outcome == "failed", name
        assert "invoices" in (by_name["not-lamindb"].error or "")
        assert "lamindb_spaceblock" in (by_name["old-schema"].error or "")
        assert_in_step(instances["good-1"], store)
        assert_in_step(instances["good-2"], store)
        assert count(f"sqlite:///{foreign}", "invoices") == 0  # refused, not altered
        assert sqlite_tables(foreign) == ["invoices"]

        config = write_config(tmp_path / "syncd.toml", hub.url, instances)
        done = run_cli(["run-once", "--config", str(config)], "test-token-0123456789", tmp_path)
    assert done.returncode == 1, done.stderr
    assert "pw-must-not-leak" not in done.stdout + done.stderr
    summary = summary_of(done.stdout)
    outcome = {i["instance"]: (i["outcome"], i.get("error", "")) for i in summary["instances"]}
    assert {n for n, (o, _) in outcome.items() if o == "failed"} == {"no-server", "no-dir", "not-lamindb",
                                                                     "old-schema"}
    assert "invoices" in outcome["not-lamindb"][1]
    assert "127.0.0.1" in outcome["no-server"][1] or "connect" in outcome["no-server"][1].lower()


def sqlite_tables(path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


# -- quarantine and replay ------------------------------------------------------------------------

BAD_FIELDS: dict[str, tuple[str, Any]] = {
    "hash": ("hash", "AAAAAAAAAAAAAAAAAAAAAA"),
    "lnid": ("lnid", "not-base62-lnid!!!!!"),
    "timestamp": ("created_at", "2026-02-30T25:61:00Z"),
    "kind": ("kind", "essay"),
    "uuid": ("space_id", "not-a-uuid"),
}


@pytest.mark.parametrize("bad", sorted(BAD_FIELDS))
def test_a_bad_row_is_quarantined_with_its_reason_then_replayed_when_the_hub_fixes_it(
        tmp_path: Path, bad: str) -> None:
    from tests.support.syncenv import Interposer, local_blocks, parked

    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    good = [store.create_block(home["id"], f"good {n}") for n in range(3)]
    victim = store.create_block(home["id"], "will be broken on the wire")
    column, value = BAD_FIELDS[bad]
    broken_version = victim["updated_at"]

    def corrupt(resource: str, row: dict[str, Any]) -> dict[str, Any]:
        # a hostile hub: this one version of this row breaks the contract
        if resource == "space_block" and row["id"] == str(victim["id"]):
            from syncd.core.timestamps import parse_rfc3339

            if parse_rfc3339(row["updated_at"]) == broken_version:
                return {**row, column: value}
        return row

    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"a": url})
        report = sync(settings, transport=Interposer(rewrite=corrupt)).instances[0]
        assert report.outcome == "ok", report.error  # a bad row does not fail the run
        assert report.quarantined == 1
        assert report.count(B, "rejected") == 1
        assert set(local_blocks(url)) == {g["lnid"] for g in good}
        [entry] = parked(url)
        assert entry["resource"] == "space_block"
        assert entry["row_key"] == str(victim["id"])
        assert column.split("_")[0] in entry["reason"] or bad in entry["reason"]
        assert entry["payload"][column] == value  # the raw payload is kept
        # still quarantined on the next run (the hub has not fixed it)
        manual_clock(hub).advance(300)
        again = sync(settings, transport=Interposer(rewrite=corrupt)).instances[0]
        assert again.quarantined == 1
        # the hub fixes the row: a newer updated_at
        store.update_block(victim["id"], content="fixed")
        fixed = sync(settings, transport=Interposer(rewrite=corrupt)).instances[0]
        assert fixed.outcome == "ok"
        assert fixed.quarantined == 0
        assert parked(url) == []
        assert local_blocks(url)[str(victim["lnid"])].content == "fixed"
        assert_in_step(url, store)


def test_a_bad_space_row_is_quarantined_and_its_blocks_wait(tmp_path: Path) -> None:
    from tests.support.syncenv import Interposer, local_blocks, parked

    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    block = store.create_block(home["id"], "in a broken space")
    broken = {"on": True}

    def corrupt(resource: str, row: dict[str, Any]) -> dict[str, Any]:
        if resource == "space" and broken["on"]:
            return {**row, "name": "x" * 101}
        return row

    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store) as hub:
        settings = settings_for(hub.url, {"a": url})
        report = sync(settings, transport=Interposer(rewrite=corrupt)).instances[0]
        assert report.outcome == "ok"
        assert (report.quarantined, report.deferred) == (1, 1)
        assert "name" in parked(url)[0]["reason"]
        broken["on"] = False
        manual_clock(hub).advance(1)
        store.update_space(home["id"], description="fixed")
        report = sync(settings).instances[0]
        assert (report.quarantined, report.deferred) == (0, 0)
        assert block["lnid"] in local_blocks(url)
        assert_in_step(url, store)



@pytest.mark.parametrize("column", ["updated_at", "id"])
def test_a_bad_key_on_the_last_row_does_not_fail_the_instance(tmp_path: Path, column: str) -> None:
    from tests.support.syncenv import Interposer, local_blocks, parked

    store = HubStore(clock=ManualClock(START))
    home = store.create_space("Home")
    good = [store.create_block(home["id"], f"good {n}") for n in range(3)]
    manual_clock_of(store).advance(1)
    victim = store.create_block(home["id"], "served last, with a broken key")
    bad_value = "yesterday" if column == "updated_at" else "not-a-uuid"

    def corrupt(resource: str, row: dict[str, Any]) -> dict[str, Any]:
        if resource == "space_block" and row["lnid"] == victim["lnid"]:
            return {**row, column: bad_value}
        return row

    url = f"sqlite:///{tmp_path}/a.db"
    with emulator(store) as hub:
        report = sync(settings_for(hub.url, {"a": url}), transport=Interposer(rewrite=corrupt)).instances[0]
    assert report.outcome == "ok", report.error
    assert report.quarantined == 1
    assert set(local_blocks(url)) == {g["lnid"] for g in good}
    assert column in parked(url)[0]["reason"]


def manual_clock_of(store: HubStore) -> ManualClock:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    return clock
