"""SQLite: a file, one writer at a time, LaminDB's Django conventions for SQLite.

Engine: every transaction is ``BEGIN IMMEDIATE`` (the write lock is taken up
front, so two writers queue instead of failing mid-transaction), foreign keys
are enforced as Django enforces them, and a busy timeout makes a second writer
wait. The journal mode is left as LaminDB set it. Temporary storage is kept in
memory (``temp_store``, a setting of the connection): SQLite gives each
multi-row statement a statement journal, the old image of every page the
statement changes, so that the statement alone can be undone; in memory it
costs neither disk writes nor their CPU. Crash safety does not depend on it:
the rollback journal or WAL that recovers a transaction stays on disk. It also
keeps sorts in memory: building a deferred index (once, after the first load
of a database syncd created) holds that index's keys in RAM.

Writes: under ``BEGIN IMMEDIATE`` syncd holds the write lock, so the ids after
the table's largest (and after its ``AUTOINCREMENT`` high-water mark) are free
until the transaction ends; rows go as padded multi-row ``INSERT`` statements
(:mod:`syncd.store.dialects.sqlite_values`). Key sets and lookups travel as
JSON (``json_each``, ``json_group_array``) where SQLite has the JSON functions.
The lock is a file lock beside the database file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    Table,
    bindparam,
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

from syncd.core.timestamps import format_sqlite
from syncd.errors import InstanceUnreachableError
from syncd.secrets import Secret
from syncd.store import ddl
from syncd.store.diagnose import lock_file_failure
from syncd.store.dialects.base import Dialect, EngineOptions
from syncd.store.dialects.sqlite_lookups import SQLiteLookups, register_functions
from syncd.store.dialects.sqlite_values import (
    LARGE_STATEMENT_ROWS,
    SMALL_STATEMENT_ROWS,
    insert_values,
)
from syncd.store.dialects.waiting import wait_for

__all__ = ["SQLite"]

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# the indexed columns at the end of CREATE INDEX ("kind")
_INDEXED = re.compile(r"\((?P<columns>[^()]*)\)$")
_STATEMENT_ROWS = "syncd.sqlite_statement_rows"  # the bulk statement size of a connection (its info key)
# columns with the same few values in nearly every block: a new row's entry goes to the end of its
# value's run, on a page already in memory, so they stay in place during the first load (store.indexes)
_STEADY_COLUMNS = frozenset({"_status_code", "branch_id", "created_on_id", "is_latest", "kind"})


def _sqlite_path(url: URL) -> str | None:
    database = url.database or ""
    if database.startswith("file:"):
        if url.query.get("mode") == "memory":
            return None
        database = database[len("file:"):]
        if database.startswith("//"):  # file://host/path: only an empty or localhost authority is local
            database = "/" + database[2:].partition("/")[2]
    if database in ("", ":memory:"):
        return None
    return database


def _file_uri(path: Path, mode: str) -> URL:
    """The URL of a database file opened in ``mode`` (``ro``: never written, never created)."""
    query = {"mode": mode, "uri": "true"}
    return URL.create("sqlite+pysqlite", database=f"file:{path.resolve()}", query=query)


def has_json(conn: Connection) -> bool:
    """Whether this SQLite connection has the JSON functions (built in since SQLite 3.38)."""
    known = conn.info.get("syncd.sqlite_json")
    if known is None:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("SELECT json_extract('[1]', '$[0]')")
            known = True
        except DBAPIError:
            known = False
        conn.info["syncd.sqlite_json"] = known
    return bool(known)


def _top_id(conn: Connection, table: Table) -> int:
    """The largest id ``table`` has used: its largest row, or its ``AUTOINCREMENT`` mark if higher."""
    quote = conn.dialect.identifier_preparer.quote
    top = f"SELECT coalesce(max({quote(table.c.id.name)}), 0) FROM {quote(table.name)}"  # noqa: S608
    # once committed, sqlite_sequence stays (SQLite never drops it; here the bootstrap, committed
    # before any id is allocated, creates it): remember it per connection
    if not conn.info.get("syncd.sqlite_sequence"):
        found = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
        ).first()
        if found is None:
            return int(conn.exec_driver_sql(top).scalar_one())
        conn.info["syncd.sqlite_sequence"] = True
    both = f"SELECT max(({top}), coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0))"  # noqa: S608
    return int(conn.exec_driver_sql(both, (table.name,)).scalar_one())


@contextlib.contextmanager
def _file_lock(
    path: Path, timeout: float, sleep: Callable[[float], None], monotonic: Callable[[], float]
) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise lock_file_failure(path, exc) from None
    try:

        def attempt() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        wait_for(attempt, timeout, sleep, monotonic)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class SQLite(SQLiteLookups, Dialect):
    name = "sqlite"
    takes_password = False
    leases_sessions = False
    text_timestamps = True  # Django's UTC text form
    lamindb_ddl = ddl.SQLITE_DDL
    after_seed = ()
    system_table_prefixes = ("sqlite_",)
    row_id_type = Integer()
    space_foreign_keys = text(
        'SELECT m.name, p."from" FROM sqlite_master m, pragma_foreign_key_list(m.name) p '
        "WHERE m.type = 'table' AND p.\"table\" = 'lamindb_space'"
    )

    def driver_url(self, url: URL) -> URL:
        return url

    def identity(self, url: URL, environ: Mapping[str, str]) -> tuple[list[str], str] | None:
        # the same file, whatever the spelling: relative or absolute, a file: URI, a link
        path = _sqlite_path(url)
        if path is None:
            return None
        real = os.path.realpath(path)
        keys = [f"sqlite:{real}"]
        try:
            info = Path(real).stat()
        except OSError:
            pass  # not created yet: its resolved path is all there is to compare
        else:
            keys.append(f"sqlite-inode:{info.st_dev}:{info.st_ino}")
        return keys, f"SQLite file {real}"

    def database_file(self, url: URL) -> Path | None:
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database)

    def instance_engine(self, url: URL, options: EngineOptions) -> Engine:
        # room for a page's statements, the bulk inserts' few fixed shapes among them (sqlite_values): a
        # page's cycle of statements larger than the cache would evict each before its next use.
        # Bounded, since a prepared thousand-row INSERT holds a megabyte or more
        engine = create_engine(url, poolclass=NullPool, connect_args={"cached_statements": 32})
        timeout_ms = int(options.busy_timeout_seconds * 1000)
        cache_kib = int(options.cache_kib)
        # large bulk statements for a connection of a small group only (store.share)
        statement_rows = LARGE_STATEMENT_ROWS if options.large_statements else SMALL_STATEMENT_ROWS

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, record: Any) -> None:
            record.info[_STATEMENT_ROWS] = statement_rows
            # let SQLAlchemy's "begin" event issue BEGIN itself (the documented pysqlite recipe)
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute(f"PRAGMA cache_size = -{cache_kib}")
            # statement journals in memory: a multi-row INSERT keeps the old image of every page it
            # changes until it ends, in a temporary file by default (see the module docstring)
            cur.execute("PRAGMA temp_store = MEMORY")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def read_only_engine(self, url: URL, *, password: Secret | None, connect_timeout: float) -> Engine | None:
        path = self.database_file(url)
        if path is None or not path.is_file():
            return None  # never create a file by looking
        timeout = {"timeout": connect_timeout}
        return create_engine(_file_uri(path, "ro"), poolclass=NullPool, connect_args=timeout)

    def registry_engine(self, url: URL, *, read_only: bool, password: Secret | None) -> Engine:
        from syncd.secrets import mask_url

        database = url.database or ""
        if database in ("", ":memory:"):
            raise InstanceUnreachableError(
                "an in-memory SQLite database is not a LaminDB instance; give the file's path")
        path = Path(database)
        if not path.is_file():
            raise InstanceUnreachableError(
                f"cannot open SQLite instance {mask_url(url.render_as_string())}: no such file {path}; "
                "give the path of the instance's lamin.db")
        mode = "ro" if read_only else "rw"
        engine = create_engine(_file_uri(path, mode))

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            register_functions(dbapi_connection)
            if not read_only:
                cur = dbapi_connection.cursor()
                cur.execute("PRAGMA foreign_keys = ON")
                cur.execute("PRAGMA busy_timeout = 30000")
                cur.close()

        return engine

    @contextlib.contextmanager
    def writer_lock(
        self, conn: Connection, url: str, *, timeout: float,
        sleep: Callable[[float], None], monotonic: Callable[[], float],
    ) -> Iterator[None]:
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if not database or database == ":memory:" or database.startswith("file::memory:"):
            yield
            return
        with _file_lock(Path(database + ".syncd-lock"), timeout, sleep, monotonic):
            yield

    def defers_index(self, statement: str) -> bool:
        # indexes on steady columns are cheap to keep row by row, while building each afterwards
        # reads the whole table again
        indexed = _INDEXED.search(statement)
        columns = {part.split()[0].strip('"') for part in indexed["columns"].split(",")} if indexed else set()
        return not (columns and columns <= _STEADY_COLUMNS)

    def before_index_build(self, conn: Connection) -> None:
        return None  # the busy timeout bounds the wait

    def datetime_storage(self) -> TypeEngine[Any]:
        return String()

    def bind_datetime(self, value: datetime) -> Any:
        return format_sqlite(value)

    def allocate_ids(self, conn: Connection, table: Table, n: int) -> list[int]:
        top = _top_id(conn, table)
        return list(range(top + 1, top + 1 + n))

    def insert_rows(
        self, conn: Connection, table: Table, columns: Sequence[str],
        rows: list[tuple[Any, ...]], fixed: Mapping[str, int],
    ) -> None:
        per = int(conn.info.get(_STATEMENT_ROWS, SMALL_STATEMENT_ROWS))
        insert_values(conn, table, tuple(columns), rows, dict(fixed), per)

    def lowered(self, conn: Connection, names: Collection[str]) -> dict[str, str]:
        if not has_json(conn):  # SQLite without the JSON functions: its built-in lower() folds ASCII only
            return {name: name.translate(_ASCII_UPPER) for name in names}
        packed = json.dumps(list(names), separators=(",", ":"))
        each = func.json_each(bindparam("names", packed)).table_valued("value")
        return {str(n): str(k) for n, k in conn.execute(select(each.c.value, func.lower(each.c.value)))}

    def packs_keys(self, conn: Connection) -> bool:
        return has_json(conn)

    def one_of(
        self, column: ColumnElement[Any], packed: BindParameter[str], integers: bool
    ) -> ColumnElement[bool]:
        return column.in_(select(self.key_rows(packed).c.value))

    def key_rows(self, packed: BindParameter[str]) -> TableValuedAlias:
        return func.json_each(packed).table_valued("value")

    def packed_lookups(
        self, conn: Connection, queries: Sequence[Select[Any]]
    ) -> tuple[Select[Any], Callable[[Any], Any]] | None:
        if not has_json(conn):
            return None
        packed = select(
            *(
                select(func.json_group_array(func.json_array(*sub.c))).scalar_subquery()
                for sub in (q.subquery() for q in queries)
            )
        )
        return packed, json.loads

    def fetch_rows(self, conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
        if not has_json(conn):
            return [tuple(row) for row in conn.execute(query)]
        rows = query.subquery()
        packed = conn.execute(select(func.json_group_array(func.json_array(*rows.c)))).scalar_one()
        return [tuple(row) for row in json.loads(packed)]
