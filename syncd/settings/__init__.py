"""Typed, frozen settings read from a TOML file and an injected environment.

:func:`load_settings` checks the whole file and raises one
:class:`~syncd.errors.ConfigError` that lists every problem, each naming the
file and the key. Unknown keys are errors. Tokens are :class:`Secret` values.
The settings types live in :mod:`syncd.settings.model`; each section is read by
:mod:`~syncd.settings.sections` or :mod:`~syncd.settings.hubs`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from syncd.errors import ConfigError
from syncd.settings.hubs import HUB_KEYS, hub_section, instances_section
from syncd.settings.model import (
    HealthSettings,
    HubGroup,
    HubSettings,
    InstanceSettings,
    LogSettings,
    ScheduleSettings,
    Settings,
    SyncSettings,
    TokenSource,
)
from syncd.settings.reader import TableReader
from syncd.settings.sections import (
    health_section,
    log_section,
    parse_shard,
    schedule_section,
    sync_section,
)
from syncd.settings.tokens import read_secret_file

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
    "parse_shard",
]

DEFAULT_CONFIG_PATH = Path("/etc/syncd/syncd.toml")


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


def parse_settings(
    data: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    source: str = "<settings>",
    read_file: Callable[[Path], str] | None = None,
    require_token: bool = True,
) -> Settings:
    """Check already-parsed TOML ``data``; raise :class:`ConfigError` listing every problem."""
    r = TableReader(source, require_token=require_token)
    reader = read_file or read_secret_file
    allowed_top = {"hub", "sync", "schedule", "health", "log", "instances"}
    for extra in sorted(set(data) - allowed_top):
        r.problem(extra, f"unknown section (known: {', '.join(sorted(allowed_top))})")

    hub_t = r.table(data, "hub", HUB_KEYS)
    sync = sync_section(r, data)
    schedule = schedule_section(r, data)
    health = health_section(r, data, environ)
    log = log_section(r, data)
    base_hub = hub_section(r, hub_t, "hub", environ, reader) if hub_t else None
    instances = instances_section(r, data.get("instances", []), hub_t, base_hub, environ, reader)
    if r.problems:
        raise ConfigError(r.problems)
    return Settings(source, base_hub, sync, schedule, health, log, tuple(instances))
