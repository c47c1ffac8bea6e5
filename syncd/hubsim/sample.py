"""Deterministic sample data for the emulator: spaces, versioned blocks, tombstones.

``generate_sample(seed=..., until=...)`` is a pure function of its arguments:
the same seed and ``until`` give the same rows. Every stamp lies in the past,
at or before ``until``; :func:`populate` puts ``until`` ten minutes before the
store's clock, so a first sync followed by a second one sees nothing new (the
quiet gap is longer than the contract's 60-second late-commit window).

Shape: space names from a pool ("Lab A", unicode names) made unique
case-insensitively, some with descriptions; blocks spread over the spaces,
grouped into stems of 1 to 3 versions of which exactly the newest is
``is_latest``; ``readme`` and ``comment`` kinds; a few tombstones; creators
from a small pool of accounts; runs of rows sharing one ``updated_at`` (ties),
and stamps with 0, 3 or 6 significant fractional digits.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from syncd.core.models import Resource
from syncd.hubsim.store import HubStore

__all__ = ["ACCOUNTS", "Sample", "generate_sample", "populate"]

ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"lnid": "aL1ce000", "handle": "alice", "name": "Alice Liddell"},
    {"lnid": "b0bBy123", "handle": "bob", "name": "Bob Ødegaard"},
    {"lnid": "cHar1ie9", "handle": "charlie-k", "name": None},
    {"lnid": "d1ana777", "handle": "diana", "name": "Diana Müller-Šimić"},
)
_SPACE_NAMES = (
    "Lab A",
    "Lab B",
    "Labor Ü",
    "Équipe β",
    "実験室 3",
    "Лаборатория",
    "🧪 Wet lab",
    "Data science",
    "Imaging core",
    "Proteomics",
)
_DESCRIPTIONS = (None, "Shared notes of the team.", "Protokolle & Ergebnisse", "細胞培養のメモ", None)
_WORDS = [
    "cells",
    "sample",
    "assay",
    "buffer",
    "plate",
    "ratio",
    "gene",
    "protein",
    "measure",
    "result",
    "control",
    "dilution",
    "incubate",
    "37°C",
    "µl",
    "naïve",
    "café",
    "Δt",
    "細胞",
    "données",
    "résultats",
    "größe",
]
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Sample:
    """Generated rows, ready for :meth:`HubStore.load` (``hash`` is computed by the store)."""

    spaces: list[dict[str, Any]]
    blocks: list[dict[str, Any]]


class _Stamps:
    """Increasing stamps spread over a period, with ties and varied precision."""

    def __init__(self, rng: random.Random, start: datetime, until: datetime, count: int) -> None:
        self._rng = rng
        self._step = (until - start) / max(count, 1)
        self._next = start
        self._until = until
        self._last: datetime | None = None

    def take(self) -> datetime:
        rng = self._rng
        if self._last is not None and rng.random() < 0.15:
            return self._last  # same transaction: a tie on updated_at
        moment = min(self._next + self._step * rng.random(), self._until)
        self._next += self._step
        precision = rng.random()
        if precision < 0.2:
            moment = moment.replace(microsecond=0)
        elif precision < 0.4:
            moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        if self._last is not None and moment < self._last:
            moment = self._last
        self._last = moment
        return moment


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _lnid(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(_ALPHABET, k=length))


def _space_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    for i in range(count):
        base = _SPACE_NAMES[i % len(_SPACE_NAMES)]
        names.append(base if i < len(_SPACE_NAMES) else f"{base} {i // len(_SPACE_NAMES) + 1}")
    rng.shuffle(names)
    return names


def generate_sample(
    *,
    spaces: int = 5,
    blocks: int = 50,
    seed: int = 0,
    until: datetime,
    content_size: int = 500,
    tombstone_rate: float = 0.05,
    history_days: float = 30.0,
) -> Sample:
    """``spaces`` spaces and ``blocks`` blocks (all versions counted) stamped before ``until``."""
    if spaces < 1 and blocks > 0:
        raise ValueError("blocks need at least one space")
    rng = random.Random(seed)
    stamps = _Stamps(rng, until - timedelta(days=history_days), until, spaces + blocks)
    text = " ".join(rng.choice(_WORDS) for _ in range(max(2000, content_size)))
    space_rows: list[dict[str, Any]] = []
    for name in _space_names(rng, spaces):
        created = stamps.take()
        deleted = rng.random() < tombstone_rate
        space_rows.append(
            {
                "id": _uuid(rng),
                "lnid": _lnid(rng, 12),
                "name": name,
                "description": rng.choice(_DESCRIPTIONS),
                "created_at": created,
                "updated_at": stamps.take() if deleted else created,
                "created_by": None if rng.random() < 0.1 else dict(rng.choice(ACCOUNTS)),
            }
        )
        space_rows[-1]["deleted_at"] = space_rows[-1]["updated_at"] if deleted else None
    block_rows: list[dict[str, Any]] = []
    while len(block_rows) < blocks:
        versions = min(rng.choice((1, 1, 1, 2, 3)), blocks - len(block_rows))
        space = rng.choice(space_rows)
        stem, kind, creator = (
            _lnid(rng, 16),
            rng.choice(("readme", "readme", "comment")),
            rng.choice(ACCOUNTS),
        )
        for version in range(versions):
            stamp = stamps.take()
            deleted = rng.random() < tombstone_rate
            start = rng.randrange(len(text) - content_size) if len(text) > content_size else 0
            block_rows.append(
                {
                    "id": _uuid(rng),
                    "lnid": stem + f"{version:04d}",
                    "space_id": space["id"],
                    "content": f"# {space['name']} note {len(block_rows)}\n\n"
                    + text[start : start + content_size],
                    "kind": kind,
                    "version_tag": f"v{version + 1}" if versions > 1 else None,
                    "is_latest": version == versions - 1,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "deleted_at": stamp if deleted else None,
                    "created_by": dict(creator),
                }
            )
    return Sample(spaces=space_rows, blocks=block_rows)


def populate(
    store: HubStore,
    *,
    spaces: int = 5,
    blocks: int = 50,
    seed: int = 0,
    content_size: int = 500,
    quiet_seconds: float = 600.0,
) -> Sample:
    """Generate a sample ending ``quiet_seconds`` before the store's clock and load it."""
    sample = generate_sample(
        spaces=spaces,
        blocks=blocks,
        seed=seed,
        until=store.now() - timedelta(seconds=quiet_seconds),
        content_size=content_size,
    )
    store.load(Resource.SPACE, sample.spaces)
    store.load(Resource.SPACE_BLOCK, sample.blocks)
    return sample
