"""The ``[sync]``, ``[schedule]``, ``[health]`` and ``[log]`` sections."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from syncd.settings.model import HealthSettings, LogSettings, ScheduleSettings, SyncSettings
from syncd.settings.reader import TableReader

__all__ = [
    "HEALTH_LISTEN_ENV",
    "health_section",
    "log_section",
    "parse_shard",
    "schedule_section",
    "sync_section",
]

HEALTH_LISTEN_ENV = "SYNCD_HEALTH_LISTEN"


_SYNC_KEYS = {
    "page_size",
    "lookback_seconds",
    "on_name_conflict",
    "lock_timeout_seconds",
    "lease_seconds",
    "transaction_rows",
    "transaction_seconds",
    "clock_skew_seconds",
    "run_deadline_seconds",
    "response_bytes_per_row",
}
_SCHEDULE_KEYS = {
    "interval_seconds",
    "jitter_seconds",
    "full_reconcile_hours",
    "max_backoff_seconds",
    "shutdown_grace_seconds",
    "shard",
}


def sync_section(r: TableReader, data: Mapping[str, Any]) -> SyncSettings:
    t = r.table(data, "sync", _SYNC_KEYS)
    return SyncSettings(
        page_size=r.integer(t, "sync", "page_size", 1000, 1, 1000),
        lookback_seconds=r.number(t, "sync", "lookback_seconds", 120.0, 60.0, 86400.0),
        on_name_conflict=r.string(  # type: ignore[arg-type]
            t, "sync", "on_name_conflict", "reject", ("reject", "adopt")
        )
        or "reject",
        lock_timeout_seconds=r.number(t, "sync", "lock_timeout_seconds", 10.0, 0.0, 3600.0),
        lease_seconds=r.number(t, "sync", "lease_seconds", 60.0, 5.0, 3600.0),
        transaction_rows=r.integer(t, "sync", "transaction_rows", 20_000, 1, 100_000),
        transaction_seconds=r.number(t, "sync", "transaction_seconds", 2.0, 0.0, 600.0),
        clock_skew_seconds=r.number(t, "sync", "clock_skew_seconds", 300.0, 1.0, 86400.0),
        run_deadline_seconds=r.number(t, "sync", "run_deadline_seconds", 3600.0, 10.0, 7 * 86400.0),
        response_bytes_per_row=r.integer(
            t, "sync", "response_bytes_per_row", 32 * 1024, 1024, 64 * 1024 * 1024
        ),
    )


def schedule_section(r: TableReader, data: Mapping[str, Any]) -> ScheduleSettings:
    t = r.table(data, "schedule", _SCHEDULE_KEYS)
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


def health_section(r: TableReader, data: Mapping[str, Any], environ: Mapping[str, str]) -> HealthSettings:
    t = r.table(data, "health", {"listen", "max_staleness_seconds"})
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


def log_section(r: TableReader, data: Mapping[str, Any]) -> LogSettings:
    t = r.table(data, "log", {"level", "format"})
    return LogSettings(
        level=r.string(t, "log", "level", "info", ("debug", "info", "warning", "error")) or "info",
        format=r.string(
            t,
            "log",
            "format",
            "auto",  # type: ignore[arg-type]
            ("auto", "json", "console"),
        )
        or "auto",
    )
