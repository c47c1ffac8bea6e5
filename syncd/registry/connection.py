"""Connections to instance databases, and the one place that remembers them.

:func:`connect` opens an instance (by URL, or by name from syncd's
configuration) and makes it the default for every registry; ``using(name)``
opens further configured instances on demand. Reads run on read-only
connections: SQLite files are opened with ``mode=ro``, PostgreSQL sessions
have ``default_transaction_read_only`` on; writes (``save``/``delete`` of local rows) get their own
read-write connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from syncd.errors import ConfigError, InstanceUnreachableError
from syncd.registry.errors import InstanceError, InvalidPattern, from_store
from syncd.registry.staleness import Freshness, check_staleness, read_freshness
from syncd.registry.tables import registry_only
from syncd.secrets import MASKED, Secret, mask_url, scrub_url_text, url_secrets
from syncd.settings import config_path, load_settings
from syncd.store import schema
from syncd.store.dialects import Dialect, UnsupportedDatabase, dialect_for, regexp

__all__ = ["Instance", "connect", "current", "disconnect", "freshness", "resolve"]

_REQUIRED_TABLE = "lamindb_space"
_BOOTSTRAPPED = sorted(schema.lamindb.tables)
# longest first: lamindb_spaceblock, not lamindb_space, is the table an error naming it is about
_REGISTRY_TABLES = sorted({*schema.lamindb.tables, *registry_only.tables}, key=len, reverse=True)


CaseRules = Literal["database", "portable"]
DEFAULT_REGEX_TIMEOUT = 5.0
# PostgreSQL's SQLSTATE for a regular expression that does not compile
_INVALID_REGEX = "2201B"


class Instance:
    """One instance database: a read-only engine, and a read-write engine made on first write.

    ``case_rules="database"`` matches text as LaminDB does on the instance's database (on
    SQLite: ``LIKE``, ASCII case folded even for ``contains``); ``"portable"`` gives the same
    answers on both databases (see ``docs/registry.md``). ``max_staleness``: a query raises
    :class:`StaleDataError` when syncd last synced the instance longer ago than that.
    ``regex_timeout``: seconds one query's regular expressions may run on SQLite.
    """

    def __init__(
        self, url: str, *, name: str | None = None, password: Secret | None = None,
        case_rules: CaseRules = "database",
        max_staleness: timedelta | None = None, regex_timeout: float = DEFAULT_REGEX_TIMEOUT,
        hub: str | None = None, clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if case_rules not in ("database", "portable"):
            raise InstanceError(f"case_rules is 'database' or 'portable', not {case_rules!r}")
        if regex_timeout <= 0:
            raise InstanceError(f"regex_timeout must be a positive number of seconds, not {regex_timeout!r}")
        self.case_rules: CaseRules = case_rules
        self.max_staleness = max_staleness
        self.regex_timeout = regex_timeout
        self.hub = hub
        self._clock = clock
        self._now = now
        try:
            self._url = make_url(url)
        except ArgumentError:
            raise InstanceError(f"not a database URL: {mask_url(url)!r}") from None
        self.name = name or "default"
        self.display_url = mask_url(url)
        self._password = password  # PostgreSQL, from password_file/password_credential: never in the URL
        self._secrets = url_secrets(url) + ([password.reveal()] if password else [])
        try:
            #: the database's adapter (syncd.store.dialects); ``dialect`` is its backend name
            self.adapter: Dialect = dialect_for(self._url)
        except UnsupportedDatabase as exc:
            raise InstanceError(
                f"{self.display_url}: LaminDB instances are SQLite or PostgreSQL, not {exc.name}") from None
        self.dialect = self.adapter.name
        self._reader = self._engine(read_only=True)
        self._writer: Engine | None = None
        self._tables: frozenset[str] | None = None

    def _engine(self, *, read_only: bool) -> Engine:
        try:
            return self.adapter.registry_engine(self._url, read_only=read_only, password=self._password)
        except InstanceUnreachableError as exc:
            raise from_store(exc) from None

    @property
    def like(self) -> bool:
        """Whether text lookups follow SQLite's LIKE rules (LaminDB's on SQLite)."""
        return self.adapter.like_folds_case and self.case_rules == "database"

    def freshness(self) -> Freshness:
        """When syncd last brought this instance in step with the hub (``synced_at`` None: never)."""
        with self._reader_connection() as conn:
            return read_freshness(conn, tables=self.tables(), hub=self.hub)

    @contextmanager
    def _reader_connection(self) -> Iterator[Connection]:
        try:
            conn = self._reader.connect()
        except DBAPIError as exc:
            raise InstanceError(f"cannot connect to {self.display_url}: {self._why(exc)}") from None
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection, checked for staleness when ``max_staleness`` is set."""
        if self.max_staleness is not None:
            check_staleness(self.freshness(), self.max_staleness, self._now(), self.display_url)
        try:
            conn = self._reader.connect()
        except DBAPIError as exc:
            reason = _reason(exc, self._secrets)
            raise InstanceError(f"cannot connect to {self.display_url}: {reason}") from None
        bounded = self.adapter.python_regex  # regular expressions that run in Python get a deadline
        if bounded:
            regexp.start(self.regex_timeout, self._clock)
        try:
            yield conn
        except DBAPIError as exc:
            raise self._read_error(exc) from None
        finally:
            if bounded:
                regexp.stop()
            conn.close()

    def _read_error(self, exc: DBAPIError) -> Exception:
        """The registry error a failed read stands for, or the driver's error when it is none of them."""
        failed = regexp.failure()
        if failed is not None:
            return from_store(failed)
        if getattr(exc.orig, "sqlstate", None) == _INVALID_REGEX:
            return InvalidPattern(f"invalid regular expression: {_reason(exc, self._secrets)}")
        missing = self._missing_table(exc)
        if missing is None:
            return exc
        return InstanceError(
            f"{self.display_url} has no table {missing}: the query needs an instance made by "
            "`lamin init` (a database syncd set up itself has only the tables syncd fills: "
            + ", ".join(_BOOTSTRAPPED)
            + ")"
        )

    def _missing_table(self, exc: DBAPIError) -> str | None:
        """The table the failed statement read and the database lacks, when that was the failure."""
        said = str(exc.orig)
        for name in _REGISTRY_TABLES:
            if name in said and not self.has_table(name):
                return name
        return None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction, committed when the block ends without an exception."""
        if self._writer is None:
            self._writer = self._engine(read_only=False)
        try:
            ctx = self._writer.begin()
            conn = ctx.__enter__()
        except DBAPIError as exc:
            raise InstanceError(f"cannot connect to {self.display_url}: {self._why(exc)}") from None
        try:
            yield conn
        except BaseException as exc:
            ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            ctx.__exit__(None, None, None)

    def _why(self, exc: DBAPIError) -> str:
        return _reason(exc, self._secrets)

    def tables(self) -> frozenset[str]:
        """Names of the tables in the database (read once); checks that it is a LaminDB instance."""
        if self._tables is None:
            with self._reader_connection() as conn:
                try:
                    names = frozenset(inspect(conn).get_table_names())
                except DBAPIError as exc:
                    raise InstanceError(f"cannot read {self.display_url}: {self._why(exc)}") from None
            if _REQUIRED_TABLE not in names:
                raise InstanceError(
                    f"{self.display_url} is not a LaminDB instance (it has no table {_REQUIRED_TABLE}); "
                    "connect to an instance database made by `lamin init` or by syncd")
            self._tables = names
        return self._tables

    def has_table(self, name: str) -> bool:
        return name in self.tables()

    def dispose(self) -> None:
        self._reader.dispose()
        if self._writer is not None:
            self._writer.dispose()

    def __repr__(self) -> str:
        return f"Instance(name={self.name!r}, url={self.display_url!r})"


def _reason(exc: DBAPIError, secrets: list[str]) -> str:
    """The driver's first line, with the instance URL's secrets masked."""
    text = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    for secret in secrets:
        text = text.replace(secret, MASKED)
    return scrub_url_text(text)


class _State:
    """The default instance, the configuration it came from, and instances opened by name."""

    def __init__(self) -> None:
        self.default: Instance | None = None
        self.config: Path | None = None
        self.environ: Mapping[str, str] = os.environ
        self.named: dict[str, Instance] = {}


_state = _State()


def connect(
    url: str | None = None,
    *,
    config: str | Path | None = None,
    instance: str | None = None,
    environ: Mapping[str, str] | None = None,
    case_rules: CaseRules = "database",
    max_staleness: timedelta | None = None,
    regex_timeout: float = DEFAULT_REGEX_TIMEOUT,
) -> Instance:
    """Open an instance and make it the default for every registry.

    ``connect("sqlite:////var/lib/syncd/lab-a.db")`` takes any SQLAlchemy URL;
    ``connect(config="/etc/syncd/syncd.toml", instance="lab-a")`` takes the URL
    of a configured instance (``config`` defaults to ``$SYNCD_CONFIG`` or
    ``/etc/syncd/syncd.toml``; ``instance`` to the first configured one).
    ``case_rules``, ``max_staleness`` and ``regex_timeout``: see :class:`Instance`.
    """
    options: dict[str, Any] = {
        "case_rules": case_rules, "max_staleness": max_staleness, "regex_timeout": regex_timeout}
    env = os.environ if environ is None else environ
    if url is not None and (config is not None or instance is not None):
        raise InstanceError("give either a database URL or config=/instance=, not both")
    if url is None:
        path = config_path(str(config) if config is not None else None, env)
        opened = _from_config(path, env, instance, options)
        _state.config, _state.environ = path, env
    else:
        opened = Instance(url, **options)
    opened.tables()
    if _state.default is not None and _state.default is not opened:
        _state.default.dispose()
    _state.default = opened
    _state.named = {opened.name: opened}
    return opened


def _from_config(
    path: Path, environ: Mapping[str, str], name: str | None, options: Mapping[str, Any] | None = None,
) -> Instance:
    try:
        settings = load_settings(path, environ, require_token=False)  # reads never talk to the hub
        chosen = settings.instance(name) if name is not None else settings.instances[0]
    except ConfigError as exc:
        raise InstanceError("; ".join(exc.problems)) from None
    return Instance(
        chosen.url.reveal(), name=chosen.name, password=chosen.password, hub=mask_url(chosen.hub.url),
        **(options or {}),
    )


def disconnect() -> None:
    """Forget every instance and close their connections."""
    opened = [*_state.named.values(), *([_state.default] if _state.default else [])]
    for each in {id(i): i for i in opened}.values():
        each.dispose()
    _state.default = None
    _state.config = None
    _state.named = {}


def freshness(using: str | Instance | None = None) -> Freshness:
    """When syncd last brought the connected instance (or ``using``) in step with the hub, and which hub."""
    return resolve(using).freshness()


def current() -> Instance:
    """The default instance; :class:`InstanceError` until :func:`connect` was called."""
    if _state.default is None:
        raise InstanceError(
            "not connected: call syncd.registry.connect(url) or connect(config=..., instance=...)")
    return _state.default


def resolve(using: str | Instance | None) -> Instance:
    """The default instance, an :class:`Instance` as given, or a configured instance by name (or URL)."""
    if using is None:
        return current()
    if isinstance(using, Instance):
        return using
    if using in _state.named:
        return _state.named[using]
    if "://" in using:
        opened = Instance(using)
    else:
        path = _state.config or config_path(None, _state.environ)
        opened = _from_config(path, _state.environ, using)
    opened.tables()
    _state.named[using] = opened
    return opened
