"""The bundled hub emulator: the hub's PostgREST API and Realtime endpoint on loopback.

It is what tests, benchmarks and ``syncd demo`` talk to. Pieces:

- :class:`HubStore` (``store``): rows, stamped by an injectable clock;
- :class:`HubApp` (``app``): the PostgREST-dialect WSGI app, tokens, row cap;
- :class:`Faults` (``faults``): injected errors, resets, truncation, latency;
- ``realtime``: the Realtime endpoint (``/realtime/v1/websocket``, an event per
  store write) and its fault knobs (``realtime_faults``);
- :func:`start_server` / :func:`running_hub` (``server``): threaded HTTP on 127.0.0.1;
- :func:`populate` / :func:`generate_sample` (``sample``): deterministic sample data;
- ``syncd.hubsim.main.main``: the ``syncd hubsim`` command.

Example::

    store = HubStore()
    populate(store, spaces=3, blocks=20)
    with running_hub(store) as hub:
        httpx.get(f"{hub.url}/rest/v1/space?select=*&order=updated_at.asc,id.asc&limit=100",
                  headers={"Authorization": f"Bearer {hub.token}", "apikey": hub.token})
"""

from __future__ import annotations

from syncd.hubsim.app import DEFAULT_TOKEN, HubApp
from syncd.hubsim.clock import ManualClock, utc_now
from syncd.hubsim.faults import ConnectionAbort, Faults
from syncd.hubsim.rows import Spelling, hash_content
from syncd.hubsim.sample import Sample, generate_sample, populate
from syncd.hubsim.server import HubServer, RunningHub, running_hub, start_server
from syncd.hubsim.store import HubStore, Visibility

__all__ = [
    "DEFAULT_TOKEN",
    "ConnectionAbort",
    "Faults",
    "HubApp",
    "HubServer",
    "HubStore",
    "ManualClock",
    "RunningHub",
    "Sample",
    "Spelling",
    "Visibility",
    "generate_sample",
    "hash_content",
    "populate",
    "running_hub",
    "start_server",
    "utc_now",
]
