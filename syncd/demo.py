"""``syncd demo``: the main job on its embedded default.

Starts the bundled hub emulator on loopback with deterministic sample data
(the same rows every time, stamped well in the past), syncs it into two local
SQLite instances (plus PostgreSQL with ``--pg URL``) through the same code path
as ``syncd run-once``, and leaves the databases where it says. A second run
finds nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from syncd.hubsim.app import DEFAULT_TOKEN
from syncd.hubsim.sample import generate_sample
from syncd.hubsim.server import running_hub
from syncd.hubsim.store import HubStore
from syncd.models import Resource
from syncd.report import RunReport
from syncd.runner import run_sync
from syncd.settings import Settings, parse_settings

__all__ = ["SAMPLE_UNTIL", "demo_settings", "run_demo"]

# fixed, so that every demo run serves exactly the same rows
SAMPLE_UNTIL = datetime(2026, 1, 1, tzinfo=UTC)


def demo_settings(hub_url: str, directory: Path, pg_url: str | None) -> Settings:
    instances: list[dict[str, str]] = [
        {"name": "demo-a", "url": f"sqlite:///{directory / 'demo-a.db'}"},
        {"name": "demo-b", "url": f"sqlite:///{directory / 'demo-b.db'}"},
    ]
    if pg_url:
        instances.append({"name": "demo-pg", "url": pg_url})
    data = {"hub": {"url": hub_url, "token_env": "SYNCD_DEMO_TOKEN"}, "instances": instances}
    return parse_settings(data, {"SYNCD_DEMO_TOKEN": DEFAULT_TOKEN}, source="<syncd demo>")


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
    store = HubStore(seed=7)
    sample = generate_sample(spaces=spaces, blocks=blocks, seed=7, until=SAMPLE_UNTIL)
    store.load(Resource.SPACE, sample.spaces)
    store.load(Resource.SPACE_BLOCK, sample.blocks)
    with running_hub(store) as hub:
        settings = demo_settings(hub.url, directory, pg_url)
        return run_sync(settings), settings
