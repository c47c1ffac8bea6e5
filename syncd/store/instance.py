"""One instance database as the synchroniser sees it: open, lock, apply pages, finish.

Each page is applied in one transaction together with the cursor that covers
it, so a crash at any point loses nothing and duplicates nothing. The lock is
held from :meth:`InstanceStore.open` to :meth:`InstanceStore.close`.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.exc import SQLAlchemyError

from syncd.core.listing import KeyListing
from syncd.core.models import HubRow, Resource
from syncd.core.results import ApplyResult, FinishState, Rejection
from syncd.core.timestamps import format_canonical
from syncd.core.watermark import CursorState
from syncd.errors import InstanceUnreachableError, StoreError
from syncd.secrets import MASKED, scrub_url_text, url_secrets
from syncd.settings import InstanceSettings, SyncSettings
from syncd.store.batch import APPLY_ROWS, PageBatch
from syncd.store.bootstrap import prepare_schema
from syncd.store.context import ApplyContext
from syncd.store.cursors import load_cursor
from syncd.store.diagnose import first_line, store_failure
from syncd.store.dialects import dialect_for
from syncd.store.engine import EngineFactory, create_instance_engine
from syncd.store.freshness import PullStart
from syncd.store.indexes import indexes_pending
from syncd.store.lock import instance_lock
from syncd.store.outcome import announce_rescans, build_deferred, record_error, record_success
from syncd.store.references import SpaceReferences
from syncd.store.replica import application_name, default_replica_id
from syncd.store.resources import binding, dependents
from syncd.store.retry import retry_parked
from syncd.store.session import exclusive
from syncd.store.share import ROOMY, MemoryShare

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
        share: MemoryShare = ROOMY,
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
            share=share,
        )
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._batch: PageBatch | None = None  # pages applied but not committed yet
        self._unreported = ApplyResult()  # committed by another call first; reported with the next result
        self._stack = contextlib.ExitStack()
        self._ctx: ApplyContext | None = None
        self.bootstrapped = False
        self._session_lost = False  # the connection died: the store must not reconnect (see conn)
        self._guard = threading.RLock()  # one thread at a time on the connection (store.session)
        self._last_used = monotonic()
        self._indexes_pending = False  # a bootstrap deferred indexes that are not built yet
        self._apply_rows = APPLY_ROWS if share.roomy else 0  # 0: each page applied as it comes
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
            dialect=dialect_for(self._conn),
            now=self._clock(),
            references=SpaceReferences(dependents(Resource.SPACE)),
            on_name_conflict=self._sync.on_name_conflict,
        )
        self._opened_at = format_canonical(self._ctx.now)
        if self._indexes_pending and not self.bootstrapped:  # an earlier first load did not finish
            self._build_deferred_indexes()

    @exclusive
    def close(self) -> None:
        self._batch = None  # not committed: closing the connection rolls it back
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
        done = ApplyResult()
        if batch is not None:
            assert self._ctx is not None
            try:
                with structlog.contextvars.bound_contextvars(instance=self.name):
                    batch.apply_held(self.conn, self._ctx)
                done = batch.commit(
                    self.conn, self._pull_starts, replica=self.replica, hub=self._instance.hub.url
                )
            except BaseException as exc:
                batch.rollback()
                if isinstance(exc, (SQLAlchemyError, OSError)):
                    raise self._store_error(exc) from exc
                raise
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
        rows: Sequence[HubRow],
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
                self._batch = PageBatch(self.conn.begin(), self._monotonic(), apply_rows=self._apply_rows)
            batch = self._batch
            # every row this page rejects is logged naming the instance (store.parking)
            with structlog.contextvars.bound_contextvars(instance=self.name):
                # held until enough pages are (store.batch); the cursor is written when the batch commits
                batch.take(self.conn, ctx, resource, rows, rejected, state, hub_date)
        except BaseException as exc:
            failed, self._batch = self._batch, None  # what it did is rolled back with it: never reported
            if failed is not None:
                failed.rollback()
            if isinstance(exc, (SQLAlchemyError, OSError)):
                raise self._store_error(exc) from exc
            raise
        if (
            batch.rows >= self._sync.transaction_rows
            or self._monotonic() - batch.started >= self._sync.transaction_seconds
        ):
            return self.commit()
        return self._reported(ApplyResult())

    @exclusive
    def retry_parked(self, resource: Resource) -> ApplyResult:
        """Retry deferred rows that may apply now, and rows held back (:mod:`syncd.store.retry`)."""
        with self._transaction() as ctx, structlog.contextvars.bound_contextvars(instance=self.name):
            result = retry_parked(self.conn, resource, ctx)
        self._announce(result)
        return self._reported(result)

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
        announce_rescans(self.name, result)

    def _build_deferred_indexes(self) -> None:
        if build_deferred(self.conn, instance=self.name, monotonic=self._monotonic, describe=self._describe):
            self._indexes_pending = False

    @exclusive
    def finish(self, hub_date: datetime | None) -> FinishState:
        """Record a successful run; report parked rows, held spaces and the oldest watermark.

        The first successful run of a database syncd bootstrapped then builds the
        indexes the bootstrap deferred (:mod:`syncd.store.indexes`).
        """
        with self._transaction() as ctx:
            state = record_success(self.conn, now=ctx.now, hub_date=hub_date, opened_at=self._opened_at)
        if self._indexes_pending:
            self._build_deferred_indexes()
        return state

    @exclusive
    def record_failure(self, message: str) -> None:
        """Remember the last error (best effort: the database may be what failed)."""
        with contextlib.suppress(StoreError, SQLAlchemyError), self._transaction():
            record_error(self.conn, at=self._clock(), message=message)

    @exclusive
    def synced_ids(self, resource: Resource) -> set[str]:
        table = binding(resource).map_table
        self._settle_quietly()
        try:
            with self.conn.begin():
                return set(self.conn.execute(select(table.c.hub_id)).scalars())
        except (SQLAlchemyError, OSError) as exc:
            raise self._failure(exc, f"reading {self.name} failed") from exc
