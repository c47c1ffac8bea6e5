"""The hub client: HTTP, the contract's query strings, pagination and the retry policy."""

from __future__ import annotations

from syncd.hub.client import HubClient

__all__ = ["HubClient"]
