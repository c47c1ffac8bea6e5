"""Lookups (``__icontains``, ``__gte``, ``__year`` ...) as SQL.

Two sets of text rules (see ``docs/registry.md``). ``like=True`` (the default
on SQLite, what LaminDB does there) runs text lookups as SQLite's ``LIKE``
(:mod:`syncd.registry.likes`). Otherwise text matching is case-sensitive
unless the lookup starts with ``i``, and case-insensitive lookups fold Unicode:
what LaminDB does on PostgreSQL, and the database-independent rules an
instance opened with ``case_rules="portable"`` uses on SQLite too.
``code_points=True`` (portable rules) compares text in code-point order
(``COLLATE "C"`` on PostgreSQL) as SQLite does; otherwise PostgreSQL compares
in the database's collation, as LaminDB does there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import String, and_, cast, false
from sqlalchemy.sql.elements import ColumnElement

from syncd.registry.errors import ArgumentTypeError, FieldError, InvalidArgument
from syncd.registry.likes import like_lookup
from syncd.store.dialects import Dialect

__all__ = [
    "LOOKUPS",
    "TRANSFORMS",
    "apply_lookup",
    "apply_transform",
    "starts_with",
    "text_order",
]

LOOKUPS = (
    "exact", "iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith",
    "in", "gt", "gte", "lt", "lte", "isnull", "range", "regex", "iregex",
)
TRANSFORMS = ("year", "month", "day", "hour", "minute", "second", "week_day", "quarter", "date")

def apply_transform(expr: ColumnElement[Any], name: str, dialect: Dialect) -> ColumnElement[Any]:
    """A date part of a datetime column (``created_at__year``), computed in UTC."""
    return dialect.date_part(expr, name)


def text_order(expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any]:
    """Text compared in code-point order."""
    return dialect.text_order(expr)


def _as_text(expr: ColumnElement[Any], is_text: bool) -> ColumnElement[Any]:
    return expr if is_text else cast(expr, String)


def _contains(expr: ColumnElement[Any], value: str, dialect: Dialect) -> ColumnElement[bool]:
    return dialect.text_contains(expr, value)


def _startswith(expr: ColumnElement[Any], value: str, dialect: Dialect) -> ColumnElement[bool]:
    if not value:
        return expr.is_not(None)
    return dialect.text_startswith(expr, value)


def starts_with(expr: ColumnElement[Any], value: str, dialect: Dialect) -> ColumnElement[bool]:
    """``expr`` starts with ``value``, case-sensitively, as the ``startswith`` lookup matches."""
    return _startswith(expr, value, dialect)


def _endswith(expr: ColumnElement[Any], value: str, dialect: Dialect) -> ColumnElement[bool]:
    if not value:
        return expr.is_not(None)
    return dialect.text_endswith(expr, value)


_TEXT_MATCH = {"contains": _contains, "startswith": _startswith, "endswith": _endswith}


def _folded(expr: ColumnElement[Any], kind: str, value: str, dialect: Dialect) -> ColumnElement[bool]:
    """Case-insensitive match (Unicode case folding) of ``kind`` in contains/startswith/endswith/exact."""
    if kind == "exact":
        exact: ColumnElement[bool] = dialect.fold(expr) == value
        slow = exact
    else:
        slow = _TEXT_MATCH[kind](dialect.fold(expr), value, dialect)
    return dialect.folded_match(expr, kind, value, slow)


def _text_lookup(
    expr: ColumnElement[Any], lookup: str, value: Any, dialect: Dialect, is_text: bool, like: bool,
    code_points: bool = True,
) -> ColumnElement[bool]:
    if value is None:
        raise InvalidArgument(f"__{lookup} does not accept None; use __isnull=True")
    text = str(value)
    if like:
        return like_lookup(expr, lookup, text)
    expr = _as_text(expr, is_text)
    if not code_points:
        # the database's own rules, as Django compiles them there (PostgreSQL's; SQLite has none)
        native = dialect.database_text_lookup(expr, lookup, text)
        if native is not None:
            return native
    if lookup.startswith("i"):
        return _folded(expr, lookup[1:], text.lower(), dialect)
    return _TEXT_MATCH[lookup](expr, text, dialect)


def _regex(
    expr: ColumnElement[Any], lookup: str, value: Any, dialect: Dialect, is_text: bool, like: bool,
) -> ColumnElement[bool]:
    if not isinstance(value, str):
        raise InvalidArgument(f"__{lookup} takes a regular expression string, not {type(value).__name__}")
    if like:  # Django's rule on SQLite: iregex is regex with (?i) in front of the pattern
        return dialect.regex(expr, "(?i)" + value if lookup == "iregex" else value, case_sensitive=True)
    return dialect.regex(_as_text(expr, is_text), value, case_sensitive=lookup != "iregex")


def _sequence(value: Any, lookup: str) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"__{lookup} takes a list of values, not {type(value).__name__}")
    return list(value)


def _unchanged(value: Any) -> Any:
    return value


def apply_lookup(
    expr: ColumnElement[Any], lookup: str, value: Any, *, dialect: Dialect, is_text: bool,
    prep: Callable[[Any], Any] = _unchanged, like: bool = False, code_points: bool = True,
) -> ColumnElement[bool]:
    """The SQL condition ``expr <lookup> value``; ``like``: SQLite's LIKE rules, as LaminDB matches there."""
    if lookup == "isnull":
        if not isinstance(value, bool):
            raise InvalidArgument(
                f"The QuerySet value for an isnull lookup must be True or False, not {value!r}.")
        return expr.is_(None) if value else expr.is_not(None)
    if lookup in ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"):
        return _text_lookup(expr, lookup, value, dialect, is_text, like, code_points)
    if lookup in ("regex", "iregex"):
        return _regex(expr, lookup, value, dialect, is_text, like)
    if lookup == "iexact":
        if value is None:
            return expr.is_(None)
        if like:
            return like_lookup(expr, lookup, str(value))
        text = _as_text(expr, is_text)
        native = None if code_points else dialect.database_text_lookup(text, lookup, str(value))
        return native if native is not None else _folded(text, "exact", str(value).lower(), dialect)
    return _comparison(expr, lookup, value, dialect=dialect, is_text=is_text and code_points, coerce=prep)


def _comparison(
    expr: ColumnElement[Any], lookup: str, value: Any, *, dialect: Dialect, is_text: bool,
    coerce: Callable[[Any], Any],
) -> ColumnElement[bool]:
    ordered = dialect.text_order(expr) if is_text else expr
    if lookup == "exact":
        return expr.is_(None) if value is None else expr == coerce(value)
    if lookup == "in":
        values = [coerce(v) for v in _sequence(value, lookup) if v is not None]
        return expr.in_(values) if values else false()
    if lookup == "range":
        bounds = _sequence(value, lookup)
        if len(bounds) != 2:
            raise InvalidArgument("__range takes exactly two values (low, high)")
        return and_(ordered >= coerce(bounds[0]), ordered <= coerce(bounds[1]))
    if value is None:
        raise InvalidArgument(f"Cannot use None as a query value (__{lookup})")
    bound = coerce(value)
    result: ColumnElement[bool]
    if lookup == "gt":
        result = ordered > bound
    elif lookup == "gte":
        result = ordered >= bound
    elif lookup == "lt":
        result = ordered < bound
    elif lookup == "lte":
        result = ordered <= bound
    else:
        raise FieldError(f"Unsupported lookup '{lookup}'. Valid lookups: {', '.join(LOOKUPS)}")
    return result



