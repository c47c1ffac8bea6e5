"""The ``[hub]`` section and the ``[[instances]]`` tables.

An instance may override the hub URL and the token (read by
:mod:`syncd.settings.tokens`). A hub URL carrying credentials
(``https://user:password@hub``) is refused: the hub takes its token as a
Bearer header, and the URL is written into log lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncd.secrets import Secret, mask_url, scrub_url_text
from syncd.settings.databases import refuse_shared_databases
from syncd.settings.model import HubSettings, InstanceSettings
from syncd.settings.reader import TableReader
from syncd.settings.tokens import TOKEN_ENV, instance_password, token
from syncd.store.dialects import SUPPORTED, UnsupportedDatabase, dialect_for

__all__ = ["HUB_KEYS", "TOKEN_ENV", "hub_section", "instances_section"]

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
_INSTANCE_KEYS = {"name", "url", "hub_url", "token_file", "token_env", "password_file", "password_credential"}


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
        shown = scrub_url_text(url) if isinstance(url, str) else url
        r.problem(f"{prefix}.{url_key}", f"must be an http:// or https:// URL, got {shown!r}")
        return None
    if "@" in url.split("/", 3)[2]:
        r.problem(
            f"{prefix}.{url_key}",
            "must not carry credentials (user:password@): the hub takes its token from token_file, "
            f"token_env or the hub-token credential; got {scrub_url_text(url)!r}",
        )
        return None
    found = token(r, t, prefix, environ, reader)
    if found is None:
        return None
    return HubSettings(
        url=url.rstrip("/"),
        token=found[0],
        token_source=found[1],
        timeout_seconds=r.number(t, prefix, "timeout_seconds", 30.0, 0.1, 600.0),
        retry_attempts=r.integer(t, prefix, "retry_attempts", 8, 1, 100),
        retry_max_seconds=r.number(t, prefix, "retry_max_seconds", 300.0, 0.0, 86400.0),
        retry_after_cap_seconds=r.number(t, prefix, "retry_after_cap_seconds", 120.0, 0.0, 3600.0),
        realtime=_realtime(r, t, prefix),
    )


def _realtime(r: TableReader, t: Mapping[str, Any], prefix: str) -> Literal["auto", "off"]:
    value = r.string(t, prefix, "realtime", "auto", choices=("auto", "off"))
    return "off" if value == "off" else "auto"


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
    databases: list[tuple[str, str, str]] = []
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
        password_ok, password = instance_password(r, item, prefix, environ, reader)
        if url is not None and password is not None:
            given = "password_file" if "password_file" in item else "password_credential"
            password_ok = _password_fits(r, url, prefix, given)
        hub = _instance_hub(r, item, prefix, hub_t, base_hub, environ, reader)
        if url is not None and hub is not None and password_ok:
            result.append(InstanceSettings(name=name, url=Secret(url), hub=hub, password=password))
        if url is not None:
            databases.append((prefix, name, url))
    refuse_shared_databases(r, databases, environ)
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
        # a [hub] table that failed was reported under its own keys: nothing more to say here
        if base_hub is None and not hub_t:
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
    try:
        dialect = dialect_for(parsed)
    except UnsupportedDatabase as exc:
        r.problem(f"{prefix}.url", f"only {' and '.join(SUPPORTED)} are supported, got {exc.name!r}")
        return None
    # the driver syncd ships (psycopg 3 for a bare postgresql:// URL)
    return dialect.driver_url(parsed).render_as_string(hide_password=False)


def _password_fits(r: TableReader, url: str, prefix: str, given: str) -> bool:
    """A password from a file goes to PostgreSQL alone, and only when the URL has none of its own."""
    parsed = make_url(url)
    if not dialect_for(parsed).takes_password:
        r.problem(f"{prefix}.{given}", "a password is for PostgreSQL instances; SQLite has none")
        return False
    if parsed.password is not None or any(k.lower() == "password" for k in parsed.query):
        r.problem(f"{prefix}.url", "has a password, and password_file/password_credential gives another")
        return False
    return True
