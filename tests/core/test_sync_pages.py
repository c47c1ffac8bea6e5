"""The synchroniser over recorded pages: queries it sends, pages it applies, failures it isolates."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import structlog

from syncd.core.models import Page, Position, RawRow, Resource
from syncd.core.report import InstanceReport
from syncd.core.sync import SyncOptions, sync_group
from syncd.errors import HubAuthError, HubUnavailableError
from syncd.settings import SyncSettings
from syncd.store.instance import InstanceStore
from tests.support.applying import query
from tests.support.builders import T0, block_row, instance_settings, space_row

LATER = T0 + timedelta(hours=1)


class RecordedHub:
    """Serves pre-recorded pages in order and records every request."""

    def __init__(self, pages: dict[Resource, list[list[dict[str, Any]]]], *, fail: Exception | None = None):
        self.pages = {r: list(p) for r, p in pages.items()}
        self.requests: list[tuple[str, str | None, str | None]] = []
        self.fail = fail

    def fetch_page(
        self, resource: Resource, *, limit: int, after: Position | None = None, since: str | None = None
    ) -> Page:
        self.requests.append((resource.value, after.updated_at_raw if after else None, since))
        if self.fail is not None:
            raise self.fail
        queue = self.pages.get(resource, [])
        rows = queue.pop(0) if queue else []
        return Page(resource, rows, LATER, after)

    def iter_keys(self, resource: Resource, *, limit: int) -> Iterator[list[RawRow]]:
        return iter(())

    @property
    def requests_sent(self) -> int:
        return len(self.requests)


def _stores(tmp_path: Path, *names: str) -> list[InstanceStore]:
    stores = []
    for name in names:
        store = InstanceStore(instance_settings(f"sqlite:///{tmp_path / name}.db", name), SyncSettings())
        store.open()
        stores.append(store)
    return stores


def _run(hub: RecordedHub, stores: list[InstanceStore], **options: Any) -> dict[str, InstanceReport]:
    reports = {s.name: InstanceReport(s.name) for s in stores}
    try:
        sync_group(hub, list(stores), reports, SyncOptions(**options))
    finally:
        for s in stores:
            s.close()
    return reports


def test_each_page_is_fetched_once_and_applied_to_every_instance(tmp_path: Path) -> None:
    spaces = [space_row(1, at=1), space_row(2, at=1)]
    blocks = [block_row(1, 1, at=2), block_row(2, 2, at=2, spelling="Z")]
    hub = RecordedHub({Resource.SPACE: [spaces], Resource.SPACE_BLOCK: [blocks[:1], blocks[1:]]})
    reports = _run(hub, _stores(tmp_path, "a", "b"))
    assert [r.outcome for r in reports.values()] == ["ok", "ok"]
    # first pages, then keyset after the last row exactly as the hub spelled it, then the empty page
    assert hub.requests == [
        ("space", None, None),
        ("space", spaces[-1]["updated_at"], None),
        ("space_block", None, None),
        ("space_block", blocks[0]["updated_at"], None),
        ("space_block", blocks[1]["updated_at"], None),
    ]
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        assert query(url, "SELECT count(*) FROM lamindb_spaceblock") == [(2,)]
        # both new databases got their deferred indexes when the instances finished (in parallel)
        assert query(url, "SELECT count(*) FROM syncd_meta WHERE key = 'indexes_pending'") == [(0,)]
        assert query(url, "SELECT count(*) FROM pragma_index_list('lamindb_spaceblock')") == [(11,)]


class _ContextRecordingStore(InstanceStore):
    """An instance store that notes the log context each call of the synchroniser sees."""

    seen: list[dict[str, Any]]

    def apply_page(self, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(structlog.contextvars.get_contextvars())
        return super().apply_page(*args, **kwargs)

    def finish(self, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(structlog.contextvars.get_contextvars())
        return super().finish(*args, **kwargs)


class _ContextRecordingHub(RecordedHub):
    seen: list[dict[str, Any]]

    def fetch_page(self, resource: Resource, **kwargs: Any) -> Page:
        self.seen.append(structlog.contextvars.get_contextvars())
        return super().fetch_page(resource, **kwargs)


def test_worker_threads_log_with_the_callers_context(tmp_path: Path) -> None:
    """Fetching, applying and finishing run in worker threads; their log events keep run id and group."""
    hub = _ContextRecordingHub({Resource.SPACE: [[space_row(1)]], Resource.SPACE_BLOCK: [[block_row(1, 1)]]})
    hub.seen = []
    stores = []
    for name in ("a", "b"):  # two instances: pages are applied and finished in worker threads
        store = _ContextRecordingStore(instance_settings(f"sqlite:///{tmp_path / name}.db", name), SyncSettings())
        store.seen = []
        store.open()
        stores.append(store)
    structlog.contextvars.bind_contextvars(run_id="run-1", group="hub-a")
    try:
        reports = _run(hub, list(stores))
    finally:
        structlog.contextvars.clear_contextvars()
    assert [r.outcome for r in reports.values()] == ["ok", "ok"]
    seen = hub.seen + stores[0].seen + stores[1].seen
    assert len(hub.seen) == 4 and len(stores[0].seen) == len(stores[1].seen) == 5  # 4 pages, then finish
    assert all(s == {"run_id": "run-1", "group": "hub-a"} for s in seen)


def test_a_second_run_starts_at_the_proven_watermark_and_sends_one_request_per_resource(
    tmp_path: Path,
) -> None:
    _run(RecordedHub({Resource.SPACE: [[space_row(1)]]}), _stores(tmp_path, "a"))
    hub = RecordedHub({})
    reports = _run(hub, _stores(tmp_path, "a"), lookback=timedelta(seconds=120))
    since = (LATER - timedelta(seconds=121)).isoformat(timespec="microseconds")
    assert hub.requests == [("space", None, since), ("space_block", None, since)]
    assert reports["a"].changed == 0


def test_a_failing_instance_drops_out_and_the_others_finish(tmp_path: Path) -> None:
    stores = _stores(tmp_path, "good", "bad")
    with stores[1].conn.begin():
        stores[1].conn.exec_driver_sql("DROP TABLE syncd_space_map")
    hub = RecordedHub({Resource.SPACE: [[space_row(1)]]})
    reports = _run(hub, stores)
    assert reports["good"].outcome == "ok"
    assert reports["bad"].outcome == "failed" and "syncd_space_map" in (reports["bad"].error or "")


def test_hub_errors_fail_the_group_and_leave_applied_pages_applied(tmp_path: Path) -> None:
    reports = _run(
        RecordedHub({}, fail=HubAuthError("HTTP 401 from the hub", status=401)), _stores(tmp_path, "a")
    )
    assert (reports["a"].outcome, reports["a"].error_kind) == ("failed", "auth")


def test_stop_interrupts_after_the_page_in_flight_commits_and_the_next_run_resumes(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    pages = [[space_row(1, at=1)], [space_row(2, at=2)]]
    with structlog.testing.capture_logs() as events:
        reports = _run(RecordedHub({Resource.SPACE: pages}), _stores(tmp_path, "a"), stop=stop)
    # a shutdown is not a failure: its own outcome and event, at info, and no last error recorded
    assert (reports["a"].outcome, reports["a"].error_kind) == ("interrupted", "interrupted")
    assert [(e["event"], e["log_level"]) for e in events if e["event"].startswith("sync.instance_")] == [
        ("sync.instance_interrupted", "info")
    ]
    url = f"sqlite:///{tmp_path / 'a'}.db"
    assert query(url, "SELECT count(*) FROM syncd_space_map") == [(1,)]
    hub = RecordedHub({Resource.SPACE: [[space_row(2, at=2)]]})
    assert _run(hub, _stores(tmp_path, "a"))["a"].outcome == "ok"
    assert hub.requests[0] == ("space", space_row(1, at=1)["updated_at"], None)
    assert query(url, "SELECT count(*) FROM syncd_space_map") == [(2,)]


def test_a_retry_budget_cut_short_by_shutdown_is_an_interruption(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    hub = RecordedHub({}, fail=HubUnavailableError("space: hub unavailable after 2 attempt(s)"))
    with structlog.testing.capture_logs() as events:
        reports = _run(hub, _stores(tmp_path, "a"), stop=stop)
    assert reports["a"].outcome == "interrupted"
    assert not [e for e in events if e["log_level"] == "error"]


def test_a_page_that_does_not_advance_the_position_fails_loudly(tmp_path: Path) -> None:
    same = [space_row(1, at=1)]
    reports = _run(RecordedHub({Resource.SPACE: [same, same]}), _stores(tmp_path, "a"))
    assert reports["a"].error_kind == "hub_incompatible"
    assert "no progress" in (reports["a"].error or "")


def test_rows_with_invalid_fields_still_give_a_position(tmp_path: Path) -> None:
    bad_last = space_row(2, at=3, name="")
    hub = RecordedHub({Resource.SPACE: [[space_row(1, at=1), bad_last]]})
    reports = _run(hub, _stores(tmp_path, "a"))
    assert reports["a"].quarantined == 1
    assert hub.requests[1] == ("space", bad_last["updated_at"], None)


def test_a_page_with_no_usable_position_is_quarantined_and_reread_next_time(tmp_path: Path) -> None:
    lone = {"id": "x", "updated_at": "nope"}
    hub = RecordedHub({Resource.SPACE: [[space_row(1, at=1)], [lone]]})
    reports = _run(hub, _stores(tmp_path, "a"))
    assert reports["a"].outcome == "ok"
    assert reports["a"].quarantined == 1
    # the pass proved nothing past where the unplaceable page began: the next run reads from there
    again = RecordedHub({})
    _run(again, _stores(tmp_path, "a"))
    assert again.requests[0] == ("space", None, space_row(1, at=1)["updated_at"])


class SlowSecondBlockPage(RecordedHub):
    """The hub takes its time over the second block page: meanwhile another writer tries the database."""

    def __init__(self, url: str, pages: dict[Resource, list[list[dict[str, Any]]]]) -> None:
        super().__init__(pages)
        self.path = url.removeprefix("sqlite:///")
        self.other_writer_got_in: bool | None = None
        self.block_pages = 0

    def fetch_page(
        self, resource: Resource, *, limit: int, after: Position | None = None, since: str | None = None
    ) -> Page:
        if resource is Resource.SPACE_BLOCK:
            self.block_pages += 1
            if self.block_pages == 2:
                self.other_writer_got_in = self._try_to_write()
        return super().fetch_page(resource, limit=limit, after=after, since=since)

    def _try_to_write(self) -> bool:
        import sqlite3
        import time

        deadline = time.monotonic() + 10  # a bound for a broken engine, not a wait for a guess
        while time.monotonic() < deadline:
            other = sqlite3.connect(self.path, timeout=0.05, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                return True
            except sqlite3.OperationalError:
                time.sleep(0.02)
            finally:
                other.close()
        return False


def test_the_write_lock_is_never_held_while_waiting_on_the_hub(tmp_path: Path) -> None:
    # the default groups pages into one transaction (20,000 rows), but only while the next page is
    # already here: a slow hub must not keep LaminDB's writers out
    url = f"sqlite:///{tmp_path / 'a'}.db"
    blocks = [block_row(n, 1, at=n) for n in range(1, 5)]
    hub = SlowSecondBlockPage(url, {Resource.SPACE: [[space_row(1)]], Resource.SPACE_BLOCK: [blocks[:2], blocks[2:]]})
    reports = _run(hub, _stores(tmp_path, "a"))
    assert reports["a"].outcome == "ok"
    assert hub.other_writer_got_in is True
    assert query(url, "SELECT count(*) FROM lamindb_spaceblock") == [(4,)]


def test_an_instance_failing_mid_batch_reports_only_what_it_committed(tmp_path: Path) -> None:
    stores = _stores(tmp_path, "a", "b")
    b_url = f"sqlite:///{tmp_path / 'b'}.db"
    # b refuses its 5th block, inside the transaction that holds pages 1-3 of blocks
    from sqlalchemy import create_engine, text

    engine = create_engine(b_url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TRIGGER refuse BEFORE INSERT ON lamindb_spaceblock WHEN NEW.uid = :uid "
            "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END".replace(":uid", "'bl000000000000050000'")
        ))
    engine.dispose()
    blocks = [block_row(n, 1, at=n) for n in range(1, 7)]
    pages = {Resource.SPACE: [[space_row(1)]], Resource.SPACE_BLOCK: [blocks[0:2], blocks[2:4], blocks[4:6]]}
    reports = _run(RecordedHub(pages), stores)
    assert reports["a"].outcome == "ok" and reports["a"].count(Resource.SPACE_BLOCK, "inserted") == 6
    assert reports["b"].outcome == "failed" and "refused by a trigger" in (reports["b"].error or "")
    assert query(b_url, "SELECT count(*) FROM lamindb_spaceblock") == [(0,)]  # the batch rolled back
    assert reports["b"].count(Resource.SPACE_BLOCK, "inserted") == 0  # and none of it is counted
    assert reports["b"].count(Resource.SPACE, "inserted") == 1  # the space pass had committed


class _GatedStore(InstanceStore):
    """Holds its first block page until ``release`` is set; notes whether ``watch`` was set meanwhile."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release, self.watch = threading.Event(), threading.Event()
        self.saw_watch = False

    def apply_page(self, resource: Resource, *args: Any, **kwargs: Any) -> Any:
        if resource is Resource.SPACE_BLOCK and not self.release.is_set():
            self.saw_watch = self.watch.wait(timeout=10)
            self.release.set()
        return super().apply_page(resource, *args, **kwargs)


