"""The interpreter's thread switch interval, chosen by how many instances are written at once.

Writing one instance keeps two threads busy: the fetch thread decodes and
validates the next page (Python, holding the GIL), and the applying thread
makes a handful of database calls per page. Each call gives the GIL up while
SQLite or PostgreSQL works and then waits to get it back; with CPython's
default switch interval of 5 ms, every such wait can last up to 5 ms, and a
profile of a one-instance load showed the applying thread waiting for the
GIL about a fifth of its time. At 0.2 ms a 100,000-block load into one SQLite
instance took 3.06-3.78 s against 3.77-4.37 s (7 alternating pairs, every
pair faster; docs/benchmarks.md).

With several instances written at once the appliers are busy in Python
themselves, and switching that often cost more than it saved (2 SQLite + 1
PostgreSQL: slower in all 3 pairs at 0.2 ms, and at 0.5 and 1 ms too).
Switching less often did the opposite: at 50 ms the same load took
7.58-7.96 s against 7.87-8.45 s at the default 5 ms (4 rounds, faster in 3),
with less CPU in all, as fewer forced hand-overs leave each thread to run
until it gives the GIL up for the database; two SQLite instances were
unchanged (5.56-5.88 s against 5.40-5.88 s). It is a process-wide setting,
so it is chosen where the process starts, never inside the library: by
``syncd run-once``, which syncs its groups one after the other. ``syncd
serve`` keeps the default: it may sync several groups at once, a reload can
change how many instances there are, and its health endpoint should not
wait 50 ms for the GIL.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

__all__ = ["MANY_WRITERS_SECONDS", "ONE_WRITER_SECONDS", "switch_interval_for"]

ONE_WRITER_SECONDS = 0.0002
MANY_WRITERS_SECONDS = 0.05


@contextlib.contextmanager
def switch_interval_for(
    writers_at_once: int,
    *,
    get_interval: Callable[[], float] = sys.getswitchinterval,
    set_interval: Callable[[float], None] = sys.setswitchinterval,
) -> Iterator[float]:
    """Within the block, the switch interval suited to ``writers_at_once`` instances written at once.

    One (or none): :data:`ONE_WRITER_SECONDS`; more: :data:`MANY_WRITERS_SECONDS`.
    The previous interval is restored on the way out. Yields the interval in force.
    """
    previous = get_interval()
    chosen = ONE_WRITER_SECONDS if writers_at_once <= 1 else MANY_WRITERS_SECONDS
    set_interval(chosen)
    try:
        yield chosen
    finally:
        set_interval(previous)
