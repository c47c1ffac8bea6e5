"""Python's cyclic garbage collector during ``syncd run-once``.

A full sync allocates millions of short-lived objects (hub rows, validated
rows, statement parameters), so the collector runs often, and every third
level of its passes walks every object the process holds, with the GIL held
and every thread stopped. Most of those objects are what the imports made
(SQLAlchemy's, psycopg's, httpx's), which live as long as the process:
freezing them (``gc.freeze``) takes them out of those full passes
(docs/benchmarks.md).

:func:`imports_frozen` freezes what exists when the run starts and unfreezes
it when the run ends, so a process that goes on (a test runner, a program
calling :func:`syncd.cli.main`) gets its objects back into collection. A
process that froze objects itself (before forking workers, say) is left as
it is: its freeze is neither extended nor undone.

:func:`fewer_passes` makes the youngest generation's passes rarer for the
run. With Python's default of a pass per 700 new container objects, a large
load makes hundreds of young passes, with the GIL held; most of what they
walked (a page's rows) was freed by reference counting soon after. What is really
cyclic garbage is still collected, only later: the middle and full passes,
counted in young ones, become rarer by the same factor. The largest such garbage was
httpx's response, which held its page's body; the hub client now reads the
body outside it (``HubClient._receive``); without that, the rarer passes
would have let such bodies pile up and raised the load's peak memory.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["YOUNG_THRESHOLD", "fewer_passes", "imports_frozen"]

YOUNG_THRESHOLD = 10_000
"""New container objects per young-generation pass during a run (Python's default: 700)."""


@contextlib.contextmanager
def imports_frozen() -> Iterator[int]:
    """Within the block, the objects that exist now are left out of collection; yields how many.

    Does nothing (and yields 0) when the process has frozen objects already.
    """
    if gc.get_freeze_count():
        yield 0
        return
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def fewer_passes(threshold: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Within the block, a young-generation pass per ``threshold`` new objects at most.

    A process that set a higher threshold keeps it; the thresholds in force
    before the block are restored after it, unless code inside the block set
    others (those are kept).
    """
    before = gc.get_threshold()
    if before[0] == 0 or before[0] >= threshold:  # 0: the process turned automatic passes off
        yield
        return
    ours = (threshold, *before[1:])
    gc.set_threshold(*ours)
    try:
        yield
    finally:
        if gc.get_threshold() == ours:
            gc.set_threshold(*before)
