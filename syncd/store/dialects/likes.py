"""``LIKE`` patterns as Django writes them: the wildcards ``%`` and ``_`` escaped with a backslash.

Both databases' text lookups and counts bind these patterns with ``ESCAPE '\\'``.
"""

from __future__ import annotations

__all__ = ["like_escape", "like_pattern"]

_PATTERNS = {"exact": "{}", "contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}


def like_escape(value: str) -> str:
    """``value`` with the LIKE wildcards and the escape character escaped, as Django escapes them."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(kind: str, value: str) -> str:
    """The LIKE pattern of ``kind`` (exact, contains, startswith, endswith) for ``value``."""
    return _PATTERNS[kind].format(like_escape(value))
