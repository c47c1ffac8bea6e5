"""PostgreSQL (psycopg 3): a server, sessions with a lease, LaminDB's Django conventions for PostgreSQL.

Engine: each session prices random page reads as cached (``random_page_cost``
at most 1.1, for that session only), so a page's lookups probe the unique
indexes instead of scanning whole tables, and is fenced: the server ends it
once it stays silent too long (:func:`fence_session`).

Writes: new ids come from the column's own sequence (``nextval``), the way
LaminDB's inserts get them, so concurrent writers never collide. Rows go as
binary ``COPY``, so values must be of their column's Python type
(``datetime`` for a ``timestamptz``, ``int`` for integers, ``str`` for text).
Key sets travel as one JSON text the server unpacks, lookups come back as
``json_agg`` values. The instance lock is a session advisory lock.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    BindParameter,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Select,
    Table,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from syncd.errors import StoreError
from syncd.secrets import Secret
from syncd.store import ddl
from syncd.store.dialects.base import Dialect, EngineOptions
from syncd.store.dialects.postgresql_lookups import PostgreSQLLookups
from syncd.store.dialects.waiting import wait_for

__all__ = ["PostgreSQL", "fence_session", "price_random_reads_as_cached"]

# two 32-bit keys: "sync" and "d" — the advisory-lock namespace of syncd
_LOCK_KEY = (0x73796E63, 0x64)
_LOCK_TIMEOUT = "5s"


def price_random_reads_as_cached(dbapi_connection: Any, driver_error: type[Exception]) -> None:
    """Lower ``random_page_cost`` to at most 1.1 for this PostgreSQL session.

    A page's lookups probe at most a thousand keys through unique indexes, on
    pages that the page before has just read or written. PostgreSQL's default
    random_page_cost (4) prices those probes as disk seeks and picks a
    sequential scan of the whole table, which grows with the instance. Only
    this session is changed, never the database, and a lower cost set by the
    operator is kept. It is an optimisation: a server that refuses it (a
    PostgreSQL-compatible one without the setting) is used as it is.
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


_LOCAL = "this machine"


def _first(value: str | tuple[str, ...] | None) -> str | None:
    if isinstance(value, tuple):
        return ",".join(value) if value else None
    return value


def normal_host(host: str) -> str:
    """A host as compared: lower case, and every name for this machine as one."""
    text = host.strip().lower().rstrip(".")
    if text == "" or text.startswith(("/", "@")):  # a Unix socket directory (or an abstract socket)
        return _LOCAL
    if text == "localhost" or text.endswith(".localhost"):
        return _LOCAL
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return _LOCAL
    return str(ip)


def _postgres(url: URL, environ: Mapping[str, str]) -> tuple[str, str] | None:
    query = url.query
    if "service" in query:
        return None
    hosts = _first(query.get("host")) or url.host or environ.get("PGHOST") or ""
    url_port = str(url.port) if url.port else None
    ports = _first(query.get("port")) or url_port or environ.get("PGPORT") or "5432"
    user = _first(query.get("user")) or url.username or environ.get("PGUSER")
    dbname = _first(query.get("dbname")) or url.database or environ.get("PGDATABASE") or user
    if not dbname:
        return None
    host_list = [normal_host(h) for h in hosts.split(",")]
    port_list = ports.split(",")
    if len(port_list) == 1:
        port_list *= len(host_list)
    if len(port_list) != len(host_list) or not all(p.strip().isdigit() for p in port_list):
        return None
    servers = ",".join(sorted({f"{h}:{int(p)}" for h, p in zip(host_list, port_list, strict=True)}))
    return f"postgresql:{servers}/{dbname}", f"PostgreSQL database {dbname!r} on {servers}"


