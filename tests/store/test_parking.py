"""Rejected rows: kept bounded in quarantine, logged once per row version, named at the end of the table."""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from syncd.core.models import Resource
from syncd.core.results import Rejection
from syncd.hubsim import HubStore, ManualClock
from syncd.store.bootstrap import prepare_schema
from syncd.store.parking import QUARANTINE_PAYLOAD_BYTES, quarantine_rows
from syncd.summary import render_table
from tests.support.builders import settings_for
from tests.support.syncenv import START, Interposer, emulator, manual_clock, parked, sync

HUGE = 3_000_000  # characters: over the quarantine bound, within the hub client's




def _rejected(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == "sync.row_rejected"]


def test_an_oversized_payload_is_kept_as_a_prefix_and_a_digest(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'q.db'}")
    payload = {"id": "0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d", "name": "é" * HUGE, "updated_at": "2026-01-01T00:00:00Z"}
    whole = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    with engine.begin() as conn:
        prepare_schema(conn)
        quarantine_rows(conn, Resource.SPACE, [Rejection(payload, "name: too long")], START)
    entries = parked(f"sqlite:///{tmp_path / 'q.db'}")
    engine.dispose()
    assert len(entries) == 1
    kept = entries[0]["payload"]
    assert kept["truncated"] is True
    assert kept["bytes"] == len(whole)
    assert kept["sha256"] == hashlib.sha256(whole).hexdigest()
    assert whole.decode("utf-8").startswith(kept["prefix"])
    assert len(kept["prefix"].encode("utf-8")) <= QUARANTINE_PAYLOAD_BYTES
    assert entries[0]["reason"].startswith("name: too long [payload of ")
    assert kept["sha256"] in entries[0]["reason"]


def test_a_row_with_a_huge_string_is_quarantined_bounded_and_logged_once(
    tmp_path: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    path = tmp_path / "a.db"
    db = f"sqlite:///{path}"
    store = HubStore(clock=ManualClock(START))
    victim = store.create_space("victim")
    store.create_space("fine")

    def huge_name(resource: str, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "name": "n" * HUGE} if row["id"] == str(victim["id"]) else row

    with emulator(store) as hub:
        settings = settings_for(hub.url, {"a": db})
        first = sync(settings, transport=Interposer(rewrite=huge_name), clock=manual_clock(hub))
        logged_first = _rejected(logs)
        logs.clear()
        manual_clock(hub).advance(5)  # still inside the lookback window: the row is served again
        second = sync(settings, transport=Interposer(rewrite=huge_name), clock=manual_clock(hub))
        logged_second = _rejected(logs)
    assert first.ok and second.ok
    assert path.stat().st_size < 2 * 1024 * 1024  # not the 3 MB name, however often it was served
    assert second.instances[0].count(Resource.SPACE, "rejected") == 1  # served and rejected again...
    assert logged_second == []  # ... but reported only the first time
    assert len(logged_first) == 1
    event = logged_first[0]
    assert (event["instance"], event["resource"], event["hub_id"], event["uid"]) == (
        "a", "space", str(victim["id"]), victim["lnid"]
    )
    assert event["name"].startswith("nnnn") and len(event["name"]) < 300
    assert event["reason"].startswith(f"name: length {HUGE} outside 1..100")
    assert first.instances[0].newly_quarantined == 1
    assert second.instances[0].newly_quarantined == 0
    assert "1 row(s) newly rejected to quarantine" in render_table(first)
    assert "`syncd status`" in render_table(first).splitlines()[-1]
    assert "newly rejected" not in render_table(second)


def test_a_new_version_of_a_quarantined_row_is_logged_again(
    tmp_path: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    store = HubStore(clock=ManualClock(START))
    victim = store.create_space("victim")

    def bad_name(resource: str, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "name": ""} if row["id"] == str(victim["id"]) else row

    with emulator(store) as hub:
        settings = settings_for(hub.url, {"a": db})
        sync(settings, transport=Interposer(rewrite=bad_name), clock=manual_clock(hub))
        manual_clock(hub).advance(5)
        store.update_space(victim["id"], description="changed")  # a new version, still invalid here
        manual_clock(hub).advance(5)
        sync(settings, transport=Interposer(rewrite=bad_name), clock=manual_clock(hub))
    assert [e["hub_id"] for e in _rejected(logs)] == [str(victim["id"])] * 2
