"""Hub tokens and PostgreSQL passwords: where they come from, and what an operator is told when they cannot be read."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import text
from structlog.testing import capture_logs

from syncd.errors import ConfigError
from syncd.logs import configure_logging, register_settings_secrets
from syncd.registry import connection
from syncd.settings import parse_settings
from syncd.settings.reader import TableReader
from syncd.settings.tokens import read_secret_file, running_as, token
from syncd.store.engine import create_instance_engine

TOKEN = "tok-credentials-test-4c2a"
PG_PW = "pg-pass-canary-8e3b"


def _problems(data: dict[str, Any], environ: dict[str, str], **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, environ, source="syncd.toml", **kw)
    return info.value.problems


def _one(**instance: Any) -> dict[str, Any]:
    return {"hub": {"url": "http://127.0.0.1:9"}, "instances": [{"name": "lab", "url": "sqlite://", **instance}]}


def test_no_token_at_all_gives_the_one_true_message() -> None:
    problems = _problems(_one(), {})
    assert problems == [
        "syncd.toml: hub.token_file: no hub token: set token_file, or the environment variable "
        "SYNCD_HUB_TOKEN, or provide the systemd credential hub-token"
    ]


def test_an_unreadable_token_file_says_which_file_why_and_as_whom(tmp_path: Path) -> None:
    path = tmp_path / "hub-token"
    path.write_text(TOKEN)

    def denied(p: Path) -> str:
        raise PermissionError(13, "Permission denied", str(p))

    data = _one()
    data["hub"]["token_file"] = str(path)
    problems = _problems(data, {}, read_file=denied)
    assert problems == [
        f"syncd.toml: hub.token_file: cannot read {path}: Permission denied (syncd runs as {running_as()})"
    ]
    assert running_as().startswith(f"uid {os.geteuid()}")


def test_an_unreadable_credential_is_named_not_called_missing(tmp_path: Path) -> None:
    (tmp_path / "hub-token").write_text(TOKEN)

    def denied(p: Path) -> str:
        raise PermissionError(13, "Permission denied", str(p))

    problems = _problems(_one(), {"CREDENTIALS_DIRECTORY": str(tmp_path)}, read_file=denied)
    assert len(problems) == 1
    assert f"cannot read {tmp_path / 'hub-token'}: Permission denied (syncd runs as uid" in problems[0]
    assert "no hub token" not in problems[0]
    # an empty credential is named too
    (tmp_path / "hub-token").write_text("\n")
    assert _problems(_one(), {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == [
        f"syncd.toml: hub.token_file: {tmp_path / 'hub-token'} is empty"
    ]
    # a credentials directory without hub-token is the plain "no hub token"
    (tmp_path / "hub-token").unlink()
    assert "no hub token" in _problems(_one(), {"CREDENTIALS_DIRECTORY": str(tmp_path)})[0]


def test_readers_without_the_token_are_not_bothered(tmp_path: Path) -> None:
    def denied(p: Path) -> str:
        raise PermissionError(13, "Permission denied", str(p))

    data = _one()
    data["hub"]["token_file"] = str(tmp_path / "hub-token")
    settings = parse_settings(data, {}, read_file=denied, require_token=False)
    assert settings.instances[0].hub.token_source.kind == "absent"


@pytest.mark.parametrize("url", ["http://user:pw-in-url-77@127.0.0.1:9", "https://apikey@127.0.0.1:9/x"])
def test_credentials_in_the_hub_url_are_refused(url: str) -> None:
    data = _one()
    data["hub"]["url"] = url
    problems = _problems(data, {"SYNCD_HUB_TOKEN": TOKEN})
    assert len(problems) == 1
    assert problems[0].startswith("syncd.toml: hub.url: must not carry credentials (user:password@)")
    assert "pw-in-url-77" not in problems[0]
    per_instance = _one(hub_url=url)
    problems = _problems(per_instance, {"SYNCD_HUB_TOKEN": TOKEN})
    assert problems[0].startswith("syncd.toml: instances[0].hub_url: must not carry credentials")


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o400, False), (0o640, True), (0o644, True)])
def test_a_token_file_others_can_read_is_warned_about(tmp_path: Path, mode: int, warned: bool) -> None:
    path = tmp_path / "hub-token"
    path.write_text(TOKEN)
    path.chmod(mode)
    data = _one()
    data["hub"]["token_file"] = str(path)
    with capture_logs() as events:
        settings = parse_settings(data, {})
    assert settings.hub is not None and settings.hub.token.reveal() == TOKEN
    exposed = [e for e in events if e["event"] == "config.secret_file_exposed"]
    if warned:
        assert exposed == [{
            "event": "config.secret_file_exposed", "log_level": "warning", "key": "hub.token_file",
            "path": str(path), "mode": f"{mode:04o}",
            "fix": f"chmod 600 {path} (or 0400): only the user syncd runs as should read it",
        }]
    else:
        assert exposed == []


def test_a_root_owned_token_one_group_may_read_is_a_deliberate_grant(tmp_path: Path) -> None:
    # a Kubernetes Secret mounted for the pod's fsGroup: root:10001, mode 0440
    path = tmp_path / "hub-token"
    path.write_text(TOKEN)
    real = path.stat()

    def as_mounted(p: Path) -> os.stat_result:
        fields = list(real)
        fields[0], fields[4], fields[5] = 0o100440, 0, 10001  # st_mode, st_uid, st_gid
        return os.stat_result(fields)

    def world(p: Path) -> os.stat_result:
        fields = list(real)
        fields[0], fields[4], fields[5] = 0o100444, 0, 10001
        return os.stat_result(fields)

    with capture_logs() as events:
        for stat_fn in (as_mounted, world):
            found = token(TableReader("syncd.toml"), {"token_file": str(path)}, "hub", {}, read_secret_file,
                          stat_fn=stat_fn)
            assert found is not None and found[0].reveal() == TOKEN
    exposed = [e for e in events if e["event"] == "config.secret_file_exposed"]
    assert [e["mode"] for e in exposed] == ["0444"]


def test_before_logging_is_set_up_the_warning_goes_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hub-token"
    path.write_text(TOKEN)
    path.chmod(0o644)
    data = _one()
    data["hub"]["token_file"] = str(path)
    structlog.reset_defaults()
    parse_settings(data, {})
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"syncd: warning: hub.token_file: {path} is readable by group or others (mode 0644): "
                            f"chmod 600 {path} (or 0400): only the user syncd runs as should read it\n")


def test_a_pg_password_from_a_credential_never_enters_the_url(tmp_path: Path) -> None:
    (tmp_path / "pg-lab").write_text(PG_PW + "\n")
    data = _one(url="postgresql://syncd@127.0.0.1/lab", password_credential="pg-lab")
    settings = parse_settings(data, {"SYNCD_HUB_TOKEN": TOKEN, "CREDENTIALS_DIRECTORY": str(tmp_path)})
    inst = settings.instances[0]
    assert inst.password is not None and inst.password.reveal() == PG_PW
    assert PG_PW not in inst.url.reveal() + inst.display_url + repr(settings)
    (tmp_path / "pw-file").write_text(PG_PW)
    from_file = parse_settings(_one(url="postgresql://syncd@127.0.0.1/lab", password_file=str(tmp_path / "pw-file")),
                               {"SYNCD_HUB_TOKEN": TOKEN})
    assert from_file.instances[0].password == inst.password


def test_pg_password_sources_are_checked(tmp_path: Path) -> None:
    env = {"SYNCD_HUB_TOKEN": TOKEN}
    pg = "postgresql://syncd@127.0.0.1/lab"
    cases = [
        (_one(url=pg, password_credential="pg-lab"), env,
         "instances[0].password_credential: $CREDENTIALS_DIRECTORY is unset"),
        (_one(url=pg, password_credential="pg-lab"), {**env, "CREDENTIALS_DIRECTORY": str(tmp_path)},
         f"instances[0].password_credential: cannot read {tmp_path / 'pg-lab'}: No such file or directory"),
        (_one(url=pg, password_credential="../etc/x"), {**env, "CREDENTIALS_DIRECTORY": str(tmp_path)},
         "instances[0].password_credential: must be a credential name"),
        (_one(url=pg, password_file="/nonexistent/pw", password_credential="pg-lab"), env,
         "instances[0].password_file: give password_file or password_credential, not both"),
    ]
    (tmp_path / "pw").write_text("x-password")
    cases += [
        (_one(url="sqlite:///lab.db", password_file=str(tmp_path / "pw")), env,
         "instances[0].password_file: a password is for PostgreSQL instances"),
        (_one(url="postgresql://syncd:other@127.0.0.1/lab", password_file=str(tmp_path / "pw")), env,
         "instances[0].url: has a password, and password_file/password_credential gives another"),
    ]
    for data, environ, expected in cases:
        problems = _problems(data, environ)
        assert len(problems) == 1, problems
        assert f"syncd.toml: {expected}" in problems[0]




@pytest.mark.postgres
@pytest.mark.usefixtures("restore_logging")
def test_the_credential_password_reaches_postgresql_and_no_log(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "pg-lab").write_text(PG_PW + "\n")
    (tmp_path / "pg-lab").chmod(0o400)  # as systemd lays a credential out for the service's user
    data = _one(url=pg_url, password_credential="pg-lab")
    settings = parse_settings(data, {"SYNCD_HUB_TOKEN": TOKEN, "CREDENTIALS_DIRECTORY": str(tmp_path)})
    inst = settings.instances[0]
    engine = create_instance_engine(inst.url.reveal(), password=inst.password)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            # what libpq was given for this connection (the test server trusts loopback, so it does not ask)
            assert conn.connection.dbapi_connection.info.password == PG_PW  # type: ignore[union-attr]
        assert PG_PW not in repr(engine.url) + engine.url.render_as_string(hide_password=False)
    finally:
        engine.dispose()
    reader = connection.Instance(inst.url.reveal(), name="lab", password=inst.password)
    try:
        with reader.read() as conn:
            assert conn.connection.dbapi_connection.info.password == PG_PW  # type: ignore[union-attr]
    finally:
        reader.dispose()
    register_settings_secrets(settings)
    buf = io.StringIO()
    configure_logging(level="info", fmt="json", stream=buf)
    structlog.get_logger("t").error("store.failed", error=f"server said {PG_PW}")
    assert PG_PW not in buf.getvalue()


@pytest.mark.postgres
def test_libpq_password_file_route_reaches_postgresql(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:*:*:*:{PG_PW}\n")
    passfile.chmod(0o600)  # libpq ignores a password file others can read
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    engine = create_instance_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection.info.password == PG_PW  # type: ignore[union-attr]
    finally:
        engine.dispose()


_AS_ANOTHER_USER = """
import os, sys, tomllib
from pathlib import Path
from syncd.errors import ConfigError
from syncd.settings import parse_settings
data = tomllib.loads(Path(sys.argv[1]).read_text())  # the configuration is readable; the token is not
if os.geteuid() == 0:  # root reads any file: become nobody, as a service user would be
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
try:
    parse_settings(data, {"CREDENTIALS_DIRECTORY": sys.argv[2]} if len(sys.argv) > 2 else {}, source="syncd.toml")
