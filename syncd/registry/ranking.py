"""LaminDB's search ranking as the SQL LaminDB sends, so that the database orders ties as it does for LaminDB.

For each searched field ``f`` (as text, NULL as ''), with the stripped string
``s``: 200 for ``f`` equal to ``s``, 200 for ``s`` as an exact ``|``-separated
synonym, 10 for ``s`` as a phrase between separators (space ``|`` ``.`` ``,``
``;`` ``:``), 8 for a synonym starting with ``s``, 2 for ``s`` starting after a
space or ``|``, 2 for ``s`` ending before a separator, 1 for containing ``s``.
Candidates contain ``s`` in some field; they are ordered by the summed score
only, so ties come in whatever order the database returns them.

The comparisons are the ones LaminDB's lookups compile to: on SQLite ``=``,
``LIKE`` (ASCII case folded, so ``case_sensitive=True`` still matches ``LAB``
to "Lab" for the contains part) and Python regular expressions; on PostgreSQL
``=``, ``UPPER(..) = UPPER(..)``, ``LIKE`` and ``~``/``~*``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Integer, Text, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

from syncd.registry.likes import like_pattern
from syncd.store.dialects import Dialect

__all__ = ["contains", "rank_terms"]


def _regex(
    expr: ColumnElement[Any], pattern: str, dialect: Dialect, case_sensitive: bool,
) -> ColumnElement[bool]:
    return dialect.regex(expr, pattern, case_sensitive=case_sensitive)


def _exact(
    expr: ColumnElement[Any], string: str, dialect: Dialect, case_sensitive: bool,
) -> ColumnElement[bool]:
    if case_sensitive:
        return expr == literal(string)
    return dialect.search_iexact(expr, string)


def contains(
    expr: ColumnElement[Any], string: str, dialect: Dialect, case_sensitive: bool,
) -> ColumnElement[bool]:
    """LaminDB's contains test of one field (``Contains``/``IContains`` as Django compiles them)."""
    return dialect.search_contains(expr, like_pattern("contains", string), case_sensitive=case_sensitive)


def field_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The field as LaminDB searches it: cast to text, NULL as the empty string."""
    return func.coalesce(cast(column, Text), literal(""))


def rank_terms(
    column: ColumnElement[Any], string: str, dialect: Dialect, case_sensitive: bool,
) -> list[ColumnElement[Any]]:
    """The weighted terms one field adds to a record's score."""
    expr = field_text(column)
    s = re.escape(string)
    weighted: list[tuple[ColumnElement[bool], int]] = [
        (_exact(expr, string, dialect, case_sensitive), 200),
        (_regex(expr, rf"(?:^|.*\|){s}(?:\|.*|$)", dialect, case_sensitive), 200),
        (_regex(expr, rf"(?:^|.*[ \|\.,;:]){s}(?:[ \|\.,;:].*|$)", dialect, case_sensitive), 10),
        (_regex(expr, rf"(?:^|.*\|){s}[^ ]*(?:\|.*|$)", dialect, case_sensitive), 8),
        (_regex(expr, rf"(?:^|.*[ \|]){s}.*", dialect, case_sensitive), 2),
        (_regex(expr, rf".*{s}(?:$|[ \|\.,;:].*)", dialect, case_sensitive), 2),
        (contains(expr, string, dialect, case_sensitive), 1),
    ]
    return [cast(term, Integer) * weight for term, weight in weighted]
