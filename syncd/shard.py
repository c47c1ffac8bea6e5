"""Scale-out: which instances a replica ``K/N`` owns.

Instances are assigned by a stable hash of their name (SHA-256, not Python's
salted ``hash``), so every replica computes the same split from the same
configuration, whatever process or machine it runs on. Per-instance locks in
the databases keep overlapping or misconfigured replicas safe regardless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace

from syncd.settings import InstanceSettings, Settings

__all__ = ["apply_shard", "format_shard", "shard_of", "split"]


def shard_of(name: str, count: int) -> int:
    """The shard (``0 <= shard < count``) that owns the instance called ``name``."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, got {count}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def split(instances: Iterable[InstanceSettings], shard: tuple[int, int]) -> tuple[InstanceSettings, ...]:
    """The instances owned by ``shard = (K, N)``, in configuration order."""
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard must satisfy 0 <= K < N, got {index}/{count}")
    return tuple(i for i in instances if shard_of(i.name, count) == index)


def apply_shard(settings: Settings, shard: tuple[int, int] | None) -> Settings:
    """``settings`` narrowed to one shard's instances; ``shard`` overrides ``[schedule] shard``."""
    chosen = shard if shard is not None else settings.schedule.shard
    if chosen is None:
        return settings
    schedule = replace(settings.schedule, shard=chosen)
    return replace(settings, schedule=schedule, instances=split(settings.instances, chosen))


def format_shard(shard: tuple[int, int] | None) -> str:
    return "all" if shard is None else f"{shard[0]}/{shard[1]}"
