"""Values that must never be shown: hub tokens and database passwords.

A database URL can carry a secret in more than one place. :func:`mask_url`
and :func:`url_secrets` treat these as secret, whatever their letter case:

- the password of the user info (``postgresql://user:PASSWORD@host/db``);
- a query parameter a driver reads as a password or key: libpq's
  ``password`` and ``sslpassword``, and any parameter whose name says
  password, secret, token, credential or key (``pwd``, ``api_key``, SQLCipher's
  ``key``/``hexkey``), see :data:`SECRET_PARAMETER`;
- a ``password=...`` pair inside any other part (a libpq conninfo string
  passed as a database name or an option).

Parameters that name a *file* (libpq's ``passfile``, ``sslkey``, ``sslcert``,
``sslrootcert``) are shown: the path is what an operator needs to see, and
the file's contents never reach syncd's output.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["MASKED", "SECRET_PARAMETER", "Secret", "mask_url", "scrub_url_text", "url_secrets"]

MASKED = "***"
# names a driver reads as a secret value; libpq's file parameters (passfile, sslkey, sslcert, ...) are not
SECRET_PARAMETER = re.compile(
    r"^(?!ssl(key|cert|rootcert|crl|crldir)$|passfile$)"
    r".*(passw|pwd|secret|token|credential|api[-_]?key|authori[sz]ation)|^(hex)?key$",
    re.IGNORECASE,
)
# a conninfo-style or URL-query-style pair anywhere in text: password=..., sslpassword='...'
_PAIR = re.compile(
    r"(?i)(?<![A-Za-z0-9_])((?:ssl)?passw(?:or)?d|pwd)(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;,)'\"]+)"
)
# user info in any URL written in text: scheme://user:PASSWORD@
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)([^\s/]*)@")


class Secret:
    """A string whose ``repr`` and ``str`` are masked; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def _parse(url: str | URL) -> URL | None:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


def scrub_url_text(text: str) -> str:
    """``text`` with URL passwords and ``password=`` pairs masked, wherever they are written."""
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASKED}@", text)
    return _PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASKED}", text)


def mask_url(url: str | URL) -> str:
    """A database URL with every secret part replaced by ``***``; unparsable URLs are hidden whole."""
    parsed = _parse(url)
    if parsed is None:
        return "<unparsable database URL>"
    if parsed.host and "@" in parsed.host:
        # an unencoded '@' in the password: everything before the last '@' belongs to it
        parsed = parsed.set(host=parsed.host.rpartition("@")[2], password=MASKED)
    query = {
        key: (MASKED if SECRET_PARAMETER.search(key) else value) for key, value in parsed.query.items()
    }
    database = scrub_url_text(parsed.database) if parsed.database else parsed.database
    rendered = parsed.set(query=query, database=database).render_as_string(hide_password=True)
    # the encoded mask (%2A%2A%2A) reads badly
    return scrub_url_text(rendered.replace("%2A%2A%2A", MASKED))


def url_secrets(url: str | URL) -> list[str]:
    """Every secret value a database URL carries (for log redaction), longest first."""
    parsed = _parse(url)
    if parsed is None:
        return []
    found: list[str] = []
    if parsed.password:
        found.append(str(parsed.password))
    if parsed.host and "@" in parsed.host:
        found.append(f"{parsed.password or ''}@{parsed.host.rpartition('@')[0]}")
    for key, value in parsed.query.items():
        if SECRET_PARAMETER.search(key):
            found.extend([value] if isinstance(value, str) else list(value))
    for part in (parsed.database or "", *(v for v in parsed.query.values() if isinstance(v, str))):
        found.extend(m.group(3).strip("'") for m in _PAIR.finditer(part))
    return sorted({v for v in found if v}, key=len, reverse=True)
