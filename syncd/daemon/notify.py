"""The systemd notification protocol (``sd_notify``), spoken directly over ``$NOTIFY_SOCKET``.

A datagram of ``KEY=VALUE`` lines sent to the AF_UNIX socket systemd names in
``NOTIFY_SOCKET`` (a path, or an abstract name written with a leading ``@``).
Without ``NOTIFY_SOCKET`` every call is a no-op, so the daemon runs the same
way under systemd, in a container or in a terminal. A failed send is logged
and otherwise ignored: notification must never take the daemon down.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

__all__ = ["Notifier", "watchdog_interval"]

log = structlog.get_logger(__name__)


class Notifier:
    """Sends state changes to the service manager; inert when there is none."""

    def __init__(self, address: str | None) -> None:
        self._address: str | None = None
        if address:
            # "@name" is an abstract socket: the kernel name starts with a NUL byte
            self._address = "\0" + address[1:] if address.startswith("@") else address
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Notifier:
        return cls(environ.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, **fields: str | int) -> bool:
        """Send one message, e.g. ``send(READY=1, STATUS="syncing")``; True when it was delivered."""
        if self._address is None:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            log.warning("notify.failed", error=exc.strerror or type(exc).__name__, fields=sorted(fields))
            return False
        return True

    def ready(self, status: str = "running") -> bool:
        return self.send(READY=1, STATUS=status, MAINPID=os.getpid())

    def reloading(self, monotonic_usec: int) -> bool:
        return self.send(RELOADING=1, MONOTONIC_USEC=monotonic_usec, STATUS="reloading configuration")

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(STOPPING=1, STATUS=status)

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between two ``WATCHDOG=1`` pings (half of ``WatchdogSec=``), or None when not asked.

    systemd sets ``WATCHDOG_USEC`` and, for the main process, ``WATCHDOG_PID``;
    a ``WATCHDOG_PID`` naming another process means the watchdog is not ours.
    """
    raw = environ.get("WATCHDOG_USEC", "")
    if not raw.isdigit() or int(raw) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner.isdigit() and int(owner) != (os.getpid() if pid is None else pid):
        return None
    return int(raw) / 1_000_000 / 2
