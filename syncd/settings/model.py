"""The typed, frozen settings syncd runs on (see :mod:`syncd.settings` for how they are read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from syncd.errors import ConfigError
from syncd.secrets import Secret, mask_url

__all__ = [
    "MIN_RESPONSE_BYTES",
    "HealthSettings",
    "HubGroup",
    "HubSettings",
    "InstanceSettings",
    "LogSettings",
    "ScheduleSettings",
    "Settings",
    "SyncSettings",
    "TokenSource",
]


MIN_RESPONSE_BYTES = 8 * 1024 * 1024
"""Room for one ``space_block`` whose 1 MiB of content is escaped to six bytes a character in JSON."""


@dataclass(frozen=True, slots=True)
class TokenSource:
    """Where a hub token comes from: ``file`` (a path), ``env`` (a variable) or ``credential``.

    ``absent``: settings loaded without the token (``require_token=False``), for
    readers of the instance databases that never talk to the hub.
    """

    kind: Literal["file", "env", "credential", "absent"]
    where: str


@dataclass(frozen=True, slots=True)
class HubSettings:
    url: str
    token: Secret  # repr masked by Secret
    token_source: TokenSource
    timeout_seconds: float = 30.0
    retry_attempts: int = 8
    retry_max_seconds: float = 300.0
    retry_after_cap_seconds: float = 120.0
    realtime: Literal["auto", "off"] = "auto"  # the Realtime doorbell (``syncd serve`` only)


@dataclass(frozen=True, slots=True)
class SyncSettings:
    page_size: int = 1000
    lookback_seconds: float = 120.0
    on_name_conflict: Literal["reject", "adopt"] = "reject"
    lock_timeout_seconds: float = 10.0
    # how long a PostgreSQL session may stay silent (idle, or idle in a transaction) before the
    # server ends it, and with it the advisory lock: a stopped replica's instances pass to another
    lease_seconds: float = 60.0
    transaction_rows: int = 20_000
    transaction_seconds: float = 2.0
    clock_skew_seconds: float = 300.0
    run_deadline_seconds: float = 3600.0
    response_bytes_per_row: int = 32 * 1024

    @property
    def max_response_bytes(self) -> int:
        """The most bytes one hub response may take, compressed or inflated (see docs/hardening.md).

        ``page_size`` rows of ``response_bytes_per_row`` each, but never less
        than one row of the largest size the hub contract allows.
        """
        return max(MIN_RESPONSE_BYTES, self.page_size * self.response_bytes_per_row)


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    interval_seconds: float = 60.0
    jitter_seconds: float = 5.0
    full_reconcile_hours: float = 24.0
    max_backoff_seconds: float = 900.0
    shutdown_grace_seconds: float = 30.0
    shard: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class HealthSettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8787
    max_staleness_seconds: float | None = None  # None: three intervals


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: Literal["auto", "json", "console"] = "auto"


@dataclass(frozen=True, slots=True)
class InstanceSettings:
    name: str
    url: Secret  # repr masked by Secret
    hub: HubSettings
    # a PostgreSQL password from password_file or password_credential: a connection argument, never in the URL
    password: Secret | None = None

    @property
    def display_url(self) -> str:
        """The database URL with any password masked."""
        return mask_url(self.url.reveal())


@dataclass(frozen=True, slots=True)
class HubGroup:
    """Instances that share one hub URL and token: each hub page is fetched once for all."""

    hub: HubSettings
    instances: tuple[InstanceSettings, ...]

    @property
    def name(self) -> str:
        return self.hub.url + " [" + ",".join(i.name for i in self.instances) + "]"


@dataclass(frozen=True, slots=True)
class Settings:
    source: str
    hub: HubSettings | None
    sync: SyncSettings
    schedule: ScheduleSettings
    health: HealthSettings
    log: LogSettings
    instances: tuple[InstanceSettings, ...]

    def instance(self, name: str) -> InstanceSettings:
        for inst in self.instances:
            if inst.name == name:
                return inst
        known = ", ".join(i.name for i in self.instances) or "none"
        raise ConfigError([f"{self.source}: no instance named {name!r} (configured: {known})"])

    def groups(self, names: list[str] | None = None) -> list[HubGroup]:
        """Group the (named) instances by hub URL and token, in configuration order."""
        chosen = self.instances if not names else tuple(self.instance(n) for n in names)
        order: list[tuple[str, Secret]] = []
        members: dict[tuple[str, Secret], list[InstanceSettings]] = {}
        for inst in chosen:
            key = (inst.hub.url, inst.hub.token)
            if key not in members:
                order.append(key)
                members[key] = []
            members[key].append(inst)
        return [HubGroup(members[k][0].hub, tuple(members[k])) for k in order]

    @property
    def staleness_seconds(self) -> float:
        if self.health.max_staleness_seconds is not None:
            return self.health.max_staleness_seconds
        return 3 * self.schedule.interval_seconds
