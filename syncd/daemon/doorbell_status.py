"""The doorbell lines of ``syncd status``: asked of a running daemon's ``/readyz``, or said to be unknown.

The instance databases do not record the doorbell; only the daemon knows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import httpx

from syncd.daemon.health import probe_url
from syncd.settings import Settings

__all__ = ["print_doorbells"]


def print_doorbells(
    settings: Settings,
    out: TextIO,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 2.0,
    state_path: Path | None = None,
) -> None:
    """One line per hub group from the daemon's ``/readyz``, or one saying why it cannot be known."""
    url = probe_url(settings, "/readyz", state_path)
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            body = client.get(url).json()
        bells: dict[str, Any] = body["doorbell"]
        if not isinstance(bells, dict):
            raise TypeError("doorbell is not an object")
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        out.write(f"doorbell: unknown (no running daemon answered at {url}: {type(exc).__name__})\n")
        return
    if not bells:
        out.write("doorbell: the running daemon has no hub group\n")
    for key, bell in sorted(bells.items()):
        if bell.get("state") == "disabled":
            out.write(f"doorbell {key}: off by setting ([hub] realtime = \"off\")\n")
            continue
        out.write(
            f"doorbell {key} ({bell.get('hub')}): {bell.get('state')}; events {bell.get('events')}, "
            f"pulls {bell.get('pulls')}, reconnects {bell.get('reconnects')}"
            + (f"; last error: {bell['last_error']}" if bell.get("last_error") else "")
            + "\n"
        )
