"""Each instance's lane: pages applied in order on a thread of its own, a bounded lead, bugs surfaced."""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field

import pytest

from syncd.core.lanes import Lanes, in_context

DEADLINE = 10.0


class Inst:
    def __init__(self, name: str) -> None:
        self.name = name
        self.alive = True
        self.applied: list[int] = []
        self.threads: set[str] = set()
        self.commits = 0


def test_each_instance_applies_its_pages_in_order_on_its_own_thread() -> None:
    a, b = Inst("a"), Inst("b")
    with Lanes([a, b], lambda m: None, ahead=2) as lanes:
        for page in range(10):
            for m in (a, b):
                def apply(m: Inst = m, page: int = page) -> None:
                    m.applied.append(page)
                    m.threads.add(threading.current_thread().name)
                lanes.submit(m, apply)
        lanes.drain()
        assert a.applied == b.applied == list(range(10))
    assert len(a.threads) == len(b.threads) == 1
    assert a.threads != b.threads


def test_a_full_lane_has_the_others_commit_while_it_waits() -> None:
    slow, fast = Inst("slow"), Inst("fast")
    release = threading.Event()

    def commit(m: Inst) -> None:
        m.commits += 1
        release.set()  # the slow instance goes on once the other has committed

    with Lanes([slow, fast], commit, ahead=2, hold_seconds=0.01) as lanes:
        lanes.submit(fast, lambda: fast.applied.append(1))
        lanes.submit(slow, lambda: (release.wait(DEADLINE), slow.applied.append(1)))
        lanes.submit(slow, lambda: slow.applied.append(2))
        lanes.submit(slow, lambda: slow.applied.append(3))  # the lane is full: it waits, the other commits
        lanes.drain()
    assert (slow.applied, fast.applied) == ([1, 2, 3], [1])
    assert (fast.commits, slow.commits) == (1, 0)


def test_a_bug_in_a_lane_surfaces_at_drain() -> None:
    m = Inst("a")

    def broken() -> None:
        raise KeyError("bug")

    with Lanes([m], lambda m: None) as lanes:
        lanes.submit(m, broken)
        with pytest.raises(KeyError):
            lanes.drain()


def test_a_bug_nothing_collected_ends_the_group_on_exit() -> None:
    m = Inst("a")

    def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError), Lanes([m], lambda m: None) as lanes:
        lanes.submit(m, broken)


def test_work_runs_with_the_callers_context_variables() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("run-42")
    seen: list[str] = []
    thread = threading.Thread(target=in_context(lambda: seen.append(var.get())))
    thread.start()
    thread.join(DEADLINE)
    assert seen == ["run-42"]


@dataclass
class _LaneMember:
    name: str
    alive: bool = True
    done: list[str] = field(default_factory=list)
    threads: set[str] = field(default_factory=set)


def _commit(member: _LaneMember) -> None:
    member.done.append("commit")
    member.threads.add(threading.current_thread().name)


def test_commit_all_commits_every_live_lane_after_its_pages_on_that_lane() -> None:
    a, b, dead = _LaneMember("a"), _LaneMember("b"), _LaneMember("dead", alive=False)
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
