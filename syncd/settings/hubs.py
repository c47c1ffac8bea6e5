"""The ``[hub]`` section, hub tokens and the ``[[instances]]`` tables.

A token comes from ``token_file``, else the environment variable
``token_env`` (default ``SYNCD_HUB_TOKEN``), else the systemd credential
``hub-token``. An instance may override the hub URL and the token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncd.secrets import Secret, mask_url
from syncd.settings.model import HubSettings, InstanceSettings, TokenSource
from syncd.settings.reader import TableReader

__all__ = ["HUB_KEYS", "TOKEN_ENV", "hub_section", "instances_section"]

TOKEN_ENV = "SYNCD_HUB_TOKEN"  # noqa: S105 - the variable's name, not a token
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")

HUB_KEYS = {
    "url",
    "token_file",
    "token_env",
    "timeout_seconds",
    "retry_attempts",
    "retry_max_seconds",
    "retry_after_cap_seconds",
    "realtime",
}
_INSTANCE_KEYS = {"name", "url", "hub_url", "token_file", "token_env"}


def hub_section(
    r: TableReader,
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
        realtime=_realtime(r, t, prefix),
    )


def _realtime(r: TableReader, t: Mapping[str, Any], prefix: str) -> Literal["auto", "off"]:
    value = r.string(t, prefix, "realtime", "auto", choices=("auto", "off"))
    return "off" if value == "off" else "auto"


def _token(
    r: TableReader,
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


def instances_section(
    r: TableReader,
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
    r: TableReader,
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
    return hub_section(r, merged, prefix, environ, reader, url_key="hub_url")


def _database_url(r: TableReader, item: Mapping[str, Any], prefix: str) -> str | None:
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
