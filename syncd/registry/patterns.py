"""Regular expressions on SQLite, with a deadline: a pattern that backtracks without end cannot hang a query.

SQLite has no regular expressions of its own; the registry registers
``syncd_regexp(pattern, value)`` on every connection. A pattern is checked with
Python's :mod:`re` (the syntax LaminDB's SQLite backend uses), then matched with
the :mod:`regex` engine, which takes a timeout: every match of one query shares
the deadline that :func:`deadline` sets for it. A pattern that does not compile,
or a query whose matching runs past its deadline, makes the function fail;
:func:`failure` then tells the registry which error to raise instead of SQLite's
"user-defined function raised exception".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

import regex

from syncd.registry.errors import InvalidPattern, QueryTimeout, RegistryError

__all__ = ["deadline", "failure", "regexp", "start", "stop"]

_local = threading.local()


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> regex.Pattern[str]:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidPattern(f"invalid regular expression {pattern!r}: {exc}") from None
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


def failure() -> RegistryError | None:
    """The error that made ``syncd_regexp`` fail in this thread's last query, if it did."""
    found: RegistryError | None = getattr(_local, "failure", None)
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
    except InvalidPattern as exc:
        _local.failure = exc
        raise
    except TimeoutError:
        _local.failure = QueryTimeout(
            f"the regular expression {pattern!r} ran past the registry's regex deadline of "
            f"{_local.limit} s; simplify the pattern (nested repetition such as (a+)+ backtracks "
            "exponentially) or raise regex_timeout in connect()")
        raise _local.failure from None