class _CountingStore(InstanceStore):
    """Counts block pages and sets ``ahead`` once it has applied three; may fail page ``fail_on``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ahead = threading.Event()
        self.block_pages = 0
        self.fail_on: int | None = None

    def apply_page(self, resource: Resource, *args: Any, **kwargs: Any) -> Any:
        if resource is Resource.SPACE_BLOCK:
            self.block_pages += 1
            if self.block_pages == self.fail_on:
                from syncd.errors import StoreError

                raise StoreError(f"{self.name} cannot take block page {self.block_pages}")
        result = super().apply_page(resource, *args, **kwargs)
        if resource is Resource.SPACE_BLOCK and self.block_pages == 3:
            self.ahead.set()
        return result


class _BuggyStore(_CountingStore):
    """Raises a plain exception (a bug, not a StoreError) on its second block page."""

    def apply_page(self, resource: Resource, *args: Any, **kwargs: Any) -> Any:
        if resource is Resource.SPACE_BLOCK and self.block_pages == 1:
            self.block_pages = 2
            raise RuntimeError("a bug in applying")
        return super().apply_page(resource, *args, **kwargs)


class _StuckStore(InstanceStore):
    """Holds its second block page until ``release`` is set (or 10 s pass)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release = threading.Event()
        self.block_pages = 0

    def apply_page(self, resource: Resource, *args: Any, **kwargs: Any) -> Any:
        if resource is Resource.SPACE_BLOCK:
            self.block_pages += 1
            if self.block_pages == 2:
                self.release.wait(timeout=10)
        return super().apply_page(resource, *args, **kwargs)


