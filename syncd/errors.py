"""One exception tree for everything syncd raises on purpose.

::

    SyncdError
    ├── ConfigError                  bad command line or configuration (exit code 2)
    ├── HubError                     talking to the hub failed
    │   ├── HubAuthError             401/403: token missing, expired or without access; never retried
    │   ├── HubIncompatibleError     400/404 or a reply outside the contract; never retried
    │   │   └── HubResponseTooLarge  a body over the configured size bound (asked again in smaller pages)
    │   ├── HubTransientError        408/425/429/5xx, resets, timeouts, non-array bodies; retried
    │   └── HubUnavailableError      the retry budget ran out; wraps the last transient error
    ├── StoreError                   an instance database could not be used (kind "store")
    │   ├── InstanceUnreachableError cannot connect or open ("unreachable")
    │   ├── InstanceFileSystemError  the file system refused: permissions, read-only, full,
    │   │                            a directory where a file belongs ("filesystem")
    │   ├── InstanceBusyError        SQLite stayed locked by another writer ("busy")
    │   ├── IncompatibleSchemaError  not a LaminDB schema syncd can write safely ("incompatible_schema")
    │   ├── InstanceLockedError      another syncd process holds the instance's lock ("locked")
    │   └── UnsupportedDatabase      a URL of a database no adapter knows (syncd.store.dialects;
    │                                also a LookupError)
    ├── RowRejected                  one hub row broke the contract (quarantined, never raised past a page)
    ├── QueryError                   a database adapter cannot build or run a query as asked
    │   ├── UnsupportedQuery         the database has no such operation (JSON containment on SQLite)
    │   ├── PatternError             a regular expression that does not compile (also a ValueError)
    │   └── PatternTimeout           regular-expression matching ran past its deadline (also a TimeoutError)
    └── RegistryError                errors of the read library, :mod:`syncd.registry`

The read library raises its own errors: it translates the store's
(``InstanceUnreachableError``, ``QueryError``) at its boundary.

Messages never contain secrets: tokens are not formatted into them and database
URLs are shown with the password masked.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ConfigError",
    "HubAuthError",
    "HubError",
    "HubIncompatibleError",
    "HubResponseTooLarge",
    "HubTransientError",
    "HubUnavailableError",
    "IncompatibleSchemaError",
    "InstanceBusyError",
    "InstanceFileSystemError",
    "InstanceLockedError",
    "InstanceUnreachableError",
    "PatternError",
    "PatternTimeout",
    "QueryError",
    "RegistryError",
    "RowRejected",
    "StoreError",
    "SyncdError",
    "UnsupportedQuery",
]


class SyncdError(Exception):
    """Root of every exception syncd raises deliberately."""


class ConfigError(SyncdError):
    """The configuration or the command line is invalid.

    ``problems`` lists every problem found, each naming the file and key.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class HubError(SyncdError):
    """Talking to the hub failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class HubAuthError(HubError):
    """The hub refused the token (401 or 403). Not retried."""


class HubIncompatibleError(HubError):
    """The hub answered outside the contract (400, 404, wrong shapes). Not retried."""


class HubResponseTooLarge(HubIncompatibleError):
    """A response body passed ``limit_bytes`` (compressed or inflated); the rest was not read."""

    def __init__(self, message: str, *, limit_bytes: int, status: int | None = None) -> None:
        self.limit_bytes = limit_bytes
        super().__init__(message, status=status)


class HubTransientError(HubError):
    """A failure the contract calls transient; worth retrying.

    ``retry_after`` is the delay in seconds the hub asked for, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "error",
        retry_after: float | None = None,
    ) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(message, status=status)


class HubUnavailableError(HubError):
    """Retries were exhausted (attempts or total time) on transient failures."""


class StoreError(SyncdError):
    """An instance database could not be used; it fails that instance alone.

    ``kind`` names the failure in reports, logs and metrics.
    """

    kind: ClassVar[str] = "store"


class InstanceUnreachableError(StoreError):
    """The database cannot be connected to or opened."""

    kind = "unreachable"


class InstanceFileSystemError(StoreError):
    """The file system refused: a permission, a read-only or full file system, a directory for a file."""

    kind = "filesystem"


class InstanceBusyError(StoreError):
    """A SQLite database stayed locked by another writer for longer than syncd waits."""

    kind = "busy"


class IncompatibleSchemaError(StoreError):
    """The database is not a LaminDB schema that syncd can write without altering it."""

    kind = "incompatible_schema"


class InstanceLockedError(StoreError):
    """Another syncd process holds this instance's lock."""

    kind = "locked"


class RowRejected(SyncdError):
    """A hub row failed validation; ``reason`` says which field and why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class QueryError(SyncdError):
    """A database adapter cannot build or run a query as it was asked."""


class UnsupportedQuery(QueryError):
    """The database has no such operation (JSON containment on SQLite)."""


class PatternError(QueryError, ValueError):
    """A regular expression that does not compile."""


class PatternTimeout(QueryError, TimeoutError):
    """Matching the regular expression ``pattern`` ran past the deadline of ``seconds``."""

    def __init__(self, pattern: str, seconds: float) -> None:
        self.pattern = pattern
        self.seconds = seconds
        super().__init__(f"the regular expression {pattern!r} ran past its deadline of {seconds} s")


class RegistryError(SyncdError):
    """Base of the read library's errors (``DoesNotExist``, ``MultipleObjectsReturned``, ...)."""
