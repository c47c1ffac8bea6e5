"""``syncd hubsim``: run the bundled hub emulator until SIGINT or SIGTERM.

Prints one line, ``hubsim url=http://127.0.0.1:8900 tokens=hubsim-token``,
then serves REST and the Realtime endpoint (``/realtime/v1/websocket``).
``--help`` shows the REST API's headers and the admin API; ``docs/hubsim.md``
documents both in full. Exit codes: 0 after a signal, 1 when the port cannot
be bound, 2 for a bad command line (including a non-loopback ``--host`` without
``--allow-remote``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from syncd.hubsim.app import DEFAULT_TOKEN, HubApp
from syncd.hubsim.clock import Clock, ManualClock, utc_now
from syncd.hubsim.faults import Faults
from syncd.hubsim.realtime_faults import REFUSALS, RealtimeFaults
from syncd.hubsim.rows import Spelling
from syncd.hubsim.sample import populate
from syncd.hubsim.server import is_loopback, start_server
from syncd.hubsim.store import HubStore

__all__ = ["build_parser", "main"]


def _fault(text: str) -> tuple[str, float]:
    kind, sep, rate = text.partition("=")
    if not sep or not (kind.isdigit() or kind in ("reset", "truncate")):
        raise argparse.ArgumentTypeError(f"expected STATUS=RATE, reset=RATE or truncate=RATE, got {text!r}")
    try:
        return kind, float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {rate!r}") from None


_DESCRIPTION = """\
Run the bundled hub emulator: the hub's PostgREST API over generated sample data,
with faults on demand. It prints one line, "hubsim url=http://127.0.0.1:8900
tokens=hubsim-token", then serves until SIGINT or SIGTERM.

REST API (what syncd reads): GET /rest/v1/space and GET /rest/v1/space_block with
the hub contract's queries. Every request must carry the token twice, as PostgREST
does: "apikey: TOKEN" and "Authorization: Bearer TOKEN"; without either, or with a
token the emulator does not know, it answers 401 (code PGRST301).
  curl -H 'apikey: hubsim-token' -H 'Authorization: Bearer hubsim-token' \\
    'http://127.0.0.1:8900/rest/v1/space?select=*&order=updated_at.asc,id.asc&limit=2'
"""

_EPILOG = """\
admin API (with --admin; JSON bodies; no token, so keep the emulator on loopback):
  POST /_sim/space                      create a space: {"name": ..., "id": ...}
  POST /_sim/space_block                create a block: {"space_id": ..., "content": ...}
  POST /_sim/{resource}/{id}            change columns: {"name": "Lab Zed"}
  POST /_sim/{resource}/{id}/delete     tombstone it; {"hard": true} removes the row
  POST /_sim/space_block/{id}/version   a new version: {"content": ..., "version_tag": ...}
  POST /_sim/{resource}/late            a late commit: {"row": {...}, "age_seconds": 30}
  GET  /_sim/{resource}[/{id}]          every row, or one
  PUT  /_sim/faults                     e.g. {"error_rates": {"503": 0.2}}, {"down": "503"}
  POST /_sim/faults/next                the next N requests fail: {"count": 2, "status": 503}
  DELETE /_sim/faults                   no faults
  PUT  /_sim/tokens, GET|DELETE /_sim/stats, GET|POST /_sim/clock (POST needs --manual-clock)
{resource} is space or space_block. Examples and every route: docs/hubsim.md.

