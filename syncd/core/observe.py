"""Hooks through which a sync run reports progress, for metrics and terminal progress bars.

The synchroniser and the hub client call an :class:`Observer`; the daemon plugs
in Prometheus metrics, ``run-once`` a progress display. :class:`NullObserver`
does nothing and is the default.
"""

from __future__ import annotations

from typing import Protocol

from syncd.core.models import Resource
from syncd.core.report import Action, InstanceReport

__all__ = ["NullObserver", "Observer"]


class Observer(Protocol):
    def hub_request(self, resource: str, status: str, seconds: float) -> None:
        """One HTTP request finished; ``status`` is the code or an error kind (``"timeout"``)."""

    def hub_retry(self, reason: str, delay: float, message: str = "") -> None:
        """A transient failure is retried after ``delay`` seconds; ``message`` says what failed, where."""

    def rows_applied(self, instance: str, resource: Resource, action: Action, count: int) -> None:
        """``count`` rows of one page were applied to ``instance`` with ``action``."""

    def instance_done(self, report: InstanceReport) -> None:
        """An instance finished its part of a run (successfully or not)."""


class NullObserver:
    def hub_request(self, resource: str, status: str, seconds: float) -> None:
        return None

    def hub_retry(self, reason: str, delay: float, message: str = "") -> None:
        return None

    def rows_applied(self, instance: str, resource: Resource, action: Action, count: int) -> None:
        return None

    def instance_done(self, report: InstanceReport) -> None:
        return None
