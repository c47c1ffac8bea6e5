"""The interface every database adapter implements: what SQLite and PostgreSQL do differently.

The rest of syncd (the store, the registry, settings) asks an adapter
(:func:`syncd.store.dialects.dialect_for`) instead of comparing database names.
Adapters are stateless singletons: per-connection facts they learn (a
sequence's name, whether SQLite has the JSON functions) live in the
connection's ``info``, which ends with it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Connection, Engine, Select, Table, TextClause
from sqlalchemy.engine import URL
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from syncd.secrets import Secret

__all__ = ["Dialect", "EngineOptions"]


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How syncd's writer engine for one instance is set up (each adapter uses what applies to it)."""

    busy_timeout_seconds: float = 30.0
    password: Secret | None = None
    application_name: str = "syncd"
    session_timeout_seconds: float | None = None
    cache_kib: int = 8000
    large_statements: bool = True
    """SQLite: bulk statements of 1,000 rows rather than 250 (see syncd.store.share)."""


class Dialect(abc.ABC):
    """One database's way of doing what syncd needs."""

    #: SQLAlchemy's backend name, the scheme of the instance URL (``sqlite``, ``postgresql``)
    name: str
    #: whether the database takes a password apart from its URL (``password_file``, ``password_credential``)
    takes_password: bool
    #: whether the server ends a silent session, so an idle one must be pinged (store.session)
    leases_sessions: bool
    #: whether bulk writes take datetimes as Django's UTC text (else as ``datetime`` values)
    text_timestamps: bool
    #: the DDL a bootstrap runs: LaminDB's own statements for this database (store.ddl)
    lamindb_ddl: tuple[str, ...]
    #: statements run after the seed rows (PostgreSQL moves its sequences past them)
    after_seed: tuple[str, ...]
    #: table name prefixes the database keeps for itself (an "empty" database may hold them)
    system_table_prefixes: tuple[str, ...]
    #: the type of an integer primary key, if not BIGINT (SQLite: INTEGER, the rowid's alias)
    row_id_type: TypeEngine[int] | None
    #: ``SELECT table, column`` of every foreign key that references ``lamindb_space``
    space_foreign_keys: TextClause

    # -- URLs, engines and sessions -------------------------------------------------------------

    @property
    def json_type(self) -> TypeEngine[Any] | None:
        """The type LaminDB's JSON fields have, if not SQLAlchemy's JSON (PostgreSQL: JSONB)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @abc.abstractmethod
    def driver_url(self, url: URL) -> URL:
        """``url`` with the driver syncd ships for this database."""

    @abc.abstractmethod
    def identity(self, url: URL, environ: Mapping[str, str]) -> tuple[list[str], str] | None:
        """Keys under which two URLs name one database, and how to describe it; None when unknown."""

    @abc.abstractmethod
    def database_file(self, url: URL) -> Path | None:
        """The file that holds the database, None for a server or an in-memory database."""

    @abc.abstractmethod
    def instance_engine(self, url: URL, options: EngineOptions) -> Engine:
        """The engine the store writes an instance with (session settings, fencing, caches)."""

    @abc.abstractmethod
    def read_only_engine(self, url: URL, *, password: Secret | None, connect_timeout: float) -> Engine | None:
        """An engine that cannot create or change the database; None when there is none to read yet."""

    @abc.abstractmethod
    def registry_engine(self, url: URL, *, read_only: bool, password: Secret | None) -> Engine:
        """The registry's engine (read-only: refuses writes; SQLite: with the registry's functions).

        Raises :class:`~syncd.errors.InstanceUnreachableError` when ``url`` cannot name an instance.
        """

    @abc.abstractmethod
    def writer_lock(
        self, conn: Connection, url: str, *, timeout: float,
        sleep: Callable[[float], None], monotonic: Callable[[], float],
    ) -> AbstractContextManager[None]:
        """Hold the instance's one-writer lock (store.lock) for the duration of the block."""

    # -- schema ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def defers_index(self, statement: str) -> bool:
        """Whether a deferrable index or foreign key of ``lamindb_spaceblock`` waits for the first load."""

    @abc.abstractmethod
    def before_index_build(self, conn: Connection) -> None:
        """Prepare the transaction that builds deferred indexes (bound how long it may wait)."""

    @abc.abstractmethod
    def datetime_storage(self) -> TypeEngine[Any]:
        """The column type LaminDB stores datetimes in (``store.types.UTCDateTime``)."""

    @abc.abstractmethod
    def bind_datetime(self, value: datetime) -> Any:
        """An aware datetime as that column stores it."""

    # -- writes -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def allocate_ids(self, conn: Connection, table: Table, n: int) -> list[int]:
        """``n`` (> 0) unused values for ``table.id``, ascending, safe until the transaction ends."""

    @abc.abstractmethod
    def insert_rows(
        self, conn: Connection, table: Table, columns: Sequence[str],
        rows: list[tuple[Any, ...]], fixed: Mapping[str, int],
    ) -> None:
        """Bulk insert of ``rows`` (non-empty) in the driver's fastest way (store.bulk)."""

    @abc.abstractmethod
    def lowered(self, conn: Connection, names: Collection[str]) -> dict[str, str]:
        """``lower(name)`` of each (non-empty) name, as the database's unique index folds it."""

    # -- key sets and packed reads (store.keysets) ----------------------------------------------

    @abc.abstractmethod
    def packs_keys(self, conn: Connection) -> bool:
        """Whether a key set travels as one JSON text (else as an expanding ``IN`` list)."""

    @abc.abstractmethod
    def one_of(
        self, column: ColumnElement[Any], packed: BindParameter[str], integers: bool
    ) -> ColumnElement[bool]:
        """``column IN`` the elements of the JSON array bound as ``packed``."""

    @abc.abstractmethod
    def key_rows(self, packed: BindParameter[str]) -> TableValuedAlias:
        """The elements of the JSON array bound as ``packed``, as rows of one text column ``value``."""

    @abc.abstractmethod
    def packed_lookups(
        self, conn: Connection, queries: Sequence[Select[Any]]
    ) -> tuple[Select[Any], Callable[[Any], Any]] | None:
        """One statement reading each query's rows as one JSON array, and how to read a value; or None."""

    @abc.abstractmethod
    def fetch_rows(self, conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
        """Every row of ``query`` (text or integer columns) as tuples, in the fewest driver steps."""

    # -- registry: how LaminDB's lookups compile here --------------------------------------------

    #: whether LIKE ignores ASCII case (LaminDB's text lookups then follow LIKE's rules)
    like_folds_case: bool
    #: whether a ``VARCHAR(n)`` column holds at most ``n`` characters (SQLite stores longer text)
    bounds_text_length: bool
    #: whether regular expressions run in Python functions syncd registers, bounded in time by
    #: :mod:`syncd.store.dialects.regexp` (a failed match: ``regexp.failure()``)
    python_regex: bool

    @abc.abstractmethod
    def date_part(self, expr: ColumnElement[Any], name: str) -> ColumnElement[Any]:
        """A part of a datetime (``year`` ... ``second``, ``week_day``, ``quarter``, ``date``), in UTC."""

    @abc.abstractmethod
    def date_value(self, moment: datetime) -> Any:
        """The value a ``__date`` part compares with."""

    @abc.abstractmethod
    def raw_datetime(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A datetime column as stored, for bulk parsing (or as it is)."""

    @abc.abstractmethod
    def boolean_filter(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A boolean column as compared in filters (SQLite: kept off its useless index)."""

    @abc.abstractmethod
    def text_order(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """Text compared and ordered in code-point order."""

    @abc.abstractmethod
    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """Text lower-cased with Unicode rules."""

    @abc.abstractmethod
    def text_contains(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        """``expr`` contains ``value`` (non-empty or not), case-sensitively."""

    @abc.abstractmethod
    def text_startswith(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        """``expr`` starts with the non-empty ``value``, case-sensitively, through an index if one fits."""

    @abc.abstractmethod
    def text_endswith(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        """``expr`` ends with the non-empty ``value``, case-sensitively."""

    @abc.abstractmethod
    def folded_match(
        self, expr: ColumnElement[Any], kind: str, value: str, slow: ColumnElement[bool]
    ) -> ColumnElement[bool]:
        """The case-insensitive ``kind`` match ``slow`` (on folded text), or a faster equivalent."""

    @abc.abstractmethod
    def database_text_lookup(
        self, expr: ColumnElement[Any], lookup: str, text: str
    ) -> ColumnElement[bool] | None:
        """A text lookup as Django compiles it for this database, when it differs from portable rules."""

    @abc.abstractmethod
    def regex(self, expr: ColumnElement[Any], pattern: str, *, case_sensitive: bool) -> ColumnElement[bool]:
        """``expr`` matches the regular expression ``pattern``."""

    @abc.abstractmethod
    def search_iexact(self, expr: ColumnElement[Any], string: str) -> ColumnElement[bool]:
        """LaminDB's search: ``expr`` equals ``string`` ignoring case, as Django compiles it here."""

    @abc.abstractmethod
    def search_contains(
        self, expr: ColumnElement[Any], pattern: str, *, case_sensitive: bool
    ) -> ColumnElement[bool]:
        """LaminDB's search: ``expr`` LIKE the contains ``pattern``, as Django compiles it here."""

    @abc.abstractmethod
    def json_equal(self, expr: ColumnElement[Any], encoded: str) -> ColumnElement[bool]:
        """The stored JSON value equals the JSON text ``encoded``."""

    @abc.abstractmethod
    def json_contains(self, expr: ColumnElement[Any], encoded: str) -> ColumnElement[bool]:
        """The stored JSON value contains the JSON text ``encoded``.

        Raises :class:`~syncd.errors.UnsupportedQuery` where Django has no such lookup.
        """

    @abc.abstractmethod
    def count_like_sql(self, table: str, column: str, lookup: str, index: str | None) -> str | None:
        """``SELECT count(*)`` where a text column is LIKE one bound pattern, as LaminDB sends it."""

    @abc.abstractmethod
    def single_column_indexes(self, conn: Connection, table: str) -> Iterator[tuple[str, str]]:
        """``(column, index)`` for each plain index on one column that counts may read through."""
