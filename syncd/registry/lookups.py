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

from sqlalchemy import Date, Integer, String, and_, cast, false, func, literal, or_
from sqlalchemy.sql.elements import ColumnElement

from syncd.registry.errors import ArgumentTypeError, FieldError, InvalidArgument
from syncd.registry.likes import like_lookup, pg_lookup, regex_lookup

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

_SQLITE_PARTS = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M", "second": "%S"}
_PG_PARTS = {name: name for name in ("year", "month", "day", "hour", "minute", "second")}


def apply_transform(expr: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[Any]:
    """A date part of a datetime column (``created_at__year``), computed in UTC."""
    if dialect == "sqlite":
        if name == "date":
            return func.date(expr)
        if name == "week_day":
            return cast(func.strftime("%w", expr), Integer) + 1
        if name == "quarter":
            return (cast(func.strftime("%m", expr), Integer) + 2) / 3
        return cast(func.strftime(_SQLITE_PARTS[name], expr), Integer)
    utc = func.timezone("UTC", expr)
    if name == "date":
        return cast(utc, Date)
    if name == "week_day":
        return cast(func.extract("dow", utc), Integer) + 1
    if name == "quarter":
        return cast(func.extract("quarter", utc), Integer)
    return cast(func.floor(func.extract(_PG_PARTS[name], utc)), Integer)


def text_order(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    return expr.collate("C") if dialect == "postgresql" else expr


def _fold(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    return func.syncd_lower(expr) if dialect == "sqlite" else func.lower(expr)


def _as_text(expr: ColumnElement[Any], is_text: bool) -> ColumnElement[Any]:
    return expr if is_text else cast(expr, String)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_LIKE_PATTERNS = {"contains": "%{}%", "startswith": "{}%", "endswith": "%{}", "exact": "{}"}
# the only characters outside ASCII whose lower case holds ASCII letters: U+0130 (İ) and U+212A (KELVIN SIGN)
_LOWERS_TO_ASCII = ("\u0130", "\u212a")


def _prefix_range(expr: ColumnElement[Any], value: str, dialect: str) -> ColumnElement[bool] | None:
    """``expr`` starts with ``value`` as an index-friendly range, when the range is exact."""
    last = ord(value[-1])
    if last >= 0x10FFFF or 0xD7FF <= last <= 0xDFFF:
        return None
    upper = value[:-1] + chr(last + 1)
    ordered = text_order(expr, dialect)
    return and_(ordered >= value, ordered < upper)


def _contains(expr: ColumnElement[Any], value: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        return func.instr(expr, value) > 0
    return func.strpos(expr, value) > 0


def _startswith(expr: ColumnElement[Any], value: str, dialect: str) -> ColumnElement[bool]:
    if not value:
        return expr.is_not(None)
    if dialect == "postgresql":
        # matches the varchar_pattern_ops indexes LaminDB creates
        return expr.like(_like_escape(value) + "%", escape="\\")
    ranged = _prefix_range(expr, value, dialect)
    return ranged if ranged is not None else func.substr(expr, 1, len(value)) == value


def starts_with(expr: ColumnElement[Any], value: str, dialect: str) -> ColumnElement[bool]:
    """``expr`` starts with ``value``, case-sensitively, as the ``startswith`` lookup matches."""
    return _startswith(expr, value, dialect)


def _endswith(expr: ColumnElement[Any], value: str, dialect: str) -> ColumnElement[bool]:
    if not value:
        return expr.is_not(None)
    if dialect == "sqlite":
        return func.substr(expr, -len(value)) == value
    return func.right(expr, len(value)) == value


_TEXT_MATCH = {"contains": _contains, "startswith": _startswith, "endswith": _endswith}


def _folded(expr: ColumnElement[Any], kind: str, value: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive match (Unicode case folding) of ``kind`` in contains/startswith/endswith/exact."""
    if kind == "exact":
        exact: ColumnElement[bool] = _fold(expr, dialect) == value
        slow = exact
    else:
        slow = _TEXT_MATCH[kind](_fold(expr, dialect), value, "sqlite" if dialect == "sqlite" else dialect)
    if dialect != "sqlite" or not value.isascii():
        return slow
    # SQLite's LIKE folds ASCII case in C, which for an ASCII needle finds exactly what Unicode folding
    # finds, except in text holding a character that lower-cases to ASCII: that text takes the slow path
    like = expr.like(_LIKE_PATTERNS[kind].format(_like_escape(value)), escape="\\")
    special = or_(*(func.instr(expr, c) > 0 for c in _LOWERS_TO_ASCII))
    return or_(like, and_(special, slow))


def _text_lookup(
    expr: ColumnElement[Any], lookup: str, value: Any, dialect: str, is_text: bool, like: bool,
    django_pg: bool = False,
) -> ColumnElement[bool]:
    if value is None:
        raise InvalidArgument(f"__{lookup} does not accept None; use __isnull=True")
    text = str(value)
    if like:
        return like_lookup(expr, lookup, text)
    expr = _as_text(expr, is_text)
    if django_pg:
        return pg_lookup(expr, lookup, text)
    if lookup.startswith("i"):
        return _folded(expr, lookup[1:], text.lower(), dialect)
    return _TEXT_MATCH[lookup](expr, text, dialect)


def _regex(
    expr: ColumnElement[Any], lookup: str, value: Any, dialect: str, is_text: bool, like: bool,
) -> ColumnElement[bool]:
    if not isinstance(value, str):
        raise InvalidArgument(f"__{lookup} takes a regular expression string, not {type(value).__name__}")
    if like:
        return regex_lookup(expr, lookup, value)
    expr = _as_text(expr, is_text)
    if dialect == "sqlite":
        name = "syncd_iregexp" if lookup == "iregex" else "syncd_regexp"
        called: ColumnElement[bool] = getattr(func, name)(literal(value), expr) == 1
        return called
    matched: ColumnElement[bool] = expr.op("~*" if lookup == "iregex" else "~")(value)
    return matched


def _sequence(value: Any, lookup: str) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"__{lookup} takes a list of values, not {type(value).__name__}")
    return list(value)


def _unchanged(value: Any) -> Any:
    return value


def apply_lookup(
    expr: ColumnElement[Any], lookup: str, value: Any, *, dialect: str, is_text: bool,
    prep: Callable[[Any], Any] = _unchanged, like: bool = False, code_points: bool = True,
) -> ColumnElement[bool]:
    """The SQL condition ``expr <lookup> value``; ``like``: SQLite's LIKE rules, as LaminDB matches there."""
    if lookup == "isnull":
        if not isinstance(value, bool):
            raise InvalidArgument(
                f"The QuerySet value for an isnull lookup must be True or False, not {value!r}.")
        return expr.is_(None) if value else expr.is_not(None)
    if lookup in ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"):
        return _text_lookup(expr, lookup, value, dialect, is_text, like,
                            django_pg=dialect == "postgresql" and not code_points)
    if lookup in ("regex", "iregex"):
        return _regex(expr, lookup, value, dialect, is_text, like)
    if lookup == "iexact":
        if value is None:
            return expr.is_(None)
        if like:
            return like_lookup(expr, lookup, str(value))
        if dialect == "postgresql" and not code_points:
            return pg_lookup(_as_text(expr, is_text), lookup, str(value))
        return _folded(_as_text(expr, is_text), "exact", str(value).lower(), dialect)
    return _comparison(expr, lookup, value, dialect=dialect, is_text=is_text and code_points, coerce=prep)


def _comparison(
    expr: ColumnElement[Any], lookup: str, value: Any, *, dialect: str, is_text: bool,
    coerce: Callable[[Any], Any],
) -> ColumnElement[bool]:
    ordered = text_order(expr, dialect) if is_text else expr
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



