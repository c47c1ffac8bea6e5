"""Scale-out: shards split instances by a stable hash, each instance exactly once."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from syncd.settings import Settings, parse_settings
from syncd.shard import apply_shard, shard_of, split


def _settings(names: list[str], shard: str | None = None) -> Settings:
    data: dict[str, object] = {
        "hub": {"url": "http://127.0.0.1:9", "token_env": "T"},
        "instances": [{"name": n, "url": f"sqlite:////tmp/{n}.db"} for n in names],
    }
    if shard is not None:
        data["schedule"] = {"shard": shard}
    return parse_settings(data, {"T": "tok-123456"})


NAMES = [f"lab-{i}" for i in range(40)]


def test_two_shards_split_every_instance_exactly_once() -> None:
    settings = _settings(NAMES)
    first = [i.name for i in split(settings.instances, (0, 2))]
    second = [i.name for i in split(settings.instances, (1, 2))]
    assert sorted(first + second) == sorted(NAMES)
    assert not set(first) & set(second)
    # a hash, not a round-robin on position: both shards get a fair share of 40
    assert 8 <= len(first) <= 32


def test_assignment_is_stable_across_processes() -> None:
    # Python's str hash is salted per process; the shard must not be
    code = "from syncd.shard import shard_of; print([shard_of(f'lab-{i}', 3) for i in range(40)])"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert runs == {str([shard_of(f"lab-{i}", 3) for i in range(40)]) + "\n"}


def test_a_single_shard_owns_everything() -> None:
    assert Counter(shard_of(n, 1) for n in NAMES) == Counter({0: len(NAMES)})


def test_command_line_shard_overrides_the_file() -> None:
    settings = _settings(NAMES, shard="1/2")
    assert [i.name for i in apply_shard(settings, None).instances] == [
        i.name for i in split(settings.instances, (1, 2))]
    narrowed = apply_shard(settings, (0, 2))
    assert narrowed.schedule.shard == (0, 2)
    assert [i.name for i in narrowed.instances] == [i.name for i in split(settings.instances, (0, 2))]
    assert apply_shard(_settings(NAMES), None).instances == settings.instances


@pytest.mark.parametrize("shard", [(2, 2), (-1, 2), (0, 0)])
def test_invalid_shards_are_refused(shard: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="shard"):
        split(_settings(NAMES).instances, shard)
