"""The end of a run: its stamps, the state it reports, the last error, the streams sent back."""

from __future__ import annotations

import json

from structlog.testing import capture_logs

from syncd.core.models import Resource
from syncd.core.results import ApplyResult, Rescan
from syncd.store.outcome import announce_rescans
from tests.support.applying import NOW, apply, opened, query
from tests.support.builders import block_row, space_row


def test_a_successful_run_is_stamped_and_reports_what_is_parked(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, Resource.SPACE_BLOCK, [block_row(1, 7), {"id": "not a uuid"}])  # deferred, quarantined
        state = store.finish(NOW)
    assert (state.deferred, state.quarantined, state.newly_quarantined) == (1, 1, 1)
    assert state.held == [] and state.complete_before is None  # no pass completed yet
    stamps = dict(query(sqlite_url, "SELECT key, value FROM syncd_meta WHERE key LIKE 'last_success%'"))
    assert set(stamps) == {"last_success", "last_success_hub_date"}


def test_a_failure_is_remembered_with_its_time(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        apply(store, Resource.SPACE, [space_row(1)])
        store.record_failure("the hub went away")
    [(value,)] = query(sqlite_url, "SELECT value FROM syncd_meta WHERE key = 'last_error'")
    assert json.loads(value)["error"] == "the hub went away"


def test_each_stream_sent_back_is_logged_naming_the_instance_and_why() -> None:
    result = ApplyResult()
    result.rescans.append(Rescan(Resource.SPACE_BLOCK, "space_restored", tuple(f"id{i}" for i in range(7))))
    with capture_logs() as events:
        announce_rescans("lab", result)
    [event] = events
    assert event["event"] == "sync.stream_restarted" and event["instance"] == "lab"
    assert (event["resource"], event["reason"], event["rows"]) == ("space_block", "space_restored", 7)
    assert event["sample"] == ["id0", "id1", "id2", "id3", "id4"]