_S = TypeVar("_S", bound=InstanceStore)


def _opened(kind: type[_S], tmp_path: Path, name: str) -> _S:
    store = kind(instance_settings(f"sqlite:///{tmp_path / name}.db", name), SyncSettings())
    store.open()
    return store


def _block_pages(n: int) -> dict[Resource, list[list[dict[str, Any]]]]:
    blocks = [block_row(k, 1, at=k) for k in range(1, n + 1)]
    return {Resource.SPACE: [[space_row(1)]], Resource.SPACE_BLOCK: [[b] for b in blocks]}


def _run_expecting_a_bug(stores: list[InstanceStore], pages: int = 6) -> dict[str, InstanceReport]:
    reports = {s.name: InstanceReport(s.name) for s in stores}
    try:
        with pytest.raises(RuntimeError, match="a bug in applying"):
            sync_group(RecordedHub(_block_pages(pages)), list(stores), reports, SyncOptions())
    finally:
        for store in stores:
            store.close()
    return reports


def test_a_slow_instance_does_not_hold_the_others_back_page_by_page(tmp_path: Path) -> None:
    """Each instance has its own lane: a fast one runs up to three pages ahead of a stuck one."""
    fast = _opened(_CountingStore, tmp_path, "fast")
    slow = _opened(_GatedStore, tmp_path, "slow")
    slow.watch = fast.ahead
    reports = _run(RecordedHub(_block_pages(6)), [fast, slow])
    # the slow instance's first block page waited until the fast one had applied three block pages
    assert slow.saw_watch
    assert [r.outcome for r in reports.values()] == ["ok", "ok"]
    for name in ("fast", "slow"):
        assert query(f"sqlite:///{tmp_path / name}.db", "SELECT count(*) FROM lamindb_spaceblock") == [(6,)]


