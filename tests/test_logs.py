"""Logging: JSON lines or console output, UTC timestamps, stdlib routing, and secrets that never appear."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from syncd.logs import MASK, configure_logging, register_secret
from syncd.secrets import Secret

CANARY = "canary-7f3a9c-do-not-log"




def _json_lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def _leaky(token: str) -> None:
    secret_local = token  # a local holding the secret: must not be rendered in a traceback
    raise RuntimeError(f"hub refused token {secret_local}")


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_with_iso_utc_timestamp_and_fields() -> None:
    buf = io.StringIO()
    configure_logging(stream=buf, fmt="auto")  # StringIO is not a terminal: JSON
    before = datetime.now(UTC)
    structlog.get_logger("syncd.test").info("hub.request", status=200, resource="space")
    after = datetime.now(UTC)
    (event,) = _json_lines(buf)
    assert event["event"] == "hub.request"
    assert event["status"] == 200
    assert event["level"] == "info"
    stamp = datetime.fromisoformat(str(event["timestamp"]))
    assert stamp.utcoffset() is not None
    assert stamp.utcoffset() == UTC.utcoffset(None)
    assert before <= stamp <= after  # the time of the call, to the microsecond


@pytest.mark.usefixtures("restore_logging")
def test_console_renderer_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    buf = Tty()
    configure_logging(stream=buf, fmt="auto")
    structlog.get_logger().info("sync.done", instance="lab-a")
    text = buf.getvalue()
    assert "sync.done" in text
    assert "instance=lab-a" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


@pytest.mark.usefixtures("restore_logging")
def test_stdlib_loggers_go_through_the_same_pipeline() -> None:
    buf = io.StringIO()
    configure_logging(stream=buf, fmt="json", level="info")
    logging.getLogger("sqlalchemy.pool").warning("pool %s exhausted", "main")
    logging.getLogger("apscheduler.scheduler").error("job missed")
    events = _json_lines(buf)
    assert [(e["logger"], e["event"], e["level"]) for e in events] == [
        ("sqlalchemy.pool", "pool main exhausted", "warning"),
        ("apscheduler.scheduler", "job missed", "error"),
    ]
    assert all("timestamp" in e for e in events)


@pytest.mark.usefixtures("restore_logging")
def test_level_filters_both_structlog_and_stdlib() -> None:
    buf = io.StringIO()
    configure_logging(stream=buf, fmt="json", level="warning")
    structlog.get_logger().info("quiet")
    logging.getLogger("httpx").info("HTTP Request: GET /rest/v1/space")
    structlog.get_logger().warning("loud")
    assert [e["event"] for e in _json_lines(buf)] == ["loud"]


@pytest.mark.usefixtures("restore_logging")
def test_contextvars_are_bound_to_every_event() -> None:
    buf = io.StringIO()
    configure_logging(stream=buf, fmt="json")
    with structlog.contextvars.bound_contextvars(run_id="r1", instance="lab-a"):
        structlog.get_logger().info("page.applied")
        logging.getLogger("httpx").warning("slow")
    structlog.get_logger().info("after")
    first, second, third = _json_lines(buf)
    assert (first["run_id"], first["instance"]) == ("r1", "lab-a")
    assert second["run_id"] == "r1"
    assert "run_id" not in third


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.usefixtures("restore_logging")
def test_canary_secret_never_appears(fmt: str) -> None:
    buf = io.StringIO()
    configure_logging(stream=buf, fmt=fmt)  # type: ignore[arg-type]
    register_secret(CANARY)
    log = structlog.get_logger("syncd.test")
    log.info("cfg", token=CANARY, hub_token="x", password="pw", Authorization=f"Bearer {CANARY}")
    log.info("url", url=f"postgresql://syncd:{CANARY}@db/lab",
             nested={"headers": {"apikey": "k"}, "v": [CANARY]})
    log.info("secret.object", value=Secret(CANARY), obj=ValueError(CANARY))
    try:
        _leaky(CANARY)
    except RuntimeError:
        log.exception("sync.crashed")
    try:
        _leaky(CANARY)
    except RuntimeError:
        logging.getLogger("apscheduler.executors.default").exception("Job raised %s", CANARY)
    logging.getLogger("httpx").warning("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123")
    text = buf.getvalue()
    assert CANARY not in text
    assert "abcdefghijklmnopqrstuvwxyz0123" not in text
    assert text.count(MASK) >= 9
    # the tracebacks are there (without the secret), and render no locals
    assert text.count("Traceback (most recent call last)") == 2
    assert "secret_local =" not in text
    assert "_leaky" in text
    assert "RuntimeError: hub refused token " + MASK in text


@pytest.mark.usefixtures("restore_logging")
def test_credential_named_keys_are_masked_even_unregistered() -> None:
    buf = io.StringIO()
    configure_logging(stream=buf, fmt="json")
    structlog.get_logger().info("x", db_password="hunter2-unregistered", api_key="k-123", count=3)
    (event,) = _json_lines(buf)
    assert event["db_password"] == MASK
    assert event["api_key"] == MASK
    assert event["count"] == 3


def test_short_values_are_not_registered() -> None:
    register_secret("ab")
    buf = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging(stream=buf, fmt="json")
        structlog.get_logger().info("about tab")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
    assert _json_lines(buf)[0]["event"] == "about tab"


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level="chatty", stream=io.StringIO())


@pytest.mark.usefixtures("restore_logging")
def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first, fmt="json")
    configure_logging(stream=second, fmt="json")
    structlog.get_logger().info("once")
    assert first.getvalue() == ""
    assert len(_json_lines(second)) == 1


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_for_follows_the_settings_log_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from syncd.logs import configure_logging_for
    from syncd.settings import load_settings

    path = tmp_path / "syncd.toml"
    path.write_text(
        '[hub]\nurl = "http://127.0.0.1:9"\n[log]\nlevel = "warning"\nformat = "json"\n'
        f'[[instances]]\nname = "lab-a"\nurl = "sqlite:///{tmp_path}/a.db"\n'
    )
    configure_logging_for(load_settings(path, {"SYNCD_HUB_TOKEN": "tok-logs-test-1"}))
    log = structlog.get_logger("syncd.test")
    log.info("quiet.event")
    log.warning("loud.event", instance="lab-a")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [(e["event"], e["level"], e["instance"]) for e in lines] == [("loud.event", "warning", "lab-a")]
