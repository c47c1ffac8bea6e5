"""Errors of the read library, all under :class:`syncd.errors.RegistryError`.

::

    RegistryError
    ├── DoesNotExist             get() matched nothing (also ``Space.DoesNotExist`` ...)
    ├── MultipleObjectsReturned  get() or one() matched more than one record
    ├── FieldError               unknown field or lookup, malformed query (also a ValueError)
    ├── InvalidArgument          an argument LaminDB rejects too, e.g. ``delete(permanent=False)``
    ├── HubOwnedError            save()/delete() of a row the hub owns (also a PermissionError)
    ├── ReadOnlyRegistryError    save()/delete() on a read-only registry such as FeatureValue
    ├── InstanceError            no connection, unknown instance name, unreachable or non-LaminDB database
    └── MissingDependencyError   an optional library is not installed (also an ImportError)
"""

from __future__ import annotations

from syncd.errors import RegistryError

__all__ = [
    "DoesNotExist",
    "FieldError",
    "HubOwnedError",
    "InstanceError",
    "InvalidArgument",
    "MissingDependencyError",
    "MultipleObjectsReturned",
    "ReadOnlyRegistryError",
    "RegistryError",
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
