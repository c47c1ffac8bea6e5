"""Configuration: every problem reported at once, naming file and key; secrets never shown."""

import tomllib
from pathlib import Path

import pytest

from syncd.errors import ConfigError
from syncd.settings import config_path, load_settings, parse_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "syncd.example.toml"
CANARY = "canary-token-7f3a9b"


def test_the_annotated_example_loads() -> None:
    settings = load_settings(EXAMPLE, {"SYNCD_HUB_TOKEN": CANARY})
    assert [i.name for i in settings.instances] == ["lab-a", "lab-b"]
    assert settings.sync.page_size == 1000
    assert settings.sync.lookback_seconds == 120
    assert (settings.sync.transaction_rows, settings.sync.transaction_seconds) == (20_000, 2.0)
    assert len(settings.groups()) == 1


def test_every_problem_is_reported_at_once_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("""
[hub]
url = "ftp://hub"
colour = "blue"
[sync]
page_size = 5000
lookback_seconds = 10
transaction_rows = 0
transaction_seconds = "soon"
[[instances]]
name = "a"
url = "mysql://x/y"
[[instances]]
name = "a"
url = "sqlite:///x.db"
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {"SYNCD_HUB_TOKEN": CANARY})
    text = "\n".join(info.value.problems)
    for expected in (
        "hub.url: must be an http",
        "hub.colour: unknown key",
        "sync.page_size: must be between",
        "sync.lookback_seconds: must be between",
        "sync.transaction_rows: must be between",
        "sync.transaction_seconds: must be a number",
        "instances[0].url: only sqlite and postgresql",
        "instances[1].name: duplicate instance name",
    ):
        assert expected in text
    assert all(p.startswith(str(path)) for p in info.value.problems)


def test_a_missing_token_and_an_unreadable_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hub.token_file: no hub token"):
        parse_settings(
            {"hub": {"url": "http://127.0.0.1:1"}, "instances": [{"name": "a", "url": "sqlite://"}]}, {}
        )
    with pytest.raises(ConfigError, match=r"cannot read the configuration file"):
        load_settings(tmp_path / "absent.toml", {})
    (tmp_path / "broken.toml").write_text("[hub\n")
    with pytest.raises(ConfigError, match=r"not valid TOML"):
        load_settings(tmp_path / "broken.toml", {})


def test_token_sources_in_order_file_env_credential(tmp_path: Path) -> None:
    base = {"hub": {"url": "http://127.0.0.1:1"}, "instances": [{"name": "a", "url": "sqlite://"}]}
    (tmp_path / "hub-token").write_text(CANARY + "\n")
    from_cred = parse_settings(base, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert from_cred.hub is not None and from_cred.hub.token.reveal() == CANARY
    from_env = parse_settings(base, {"SYNCD_HUB_TOKEN": "env-token", "CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert from_env.hub is not None and from_env.hub.token.reveal() == "env-token"
    with_file = {**base, "hub": {**base["hub"], "token_file": str(tmp_path / "hub-token")}}
    assert (
        parse_settings(with_file, {"SYNCD_HUB_TOKEN": "env-token"}).instances[0].hub.token.reveal() == CANARY
    )


def test_secrets_never_appear_in_reprs_or_errors(tmp_path: Path) -> None:
    data = {
        "hub": {"url": "http://127.0.0.1:1"},
        "instances": [{"name": "a", "url": "postgresql://u:pg-secret-pw@127.0.0.1/db"}],
    }
    settings = parse_settings(data, {"SYNCD_HUB_TOKEN": CANARY})
    shown = repr(settings) + str(settings.groups()) + settings.instances[0].display_url
    assert CANARY not in shown
    assert "pg-secret-pw" not in shown
    assert settings.instances[0].display_url == "postgresql+psycopg://u:***@127.0.0.1/db"
    bad = {**data, "instances": [{"name": "a", "url": "mysql://u:pg-secret-pw@h/db"}]}
    with pytest.raises(ConfigError) as info:
        parse_settings(bad, {"SYNCD_HUB_TOKEN": CANARY})
    assert "pg-secret-pw" not in str(info.value)


def test_instances_with_their_own_hub_or_token_form_their_own_groups(tmp_path: Path) -> None:
    (tmp_path / "t2").write_text("other-token")
    data = {
        "hub": {"url": "http://127.0.0.1:1"},
        "instances": [
            {"name": "a", "url": "sqlite://"},
            {"name": "b", "url": "sqlite://", "token_file": str(tmp_path / "t2")},
            {"name": "c", "url": "sqlite://", "hub_url": "http://127.0.0.1:2"},
            {"name": "d", "url": "sqlite://"},
        ],
    }
    settings = parse_settings(data, {"SYNCD_HUB_TOKEN": CANARY})
    assert [[i.name for i in g.instances] for g in settings.groups()] == [["a", "d"], ["b"], ["c"]]
    assert [[i.name for i in g.instances] for g in settings.groups(["d", "c"])] == [["d"], ["c"]]
    with pytest.raises(ConfigError, match="no instance named 'zz'"):
        settings.groups(["zz"])


def test_config_path_precedence() -> None:
    assert str(config_path("x.toml", {"SYNCD_CONFIG": "y.toml"})) == "x.toml"
    assert str(config_path(None, {"SYNCD_CONFIG": "y.toml"})) == "y.toml"
    assert str(config_path(None, {})) == "/etc/syncd/syncd.toml"


def test_example_has_the_keys_the_issue_names() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    assert {"url"} <= set(data["hub"])
    assert {"page_size", "lookback_seconds"} <= set(data["sync"])
    assert {"name", "url"} <= set(data["instances"][0])
