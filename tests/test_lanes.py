"""Lanes: each instance applies its pages in order on a thread of its own, and commits there."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from syncd.lanes import Lanes


@dataclass
class _Member:
    name: str
    alive: bool = True
    done: list[str] = field(default_factory=list)
    threads: set[str] = field(default_factory=set)


def _commit(member: _Member) -> None:
    member.done.append("commit")
    member.threads.add(threading.current_thread().name)


def test_commit_all_commits_every_live_lane_after_its_pages_on_that_lane() -> None:
    a, b, dead = _Member("a"), _Member("b"), _Member("dead", alive=False)
    with Lanes([a, b, dead], _commit) as lanes:
        for page in ("p1", "p2"):
            for m in (a, b):
                lanes.submit(m, lambda m=m, page=page: m.done.append(page))
        lanes.commit_all()
        # commit_all returns only once every lane has committed
        assert a.done == ["p1", "p2", "commit"]
        assert b.done == ["p1", "p2", "commit"]
    assert dead.done == []
    assert all(t.startswith("syncd-apply-") for t in a.threads | b.threads)
    assert a.threads != b.threads