exit codes: 0 stopped by a signal; 1 the port cannot be bound; 2 bad command line
(a non-loopback --host without --allow-remote included)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syncd hubsim",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1",
        help="address to bind (default: %(default)s; loopback only without --allow-remote)")
    add("--port", type=int, default=8900, help="port to bind (default: %(default)s); 0 picks a free one")
    add("--allow-remote", action="store_true", help="allow binding a non-loopback address")
    add("--spaces", type=int, default=5, help="sample spaces to generate (default: %(default)s)")
    add("--blocks", type=int, default=50,
        help="sample blocks to generate, all versions (default: %(default)s)")
    add("--content-size", type=int, default=500,
        help="approximate block content size in bytes (default: %(default)s)")
    add("--seed", type=int, default=0,
        help="seed for sample data, spellings and faults (default: %(default)s)")
    add("--token", action="append", default=[],
        help=f"accepted token seeing every space (repeatable; default: {DEFAULT_TOKEN})")
    add("--max-rows", type=int, default=1000, help="server-side row cap per page (default: %(default)s)")
    add("--spellings", action="store_true", help="serve timestamps in varied spellings")
    add("--fault", action="append", type=_fault, default=[], metavar="KIND=RATE",
        help="random faults per request, e.g. 503=0.1, 429=0.05, reset=0.01, truncate=0.01 (repeatable)")
    add("--retry-after", type=float, default=1.0,
        help="Retry-After seconds on injected 429/503 (default: %(default)s)")
    add("--latency-ms", type=float, default=0.0, help="added latency per request (default: %(default)s)")
    add("--admin", action="store_true", help="serve the /_sim/ admin API (below)")
    add("--manual-clock", action="store_true", help="the clock moves only via POST /_sim/clock")
    add("--realtime-refuse", type=int, choices=REFUSALS, default=None,
        help="refuse Realtime websocket upgrades with this status (the doorbell off)")
    add("--realtime-drop-rate", type=float, default=0.0, help="probability a Realtime event is lost")
    add("--realtime-delay-ms", type=float, default=0.0, help="delay before each Realtime event is sent")
    add("--realtime-early-ms", type=float, default=0.0,
        help="writes become visible to REST this long after their Realtime event")
    return parser


def _faults(args: argparse.Namespace) -> Faults:
    rates: dict[int, float] = {}
    others: dict[str, Any] = {}
    for kind, rate in args.fault:
        if kind.isdigit():
            rates[int(kind)] = rate
        else:
            others[f"{kind}_rate"] = rate
    faults = Faults(seed=args.seed, retry_after=args.retry_after, latency_ms=args.latency_ms)
    faults.update({"error_rates": rates, **others})
    return faults


def _realtime_faults(args: argparse.Namespace) -> RealtimeFaults:
    return RealtimeFaults(refuse=args.realtime_refuse, drop_rate=args.realtime_drop_rate,
                          delay_ms=args.realtime_delay_ms, early_ms=args.realtime_early_ms, seed=args.seed)


def main(
    argv: list[str] | None = None,
    *,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
    clock: Clock = utc_now,
) -> int:
    """Parse ``argv``, build and populate the emulator, serve until a signal (or ``stop`` is set)."""
    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.allow_remote and not is_loopback(args.host):
            parser.error(f"--host {args.host} is not a loopback address; add --allow-remote to bind it")
        faults = _faults(args)
        realtime = _realtime_faults(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except ValueError as exc:
        sys.stderr.write(f"syncd hubsim: {exc}\n")
        return 2
    store = HubStore(
        clock=ManualClock(clock()) if args.manual_clock else clock,
        seed=args.seed,
        spelling=Spelling(args.seed) if args.spellings else None,
    )
    populate(store, spaces=args.spaces, blocks=args.blocks, seed=args.seed, content_size=args.content_size)
    tokens = args.token or [DEFAULT_TOKEN]
    app = HubApp(
        store, tokens=dict.fromkeys(tokens, "all"), faults=faults, max_rows=args.max_rows, admin=args.admin,
        realtime=realtime,
    )
    try:
        server, thread = start_server(app, args.host, args.port, allow_remote=args.allow_remote)
    except OSError as exc:
        sys.stderr.write(f"syncd hubsim: cannot listen on {args.host}:{args.port}: {exc.strerror}\n")
        return 1
    stop = stop or threading.Event()
    restore = _on_signals(stop)
    try:
        host = f"[{args.host}]" if ":" in args.host else args.host
        out.write(f"hubsim url=http://{host}:{server.port} tokens={','.join(tokens)}\n")
        out.flush()
        stop.wait()
    finally:
        restore()
        server.shutdown()
        thread.join()
    return 0


def _on_signals(stop: threading.Event) -> Callable[[], None]:
    """Set ``stop`` on SIGINT/SIGTERM (main thread only); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


if __name__ == "__main__":
    raise SystemExit(main())