except ConfigError as exc:
    print("\\n".join(exc.problems))
"""


@pytest.mark.parametrize("via", ["token_file", "credential"])
def test_a_root_only_token_read_by_another_user_is_named_with_the_real_error(tmp_path: Path, via: str) -> None:
    import subprocess
    import sys
    import tempfile

    # a directory everyone may enter (pytest's own are private to their owner), holding a root-only token
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        secrets = Path(scratch)
        secrets.chmod(0o755)
        token_path = secrets / "hub-token"
        token_path.write_text(TOKEN)
        token_path.chmod(0o600 if os.geteuid() == 0 else 0o000)  # root-only, or nobody's when not root
        config = tmp_path / "syncd.toml"
        hub = f'token_file = "{token_path}"\n' if via == "token_file" else ""
        config.write_text(f'[hub]\nurl = "http://127.0.0.1:9"\n{hub}[[instances]]\nname = "a"\nurl = "sqlite://"\n')
        args = [sys.executable, "-c", _AS_ANOTHER_USER, str(config)] + ([scratch] if via == "credential" else [])
        out = subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)
    uid = 65534 if os.geteuid() == 0 else os.geteuid()
    assert out.stdout.strip().startswith(
        f"syncd.toml: hub.token_file: cannot read {token_path}: Permission denied (syncd runs as uid {uid}"
    ), out.stdout + out.stderr
