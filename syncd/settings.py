"""Typed, frozen settings read from a TOML file and an injected environment.

:func:`load_settings` checks the whole file and raises one
:class:`~syncd.errors.ConfigError` that lists every problem, each naming the
file and the key. Unknown keys are errors. Tokens are :class:`Secret` values.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncd.errors import ConfigError
from syncd.secrets import Secret, mask_url

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "HealthSettings",
    "HubGroup",
    "HubSettings",
    "InstanceSettings",
    "LogSettings",
    "ScheduleSettings",
    "Settings",
    "SyncSettings",
    "TokenSource",
    "config_path",
    "load_settings",
    "parse_settings",
]

DEFAULT_CONFIG_PATH = Path("/etc/syncd/syncd.toml")
HEALTH_LISTEN_ENV = "SYNCD_HEALTH_LISTEN"
TOKEN_ENV = "SYNCD_HUB_TOKEN"  # noqa: S105 - the variable's name, not a token
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class TokenSource:
    """Where a hub token comes from: ``file`` (a path), ``env`` (a variable) or ``credential``.

    ``absent``: settings loaded without the token (``require_token=False``), for
    readers of the instance databases that never talk to the hub.
    """

    kind: Literal["file", "env", "credential", "absent"]
    where: str


@dataclass(frozen=True)
class HubSettings:
    url: str
    token: Secret = field(repr=False)
    token_source: TokenSource
    timeout_seconds: float = 30.0
    retry_attempts: int = 8
    retry_max_seconds: float = 300.0
    retry_after_cap_seconds: float = 120.0


@dataclass(frozen=True)
class SyncSettings:
    page_size: int = 1000
    lookback_seconds: float = 120.0
    on_name_conflict: Literal["reject", "adopt"] = "reject"
    lock_timeout_seconds: float = 10.0
    transaction_rows: int = 5000
    transaction_seconds: float = 2.0


@dataclass(frozen=True)
class ScheduleSettings:
    interval_seconds: float = 60.0
    jitter_seconds: float = 5.0
    full_reconcile_hours: float = 24.0
    max_backoff_seconds: float = 900.0
    shutdown_grace_seconds: float = 30.0
    shard: tuple[int, int] | None = None


@dataclass(frozen=True)
class HealthSettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8787
    max_staleness_seconds: float | None = None  # None: three intervals


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    format: Literal["auto", "json", "console"] = "auto"


@dataclass(frozen=True)
class InstanceSettings:
    name: str
    url: Secret = field(repr=False)
    hub: HubSettings

    @property
    def display_url(self) -> str:
        """The database URL with any password masked."""
        return mask_url(self.url.reveal())


@dataclass(frozen=True)
class HubGroup:
    """Instances that share one hub URL and token: each hub page is fetched once for all."""

    hub: HubSettings
    instances: tuple[InstanceSettings, ...]

    @property
    def name(self) -> str:
        return self.hub.url + " [" + ",".join(i.name for i in self.instances) + "]"


@dataclass(frozen=True)
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


def config_path(cli_path: str | None, environ: Mapping[str, str]) -> Path:
    """``--config``, else ``$SYNCD_CONFIG``, else ``/etc/syncd/syncd.toml``."""
    if cli_path:
        return Path(cli_path)
    if environ.get("SYNCD_CONFIG"):
        return Path(environ["SYNCD_CONFIG"])
    return DEFAULT_CONFIG_PATH


def load_settings(path: Path, environ: Mapping[str, str], *, require_token: bool = True) -> Settings:
    """Read and check the TOML file at ``path``; raise :class:`ConfigError` listing every problem.

    With ``require_token=False`` a missing or unreadable hub token is not a
    problem (the hub settings then carry an empty token): for programs that only
    read the instance databases, such as :mod:`syncd.registry`.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the configuration file ({exc.strerror})"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_settings(data, environ, source=str(path), require_token=require_token)


class _Reader:
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


_HUB_KEYS = {
    "url",
    "token_file",
    "token_env",
    "timeout_seconds",
    "retry_attempts",
    "retry_max_seconds",
    "retry_after_cap_seconds",
}
_INSTANCE_KEYS = {"name", "url", "hub_url", "token_file", "token_env"}


