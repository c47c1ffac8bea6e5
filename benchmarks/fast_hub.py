"""The benchmarks' hub: the emulator's pages, fetched and encoded once, then served from memory.

    python benchmarks/fast_hub.py --upstream http://127.0.0.1:PORT [--token T] [--page-size 1000]

Why: the emulator (``syncd hubsim``) selects every page from its store on
each request, so a copy from it measures the emulator as much as the client.
This process sits in front of it. Before it reports ready it walks every
resource's change stream once through the emulator, with the query strings
the hub contract fixes (the ones syncd and ``baseline.py`` both send: first
page, then keyset continuations, up to the terminal empty page), and keeps
each answer's body as bytes, keyed by the exact path and query. A request
for one of those, with the token it was primed with, is then answered from
memory in one write: what a fast hub serves, byte for byte what the emulator
served. Everything else (other queries, a wrong token, the Realtime
websocket, the emulator's ``/_sim/`` admin API) is passed to the emulator.
Any ``/_sim/`` call other than reading or resetting the counters may change
the hub's data, so it empties the cache first: from then on every request
is the emulator's.

``GET /_sim/stats`` and ``DELETE /_sim/stats`` are answered here, in the
emulator's shape (``{"requests": {resource: {status: n}}}``) plus
``{"memory": n, "forwarded": n}``, counting requests from both sources.

Prints ``fasthub url=http://127.0.0.1:PORT pages=N bytes=M`` once ready.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

RESOURCES = ("space", "space_block")
_FIRST = "select=*&order=updated_at.asc,id.asc&limit={n}"
_AFTER = "&or=(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{id}))"
_REST = re.compile(r"/rest/v1/([A-Za-z0-9_]+)")
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)


class Page:
    """One primed answer: the status line and headers that never change, and the body."""

    __slots__ = ("body", "head")

    def __init__(self, body: bytes, content_range: str) -> None:
        self.body = body
        self.head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nContent-Range: {content_range}\r\n"
        ).encode("ascii")


def prime(upstream: httpx.Client, page_size: int) -> dict[str, Page]:
    """Every page of every resource's change stream, keyed by ``path?query``, as the emulator serves it."""
    pages: dict[str, Page] = {}
    for resource in RESOURCES:
        query = _FIRST.format(n=page_size)
        while True:
            target = f"/rest/v1/{resource}?{query}"
            response = upstream.get(target)
            response.raise_for_status()
            pages[target] = Page(response.content, response.headers.get("content-range", "*/*"))
            rows: list[dict[str, Any]] = response.json()
            if not rows:
                break
            last = rows[-1]
            query = _FIRST.format(n=page_size) + _AFTER.format(
                ts=quote(last["updated_at"], safe=""), id=last["id"]
            )
    return pages


class FastHub(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], upstream: str, token: str, pages: dict[str, Page]) -> None:
        self.upstream = upstream.rstrip("/")
        self.authorization = f"Bearer {token}"
        self.token = token
        self.pages = pages
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.sources: Counter[str] = Counter()
        self.local = threading.local()
        super().__init__(address, _Handler)

    def client(self) -> httpx.Client:
        """One upstream connection per serving thread (httpx clients are not shared across threads)."""
        client: httpx.Client | None = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = httpx.Client(base_url=self.upstream, timeout=60.0)
        return client

    def count(self, path: str, status: int, source: str) -> None:
        match = _REST.fullmatch(path)
        label = match[1] if match and match[1] in RESOURCES else "other"
        with self.lock:
            self.requests[(label, str(status))] += 1
            self.sources[source] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            by_resource: dict[str, dict[str, int]] = {}
            for (label, status), n in self.requests.items():
                by_resource.setdefault(label, {})[status] = n
            return {"requests": by_resource, "memory": self.sources["memory"],
                    "forwarded": self.sources["forwarded"]}

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.sources.clear()

    def forget(self) -> None:
        """The hub's data may change: every later request goes to the emulator."""
        self.pages = {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FastHub
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        page = self.server.pages.get(self.path)
        if (
            page is not None
            and self.command == "GET"
            and self.headers.get("Authorization") == self.server.authorization
            and self.headers.get("apikey") == self.server.token
        ):
            date = f"Date: {formatdate(usegmt=True)}\r\n\r\n".encode("ascii")
            self.wfile.write(page.head + date + page.body)
            self.server.count(self.path.partition("?")[0], 200, "memory")
            return
        self._elsewhere()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _elsewhere(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/_sim/stats" and self.command in ("GET", "DELETE"):
            if self.command == "DELETE":
                self.server.reset()
            stats = json.dumps(self.server.stats()).encode()
            self._answer(200, [("Content-Type", "application/json")], stats)
            return
        if path.startswith("/_sim/"):
            self.server.forget()
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._splice()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS]
        headers.append(("Accept-Encoding", "identity"))
        try:
            response = self.server.client().request(self.command, self.path, headers=headers, content=body)
        except httpx.HTTPError:
            self._answer(502, [], b"")
            return
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_HEADERS]
        self._answer(response.status_code, kept, response.content)
        self.server.count(path, response.status_code, "forwarded")

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _splice(self) -> None:
        """A websocket upgrade: replay the request to the emulator, then copy bytes both ways until EOF."""
        self.close_connection = True
        address = urlsplit(self.server.upstream)
        upstream = socket.create_connection((address.hostname or "127.0.0.1", address.port or 80))
        head = f"{self.requestline}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()) + "\r\n"
        upstream.sendall(head.encode("latin-1"))

        def pump(read: Callable[[int], bytes], sink: socket.socket) -> None:
            try:
                while data := read(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for end in (upstream, self.connection):
                    with contextlib.suppress(OSError):
                        end.shutdown(socket.SHUT_RDWR)

        # the client's side is read through rfile: bytes its parser already buffered belong to the stream
        back = threading.Thread(target=pump, args=(upstream.recv, self.connection), daemon=True)
        back.start()
        pump(self.rfile.read1, upstream)
        back.join()
        upstream.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--upstream", required=True, help="the emulator's base URL")
    parser.add_argument("--token", default="hubsim-token", help="the token the pages are primed with")
    parser.add_argument("--page-size", type=int, default=1000, help="the limit clients ask for")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.token}", "apikey": args.token, "Accept": "application/json"}
    with httpx.Client(base_url=args.upstream.rstrip("/"), headers=headers, timeout=120.0) as upstream:
        pages = prime(upstream, args.page_size)
    server = FastHub(("127.0.0.1", args.port), args.upstream, args.token, pages)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    size = sum(len(p.body) for p in pages.values())
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"fasthub url={url} pages={len(pages)} bytes={size}", flush=True)
    server.serve_forever(poll_interval=0.05)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
