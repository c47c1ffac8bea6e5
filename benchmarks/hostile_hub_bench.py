"""``syncd run-once`` against a hostile hub: peak RSS, wall time and outcome per attack.

    python benchmarks/hostile_hub_bench.py [--work-dir DIR] [--only NAME ...]

A tiny HTTP server on 127.0.0.1 (in this process) answers every request with
one attack: a 500 MB body, a gzip bomb, a body trickling one byte a second,
a page of 1.7 million rows, JSON nested 100,000 levels deep, a hub that goes
silent just before the request's time bound. Each run is the
real command (``syncd run-once`` with a configuration file, JSON logs) in its
own process under ``bench_wrap.py``, so its peak RSS is its own and the
server's memory is not counted. Prints one table row per attack.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench_procs import Measured, run_measured, syncd_cmd

TOKEN = "hostile-bench-token"
MB = 1024 * 1024
CHUNK = 64 * 1024
ROW = (
    b'{"id":"0b0e1c2a-5d6f-4a1b-8c9d-0e1f2a3b4c5d","lnid":"abcdefghijkl","name":"a space",'
    b'"description":null,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z",'
    b'"deleted_at":null,"created_by":null},'
)
TIMEOUT_SECONDS = 10


def _repeat(unit: bytes, total: int, head: bytes = b"[") -> Iterator[bytes]:
    """``head`` then ``unit`` repeated, ``total`` bytes in all, in chunks of about CHUNK bytes."""
    yield head
    block = unit * max(1, CHUNK // len(unit))
    sent = len(head)
    while sent < total:
        piece = block[: total - sent]
        sent += len(piece)
        yield piece


@functools.cache
def _gzip_spaces(inflated: int) -> bytes:
    """A valid JSON array padded with ``inflated`` bytes of spaces, gzip-compressed (a bomb)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    blank = b" " * MB
    parts = [squeeze.compress(b"[")]
    parts.extend(squeeze.compress(blank) for _ in range(inflated // MB))
    parts.append(squeeze.compress(b"]"))
    parts.append(squeeze.flush())
    return b"".join(parts)


def _silent_before_the_bound() -> Iterator[bytes]:
    """A byte just before the request's bound, then nothing: one read timeout would end at twice it."""
    yield b"["
    time.sleep(TIMEOUT_SECONDS - 1)
    yield b" "
    time.sleep(600)
    yield b"]"


def _trickle() -> Iterator[bytes]:
    yield b"["
    for _ in range(600):
        time.sleep(1.0)
        yield b" "


class Attack:
    def __init__(
        self,
        name: str,
        body: Callable[[], Iterator[bytes]],
        headers: dict[str, str] | None = None,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.body = body
        self.headers = headers or {}
        self.prepare = prepare  # built before the run starts, so the hub answers at once


def attacks() -> list[Attack]:
    return [
        Attack("500 MB body, length not declared", lambda: _repeat(ROW, 500 * MB)),
        Attack(
            "500 MB body, Content-Length declared",
            lambda: _repeat(ROW, 500 * MB),
            {"Content-Length": str(500 * MB)},
        ),
        Attack(
            "gzip bomb inflating to 2 GB",
            lambda: iter([_gzip_spaces(2048 * MB)]),
            {"Content-Encoding": "gzip"},
            prepare=lambda: _gzip_spaces(2048 * MB),
        ),
        Attack("1.7 million rows for limit=1000", lambda: _repeat(ROW, 1_700_000 * len(ROW))),
        Attack("30 MB of empty objects (under the byte bound)", lambda: _repeat(b"{},", 30 * MB)),
        Attack("JSON nested 100,000 levels deep", lambda: iter([b"[" * 100_000 + b"]" * 100_000])),
        Attack(f"body trickling 1 byte/s (timeout_seconds = {TIMEOUT_SECONDS})", _trickle),
        Attack(f"a byte at {TIMEOUT_SECONDS - 1} s, then silence", _silent_before_the_bound),
    ]


class HostileServer:
    """Answers every GET with the current attack; counts the bytes it got out."""

    def __init__(self) -> None:
        self.attack: Attack | None = None
        self.sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def do_GET(self) -> None:
                attack = server.attack
                assert attack is not None
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                for key, value in attack.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    for chunk in attack.body():
                        self.wfile.write(chunk)
                        server.sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what the bounds are for

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _config(work: Path, url: str) -> Path:
    path = work / "syncd.toml"
    path.write_text(
        f'[hub]\nurl = "{url}"\ntimeout_seconds = {TIMEOUT_SECONDS}\nretry_attempts = 2\n'
        'retry_max_seconds = 60\n\n[log]\nformat = "json"\n\n'
        f'[[instances]]\nname = "victim"\nurl = "sqlite:///{work / "victim.db"}"\n',
        encoding="utf-8",
    )
    return path


def _outcome(log: Path) -> tuple[str, str]:
    for line in reversed(log.read_text(encoding="utf-8", errors="replace").splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "sync.summary":
            inst = event["instances"][0]
            return str(inst.get("error_kind") or inst["outcome"]), str(inst.get("error", ""))[:150]
    return "?", "no sync.summary in the output"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", help="keep the configuration, logs and database here")
    parser.add_argument("--only", nargs="*", default=[], help="run only attacks whose name contains this")
    args = parser.parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="syncd-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    env["SYNCD_HUB_TOKEN"] = TOKEN
    chosen = [a for a in attacks() if not args.only or any(o in a.name for o in args.only)]
    print(f"{'attack':<48} {'outcome':<18} {'peak RSS':>9} {'wall':>7} {'hub sent':>10}  message")
    with HostileServer() as server:
        config = _config(work, server.url)
        for n, attack in enumerate(chosen):
            if attack.prepare is not None:
                attack.prepare()
            server.attack, server.sent = attack, 0
            log = work / f"run-{n}.log"
            command = [*syncd_cmd(), "run-once", "--config", str(config)]
            measured: Measured = run_measured(attack.name, command, env=env, log=log, timeout=600)
            kind, message = _outcome(log)
            print(
                f"{attack.name:<48} {kind:<18} {measured.rss_mb:>6.0f} MB {measured.wall:>6.1f}s "
                f"{server.sent / MB:>7.1f} MB  exit {measured.exit_code}: {message}",
                flush=True,
            )
    print(f"logs in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
