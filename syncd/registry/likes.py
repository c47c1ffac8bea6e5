"""Text lookups as LaminDB (through Django) runs them on SQLite: ``LIKE``, which folds ASCII case only.

On SQLite Django turns ``contains``, ``startswith``, ``endswith`` and their
``i`` forms, and ``iexact``, into ``LIKE ... ESCAPE '\\'``. SQLite's ``LIKE``
ignores the case of ASCII letters and compares every other character exactly,
so ``contains='lab'`` finds "Lab A" and ``iexact='école'`` does not find
"ÉCOLE". ``regex`` and ``iregex`` run Python regular expressions (``iregex``
prefixes ``(?i)``) through the dialect's ``regex``, with a deadline (see
:mod:`syncd.store.dialects.regexp`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from syncd.store.dialects.likes import like_escape, like_pattern

__all__ = ["like_escape", "like_lookup", "like_pattern"]


def like_lookup(expr: ColumnElement[Any], lookup: str, value: str) -> ColumnElement[bool]:
    """``expr LIKE pattern ESCAPE '\\'`` for a text lookup (``iexact`` is an exact-pattern LIKE)."""
    kind = lookup[1:] if lookup.startswith("i") else lookup
    matched: ColumnElement[bool] = expr.like(like_pattern(kind, value), escape="\\")
    return matched


