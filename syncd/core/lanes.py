"""Each instance of a group applies its pages in order, on a thread of its own (see :class:`Lanes`)."""

from __future__ import annotations

import collections
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, ParamSpec, Protocol, TypeVar

__all__ = ["AHEAD_PAGES", "HOLD_FOR_NEXT_PAGE_SECONDS", "Lanes", "in_context"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Alive(Protocol):
    alive: bool


M = TypeVar("M", bound=_Alive)

# how long an instance's open transaction may wait for the next page before it is committed
HOLD_FOR_NEXT_PAGE_SECONDS = 0.25
# how many pages an instance may trail the fetch by (see Lanes)
AHEAD_PAGES = 3


def in_context(work: Callable[_P, _R]) -> Callable[_P, _R]:
    """``work`` to run in another thread with a copy of this thread's context variables.

    Worker threads do not inherit them, and the log context (run id, group)
    that the caller bound lives there.
    """
    context = contextvars.copy_context()

    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return context.run(work, *args, **kwargs)

    return run


class Lanes(Generic[M]):
    """Each instance applies its pages in order, on a thread of its own.

    An instance may trail the fetch by up to ``ahead`` pages, so a fast
    instance no longer waits for the slowest one on every page (a page stays
    in memory until the slowest instance has applied it). :meth:`drain` waits
    until every lane is empty; it comes before anything else that uses an
    instance's connection (commit, cursor, parked rows, listing); :meth:`commit_all`
    is a drain that ends with every lane committing, in parallel.

    While the fetch waits on a lane that is full for more than
    ``hold_seconds``, every other lane commits what it has applied (``commit``
    runs as a task of that lane): no instance holds its write lock while it
    waits for another instance, just as none does while waiting for the hub.
    """

    def __init__(
        self,
        members: list[M],
        commit: Callable[[M], None],
        *,
        ahead: int = AHEAD_PAGES,
        hold_seconds: float = HOLD_FOR_NEXT_PAGE_SECONDS,
    ) -> None:
        self._members = list(members)
        self._commit = commit
        self._ahead = ahead
        self._hold = hold_seconds
        self._pools = {
            id(m): ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"syncd-apply-{n}")
            for n, m in enumerate(members)
        }
        self._queued: dict[int, collections.deque[Future[None]]] = {
            id(m): collections.deque() for m in members
        }

    def _enqueue(self, member: M, work: Callable[[], None]) -> None:
        self._queued[id(member)].append(self._pools[id(member)].submit(in_context(work)))

    def submit(self, member: M, work: Callable[[], None]) -> None:
        queued = self._queued[id(member)]
        stalled = False
        while len(queued) >= self._ahead:
            try:
                queued[0].result(timeout=None if stalled else self._hold)
            except TimeoutError:
                stalled = True
                self._commit_others(member)
                continue
            queued.popleft()
        self._enqueue(member, work)

    def _commit_others(self, waiting_for: M) -> None:
        for m in self._members:
            queued = self._queued[id(m)]
            while queued and queued[0].done():
                queued.popleft().result()  # a lane's bug surfaces here, not later
            if m is not waiting_for and m.alive and len(queued) < self._ahead:
                self._enqueue(m, functools.partial(self._commit, m))

    def commit_all(self) -> None:
        """Every lane commits after the pages it holds, all lanes at once; returns when all have."""
        for m in self._members:
            if m.alive:
                self.submit(m, functools.partial(self._commit, m))
        self.drain()

    def drain(self) -> None:
        for queued in self._queued.values():
            while queued:
                queued.popleft().result()

    def __enter__(self) -> Lanes[M]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        # on the way out of an error too: pages already handed over are applied, then committed
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        failures = [e for q in self._queued.values() for f in q if (e := f.exception()) is not None]
        if failures and exc_type is None:
            raise failures[0]  # a lane's bug that nothing collected yet still ends the group
