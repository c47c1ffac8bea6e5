"""Engines for instance databases, configured the way syncd writes to them.

Each database's adapter (:mod:`syncd.store.dialects`) sets up its sessions:
SQLite's write lock, busy timeout and caches, PostgreSQL's planner costs and
session fencing.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from syncd.secrets import Secret
from syncd.store.dialects import EngineOptions, dialect_for
from syncd.store.dialects.postgresql import fence_session, price_random_reads_as_cached
from syncd.store.share import ROOMY, MemoryShare

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
    share: MemoryShare = ROOMY,
) -> Engine:
    """An engine for one instance database (SQLite or PostgreSQL).

    ``password`` (PostgreSQL) goes to the driver as a connection argument, so
    it is never part of the URL the engine shows. On PostgreSQL,
    ``application_name`` names the session (the replica, see
    :mod:`syncd.store.replica`) and ``session_timeout_seconds`` bounds how long
    the session may stay silent before the server ends it (see :func:`fence_session`).
    On SQLite, ``busy_timeout_seconds`` bounds the wait for the write lock and
    ``share`` what the connection may keep in memory (:mod:`syncd.store.share`).
    """
    parsed = make_url(url)
    options = EngineOptions(
        busy_timeout_seconds=busy_timeout_seconds,
        password=password,
        application_name=application_name,
        session_timeout_seconds=session_timeout_seconds,
        cache_kib=share.cache_kib,
        large_statements=share.roomy,
    )
    return dialect_for(parsed).instance_engine(parsed, options)
