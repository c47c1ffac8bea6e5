"""What one instance may keep in memory: a share of its group's budget.

A group's instances are open at once, each on its own connection and thread,
so what each keeps adds up with their number. While a group has at most
:data:`ROOMY_GROUP` instances, each gets the most (8 MB of SQLite page cache,
SQLite bulk statements of 1,000 rows, pages applied four thousand rows at a
time, :mod:`syncd.store.batch`); a larger group's instances split 24 MB of page
cache (at least 0.5 MB each), keep statements of 250 rows and apply each page
as it comes. Measured with 50 SQLite instances in one process: the roomy
settings for every instance would take the peak past its target.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ROOMY", "ROOMY_GROUP", "MemoryShare", "share_of"]

ROOMY_GROUP = 3
_GROUP_CACHE_KIB, _MAX_CACHE_KIB, _MIN_CACHE_KIB = 24_000, 8_000, 500


@dataclass(frozen=True, slots=True)
class MemoryShare:
    """One instance's share; the default is a roomy one (a group of one)."""

    cache_kib: int = _MAX_CACHE_KIB
    """SQLite's page cache for the instance's connection."""
    roomy: bool = True
    """Large SQLite bulk statements, and pages held to be applied together."""


ROOMY = MemoryShare()
"""The share of an instance of a small group (the default)."""


def share_of(instances: int) -> MemoryShare:
    """The share of each instance of a group of ``instances``."""
    n = max(1, instances)
    return MemoryShare(max(_MIN_CACHE_KIB, min(_MAX_CACHE_KIB, _GROUP_CACHE_KIB // n)), n <= ROOMY_GROUP)
