"""External programs some tests drive: found on PATH, else the test skips (and fails under CI=true)."""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["require_tool"]


def require_tool(name: str, install: str) -> str:
    """The path of program ``name``; ``install`` says how to get it when it is missing."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing under CI ({install})")
        pytest.skip(f"{name} not installed ({install})")
    return found
