"""LaminDB's query API over the instance databases syncd maintains, without Django.

::

    from syncd.registry import connect, Space, SpaceBlock, Q

    connect("sqlite:////var/lib/syncd/lab-a.db")
    Space.filter(Q(name__startswith="Lab") | Q(description__icontains="lab")).to_dataframe()
    SpaceBlock.get("0123456789abcdef")     # a stem: the latest version

Importing this package loads SQLAlchemy and syncd's table definitions only;
pandas is imported when a DataFrame is asked for.
"""

from __future__ import annotations

from syncd.registry.connection import Instance, connect, disconnect, freshness
from syncd.registry.errors import (
    ArgumentTypeError,
    DoesNotExist,
    FieldError,
    HubOwnedError,
    InstanceError,
    InvalidArgument,
    InvalidPattern,
    MissingDependencyError,
    MultipleObjectsReturned,
    NotSupportedError,
    QueryTimeout,
    ReadOnlyRegistryError,
    RegistryError,
    StaleDataError,
    ValidationError,
)
from syncd.registry.fields import FieldAttr
from syncd.registry.lookup import Lookup
from syncd.registry.q import Q
from syncd.registry.query import QuerySet
from syncd.registry.record import Record
from syncd.registry.registries import Branch, FeatureValue, JsonValue, Space, SpaceBlock, User
from syncd.registry.staleness import Freshness

__all__ = [
    "ArgumentTypeError",
    "Branch",
    "DoesNotExist",
    "FeatureValue",
    "FieldAttr",
    "FieldError",
    "Freshness",
    "HubOwnedError",
    "Instance",
    "InstanceError",
    "InvalidArgument",
    "InvalidPattern",
    "JsonValue",
    "Lookup",
    "MissingDependencyError",
    "MultipleObjectsReturned",
    "NotSupportedError",
    "Q",
    "QuerySet",
    "QueryTimeout",
    "ReadOnlyRegistryError",
    "Record",
    "RegistryError",
    "Space",
    "SpaceBlock",
    "StaleDataError",
    "User",
    "ValidationError",
    "connect",
    "disconnect",
    "freshness",
]
