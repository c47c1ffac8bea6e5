"""Typed values out of nested TOML tables, every problem collected and named by its key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TableReader"]


class TableReader:
    """Collects problems while pulling typed values out of nested TOML tables."""

    def __init__(self, source: str, *, require_token: bool = True) -> None:
        self.source = source
        self.require_token = require_token
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.source}: {key}: {message}")

    def table(self, data: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.problem(key, "must be a table")
            return {}
        for extra in sorted(set(value) - allowed):
            self.problem(f"{key}.{extra}", f"unknown key (known: {', '.join(sorted(allowed))})")
        return value

    def number(
        self,
        data: Mapping[str, Any],
        prefix: str,
        key: str,
        default: float,
        low: float,
        high: float,
    ) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{prefix}.{key}", f"must be a number, got {type(value).__name__}")
            return default
        if not low <= value <= high:
            self.problem(f"{prefix}.{key}", f"must be between {low:g} and {high:g}, got {value:g}")
            return default
        return float(value)

    def integer(
        self,
        data: Mapping[str, Any],
        prefix: str,
        key: str,
        default: int,
        low: int,
        high: int,
    ) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{prefix}.{key}", f"must be a whole number, got {value!r}")
            return default
        if not low <= value <= high:
            self.problem(f"{prefix}.{key}", f"must be between {low} and {high}, got {value}")
            return default
        return value

    def string(
        self,
        data: Mapping[str, Any],
        prefix: str,
        key: str,
        default: str | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        value = data.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(f"{prefix}.{key}", f"must be a string, got {type(value).__name__}")
            return default
        if choices is not None and value not in choices:
            self.problem(f"{prefix}.{key}", f"must be one of {', '.join(choices)}; got {value!r}")
            return default
        return value
