"""Every credential-bearing part of a database URL is masked wherever a URL is shown."""

from __future__ import annotations

import io
import json

import httpx
import pytest
import structlog

from syncd.core.report import InstanceReport
from syncd.daemon.health import HealthState, check
from syncd.errors import InstanceUnreachableError
from syncd.logs import configure_logging, register_settings_secrets, scrub
from syncd.registry import connection
from syncd.registry.errors import InstanceError
from syncd.secrets import mask_url, url_secrets
from syncd.settings import SyncSettings, parse_settings
from syncd.status_cli import print_status
from syncd.store.instance import InstanceStore

PW = "hunter2-canary-5d1e"
# port 1 on loopback: nothing listens, the connection is refused at once
UNREACHABLE = "postgresql://syncd@127.0.0.1:1/lab"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{PW}@h/db",
        f"postgresql://u@h/db?password={PW}",
        f"postgresql://u@h/db?PASSWORD={PW}",
        f"postgresql://u@h/db?Password={PW}&sslmode=require",
        f"postgresql://u@h/db?sslpassword={PW}",
        f"postgresql://u@h/db?pass%77ord={PW}",  # a percent-encoded key is still the password
        f"postgresql://u@h/db?password=decoy-value&password={PW}",
        f"postgresql://u:x@h/db?password={PW}",
        f"postgresql://u:{PW}@more@h/db",  # an '@' left unencoded in the password
        f"postgresql://h/dbname=lab%20password={PW}",  # a conninfo string in the database part
        f"sqlite:///file:lab.db?uri=true&key={PW}",  # SQLCipher's key
        f"sqlite:///file:lab.db?uri=true&hexkey={PW}",
    ],
)
def test_every_spelling_of_a_url_secret_is_masked(url: str) -> None:
    shown = mask_url(url)
    assert PW not in shown
    assert "***" in shown
    assert PW in url_secrets(url) or any(PW in s for s in url_secrets(url))


def test_what_is_not_secret_stays_readable() -> None:
    url = "postgresql://syncd:pw@db.local:5433/lab?sslmode=verify-full&sslkey=/etc/k.pem&passfile=/run/pgpass"
    shown = mask_url(url)
    assert shown.startswith("postgresql://syncd:***@db.local:5433/lab?")
    for visible in ("sslmode=verify-full", "sslkey=%2Fetc%2Fk.pem", "passfile=%2Frun%2Fpgpass"):
        assert visible in shown
    assert mask_url("not a url") == "<unparsable database URL>"


def test_a_url_written_in_free_text_is_masked() -> None:
    text = f"cannot open postgresql://u:{PW}@h/db and also host=h password={PW} sslpassword='{PW}'"
    assert PW not in scrub(text)


def _settings(url: str) -> object:
    return parse_settings({"hub": {"url": "http://127.0.0.1:9"}, "instances": [{"name": "lab", "url": url}]},
                          {"SYNCD_HUB_TOKEN": "tok-secrets-test-1"})




@pytest.mark.usefixtures("restore_logging")
def test_a_query_password_is_registered_for_the_logs() -> None:
    settings = parse_settings(
        {"hub": {"url": "http://127.0.0.1:9"},
         "instances": [{"name": "lab", "url": f"postgresql://u@127.0.0.1/db?password={PW}"}]},
        {"SYNCD_HUB_TOKEN": "tok-secrets-test-1"})
    register_settings_secrets(settings)
    buf = io.StringIO()
    configure_logging(level="info", fmt="json", stream=buf)
    # a driver message that quotes the value alone, without the key
    structlog.get_logger("t").error("store.failed", error=f"server said: bad value {PW!r}",
                                    url=settings.instances[0].display_url)
    assert PW not in buf.getvalue()
    assert json.loads(buf.getvalue())["url"] == "postgresql+psycopg://u@127.0.0.1/db?password=***"


def test_the_store_error_and_status_mask_a_query_password() -> None:
    settings = parse_settings(
        {"hub": {"url": "http://127.0.0.1:9"}, "instances": [{"name": "lab", "url": f"{UNREACHABLE}?password={PW}"}]},
        {"SYNCD_HUB_TOKEN": "tok-secrets-test-1"})
    inst = settings.instances[0]
    with pytest.raises(InstanceUnreachableError) as info:
        InstanceStore(inst, SyncSettings()).open()
    assert PW not in str(info.value)
    assert "password=***" in str(info.value)
    out = io.StringIO()
    assert print_status(settings, out) == 1
    assert PW not in out.getvalue()
    assert "lab (postgresql+psycopg://syncd@127.0.0.1:1/lab?password=***)" in out.getvalue()


def test_registry_errors_mask_a_query_password() -> None:
    inst = connection.Instance(f"{UNREACHABLE}?password={PW}")
    with pytest.raises(InstanceError) as info:
        inst.tables()
    assert PW not in str(info.value) + repr(inst)
    assert "password=***" in str(info.value)
    inst.dispose()


def test_readyz_reasons_and_check_mask_a_url_password() -> None:
    state = HealthState(["lab"], 60.0)
    state.set_phase("running")
    state.record(InstanceReport("lab", outcome="failed", error_kind="instance_unreachable",
                                error=f"driver: connection to {UNREACHABLE}?password={PW} failed"))
    _ready, body = state.readiness()
    assert PW not in json.dumps(body)
    # check prints what a daemon answers, which may have been written by an older version
    answer = {"status": "not ready", "reasons": [f"lab: cannot open postgresql://u:{PW}@h/db?password={PW}"]}
    transport = httpx.MockTransport(lambda request: httpx.Response(503, content=json.dumps(answer)))
    settings = _settings("sqlite:///x.db")
    out = io.StringIO()
    assert check(settings, transport=transport, out=out) == 1  # type: ignore[arg-type]
    assert PW not in out.getvalue()
    assert "cannot open postgresql://u:***@h/db?password=***" in out.getvalue()
