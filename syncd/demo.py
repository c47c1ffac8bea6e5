"""``syncd demo``: the main job on its embedded default.

Starts the bundled hub emulator on loopback with deterministic sample data
(the same rows every time, stamped well in the past), syncs it into two local
SQLite instances (plus PostgreSQL with ``--pg URL``) through the same code path
as ``syncd run-once``, and leaves the databases where it says. A second run
finds nothing new.

With ``--watch`` (:func:`watch_demo`) the demo keeps going: ``syncd serve``'s
daemon runs in-process against the emulator, with the Realtime doorbell,
while a change is made on the emulator every few seconds and each one is
printed as it lands in each instance, with its latency.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from syncd.core.models import Resource
from syncd.core.report import RunReport
from syncd.daemon.service import Daemon
from syncd.hubsim.app import DEFAULT_TOKEN
from syncd.hubsim.sample import generate_sample
from syncd.hubsim.server import running_hub
from syncd.hubsim.store import HubStore
from syncd.runner import run_sync
from syncd.settings import Settings, parse_settings
from syncd.watch import Tracker, make_change

__all__ = ["SAMPLE_UNTIL", "demo_settings", "run_demo", "watch_demo"]

# fixed, so that every demo run serves exactly the same rows
SAMPLE_UNTIL = datetime(2026, 1, 1, tzinfo=UTC)


def demo_settings(
    hub_url: str, directory: Path, pg_url: str | None, *, health_listen: str | None = None
) -> Settings:
    instances: list[dict[str, str]] = [
        {"name": "demo-a", "url": f"sqlite:///{directory / 'demo-a.db'}"},
        {"name": "demo-b", "url": f"sqlite:///{directory / 'demo-b.db'}"},
    ]
    if pg_url:
        instances.append({"name": "demo-pg", "url": pg_url})
    hub = {"url": hub_url, "token_env": "SYNCD_DEMO_TOKEN"}
    data: dict[str, object] = {"hub": hub, "instances": instances}
    if health_listen is not None:
        data["health"] = {"listen": health_listen}
    return parse_settings(data, {"SYNCD_DEMO_TOKEN": DEFAULT_TOKEN}, source="<syncd demo>")


def _sample_store(spaces: int, blocks: int) -> HubStore:
    store = HubStore(seed=7)
    sample = generate_sample(spaces=spaces, blocks=blocks, seed=7, until=SAMPLE_UNTIL)
    store.load(Resource.SPACE, sample.spaces)
    store.load(Resource.SPACE_BLOCK, sample.blocks)
    return store


def run_demo(
    directory: Path,
    *,
    pg_url: str | None = None,
    spaces: int = 25,
    blocks: int = 500,
    environ: Mapping[str, str] | None = None,
) -> tuple[RunReport, Settings]:
    """Serve the sample hub, sync it once into the demo instances, and return the report."""
    directory.mkdir(parents=True, exist_ok=True)
    with running_hub(_sample_store(spaces, blocks)) as hub:
        settings = demo_settings(hub.url, directory, pg_url)
        return run_sync(settings), settings


def watch_demo(
    directory: Path,
    out: TextIO,
    stop: threading.Event,
    *,
    pg_url: str | None = None,
    every: float = 3.0,
    seconds: float | None = None,
    spaces: int = 25,
    blocks: int = 500,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Serve, sync and change the sample hub until ``stop`` is set or ``seconds`` pass; 1 if it cannot start.

    Changes begin once every instance has had its first sync.
    """
    directory.mkdir(parents=True, exist_ok=True)
    store = _sample_store(spaces, blocks)
    rng = random.Random(7)
    with running_hub(store) as hub:
        settings = demo_settings(hub.url, directory, pg_url, health_listen="127.0.0.1:0")
        daemon = Daemon(Path("<syncd demo --watch>"), {}, load=lambda _path, _env: settings)
        if daemon.start() is not None:
            return 1
        tracker = Tracker({i.name: i.url.reveal() for i in settings.instances})
        try:
            _watch(daemon, store, tracker, out, stop, rng, every=every,
                   end=None if seconds is None else clock() + seconds, clock=clock)
        finally:
            tracker.close()
            daemon.request_stop()
            daemon.shutdown()
    return 0


def _watch(
    daemon: Daemon, store: HubStore, tracker: Tracker, out: TextIO, stop: threading.Event,
    rng: random.Random, *, every: float, end: float | None, clock: Callable[[], float],
) -> None:
    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    health = daemon.health
    assert health is not None
    names = [i.name for i in daemon.settings.instances] if daemon.settings else []
    say("First sync of the sample data...")
    while not stop.is_set() and (end is None or clock() < end):
        if all((h := health.instance(n)) is not None and h.last_success for n in names):
            break
        stop.wait(0.05)
    say(f"Watching: a change on the hub every {every:g} s, each printed as it lands. Ctrl-C stops.")
    number, next_change, doorbell = 0, clock(), None
    while not stop.is_set() and (end is None or clock() < end):
        states = sorted({str(b.get("state")) for b in daemon.doorbells.snapshot().values()})
        if states != doorbell:
            doorbell = states
            say(f"doorbell: {', '.join(states) or 'none'}")
        if clock() >= next_change:
            probe = make_change(store, rng, number)
            tracker.add(number, probe, clock())
            say(f"#{number} on the hub: {probe.what}")
            number, next_change = number + 1, next_change + every
        for landing in tracker.poll():
            say(f"   #{landing.number} landed in {landing.instance} after {landing.seconds * 1000:.0f} ms")
        stop.wait(0.02)
