"""Text lookups as LaminDB (through Django) runs them on SQLite: ``LIKE``, which folds ASCII case only.

On SQLite Django turns ``contains``, ``startswith``, ``endswith`` and their
``i`` forms, and ``iexact``, into ``LIKE ... ESCAPE '\\'``. SQLite's ``LIKE``
ignores the case of ASCII letters and compares every other character exactly,
so ``contains='lab'`` finds "Lab A" and ``iexact='école'`` does not find
"ÉCOLE". ``regex`` and ``iregex`` run Python regular expressions (``iregex``
prefixes ``(?i)``), with a deadline (see :mod:`syncd.registry.regex`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["like_escape", "like_lookup", "like_pattern", "pg_lookup", "regex_lookup"]

_PATTERNS = {"exact": "{}", "contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}


def like_escape(value: str) -> str:
    """``value`` with the LIKE wildcards and the escape character escaped, as Django escapes them."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(kind: str, value: str) -> str:
    """The LIKE pattern of ``kind`` (exact, contains, startswith, endswith) for ``value``."""
    return _PATTERNS[kind].format(like_escape(value))


def like_lookup(expr: ColumnElement[Any], lookup: str, value: str) -> ColumnElement[bool]:
    """``expr LIKE pattern ESCAPE '\\'`` for a text lookup (``iexact`` is an exact-pattern LIKE)."""
    kind = lookup[1:] if lookup.startswith("i") else lookup
    matched: ColumnElement[bool] = expr.like(like_pattern(kind, value), escape="\\")
    return matched


def regex_lookup(expr: ColumnElement[Any], lookup: str, value: str) -> ColumnElement[bool]:
    """The SQLite ``syncd_regexp`` function (Python's syntax), ``(?i)`` prefixed for ``iregex``."""
    from sqlalchemy import func

    pattern = "(?i)" + value if lookup == "iregex" else value
    called: ColumnElement[bool] = func.syncd_regexp(literal(pattern), expr) == 1
    return called


def pg_lookup(expr: ColumnElement[Any], lookup: str, value: str) -> ColumnElement[bool]:
    """A text lookup as Django compiles it for PostgreSQL (LaminDB's SQL there).

    ``contains``/``startswith``/``endswith``: ``LIKE`` (case-sensitive); their ``i`` forms:
    ``UPPER(x) LIKE UPPER(pattern)``; ``iexact``: ``UPPER(x) = UPPER(value)``.
    """
    from sqlalchemy import func

    if lookup == "iexact":
        folded: ColumnElement[bool] = func.upper(expr) == func.upper(literal(value))
        return folded
    kind = lookup[1:] if lookup.startswith("i") else lookup
    pattern = like_pattern(kind, value)
    if kind == lookup:
        matched: ColumnElement[bool] = expr.like(pattern, escape="\\")
        return matched
    upper: ColumnElement[bool] = func.upper(expr).like(func.upper(literal(pattern)), escape="\\")
    return upper
