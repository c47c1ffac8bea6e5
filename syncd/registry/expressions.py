"""Keyword conditions as LaminDB's ``filter`` and ``get`` take them, before they become a ``Q``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from syncd.registry.errors import FieldError

if TYPE_CHECKING:
    from syncd.registry.q import Q
    from syncd.registry.record import Record

__all__ = ["DEFAULT_BRANCH_IDS", "checked_expressions", "with_default_branch"]

DEFAULT_BRANCH_IDS = (1,)
_EXACT_KEYS = frozenset({"id", "uid", "hash", "id__in", "uid__in", "hash__in"})
_BRANCH_KEYS = frozenset({"branch", "branch_id"})


def _mentions_branch(keys: Sequence[str]) -> bool:
    return any(k in _BRANCH_KEYS or k.startswith(("branch__", "branch_id__")) for k in keys)


def with_default_branch(queries: tuple[Q, ...], expressions: dict[str, Any]) -> dict[str, Any]:
    """The expressions with LaminDB's default branch filter, unless they name a branch or an exact key."""
    if any(k in _EXACT_KEYS for k in expressions):
        return expressions
    keys = list(expressions) + [k for q in queries for k in q.keys()]  # noqa: SIM118 - Q.keys() is not a dict's
    if not _mentions_branch(keys):
        return {**expressions, "branch_id__in": list(DEFAULT_BRANCH_IDS)}
    # a branch of None means "any branch", not "branch IS NULL"
    return {k: v for k, v in expressions.items() if not (k in _BRANCH_KEYS and v is None)}


def checked_expressions(
    registry: type[Record], expressions: dict[str, Any], *, refuse_words: bool = True,
) -> dict[str, Any]:
    """Keyword conditions as LaminDB's ``filter`` takes them: ``version`` names ``version_tag``, and a
    relation compared with a plain word (``space="x"``) is refused as LaminDB refuses it."""
    meta = registry._meta
    mapped: dict[str, Any] = {}
    for key, value in expressions.items():
        head, sep, rest = key.partition("__")
        if meta.versioned and head == "version":
            key = "version_tag" + sep + rest
        elif (refuse_words and not sep and isinstance(value, str) and value.strip("-").isalpha()
              and (key in meta.forward or key in meta.reverse)):
            raise FieldError(f"Invalid lookup '{value}' for {key}. Did you mean {key}__name?")
        mapped[key] = value
    return mapped