def parse_settings(
    data: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    source: str = "<settings>",
    read_file: Callable[[Path], str] | None = None,
    require_token: bool = True,
) -> Settings:
    """Check already-parsed TOML ``data``; raise :class:`ConfigError` listing every problem."""
    r = _Reader(source, require_token=require_token)
    reader = read_file or (lambda p: p.read_text(encoding="utf-8"))
    allowed_top = {"hub", "sync", "schedule", "health", "log", "instances"}
    for extra in sorted(set(data) - allowed_top):
        r.problem(extra, f"unknown section (known: {', '.join(sorted(allowed_top))})")

    hub_t = r.table(data, "hub", _HUB_KEYS)
    sync = _sync(
        r,
        r.table(
            data,
            "sync",
            {
                "page_size",
                "lookback_seconds",
                "on_name_conflict",
                "lock_timeout_seconds",
                "transaction_rows",
                "transaction_seconds",
            },
        ),
    )
    schedule = _schedule(
        r,
        r.table(
            data,
            "schedule",
            {
                "interval_seconds",
                "jitter_seconds",
                "full_reconcile_hours",
                "max_backoff_seconds",
                "shutdown_grace_seconds",
                "shard",
            },
        ),
    )
    health = _health(r, r.table(data, "health", {"listen", "max_staleness_seconds"}), environ)
    log_t = r.table(data, "log", {"level", "format"})
    log = LogSettings(
        level=r.string(log_t, "log", "level", "info", ("debug", "info", "warning", "error")) or "info",
        format=r.string(
            log_t,
            "log",
            "format",
            "auto",  # type: ignore[arg-type]
            ("auto", "json", "console"),
        )
        or "auto",
    )

    base_hub = _hub(r, hub_t, "hub", environ, reader) if hub_t else None
    instances = _instances(r, data.get("instances", []), hub_t, base_hub, environ, reader)
    if r.problems:
        raise ConfigError(r.problems)
    return Settings(source, base_hub, sync, schedule, health, log, tuple(instances))


def _sync(r: _Reader, t: Mapping[str, Any]) -> SyncSettings:
    return SyncSettings(
        page_size=r.integer(t, "sync", "page_size", 1000, 1, 1000),
        lookback_seconds=r.number(t, "sync", "lookback_seconds", 120.0, 60.0, 86400.0),
        on_name_conflict=r.string(  # type: ignore[arg-type]
            t, "sync", "on_name_conflict", "reject", ("reject", "adopt")
        )
        or "reject",
        lock_timeout_seconds=r.number(t, "sync", "lock_timeout_seconds", 10.0, 0.0, 3600.0),
        transaction_rows=r.integer(t, "sync", "transaction_rows", 5000, 1, 100_000),
        transaction_seconds=r.number(t, "sync", "transaction_seconds", 2.0, 0.0, 600.0),
    )


def _schedule(r: _Reader, t: Mapping[str, Any]) -> ScheduleSettings:
    shard: tuple[int, int] | None = None
    raw_shard = r.string(t, "schedule", "shard")
    if raw_shard is not None:
        shard = parse_shard(raw_shard)
        if shard is None:
            r.problem("schedule.shard", f"must look like K/N with 0 <= K < N, got {raw_shard!r}")
    return ScheduleSettings(
        interval_seconds=r.number(t, "schedule", "interval_seconds", 60.0, 1.0, 86400.0),
        jitter_seconds=r.number(t, "schedule", "jitter_seconds", 5.0, 0.0, 3600.0),
        full_reconcile_hours=r.number(t, "schedule", "full_reconcile_hours", 24.0, 0.01, 8760.0),
        max_backoff_seconds=r.number(t, "schedule", "max_backoff_seconds", 900.0, 1.0, 86400.0),
        shutdown_grace_seconds=r.number(t, "schedule", "shutdown_grace_seconds", 30.0, 0.0, 3600.0),
        shard=shard,
    )


