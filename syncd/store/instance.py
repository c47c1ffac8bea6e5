"""One instance database as the synchroniser sees it: open, lock, apply pages, finish.

Each page is applied in one transaction together with the cursor that covers
it, so a crash at any point loses nothing and duplicates nothing. The lock is
held from :meth:`InstanceStore.open` to :meth:`InstanceStore.close`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, RootTransaction, delete, event, select
from sqlalchemy.exc import SQLAlchemyError

from syncd.core.listing import KeyListing
from syncd.core.models import HubBlock, HubSpace, Resource
from syncd.core.results import ApplyResult, FinishState, Rejection
from syncd.core.rows import parse_block, parse_space, row_key
from syncd.core.timestamps import format_canonical
from syncd.core.watermark import CursorState
from syncd.errors import InstanceUnreachableError, RowRejected, StoreError
from syncd.secrets import MASKED, scrub_url_text, url_secrets
from syncd.settings import InstanceSettings, SyncSettings
from syncd.store.blocks import apply_blocks
from syncd.store.bootstrap import build_deferred_indexes, prepare_schema
from syncd.store.context import ApplyContext
from syncd.store.cursors import load_cursor, save_cursor, write_meta
from syncd.store.diagnose import first_line, store_failure
from syncd.store.dialects import dialect_for
from syncd.store.engine import EngineFactory, create_instance_engine
from syncd.store.freshness import PullStart, read_in_step, record_pull
from syncd.store.indexes import indexes_pending
from syncd.store.keysets import among
from syncd.store.lock import instance_lock
from syncd.store.parking import count_parked, count_quarantined_since, load_deferred, quarantine_rows
from syncd.store.replica import application_name, default_replica_id
from syncd.store.schema import block_map, deferred, space_map
from syncd.store.session import exclusive
from syncd.store.spaces import apply_spaces, retry_held_spaces

__all__ = ["InstanceStore"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("syncd.store")  # type: ignore[no-any-return]


class InstanceStore:
    """The synchroniser's view of one instance database."""

    def __init__(
        self,
        instance: InstanceSettings,
        sync: SyncSettings,
        *,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        engine_factory: EngineFactory | None = None,
        replica: str | None = None,
        sqlite_cache_kib: int = 8000,
    ) -> None:
        self.name = instance.name
        self.replica = replica if replica is not None else default_replica_id()
        # the first page of each resource's pull in progress: hub clock and local clock (freshness)
        self._pull_starts: dict[Resource, PullStart] = {}
        self.instance = instance
        self._instance = instance
        self._sync = sync
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._engine_factory = engine_factory or functools.partial(
            create_instance_engine,
            application_name=application_name(self.replica),
            session_timeout_seconds=sync.lease_seconds,
            cache_kib=sqlite_cache_kib,
        )
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._batch: RootTransaction | None = None  # pages applied but not committed yet
        # the cursor of each resource the open batch covers, written just before it commits
        self._cursors: dict[Resource, tuple[CursorState, datetime | None, datetime]] = {}
        self._batch_rows = 0
        self._batch_started = 0.0
        self._pending = ApplyResult()  # what the open batch did; reported once it commits
        self._unreported = ApplyResult()  # committed by another call first; reported with the next result
        self._stack = contextlib.ExitStack()
        self._ctx: ApplyContext | None = None
        self.bootstrapped = False
        self._session_lost = False  # the connection died: the store must not reconnect (see conn)
        self._guard = threading.RLock()  # one thread at a time on the connection (store.session)
        self._last_used = monotonic()
        self._indexes_pending = False  # a bootstrap deferred indexes that are not built yet
        self._opened_at = ""  # canonical: quarantine entries seen since then are this run's

    # -- lifecycle -------------------------------------------------------------

    @exclusive
    def open(self) -> None:
        """Connect, take the instance lock, and check (or bootstrap) the schema."""
        url = self._instance.url.reveal()
        try:
            self._engine = self._engine_factory(url, password=self._instance.password)
            self._session_lost = False
            event.listen(self._engine, "invalidate", self._on_invalidate)
            self._conn = self._stack.enter_context(self._engine.connect())
        except (SQLAlchemyError, OSError) as exc:
            self.close()
            raise self._failure(exc, f"cannot open {self._instance.display_url}") from None
        try:
            self._stack.enter_context(
                instance_lock(
                    self._conn,
                    url,
                    timeout=self._sync.lock_timeout_seconds,
                    sleep=self._sleep,
                    monotonic=self._monotonic,
                )
            )
            with self._conn.begin():
                # a new database gets its plain block indexes after the first load (store.indexes)
                self.bootstrapped = prepare_schema(self._conn, defer_indexes=True)
                self._indexes_pending = indexes_pending(self._conn)
        except StoreError:
            self.close()
            raise
        except (SQLAlchemyError, OSError) as exc:
            self.close()
            raise self._failure(exc, f"cannot prepare {self._instance.display_url}") from None
        self._ctx = ApplyContext(
            dialect=dialect_for(self._conn), now=self._clock(), on_name_conflict=self._sync.on_name_conflict
        )
        self._opened_at = format_canonical(self._ctx.now)
        if self._indexes_pending and not self.bootstrapped:  # an earlier first load did not finish
            self._build_deferred_indexes()

    @exclusive
    def close(self) -> None:
        self._batch = None  # not committed: closing the connection rolls it back
        self._pending = ApplyResult()
        self._cursors = {}
        with contextlib.suppress(SQLAlchemyError):
            self._stack.close()
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._conn = None

    def __enter__(self) -> InstanceStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _touched(self) -> None:
        self._last_used = self._monotonic()

    def keepalive(self, idle_seconds: float) -> None:
        """Ping the session if it has been idle ``idle_seconds`` and nobody is using it (store.session)."""
        if not self._guard.acquire(blocking=False):
            return  # in use: that keeps the session alive
        try:
            if self._conn is None or self._monotonic() - self._last_used < idle_seconds:
                return
            conn = self.conn  # raises once the session is lost: never reconnect
            if not dialect_for(conn).leases_sessions:
                return  # only PostgreSQL sessions have a lease (store.dialects.postgresql.fence_session)
            try:
                if self._batch is not None:  # pages applied, not committed yet: ping inside their transaction
                    conn.exec_driver_sql("SELECT 1")
                else:
                    with conn.begin():
                        conn.exec_driver_sql("SELECT 1")
            except (SQLAlchemyError, OSError) as exc:
                raise self._failure(exc, f"keeping {self.name}'s session alive failed") from exc
            self._touched()
        finally:
            self._guard.release()

    def _describe(self, exc: BaseException) -> str:
        """An error's first line, with every secret of the instance's URL removed."""
        return self._mask(first_line(exc))

    def _mask(self, message: str) -> str:
        for secret in url_secrets(self._instance.url.reveal()):
            message = message.replace(secret, MASKED)
        return scrub_url_text(message)

    def _sqlite_file(self) -> Path | None:
        """The database file of a SQLite instance; None for PostgreSQL or an in-memory database."""
        from sqlalchemy.engine import make_url

        url = make_url(self._instance.url.reveal())
        found = dialect_for(url).database_file(url)
        return None if found is None else found.absolute()

    def _failure(self, exc: BaseException, doing: str) -> StoreError:
        """The error that fails this instance alone, saying what was being done and why it failed."""
        return store_failure(exc, doing, sqlite_file=self._sqlite_file(), mask=self._mask)

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise StoreError(f"instance {self.name} is not open")
        if self._session_lost:
            # SQLAlchemy would reconnect on the next use: a new session that does not hold the
            # instance's lock, so this store must never write again (another replica may hold it)
            raise InstanceUnreachableError(
                f"{self.name}: lost its database session, and with it the instance's lock; "
                "the next run starts over with a new one"
            )
        return self._conn

    def _on_invalidate(self, *_: object) -> None:
        self._session_lost = True

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[ApplyContext]:
        assert self._ctx is not None
        self._settle_quietly()
        self._ctx.now = self._clock()
        try:
            with self.conn.begin():
                yield self._ctx
        except (SQLAlchemyError, OSError) as exc:
            raise self._store_error(exc) from exc

    def _store_error(self, exc: BaseException) -> StoreError:
        return self._failure(exc, f"writing to {self.name} failed")

    # -- the synchroniser's calls ---------------------------------------------------

    @exclusive
    def cursor(self, resource: Resource) -> CursorState:
        self._settle_quietly()
        try:
            with self.conn.begin():
                return load_cursor(self.conn, resource)
        except (SQLAlchemyError, OSError) as exc:
            raise self._failure(exc, f"reading {self.name}'s cursor failed") from exc

    @exclusive
    def commit(self) -> ApplyResult:
        """Commit the pages applied since the last commit, if any; returns what they did."""
        return self._reported(self._settle())

    def _settle(self) -> ApplyResult:
        """Commit the open batch; its counts, now that they hold (empty without a batch)."""
        batch, self._batch = self._batch, None
        done, self._pending = self._pending, ApplyResult()
        cursors, self._cursors = self._cursors, {}
        if batch is not None:
            try:
                for resource, (state, hub_date, now) in cursors.items():
                    save_cursor(self.conn, resource, state, hub_date=hub_date, now=now)
                    start = self._pull_starts.get(resource)
                    if start is not None and state.pass_pos is None and state.complete_before is not None:
                        # the pull read up to the hub's empty page: the instance is in step as of its start
                        record_pull(
                            self.conn, resource, start, finished_at=now, replica=self.replica,
                            hub=self._instance.hub.url,
                        )
                        del self._pull_starts[resource]
                batch.commit()
            except (SQLAlchemyError, OSError) as exc:
                with contextlib.suppress(SQLAlchemyError):
                    batch.rollback()
                raise self._store_error(exc) from exc
        self._announce(done)
        return done

    def _settle_quietly(self) -> None:
        """Commit the open batch before another transaction; its counts go out with the next result."""
        self._unreported.merge(self._settle())

    def _reported(self, result: ApplyResult) -> ApplyResult:
        result.merge(self._unreported)
        self._unreported = ApplyResult()
        return result

    @exclusive
    def apply_page(
        self,
        resource: Resource,
        rows: Sequence[HubSpace | HubBlock],
        rejected: list[Rejection],
        state: CursorState,
        hub_date: datetime | None,
    ) -> ApplyResult:
        """Apply one page and advance the cursor in the same transaction.

        Consecutive pages share a transaction until it holds ``transaction_rows``
        rows or has been open ``transaction_seconds`` (a commit costs about as much
        as writing a thousand rows into LaminDB's indexed tables); :meth:`commit`
        and every other call commit it. The cursor always moves together with the
        rows it covers: it is written once, the last page's, in the transaction,
        just before the commit (one statement fewer per page; every statement costs
        a thread another wait for the GIL). After a crash the next run re-reads
        what was not committed.
        Returns the counts of what this call committed (nothing while the batch
        stays open), so a failure never leaves rolled-back rows counted.
        """
        assert self._ctx is not None
        ctx = self._ctx
        ctx.now = self._clock()
        self._pull_starts.setdefault(resource, PullStart(hub_date, ctx.now))
        try:
            if self._batch is None:
                self._batch = self.conn.begin()
                self._batch_rows, self._batch_started = 0, self._monotonic()
            # every row this page rejects is logged naming the instance (store.parking)
            with structlog.contextvars.bound_contextvars(instance=self.name):
                result = self._apply(resource, rows, ctx)
                quarantine_rows(self.conn, resource, rejected, ctx.now)
            result.add(resource, "rejected", len(rejected))
            self._cursors[resource] = (state, hub_date, ctx.now)  # written when the batch commits
        except BaseException as exc:
            batch, self._batch = self._batch, None
            self._pending = ApplyResult()  # rolled back with the batch: never reported
            self._cursors = {}
            if batch is not None:
                with contextlib.suppress(SQLAlchemyError):
                    batch.rollback()
            if isinstance(exc, (SQLAlchemyError, OSError)):
                raise self._store_error(exc) from exc
            raise
        self._pending.merge(result)
        self._batch_rows += len(rows) + len(rejected)
        if (
            self._batch_rows >= self._sync.transaction_rows
            or self._monotonic() - self._batch_started >= self._sync.transaction_seconds
        ):
            return self.commit()
        return self._reported(ApplyResult())

    def _apply(
        self, resource: Resource, rows: Sequence[HubSpace | HubBlock], ctx: ApplyContext
    ) -> ApplyResult:
        if resource is Resource.SPACE:
            return apply_spaces(self.conn, [r for r in rows if isinstance(r, HubSpace)], ctx)
        return apply_blocks(self.conn, [r for r in rows if isinstance(r, HubBlock)], ctx)

    @exclusive
    def retry_parked(self, resource: Resource) -> ApplyResult:
        """Retry deferred rows that may apply now (and, for spaces, held tombstones)."""
        with self._transaction() as ctx:
            result = ApplyResult()
            if resource is Resource.SPACE:
                payloads = load_deferred(self.conn, resource)
                result.merge(retry_held_spaces(self.conn, ctx))
            else:
                ready = select(deferred.c.hub_id).where(
                    deferred.c.resource == resource.value,
                    deferred.c.waiting_for.in_(select(space_map.c.hub_id)),
                )
                payloads = load_deferred(self.conn, resource, self.conn.execute(ready).scalars())
            if payloads:
                with structlog.contextvars.bound_contextvars(instance=self.name):
                    result.merge(self._reapply(resource, payloads, ctx))
        self._announce(result)
        return self._reported(result)

    def _reapply(self, resource: Resource, payloads: list[Any], ctx: ApplyContext) -> ApplyResult:
        parse = parse_space if resource is Resource.SPACE else parse_block
        rows: list[HubSpace | HubBlock] = []
        rejected: list[Rejection] = []
        for payload in payloads:
            try:
                rows.append(parse(payload))
            except RowRejected as exc:
                rejected.append(Rejection(payload, exc.reason))
        result = self._apply(resource, rows, ctx)
        if rejected:
            quarantine_rows(self.conn, resource, rejected, ctx.now)
            dropped = [row_key(r.payload) for r in rejected]  # quarantined now: no longer deferred
            self.conn.execute(
                delete(deferred).where(
                    deferred.c.resource == resource.value, among(self.conn, deferred.c.hub_id, dropped)
                )
            )
        # a retried row that is deferred again is not news: count only what moved
        result.counts.pop((resource, "deferred"), None)
        return result

    @exclusive
    def reconcile(self, resource: Resource, listing: KeyListing) -> ApplyResult:
        """Act on a complete listing of live keys (:mod:`syncd.store.reconcile`).

        Removes synced rows whose hub id is not listed, and sends the resource's
        stream back to the beginning when live rows it has gone past are missing
        here (:mod:`syncd.store.unseen`).
        """
        from syncd.store.reconcile import remove_vanished
        from syncd.store.unseen import rescan_unseen

        with self._transaction() as ctx:
            result = remove_vanished(self.conn, resource, listing.ids, ctx)
            result.merge(rescan_unseen(self.conn, resource, listing, ctx))
        self._announce(result)
        return self._reported(result)

    def _announce(self, result: ApplyResult) -> None:
        """Log each stream sent back to the beginning, naming the instance and why."""
        for rescan in result.rescans:
            _log().info(
                "sync.stream_restarted",
                instance=self.name,
                resource=rescan.resource.value,
                reason=rescan.reason,
                rows=len(rescan.hub_ids),
                sample=list(rescan.hub_ids[:5]),
            )

    def _build_deferred_indexes(self) -> None:
        """Build the indexes a bootstrap deferred, in a transaction of their own.

        They only make reads faster: a build that fails (a lock not granted in
        time, a full disk) is logged and left to the next run, and never fails
        this one.
        """
        started = self._monotonic()
        try:
            with self.conn.begin():
                built = build_deferred_indexes(self.conn)
        except SQLAlchemyError as exc:
            _log().warning(
                "store.indexes_not_built",
                instance=self.name,
                error=self._describe(exc),
                retry="at the next run",
            )
            return
        self._indexes_pending = False
        _log().info(
            "store.indexes_built",
            instance=self.name,
            indexes=built,
            seconds=round(self._monotonic() - started, 3),
        )

    @exclusive
    def finish(self, hub_date: datetime | None) -> FinishState:
        """Record a successful run; report parked rows, held spaces and the oldest watermark.

        The first successful run of a database syncd bootstrapped then builds the
        indexes the bootstrap deferred (:mod:`syncd.store.indexes`).
        """
        with self._transaction() as ctx:
            write_meta(self.conn, "last_success", format_canonical(ctx.now))
            if hub_date is not None:
                write_meta(self.conn, "last_success_hub_date", format_canonical(hub_date))
            n_deferred, n_quarantined = count_parked(self.conn)
            fresh = count_quarantined_since(self.conn, self._opened_at) if n_quarantined else 0
            held = list(
                self.conn.execute(
                    select(space_map.c.uid)
                    .where(space_map.c.tombstoned_at.is_not(None))
                    .order_by(space_map.c.uid)
                ).scalars()
            )
            marks = [load_cursor(self.conn, r).complete_before for r in Resource]
            in_step = read_in_step(self.conn)
        if self._indexes_pending:
            self._build_deferred_indexes()
        oldest = None if any(m is None for m in marks) else min(m for m in marks if m is not None)
        return FinishState(n_deferred, n_quarantined, held, oldest, in_step, newly_quarantined=fresh)

    @exclusive
    def record_failure(self, message: str) -> None:
        """Remember the last error (best effort: the database may be what failed)."""
        with contextlib.suppress(StoreError, SQLAlchemyError), self._transaction():
            write_meta(
                self.conn, "last_error", json.dumps({"at": format_canonical(self._clock()), "error": message})
            )

    @exclusive
    def synced_ids(self, resource: Resource) -> set[str]:
        table = space_map if resource is Resource.SPACE else block_map
        self._settle_quietly()
        try:
            with self.conn.begin():
                return set(self.conn.execute(select(table.c.hub_id)).scalars())
        except (SQLAlchemyError, OSError) as exc:
            raise self._failure(exc, f"reading {self.name} failed") from exc
