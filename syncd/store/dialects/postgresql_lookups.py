"""The registry's half of the PostgreSQL adapter: LaminDB's lookups as Django compiles them for PostgreSQL.

Text compares in the database's collation unless code-point order is asked for
(``COLLATE "C"``); ``LIKE`` is case-sensitive, Django's case-insensitive
lookups compare ``UPPER()`` forms; regular expressions are ``~`` and ``~*``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, Integer, String, cast, func, literal, type_coerce

from syncd.store.dialects.likes import like_pattern

__all__ = ["PostgreSQLLookups"]

_PARTS = {name: name for name in ("year", "month", "day", "hour", "minute", "second")}


class PostgreSQLLookups:
    """The registry's methods of :class:`~syncd.store.dialects.postgresql.PostgreSQL`."""

    like_folds_case = False
    bounds_text_length = True
    python_regex = False

    def date_part(self, expr: ColumnElement[Any], name: str) -> ColumnElement[Any]:
        utc = func.timezone("UTC", expr)
        if name == "date":
            return cast(utc, Date)
        if name == "week_day":
            return cast(func.extract("dow", utc), Integer) + 1
        if name == "quarter":
            return cast(func.extract("quarter", utc), Integer)
        return cast(func.floor(func.extract(_PARTS[name], utc)), Integer)

    def date_value(self, moment: datetime) -> Any:
        return moment.date()

    def raw_datetime(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr

    def boolean_filter(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr

    def text_order(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr.collate("C")

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.lower(expr)

    def text_contains(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        return func.strpos(expr, value) > 0

    def text_startswith(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        # matches the varchar_pattern_ops indexes LaminDB creates
        return expr.like(like_pattern("startswith", value), escape="\\")

    def text_endswith(self, expr: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        return func.right(expr, len(value)) == value

    def folded_match(
        self, expr: ColumnElement[Any], kind: str, value: str, slow: ColumnElement[bool]
    ) -> ColumnElement[bool]:
        return slow

    def database_text_lookup(
        self, expr: ColumnElement[Any], lookup: str, text: str
    ) -> ColumnElement[bool] | None:
        # Django's: contains/startswith/endswith are LIKE (case-sensitive), their i forms
        # UPPER(x) LIKE UPPER(pattern), iexact UPPER(x) = UPPER(value)
        if lookup == "iexact":
            folded: ColumnElement[bool] = func.upper(expr) == func.upper(literal(text))
            return folded
        kind = lookup[1:] if lookup.startswith("i") else lookup
        pattern = like_pattern(kind, text)
        if kind == lookup:
            matched: ColumnElement[bool] = expr.like(pattern, escape="\\")
            return matched
        upper: ColumnElement[bool] = func.upper(expr).like(func.upper(literal(pattern)), escape="\\")
        return upper

    def regex(self, expr: ColumnElement[Any], pattern: str, *, case_sensitive: bool) -> ColumnElement[bool]:
        matched: ColumnElement[bool] = expr.op("~" if case_sensitive else "~*")(literal(pattern))
        return matched

    def search_iexact(self, expr: ColumnElement[Any], string: str) -> ColumnElement[bool]:
        return func.upper(expr) == func.upper(literal(string))

    def search_contains(
        self, expr: ColumnElement[Any], pattern: str, *, case_sensitive: bool
    ) -> ColumnElement[bool]:
        if case_sensitive:
            return expr.like(pattern, escape="\\")
        return func.upper(expr).like(func.upper(literal(pattern)), escape="\\")

    def json_equal(self, expr: ColumnElement[Any], encoded: str) -> ColumnElement[bool]:
        from sqlalchemy.dialects.postgresql import JSONB  # see PostgreSQL.json_type

        return type_coerce(expr, JSONB) == cast(literal(encoded, String), JSONB)

    def json_contains(self, expr: ColumnElement[Any], encoded: str) -> ColumnElement[bool]:
        from sqlalchemy.dialects.postgresql import JSONB  # see PostgreSQL.json_type

        # JSONB containment, as Django's
        stored = type_coerce(expr, JSONB)
        contained: ColumnElement[bool] = stored.op("@>")(cast(literal(encoded, String), JSONB))
        return contained

    def count_like_sql(self, table: str, column: str, lookup: str, index: str | None) -> str | None:
        if lookup == "iexact":
            return None  # Django compiles it to UPPER(x) = UPPER(v), not LIKE
        if lookup.startswith("i"):
            return f'SELECT count(*) FROM "{table}" WHERE UPPER("{column}"::text) LIKE UPPER(%s)'  # noqa: S608
        return f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s'  # noqa: S608

    def single_column_indexes(self, conn: Connection, table: str) -> Iterator[tuple[str, str]]:
        return iter(())  # counts read through an index only on SQLite (INDEXED BY)