def parse_shard(text: str) -> tuple[int, int] | None:
    """``"K/N"`` as ``(K, N)``, or None when it is not a valid shard."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if match is None:
        return None
    k, n = int(match.group(1)), int(match.group(2))
    return (k, n) if 0 <= k < n else None


def _health(r: _Reader, t: Mapping[str, Any], environ: Mapping[str, str]) -> HealthSettings:
    # $SYNCD_HEALTH_LISTEN: replicas sharing one file on one machine each need their own port
    listen = (
        environ.get(HEALTH_LISTEN_ENV)
        or r.string(t, "health", "listen", "127.0.0.1:8787")
        or "127.0.0.1:8787"
    )
    host, _, port_text = listen.rpartition(":")
    port = int(port_text) if port_text.isdigit() else -1
    if not host or not 0 <= port <= 65535:
        r.problem("health.listen", f"must be HOST:PORT, got {listen!r}")
        host, port = "127.0.0.1", 8787
    staleness = t.get("max_staleness_seconds")
    return HealthSettings(
        listen_host=host.strip("[]"),
        listen_port=port,
        max_staleness_seconds=(
            r.number(t, "health", "max_staleness_seconds", 180.0, 1.0, 10**7)
            if staleness is not None
            else None
        ),
    )


def _hub(
    r: _Reader,
    t: Mapping[str, Any],
    prefix: str,
    environ: Mapping[str, str],
    reader: Callable[[Path], str],
    *,
    url_key: str = "url",
) -> HubSettings | None:
    url = t.get("url")
    if url is None:
        r.problem(f"{prefix}.{url_key}", "is required")
        return None
    if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", url):
        r.problem(f"{prefix}.{url_key}", f"must be an http:// or https:// URL, got {url!r}")
        return None
    token = _token(r, t, prefix, environ, reader)
    if token is None:
        return None
    return HubSettings(
        url=url.rstrip("/"),
        token=token[0],
        token_source=token[1],
        timeout_seconds=r.number(t, prefix, "timeout_seconds", 30.0, 0.1, 600.0),
        retry_attempts=r.integer(t, prefix, "retry_attempts", 8, 1, 100),
        retry_max_seconds=r.number(t, prefix, "retry_max_seconds", 300.0, 0.0, 86400.0),
        retry_after_cap_seconds=r.number(t, prefix, "retry_after_cap_seconds", 120.0, 0.0, 3600.0),
    )


def _token(
    r: _Reader,
    t: Mapping[str, Any],
    prefix: str,
    environ: Mapping[str, str],
    reader: Callable[[Path], str],
) -> tuple[Secret, TokenSource] | None:
    token_file = r.string(t, prefix, "token_file")
    token_env = r.string(t, prefix, "token_env")
    absent = (Secret(""), TokenSource("absent", ""))
    if token_file is not None:
        try:
            value = reader(Path(token_file)).strip()
        except OSError as exc:
            if not r.require_token:
                return absent
            r.problem(f"{prefix}.token_file", f"cannot read {token_file} ({exc.strerror})")
            return None
        if not value:
            if not r.require_token:
                return absent
            r.problem(f"{prefix}.token_file", f"{token_file} is empty")
            return None
        return Secret(value), TokenSource("file", token_file)
    env_name = token_env or TOKEN_ENV
    if environ.get(env_name):
        return Secret(environ[env_name].strip()), TokenSource("env", env_name)
    cred_dir = environ.get("CREDENTIALS_DIRECTORY")
    if token_env is None and cred_dir:
        path = Path(cred_dir) / "hub-token"
        try:
            value = reader(path).strip()
        except OSError:
            value = ""
        if value:
            return Secret(value), TokenSource("credential", str(path))
    if not r.require_token:
        return absent
    r.problem(
        f"{prefix}.token_file",
        f"no hub token: set token_file, or the environment variable {env_name}"
        + ("" if token_env else ", or provide the systemd credential hub-token"),
    )
    return None


def _instances(
    r: _Reader,
    raw: Any,
    hub_t: Mapping[str, Any],
    base_hub: HubSettings | None,
    environ: Mapping[str, str],
    reader: Callable[[Path], str],
) -> list[InstanceSettings]:
    if not isinstance(raw, list) or not raw:
        r.problem("instances", "at least one [[instances]] table is required")
        return []
    result: list[InstanceSettings] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        prefix = f"instances[{index}]"
        if not isinstance(item, Mapping):
            r.problem(prefix, "must be a table")
            continue
        for extra in sorted(set(item) - _INSTANCE_KEYS):
            r.problem(f"{prefix}.{extra}", f"unknown key (known: {', '.join(sorted(_INSTANCE_KEYS))})")
        name = r.string(item, prefix, "name")
        if name is None or not _NAME.fullmatch(name):
            r.problem(f"{prefix}.name", "required: letters, digits, '.', '_' or '-' (at most 63)")
            continue
        if name in seen:
            r.problem(f"{prefix}.name", f"duplicate instance name {name!r}")
        seen.add(name)
        url = _database_url(r, item, prefix)
        hub = _instance_hub(r, item, prefix, hub_t, base_hub, environ, reader)
        if url is not None and hub is not None:
            result.append(InstanceSettings(name=name, url=Secret(url), hub=hub))
    return result


def _instance_hub(
    r: _Reader,
    item: Mapping[str, Any],
    prefix: str,
    hub_t: Mapping[str, Any],
    base_hub: HubSettings | None,
    environ: Mapping[str, str],
    reader: Callable[[Path], str],
) -> HubSettings | None:
    overrides = {k: item[k] for k in ("token_file", "token_env") if k in item}
    if "hub_url" not in item and not overrides:
        if base_hub is None:
            r.problem(f"{prefix}.hub_url", "no [hub] section and no hub_url for this instance")
        return base_hub
    merged = dict(hub_t)
    if "hub_url" in item:
        merged["url"] = item["hub_url"]
    if overrides:
        merged.pop("token_file", None)
        merged.pop("token_env", None)
        merged.update(overrides)
    return _hub(r, merged, prefix, environ, reader, url_key="hub_url")


def _database_url(r: _Reader, item: Mapping[str, Any], prefix: str) -> str | None:
    url = r.string(item, prefix, "url")
    if url is None:
        r.problem(f"{prefix}.url", "is required (an SQLAlchemy URL: sqlite:///... or postgresql://...)")
        return None
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        r.problem(f"{prefix}.url", f"not a database URL: {mask_url(url)}")
        return None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        r.problem(f"{prefix}.url", f"only sqlite and postgresql are supported, got {backend!r}")
        return None
    if parsed.drivername == "postgresql":
        # syncd ships psycopg 3; a bare postgresql:// URL means that driver
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)
