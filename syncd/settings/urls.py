"""Database URLs read without SQLAlchemy: ``driver://user:password@host:port/database?key=value``.

Settings check, compare and mask the instance URLs at load time; importing
SQLAlchemy for that would make every command that reads settings pay for it.
:func:`parse_url` reads a URL into the same parts SQLAlchemy's ``make_url``
does (user name, password and database percent-decoded; the query split into
keys with blank values left out, a repeated key giving a tuple), and refuses
what it refuses, so a URL accepted here is read alike by the store, which
hands the text :meth:`DatabaseURL.render` gives to SQLAlchemy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

__all__ = ["DatabaseURL", "QueryValue", "parse_url"]

QueryValue = str | tuple[str, ...]

# the parts in order, each optional but the scheme; user info ends at the last '@' before the
# first ':' or '/', its password at the next '@' (an unencoded '@' in a password is left in the host)
_URL = re.compile(
    r"""
    (?P<driver> [\w+]+ ) ://
    (?: (?P<username> [^:/]* ) (?: : (?P<password> [^@]* ) )? @ )?
    (?: (?: \[ (?P<bracketed> [^/?]+ ) \] | (?P<host> [^/:?]+ ) )? (?: : (?P<port> [^/?]* ) )? )?
    (?: / (?P<database> [^?]* ) )?
    (?: \? (?P<query> .* ) )?
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A database URL in parts; :func:`dataclasses.replace` makes a changed copy."""

    driver: str
    """``sqlite``, ``postgresql+psycopg``, ...: the backend, then the driver after a ``+``."""
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, QueryValue] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        """The database named by :attr:`driver`, without the driver: ``postgresql``, ``sqlite``."""
        return self.driver.partition("+")[0]

    def render(self, *, hide_password: bool) -> str:
        """The URL as text, read back by :func:`parse_url` (and SQLAlchemy) as the same parts.

        With ``hide_password`` the password is written as ``***``. The query
        keys are written in sorted order.
        """
        text = f"{self.driver}://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + quote(self.database, safe=" +/")
        if self.query:
            pairs = [
                f"{quote_plus(key)}={quote_plus(value)}"
                for key in sorted(self.query)
                for value in _values(self.query[key])
            ]
            text += "?" + "&".join(pairs)
        return text


def _values(value: QueryValue) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def parse_url(text: str) -> DatabaseURL:
    """``text`` read as a database URL; :class:`ValueError` when it is not one."""
    match = _URL.match(text)
    if match is None:
        raise ValueError("not a URL of the form driver://user:password@host:port/database?key=value")
    parts: dict[str, Any] = match.groupdict()
    port = parts["port"]
    query: dict[str, QueryValue] = {}
    if parts["query"] is not None:
        for key, value in parse_qsl(parts["query"]):
            known = query.get(key)
            query[key] = value if known is None else (*_values(known), value)
    return DatabaseURL(
        driver=parts["driver"],
        username=_decoded(parts["username"]),
        password=_decoded(parts["password"]),
        host=parts["host"] or parts["bracketed"],
        port=None if port is None else int(port),  # not a number (or empty): ValueError
        database=_decoded(parts["database"]),
        query=query,
    )


def _decoded(part: str | None) -> str | None:
    return None if part is None else unquote(part)
