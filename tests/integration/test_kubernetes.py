"""deploy/kubernetes: valid against the Kubernetes schemas (offline), and shaped as the replica model needs."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from syncd.settings import parse_settings

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES = "1.30.0"  # the oldest release the manifests promise to fit


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((MANIFESTS / name).read_text())
    return doc


@pytest.mark.parametrize("name", sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml"))
def test_each_manifest_is_valid_and_strict_against_the_schemas(name: str) -> None:
    kubernetes_validate.validate(_load(name), KUBERNETES, strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(_load("kustomization.yaml")["resources"])
    assert listed == {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}


def test_two_replicas_probed_non_root_read_only_with_the_token_as_a_file() -> None:
    deployment = _load("deployment.yaml")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["hub-token"]["secret"]["secretName"] == "syncd-hub-token"
    assert volumes["config"]["configMap"]["name"] == "syncd-config"
    config = tomllib.loads(_load("configmap.yaml")["data"]["syncd.toml"])
    assert Path(config["hub"]["token_file"]).parent == Path(mounts["hub-token"])
    assert mounts["config"] == "/etc/syncd" and "/etc/syncd/syncd.toml" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SYNCD_REPLICA_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert pod["terminationGracePeriodSeconds"] > 30  # longer than the default shutdown grace
    pdb = _load("pdb.yaml")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_the_configuration_in_the_config_map_is_one_syncd_accepts(tmp_path: Path) -> None:
    data = tomllib.loads(_load("configmap.yaml")["data"]["syncd.toml"])
    token = tmp_path / "hub-token"
    token.write_text("a-token\n")
    token.chmod(0o600)
    data["hub"]["token_file"] = str(token)
    settings = parse_settings(data, {}, source="configmap.yaml")
    assert [i.name for i in settings.instances] == ["lab-a", "lab-b"]
    assert settings.health.listen_port == 8787
