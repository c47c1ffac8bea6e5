"""The registry's half of the SQLite adapter: LaminDB's lookups as Django compiles them for SQLite.

Text is compared by code point; ``LIKE`` folds ASCII case only. Unicode case
folding and regular expressions run in Python functions registered on each
registry connection (:func:`register_functions`): ``syncd_lower``,
``syncd_regexp`` and ``syncd_iregexp``, the last two with the deadline the
registry sets for each query (:mod:`syncd.store.dialects.regexp`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, String, and_, cast, func, literal, or_, type_coerce

from syncd.errors import UnsupportedQuery
from syncd.store.dialects.likes import like_escape, like_pattern

__all__ = ["SQLiteLookups", "register_functions"]

_PARTS = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M", "second": "%S"}
# the only characters outside ASCII whose lower case holds ASCII letters: U+0130 (İ) and U+212A (KELVIN SIGN)
_LOWERS_TO_ASCII = ("\u0130", "\u212a")


def _lower(value: object) -> str | None:
    return None if value is None else str(value).lower()


def register_functions(dbapi_connection: sqlite3.Connection) -> None:
    """Add the registry's SQL functions to a SQLite connection."""
    # the regex engine is loaded with the first registry connection: a sync never needs it
    from syncd.store.dialects import regexp

    def iregexp(pattern: str | None, value: object) -> bool | None:
        return regexp.regexp(None if pattern is None else "(?i)" + pattern, value)

    # SQLite's own lower() and LIKE fold ASCII only; these make portable i-lookups fold Unicode too
    dbapi_connection.create_function("syncd_lower", 1, _lower, deterministic=True)
    dbapi_connection.create_function("syncd_regexp", 2, regexp.regexp, deterministic=True)
    dbapi_connection.create_function("syncd_iregexp", 2, iregexp, deterministic=True)


class SQLiteLookups:
    """The registry's methods of :class:`~syncd.store.dialects.sqlite.SQLite`."""

    like_folds_case = True
    bounds_text_length = False
    python_regex = True

    def date_part(self, expr: ColumnElement[Any], name: str) -> ColumnElement[Any]:
        if name == "date":
            return func.date(expr)
        if name == "week_day":
            return cast(func.strftime("%w", expr), Integer) + 1
        if name == "quarter":
            return (cast(func.strftime("%m", expr), Integer) + 2) / 3
        return cast(func.strftime(_PARTS[name], expr), Integer)

    def date_value(self, moment: datetime) -> Any:
        return moment.date().isoformat()

    def raw_datetime(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return type_coerce(expr, String)  # stored UTC text, parsed in bulk by pandas

    def boolean_filter(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(expr, Integer)  # keeps SQLite's planner off the (useless) index of a boolean column

    def text_order(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr  # SQLite compares text by code point (BINARY)

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.syncd_lower(expr)

    def text_contains(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        return func.instr(expr, value) > 0

    def text_startswith(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        last = ord(value[-1])
        if last >= 0x10FFFF or 0xD7FF <= last <= 0xDFFF:
            return func.substr(expr, 1, len(value)) == value
        # an index-friendly range, exact when the last character has a successor
        upper = value[:-1] + chr(last + 1)
        return and_(expr >= value, expr < upper)

    def text_endswith(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        return func.substr(expr, -len(value)) == value

    def folded_match(
        self, expr: ColumnElement[Any], kind: str, value: str, slow: ColumnElement[bool]
    ) -> ColumnElement[bool]:
        if not value.isascii():
            return slow
        # SQLite's LIKE folds ASCII case in C, which for an ASCII needle finds exactly what Unicode folding
        # finds, except in text holding a character that lower-cases to ASCII: that text takes the slow path
        like = expr.like(like_pattern(kind, value), escape="\\")
        special = or_(*(func.instr(expr, c) > 0 for c in _LOWERS_TO_ASCII))
        return or_(like, and_(special, slow))

    def database_text_lookup(
        self, expr: ColumnElement[Any], lookup: str, text: str
    ) -> ColumnElement[bool] | None:
        return None  # LaminDB's SQLite rules are LIKE's (registry.likes), chosen by the instance

    def regex(self, expr: ColumnElement[Any], pattern: str, *, case_sensitive: bool) -> ColumnElement[bool]:
        name = "syncd_regexp" if case_sensitive else "syncd_iregexp"
        called: ColumnElement[bool] = getattr(func, name)(literal(pattern), expr) == 1
        return called

    def search_iexact(self, expr: ColumnElement[Any], string: str) -> ColumnElement[bool]:
        return expr.like(like_escape(string), escape="\\")

    def search_contains(
        self, expr: ColumnElement[Any], pattern: str, *, case_sensitive: bool
    ) -> ColumnElement[bool]:
        return expr.like(pattern, escape="\\")  # ASCII case folded either way, as LaminDB's

    def json_equal(self, expr: ColumnElement[Any], encoded: str) -> ColumnElement[bool]:
        equal: ColumnElement[bool] = func.json_extract(type_coerce(expr, String), "$") == func.json_extract(
            encoded, "$")
        return equal

    def json_contains(self, expr: ColumnElement[Any], encoded: str) -> ColumnElement[bool]:
        raise UnsupportedQuery("contains lookup is not supported on this database backend.")

    def count_like_sql(self, table: str, column: str, lookup: str, index: str | None) -> str | None:
        hint = ' INDEXED BY "{}"'.format(index.replace('"', '""')) if index else ""
        return f'SELECT count(*) FROM "{table}"{hint} WHERE "{column}" LIKE ? ESCAPE \'\\\''  # noqa: S608

    def single_column_indexes(self, conn: Connection, table: str) -> Iterator[tuple[str, str]]:
        for row in conn.exec_driver_sql(f'PRAGMA index_list("{table}")').all():
            name = str(row[1])
            columns = conn.exec_driver_sql(f'PRAGMA index_info("{name}")').all()
            if len(columns) == 1 and columns[0][2] is not None:
                yield str(columns[0][2]), name