def test_an_instance_that_failed_is_handed_no_page_after_the_failing_one(tmp_path: Path) -> None:
    good, bad = _opened(_CountingStore, tmp_path, "good"), _opened(_CountingStore, tmp_path, "bad")
    bad.fail_on = 2
    reports = _run(RecordedHub(_block_pages(6)), [good, bad])
    assert reports["good"].outcome == "ok" and reports["good"].count(Resource.SPACE_BLOCK, "inserted") == 6
    assert reports["bad"].outcome == "failed" and "cannot take block page 2" in (reports["bad"].error or "")
    assert bad.block_pages == 2  # pages 3-6 may have been queued for it, but none was applied


def test_a_bug_in_one_lane_ends_the_group_and_that_instance_takes_no_later_page(tmp_path: Path) -> None:
    good, buggy = _opened(_CountingStore, tmp_path, "good"), _opened(_BuggyStore, tmp_path, "buggy")
    reports = _run_expecting_a_bug([good, buggy])
    assert buggy.block_pages == 2  # the failing page was the last one it was handed
    assert (reports["buggy"].outcome, reports["buggy"].error_kind) == ("failed", "internal")


def test_a_bug_in_a_lane_is_raised_and_logged_even_when_every_instance_has_failed(tmp_path: Path) -> None:
    buggy, failing = _opened(_BuggyStore, tmp_path, "buggy"), _opened(_CountingStore, tmp_path, "failing")
    failing.fail_on = 2
    with structlog.testing.capture_logs() as events:
        reports = _run_expecting_a_bug([buggy, failing])
    crashed = [e for e in events if e["event"] == "sync.apply_crashed"]
    assert len(crashed) == 1 and crashed[0]["instance"] == "buggy" and crashed[0].get("exc_info")
    assert reports["failing"].outcome == "failed" and reports["buggy"].error_kind == "internal"


def test_instances_waiting_for_a_stuck_one_commit_what_they_applied(tmp_path: Path) -> None:
    """No instance keeps its write lock while the run waits on another instance (or on the hub)."""
    fast, stuck = _opened(InstanceStore, tmp_path, "fast"), _opened(_StuckStore, tmp_path, "stuck")
    seen: list[int] = []

    def watch() -> None:  # another process's view of the fast instance: only what is committed
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not stuck.release.is_set():
            seen.append(query(f"sqlite:///{tmp_path / 'fast'}.db", "SELECT count(*) FROM lamindb_spaceblock")[0][0])
            if seen[-1] >= 4:
                stuck.release.set()
            time.sleep(0.05)
        stuck.release.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        reports = _run(RecordedHub(_block_pages(8)), [fast, stuck])
    finally:
        watcher.join()
    # while stuck held page 2, fast ran ahead and its pages were committed, not left in an open batch
    assert max(seen) >= 4
    assert [r.outcome for r in reports.values()] == ["ok", "ok"]
