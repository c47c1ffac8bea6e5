"""Test doubles for the hub client's tests: a scripted hub, a fake clock and a recording observer."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from syncd.core.models import Resource
from syncd.core.report import Action, InstanceReport
from syncd.hub import HubClient
from syncd.secrets import Secret
from syncd.settings import HubSettings, TokenSource

TOKEN = "canary-tok-7f3e9b21d4c8a6"
HUB_URL = "http://127.0.0.1:9/hub"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A monotonic clock that only moves when something sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedHub:
    """An httpx handler answering each request with the next scripted reply."""

    def __init__(self, *replies: Reply, clock: FakeClock | None = None, request_seconds: float = 0.0) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        self.clock = clock
        self.request_seconds = request_seconds

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.clock is not None:
            self.clock.now += self.request_seconds
        if not self.replies:
            raise AssertionError(f"unexpected extra request {request.url}")
        reply = self.replies.pop(0)
        return reply(request) if callable(reply) else reply

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


def always(reply: Reply, times: int = 50) -> list[Reply]:
    return [reply] * times


def raising(exc_type: type[httpx.RequestError], message: str) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return handler


def ok(rows: list[dict[str, Any]] | None = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=rows if rows is not None else [], headers=headers)


@dataclass
class RecordingObserver:
    requests: list[tuple[str, str, float]] = field(default_factory=list)
    retries: list[tuple[str, float]] = field(default_factory=list)
    retry_messages: list[str] = field(default_factory=list)

    def hub_request(self, resource: str, status: str, seconds: float) -> None:
        self.requests.append((resource, status, seconds))

    def hub_retry(self, reason: str, delay: float, message: str = "") -> None:
        self.retries.append((reason, delay))
        self.retry_messages.append(message)

    def rows_applied(self, instance: str, resource: Resource, action: Action, count: int) -> None:
        return None

    def instance_done(self, report: InstanceReport) -> None:
        return None


def hub_settings(**overrides: Any) -> HubSettings:
    values: dict[str, Any] = {
        "url": HUB_URL,
        "token": Secret(TOKEN),
        "token_source": TokenSource("env", "SYNCD_HUB_TOKEN"),
        "timeout_seconds": 12.0,
        "retry_attempts": 8,
        "retry_max_seconds": 300.0,
        "retry_after_cap_seconds": 120.0,
    }
    values.update(overrides)
    return HubSettings(**values)


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock,
    *,
    observer: RecordingObserver | None = None,
    max_body_bytes: int | None = None,
    **settings: Any,
) -> HubClient:
    bound = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
    return HubClient(
        hub_settings(**settings),
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        observer=observer,
        rng=random.Random(7),
        **bound,
    )
