"""Who is writing: the replica id recorded with each pull and shown to PostgreSQL.

Several ``syncd serve`` replicas may share instances; each instance records
which replica last brought it in step (:mod:`syncd.store.freshness`), and a
PostgreSQL session carries the id as its ``application_name``, so
``pg_stat_activity`` and ``pg_locks`` tell which replica holds which instance.
"""

from __future__ import annotations

import os
import re
import socket

__all__ = ["application_name", "default_replica_id"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:@-]")


def default_replica_id() -> str:
    """``host:pid``: unique among live replicas, and the pod name on Kubernetes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def application_name(replica: str) -> str:
    """PostgreSQL's ``application_name`` for this replica (printable ASCII, at most 63 bytes)."""
    return ("syncd " + _UNSAFE.sub("_", replica))[:63]
