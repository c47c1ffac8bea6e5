"""A hub that never stops serving new pages: the run ends at its deadline, keeps what it read, goes on next time."""

from __future__ import annotations

from email.utils import format_datetime
from pathlib import Path

import httpx

from syncd.runner import sync_group
from tests.support.builders import T0, settings_for, space_row
from tests.support.hub_fakes import FakeClock
from tests.support.syncenv import count, cursors, no_sleep

PAGE = 5


class EndlessHub:
    """Serves page after page of new spaces, one second of the fake clock per request."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.served = 0
        self.queries: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.clock.now += 1.0
        self.queries.append(request.url.query.decode())
        limit = int(request.url.params["limit"])
        rows = [space_row(n, at=n) for n in range(self.served + 1, self.served + 1 + limit)]
        self.served += limit
        date = format_datetime(T0.replace(year=T0.year + 1), usegmt=True)
        return httpx.Response(200, json=rows, headers={"date": date})


def test_a_run_ends_at_its_deadline_with_what_it_read_committed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    settings = settings_for("http://127.0.0.1:9", {"a": db}, page_size=PAGE, run_deadline_seconds=10)
    clock = FakeClock()
    hub = EndlessHub(clock)
    transport = httpx.MockTransport(hub)
    [report] = sync_group(settings.groups()[0], settings, transport=transport, sleep=no_sleep,
                          monotonic=clock.monotonic)
    assert report.outcome == "failed"
    assert report.error_kind == "deadline"
    assert "run_deadline_seconds" in (report.error or "")
    kept = count(db, "syncd_space_map")
    assert kept > 0 and kept % PAGE == 0
    # pages are applied as they arrive: at most the page in flight was read but not kept
    assert hub.served - PAGE <= kept <= hub.served
    assert cursors(db)["space"]["pass_id"] is not None  # the pass in progress is remembered

    hub.queries.clear()
    [again] = sync_group(settings.groups()[0], settings, transport=transport, sleep=no_sleep,
                         monotonic=clock.monotonic)
    assert again.error_kind == "deadline"
    assert hub.queries[0].count("updated_at.gt.") == 1  # resumed after the last row kept, not from the start
    assert count(db, "syncd_space_map") > kept