def _column_types(conn: Connection, table: Table, columns: Sequence[str]) -> list[int]:
    """The type (oid) of each of ``columns`` in the database, looked up once per connection.

    Taken from the catalog rather than syncd's table definitions: a binary value
    must have exactly its column's type (an ``integer`` id where syncd would say
    ``bigint`` is read as garbage or refused).
    """
    key = f"syncd.column_types.{table.name}"
    known: dict[str, int] | None = conn.info.get(key)
    if known is None:
        found = conn.exec_driver_sql(
            "SELECT attname, atttypid::int FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table.name,),
        ).all()
        known = conn.info[key] = {str(name): int(oid) for name, oid in found}
    missing = [c for c in columns if table.c[c].name not in known]
    if missing:
        raise StoreError(f"{table.name} has no column {', '.join(missing)}")
    return [known[table.c[c].name] for c in columns]


def _as_read(value: Any) -> Any:
    return value  # the driver reads each json value into lists


class PostgreSQL(PostgreSQLLookups, Dialect):
    name = "postgresql"
    takes_password = True
    leases_sessions = True
    text_timestamps = False  # binary COPY takes datetimes
    lamindb_ddl = ddl.POSTGRESQL_DDL
    after_seed = ddl.POSTGRESQL_SEED_SEQUENCES
    system_table_prefixes = ()
    row_id_type = None
    space_foreign_keys = text(
        "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
        "WHERE c.contype = 'f' AND c.confrelid = 'lamindb_space'::regclass"
    )

    @property
    def json_type(self) -> TypeEngine[Any]:
        # SQLAlchemy's PostgreSQL dialect package is loaded when a table needs the type (the registry's)
        # or an engine is made: a sync into SQLite alone never loads it
        from sqlalchemy.dialects.postgresql import JSONB

        return JSONB(none_as_null=True)

    def driver_url(self, url: URL) -> URL:
        # syncd ships psycopg 3; a bare postgresql:// URL means that driver
        return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url

    def identity(self, url: URL, environ: Mapping[str, str]) -> tuple[list[str], str] | None:
        # the same database name and port on the same host (libpq's defaults; no DNS lookups)
        found = _postgres(url, environ)
        return None if found is None else ([found[0]], found[1])

    def database_file(self, url: URL) -> Path | None:
        return None

    def instance_engine(self, url: URL, options: EngineOptions) -> Engine:
        connect_args: dict[str, Any] = {"connect_timeout": 10, "application_name": options.application_name}
        if options.password is not None:
            connect_args["password"] = options.password.reveal()
        engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args=connect_args,
            # a page's lookups come back as json values (keysets.Lookups): read them with json
            json_deserializer=json.loads,
        )
        session_timeout = options.session_timeout_seconds

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            price_random_reads_as_cached(dbapi_connection, engine.dialect.loaded_dbapi.Error)
            if session_timeout is not None:
                fence_session(dbapi_connection, engine.dialect.loaded_dbapi.Error, session_timeout)

        return engine

    def read_only_engine(self, url: URL, *, password: Secret | None, connect_timeout: float) -> Engine | None:
        args: dict[str, object] = {"connect_timeout": int(max(1, connect_timeout))}
        if password is not None:
            args["password"] = password.reveal()
        # every statement runs in a read-only transaction: the server refuses any write
        args["options"] = "-c default_transaction_read_only=on"
        return create_engine(self.driver_url(url), poolclass=NullPool, connect_args=args)

    def registry_engine(self, url: URL, *, read_only: bool, password: Secret | None) -> Engine:
        connect_args: dict[str, Any] = {"connect_timeout": 10, "application_name": "syncd.registry"}
        if password is not None:
            connect_args["password"] = password.reveal()
        if not read_only:
            return create_engine(self.driver_url(url), connect_args=connect_args)
        # every statement runs on its own in a read-only session: one round trip per query, and the
        # server refuses any write ("cannot execute ... in a read-only transaction")
        connect_args["options"] = "-c default_transaction_read_only=on"
        return create_engine(self.driver_url(url), isolation_level="AUTOCOMMIT", connect_args=connect_args)

    @contextlib.contextmanager
    def writer_lock(
        self, conn: Connection, url: str, *, timeout: float,
        sleep: Callable[[float], None], monotonic: Callable[[], float],
    ) -> Iterator[None]:
        keys = {"a": _LOCK_KEY[0], "b": _LOCK_KEY[1]}

        def attempt() -> bool:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), keys).scalar_one()
            conn.commit()
            return bool(got)

        wait_for(attempt, timeout, sleep, monotonic)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), keys)
                conn.commit()

    def defers_index(self, statement: str) -> bool:
        return True  # every plain index and foreign key of lamindb_spaceblock (store.indexes)

    def before_index_build(self, conn: Connection) -> None:
        # CREATE INDEX waits for every open transaction that wrote to the table: give up after a
        # while (the next run tries again) rather than queue LaminDB's writers behind the wait
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")

    def datetime_storage(self) -> TypeEngine[Any]:
        return DateTime(timezone=True)

    def bind_datetime(self, value: datetime) -> Any:
        return value.astimezone(UTC)

    def allocate_ids(self, conn: Connection, table: Table, n: int) -> list[int]:
        # the sequence's name, looked up once per connection: pg_get_serial_sequence() in the select
        # list would run a catalog lookup per id
        key = f"syncd.sequence.{table.name}"
        sequence = conn.info.get(key)
        if sequence is None:
            sequence = conn.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)
            ).scalar_one()
            conn.info[key] = sequence
        # one row holding an array: reading a thousand ids row by row costs more client CPU
        ids = conn.exec_driver_sql(
            "SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)", (sequence, n)
        ).scalar_one()
        return sorted(int(i) for i in ids)

    def insert_rows(
        self, conn: Connection, table: Table, columns: Sequence[str],
        rows: list[tuple[Any, ...]], fixed: Mapping[str, int],
    ) -> None:
        quote = conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(table.c[c].name) for c in (*columns, *fixed))
        # binary COPY, each value in its column's own binary form (types read off the catalog): text
        # COPY spends most of its client CPU escaping the content
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN (FORMAT BINARY)"
        driver = conn.connection.driver_connection
        assert driver is not None
        dbapi = conn.dialect.loaded_dbapi
        tail = tuple(fixed.values())
        types = _column_types(conn, table, (*columns, *fixed))
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                copy.set_types(types)
                if tail:
                    for row in rows:
                        copy.write_row(row + tail)
                else:
                    for row in rows:
                        copy.write_row(row)
        except dbapi.Error as exc:
            raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc

    def lowered(self, conn: Connection, names: Collection[str]) -> dict[str, str]:
        packed = cast(bindparam("names", json.dumps(list(names), separators=(",", ":"))), JSON)
        each = func.json_array_elements_text(packed).table_valued("value")
        return {str(n): str(k) for n, k in conn.execute(select(each.c.value, func.lower(each.c.value)))}

    def packs_keys(self, conn: Connection) -> bool:
        return True

    def key_rows(self, packed: BindParameter[str]) -> TableValuedAlias:
        return func.json_array_elements_text(cast(packed, JSON)).table_valued("value")

    def one_of(
        self, column: ColumnElement[Any], packed: BindParameter[str], integers: bool
    ) -> ColumnElement[bool]:
        # one JSON text that the server unpacks: psycopg dumps a list parameter element by element
        # in Python, one JSON text costs a fraction of that. Elements are compared as text or bigint,
        # never cast to the column's own varchar(n): that cast would cut a longer key to the column's
        # length and match a row by its prefix.
        element: ColumnElement[Any] = func.json_array_elements_text(cast(packed, JSON))
        if integers:
            element = cast(element, BigInteger)
        return column.in_(select(element))

    def packed_lookups(
        self, conn: Connection, queries: Sequence[Select[Any]]
    ) -> tuple[Select[Any], Callable[[Any], Any]] | None:
        # json_agg is NULL over no rows
        packed = select(
            *(
                select(func.json_agg(func.json_build_array(*sub.c))).scalar_subquery()
                for sub in (q.subquery() for q in queries)
            )
        )
        return packed, _as_read

    def fetch_rows(self, conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in conn.execute(query)]
