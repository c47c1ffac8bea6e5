"""Errors of the read library, all under :class:`syncd.errors.RegistryError`.

::

    RegistryError
    ├── DoesNotExist             get() matched nothing (also ``Space.DoesNotExist`` ...)
    ├── MultipleObjectsReturned  get() or one() matched more than one record
    ├── FieldError               unknown field or lookup, malformed query (also a ValueError)
    ├── HubOwnedError            save()/delete() of a row the hub owns (also a PermissionError)
    ├── ReadOnlyRegistryError    save()/delete() on a read-only registry such as FeatureValue
    ├── InvalidArgument          an argument LaminDB rejects too, e.g. ``delete(permanent=False)``
    │   ├── ValidationError      a value the field cannot hold, e.g. ``is_latest="maybe"``
    │   └── ArgumentTypeError    a value of a type the lookup cannot take, e.g. ``id__in=3`` (a TypeError)
    ├── NotSupportedError        a lookup the database cannot run, e.g. JSON ``contains`` on SQLite
    ├── InvalidPattern           a ``regex``/``iregex`` pattern that does not compile (also a ValueError)
    ├── QueryTimeout             a ``regex`` match ran past its deadline (also a TimeoutError)
    ├── StaleDataError           the instance was synced longer ago than the allowed staleness
    ├── InstanceError            no connection, unknown instance name, unreachable or non-LaminDB database
    └── MissingDependencyError   an optional library is not installed (also an ImportError)

The store's database adapters raise the store's errors (:mod:`syncd.errors`);
:func:`from_store` gives the registry's error each stands for, which is what
the registry raises.
"""

from __future__ import annotations

from syncd.errors import (
    InstanceUnreachableError,
    PatternError,
    PatternTimeout,
    QueryError,
    RegistryError,
    UnsupportedQuery,
)

__all__ = [
    "ArgumentTypeError",
    "DoesNotExist",
    "FieldError",
    "HubOwnedError",
    "InstanceError",
    "InvalidArgument",
    "InvalidPattern",
    "MissingDependencyError",
    "MultipleObjectsReturned",
    "NotSupportedError",
    "QueryTimeout",
    "ReadOnlyRegistryError",
    "RegistryError",
    "StaleDataError",
    "ValidationError",
    "from_store",
]


class DoesNotExist(RegistryError, LookupError):
    """No record matched; each registry has its own subclass, e.g. ``Space.DoesNotExist``."""


class MultipleObjectsReturned(RegistryError):
    """More than one record matched where exactly one was expected."""


class FieldError(RegistryError, ValueError):
    """An unknown field or lookup, or a query that cannot be built; the message lists valid choices."""


class InvalidArgument(RegistryError, ValueError):
    """An argument that LaminDB rejects as well."""


class HubOwnedError(RegistryError, PermissionError):
    """The record is synchronised from the hub; change it on the hub instead."""


class ReadOnlyRegistryError(RegistryError):
    """The registry is exposed for reading only."""


class InstanceError(RegistryError):
    """The instance cannot be used: not connected, unknown name, unreachable, or not a LaminDB database."""


class MissingDependencyError(RegistryError, ImportError):
    """An optional library the call needs is not installed (pandas for ``to_dataframe``)."""


class ValidationError(InvalidArgument):
    """A value the field cannot hold (``is_latest="maybe"``, ``created_at="soon"``), as Django refuses it."""


class InvalidPattern(RegistryError, ValueError):
    """A ``regex``/``iregex`` pattern that does not compile."""


class QueryTimeout(RegistryError, TimeoutError):
    """Regular-expression matching ran past the deadline the instance was opened with."""


class StaleDataError(RegistryError):
    """The instance was last brought in step with the hub longer ago than ``max_staleness`` allows."""


class ArgumentTypeError(InvalidArgument, TypeError):
    """A value of a type the lookup cannot take (``id__in=3``, ``created_at__gt=3``), a TypeError."""


class NotSupportedError(RegistryError):
    """A lookup LaminDB's database backend does not offer either (JSON ``contains`` on SQLite)."""


def from_store(exc: InstanceUnreachableError | QueryError) -> RegistryError:
    """The registry's error for one a database adapter of the store raised, with the same message."""
    if isinstance(exc, PatternTimeout):
        return QueryTimeout(
            f"the regular expression {exc.pattern!r} ran past the registry's regex deadline of "
            f"{exc.seconds} s; simplify the pattern (nested repetition such as (a+)+ backtracks "
            "exponentially) or raise regex_timeout in connect()")
    if isinstance(exc, PatternError):
        return InvalidPattern(str(exc))
    if isinstance(exc, UnsupportedQuery):
        return NotSupportedError(str(exc))
    if isinstance(exc, InstanceUnreachableError):
        return InstanceError(str(exc))
    return RegistryError(str(exc))  # a query error the registry has no class of its own for
