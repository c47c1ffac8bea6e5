"""Regular expressions that run in Python, with a deadline: a backtracking pattern cannot hang a query.

SQLite has no regular expressions of its own; its adapter registers
:func:`regexp` on every registry connection as ``syncd_regexp(pattern, value)``.
A pattern is checked with Python's :mod:`re` (the syntax LaminDB's SQLite
backend uses), then matched with the :mod:`regex` engine, which takes a
timeout: every match of one query shares the deadline that :func:`deadline`
(or :func:`start`) sets for it. A pattern that does not compile
(:class:`~syncd.errors.PatternError`), or a query whose matching runs past its
deadline (:class:`~syncd.errors.PatternTimeout`), makes the function fail; the
database only reports "user-defined function raised exception", so
:func:`failure` keeps the error for the caller to raise instead.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

import regex

from syncd.errors import PatternError, PatternTimeout, QueryError

__all__ = ["deadline", "failure", "regexp", "start", "stop"]

_local = threading.local()


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> regex.Pattern[str]:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PatternError(f"invalid regular expression {pattern!r}: {exc}") from None
    return regex.compile(pattern, flags=regex.VERSION0)


def start(seconds: float, clock: Callable[[], float]) -> None:
    """From now on regex matching in this thread must end within ``seconds`` (by ``clock``)."""
    _local.deadline, _local.clock, _local.limit, _local.failure = clock() + seconds, clock, seconds, None


def stop() -> None:
    """Regex matching in this thread is no longer bounded."""
    _local.deadline = None


@contextmanager
def deadline(seconds: float, clock: Callable[[], float]) -> Iterator[None]:
    """Regex matching in this thread must end within ``seconds`` (by ``clock``) until the block ends."""
    start(seconds, clock)
    try:
        yield
    finally:
        stop()


def failure() -> QueryError | None:
    """The error that made :func:`regexp` fail in this thread since the last :func:`start`, if it did."""
    found: QueryError | None = getattr(_local, "failure", None)
    return found


def regexp(pattern: str | None, value: object) -> bool | None:
    """``value`` matches ``pattern`` somewhere (``re.search``); NULL in, NULL out, as Django's REGEXP."""
    if pattern is None or value is None:
        return None
    try:
        compiled = _compiled(pattern)
        end: float | None = getattr(_local, "deadline", None)
        if end is None:
            return compiled.search(str(value)) is not None
        left = end - _local.clock()
        if left <= 0:
            raise TimeoutError
        return compiled.search(str(value), timeout=left) is not None
    except PatternError as exc:
        _local.failure = exc
        raise
    except TimeoutError:
        _local.failure = PatternTimeout(pattern, _local.limit)
        raise _local.failure from None
