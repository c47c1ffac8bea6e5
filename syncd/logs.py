"""Logging set-up: the only place that calls :func:`structlog.configure`.

Every event, from structlog or from a standard-library logger (APScheduler,
httpx, SQLAlchemy), goes through one pipeline ending in one handler:

    contextvars → level → logger name → ISO UTC timestamp → traceback as text
    → redaction → JSON line (not a terminal) or console line (a terminal)

Tracebacks are rendered as plain text without local variables, and only then
redacted, so a secret held in a frame's locals or quoted in an exception
message never reaches the output. Redaction masks the value of any key that
names a credential (``token``, ``password``, ``authorization``, ...), every
value registered through :func:`register_secret` wherever it appears in a
string, ``Bearer ...`` credentials, and the password of any URL or
``password=`` pair written in a string (:func:`syncd.secrets.scrub_url_text`).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from syncd.secrets import scrub_url_text, url_secrets

if TYPE_CHECKING:
    from syncd.settings import Settings

__all__ = [
    "MASK",
    "configure_logging",
    "configure_logging_for",
    "redact",
    "register_secret",
    "register_settings_secrets",
    "registered_secret_count",
    "scrub",
]

MASK = "**********"
# Shorter values would mask ordinary words; every real token and password is longer.
_MIN_SECRET_LENGTH = 4
_SECRET_KEY = re.compile(
    r"token|passw|secret|authori[sz]ation|api[-_]?key|credential|cookie|private[-_]?key",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# Libraries that say something on every request or job at INFO: quieter unless debugging.
_CHATTY = ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler")

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_HANDLER_MARK = "_syncd_handler"
_FIRST = ("timestamp", "level", "logger", "event")


def register_secret(value: str) -> None:
    """Mask ``value`` wherever it appears in any later log event (values under 4 characters are ignored)."""
    global _pattern
    value = value.strip()
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # longest first, so a secret containing another is masked whole
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def registered_secret_count() -> int:
    """How many secret values are registered (for diagnostics; never the values)."""
    return len(_secrets)


def scrub(text: str) -> str:
    """``text`` with registered secrets, URL passwords and ``Bearer`` credentials masked."""
    return _scrub_text(text)


def _scrub_text(text: str) -> str:
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = scrub_url_text(text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return _scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if depth > 8:
        return _scrub_text(repr(value))
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and _SECRET_KEY.search(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v, depth + 1) for v in value]
    # anything else is rendered now, so what its repr says can be checked
    return _scrub_text(repr(value))


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask credential-named keys and registered secret values."""
    out: EventDict = {}
    # the usual reading order first: when, how bad, who, what; then the fields
    keys = [k for k in _FIRST if k in event_dict] + [k for k in event_dict if k not in _FIRST]
    for key in keys:
        value = event_dict[key]
        if key.startswith("_"):  # ProcessorFormatter's bookkeeping (_record, _from_structlog)
            out[key] = value
        elif _SECRET_KEY.search(key):
            out[key] = MASK
        else:
            out[key] = _scrub(value)
    return out


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(fmt: Literal["json", "console"]) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer(sort_keys=False)
    # plain_traceback: never rich's pretty tracebacks, which can show locals
    return structlog.dev.ConsoleRenderer(
        colors=False,
        exception_formatter=structlog.dev.plain_traceback,
        sort_keys=False,
    )


def configure_logging(
    *,
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the standard library's logging once, at start-up.

    ``fmt="auto"`` picks the console renderer when ``stream`` (default stdout)
    is a terminal and JSON lines otherwise. Calling it again replaces the
    previous configuration (SIGHUP reload, tests).
    """
    out = stream if stream is not None else sys.stdout
    chosen: Literal["json", "console"]
    if fmt == "auto":
        isatty = getattr(out, "isatty", None)
        chosen = "console" if callable(isatty) and isatty() else "json"
    else:
        chosen = fmt
    numeric = _LEVELS.get(level.lower())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r} (known: {', '.join(_LEVELS)})")

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            # plain text traceback, no locals; then redaction sees it
            structlog.processors.format_exc_info,
            redact,
            _renderer(chosen),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _HANDLER_MARK, False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    chatty_level = numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(chatty_level)
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        # not cached: a reconfiguration (reload, tests) reaches loggers made earlier
        cache_logger_on_first_use=False,
    )


def configure_logging_for(settings: Settings) -> None:
    """:func:`configure_logging` as the settings' ``[log]`` section asks (a reload calls it again)."""
    configure_logging(level=settings.log.level, fmt=settings.log.format)


def register_settings_secrets(settings: Settings) -> None:
    """Register every hub token and database secret of ``settings`` for log redaction.

    Database secrets are every credential-bearing part of each instance URL
    (:func:`syncd.secrets.url_secrets`) and a password read from a file or a
    credential (``password_file``, ``password_credential``).
    """
    hubs = [settings.hub] if settings.hub is not None else []
    for inst in settings.instances:
        hubs.append(inst.hub)
        for value in url_secrets(inst.url.reveal()):
            register_secret(value)
        if inst.password is not None:
            register_secret(inst.password.reveal())
    for hub in hubs:
        register_secret(hub.token.reveal())
