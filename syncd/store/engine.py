"""Engines for instance databases, configured the way syncd writes to them.

SQLite: every transaction is ``BEGIN IMMEDIATE`` (the write lock is taken up
front, so two writers queue instead of failing mid-transaction), foreign keys
are enforced as Django enforces them, and a busy timeout makes a second writer
wait. The journal mode is left as LaminDB set it. Temporary storage is kept
in memory (``temp_store``, a setting of the connection): SQLite gives each
multi-row statement a statement journal, the old image of every page the
statement changes, so that the statement alone can be undone. On disk, a
page of blocks wrote nearly as much there as into the database itself; in
memory, writing the page costs less CPU. Crash safety does not depend on
it: the rollback journal or WAL that recovers a transaction stays on disk.
It also keeps sorts in memory: building a deferred index (once, after the
first load of a database syncd created) holds that index's keys in RAM,
in proportion to the number of blocks.

PostgreSQL: each session prices random page reads as cached
(``random_page_cost`` at most 1.1, for that session only), so a page's
lookups probe the unique indexes instead of scanning whole tables.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Protocol

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from syncd.secrets import Secret

__all__ = ["EngineFactory", "create_instance_engine", "fence_session", "price_random_reads_as_cached"]


class EngineFactory(Protocol):
    """How an instance store makes its engine (:func:`create_instance_engine`, or a test's)."""

    def __call__(self, url: str, *, password: Secret | None = None) -> Engine: ...


def create_instance_engine(
    url: str,
    *,
    busy_timeout_seconds: float = 30.0,
    password: Secret | None = None,
    application_name: str = "syncd",
    session_timeout_seconds: float | None = None,
    cache_kib: int = 8000,
) -> Engine:
    """An engine for one instance database (SQLite or PostgreSQL).

    ``password`` (PostgreSQL) goes to the driver as a connection argument, so
    it is never part of the URL the engine shows. On PostgreSQL,
    ``application_name`` names the session (the replica, see
    :mod:`syncd.store.replica`) and ``session_timeout_seconds`` bounds how long
    the session may stay silent before the server ends it (see :func:`fence_session`).
    On SQLite, ``cache_kib`` bounds the connection's page cache.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # room for a page's statements, the bulk inserts' few fixed shapes among them (bulk.py): a
        # page's cycle of statements larger than the cache would evict each before its next use.
        # Bounded, since a prepared thousand-row INSERT holds about a megabyte
        engine = create_engine(parsed, poolclass=NullPool, connect_args={"cached_statements": 32})
        timeout_ms = int(busy_timeout_seconds * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            # let SQLAlchemy's "begin" event issue BEGIN itself (the documented pysqlite recipe)
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
            # statement journals in memory: a multi-row INSERT keeps the old image of every page it
            # changes until it ends, in a temporary file by default (see the module docstring)
            cur.execute("PRAGMA temp_store = MEMORY")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 10, "application_name": application_name}
    if password is not None:
        connect_args["password"] = password.reveal()
    engine = create_engine(
        parsed,
        poolclass=NullPool,
        connect_args=connect_args,
        # a page's lookups come back as json values (keysets.Lookups): read them with orjson
        json_deserializer=orjson.loads,
    )

    @event.listens_for(engine, "connect")
    def _on_pg_connect(dbapi_connection: Any, _record: Any) -> None:
        price_random_reads_as_cached(dbapi_connection, engine.dialect.loaded_dbapi.Error)
        if session_timeout_seconds is not None:
            fence_session(dbapi_connection, engine.dialect.loaded_dbapi.Error, session_timeout_seconds)

    return engine


def price_random_reads_as_cached(dbapi_connection: Any, driver_error: type[Exception]) -> None:
    """Lower ``random_page_cost`` to at most 1.1 for this PostgreSQL session.

    A page's lookups probe at most a thousand keys through unique indexes, on
    pages that the page before has just read or written. PostgreSQL's default
    random_page_cost (4) prices those probes as disk seeks and picks a
    sequential scan of the whole table, which grows with the instance and
    costs more per page than the probes. Only this session is changed,
    never the database, and a lower cost set by the operator is kept. It is an
    optimisation: a server that refuses it (a PostgreSQL-compatible one
    without the setting) is used as it is.
    """
    try:
        with dbapi_connection.cursor() as cur:
            cur.execute(
                "SELECT set_config('random_page_cost',"
                " least(current_setting('random_page_cost')::float8, 1.1)::text, false)"
            )
        dbapi_connection.commit()
    except driver_error:
        dbapi_connection.rollback()


def fence_session(dbapi_connection: Any, driver_error: type[Exception], seconds: float) -> None:
    """Have the server end this session once it stays silent for ``seconds``, idle or in a transaction.

    The session's advisory lock is the instance's lock (:mod:`syncd.store.lock`),
    and the connection that holds it is the one that writes: a replica that is
    stopped (SIGSTOP, a frozen VM) or cut off loses its session, so its lock
    passes to another replica, and whatever it tries to write afterwards fails
    with the dead connection. Servers before PostgreSQL 14 have no
    ``idle_session_timeout``; there only the transaction bound applies.
    """
    millis = str(int(seconds * 1000))
    for setting in ("idle_in_transaction_session_timeout", "idle_session_timeout"):
        try:
            with dbapi_connection.cursor() as cur:
                cur.execute("SELECT set_config(%s, %s, false)", (setting, millis))
            dbapi_connection.commit()
        except driver_error:
            dbapi_connection.rollback()
