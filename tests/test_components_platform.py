"""The add-ons stage under the mock engine: charts, versions and Ceph objects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.workloads import SECRET_VALUES
from vapora_infra.offline.recorder import MASK, Recording, Registration, record
from vapora_infra.spec.project import load_project, stack_config_from_file

ROOT = Path(__file__).resolve().parent.parent
CRDS = ROOT.parent / "shared" / "schemas" / "crds"
CHART = "kubernetes:helm.sh/v4:Chart"
RELEASE = "kubernetes:helm.sh/v3:Release"


def _vault_config() -> dict[str, Any]:
    config = copy.deepcopy(stack_config_from_file(ROOT, "prod"))
    config["cluster"]["addons"] = [
        *config["cluster"]["addons"],
        "external-secrets",
        {"name": "keda", "version": "2.16.0"},
    ]
    config["cluster"]["addons"].remove("keda")
    config["secrets"] = {
        "source": "vault",
        "vault": {"address": "https://vault.example.com:8200", "mount": "kv"},
    }
    return config


@pytest.fixture(scope="module")
def prod() -> Recording:
    return record(load_project(ROOT, "prod"), SECRET_VALUES)


@pytest.fixture(scope="module")
def vault() -> Recording:
    project = load_project(ROOT, "prod", _vault_config())
    return record(
        project,
        secret_config={"vaultToken": "s.token", "grafanaAdminPassword": "hunter2"},
    )


@pytest.fixture(scope="module")
def dev() -> Recording:
    return record(load_project(ROOT, "dev"), SECRET_VALUES)


def _charts(recording: Recording) -> dict[str, Registration]:
    return {
        r.inputs["chart"]: r for r in recording.resources if r.type in (CHART, RELEASE)
    }


def _schema(group: str, kind: str) -> dict[str, Any]:
    path = CRDS / group / f"{kind.lower()}_v1.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def _check(registration: Registration, group: str) -> None:
    document = {
        "apiVersion": registration.inputs["apiVersion"],
        "kind": registration.inputs["kind"],
        "metadata": registration.inputs["metadata"],
        "spec": registration.inputs["spec"],
    }
    jsonschema.validate(document, _schema(group, registration.inputs["kind"]))


@pytest.mark.parametrize(
    ("chart", "version", "kind"),
    [
        ("cilium", "1.16.5", CHART),
        ("base", "1.23.3", CHART),
        ("istiod", "1.23.3", RELEASE),
        ("gateway", "1.23.3", CHART),
        ("metrics-server", "3.12.2", CHART),
        ("kube-prometheus-stack", "65.2.0", RELEASE),
        ("keda", "2.15.1", CHART),
        ("rook-ceph", "v1.15.5", CHART),
        ("loki", "6.5.2", CHART),
        ("alloy", "0.9.2", CHART),
    ],
)
def test_prod_installs_each_addon_at_its_pinned_version(
    prod: Recording, chart: str, version: str, kind: str
) -> None:
    found = _charts(prod)[chart]

    assert found.inputs["version"] == version, found.urn
    assert found.type == kind, found.urn
    assert found.inputs["repositoryOpts"]["repo"].startswith("https://"), found.urn


def test_prod_enables_no_external_secrets_with_the_config_source(
    prod: Recording,
) -> None:
    assert "external-secrets" not in _charts(prod)
    assert not [r for r in prod.resources if "ExternalSecret" in r.type]


def test_stack_version_override_replaces_the_pinned_one(vault: Recording) -> None:
    assert _charts(vault)["keda"].inputs["version"] == "2.16.0"


def test_cilium_chains_after_the_vpc_cni_on_eks(prod: Recording) -> None:
    values = _charts(prod)["cilium"].inputs["values"]

    assert values["cni"] == {"chainingMode": "aws-cni", "exclusive": False}
    assert values["routingMode"] == "native"
    assert values["enableIPv4Masquerade"] is False


def test_istio_gateway_carries_the_labels_vapora_selects(prod: Recording) -> None:
    gateway = _charts(prod)["gateway"]
    istiod = _charts(prod)["istiod"]

    assert gateway.inputs["namespace"] == "istio-system"
    assert gateway.inputs["values"]["labels"] == {"istio": "ingressgateway"}
    assert gateway.inputs["values"]["service"]["type"] == "LoadBalancer"
    assert istiod.urn in gateway.dependencies


def test_keda_is_installed_after_the_prometheus_operator(prod: Recording) -> None:
    keda = _charts(prod)["keda"]
    monitoring = _charts(prod)["kube-prometheus-stack"]

    assert keda.inputs["namespace"] == "keda"
    assert monitoring.urn in keda.dependencies


def test_ceph_cluster_puts_osds_on_block_volumes_of_the_osd_class(
    prod: Recording,
) -> None:
    (cluster,) = prod.by_type("kubernetes:ceph.rook.io/v1:CephCluster")
    device_sets = cluster.inputs["spec"]["storage"]["storageClassDeviceSets"]

    _check(cluster, "ceph.rook.io")
    assert {s["name"] for s in device_sets} == {"set-hdd", "set-nvme"}
    for device_set in device_sets:
        (template,) = device_set["volumeClaimTemplates"]
        assert device_set["count"] == 3, device_set["name"]
        assert template["spec"]["volumeMode"] == "Block"
        assert template["spec"]["storageClassName"] == "gp3"
        assert template["spec"]["resources"]["requests"]["storage"] == "500Gi"


@pytest.mark.parametrize(("pool", "device_class"), [("ssd", "nvme"), ("hdd", "hdd")])
def test_ceph_pool_per_storage_class_replicates_three_times(
    prod: Recording, pool: str, device_class: str
) -> None:
    block_pool = prod.named(f"platform-rook-ceph-pool-{pool}")
    storage_class = prod.named(f"platform-rook-ceph-class-{pool}")

    _check(block_pool, "ceph.rook.io")
    assert block_pool.inputs["spec"]["replicated"]["size"] == 3
    assert block_pool.inputs["spec"]["deviceClass"] == device_class
    assert storage_class.inputs["metadata"]["name"] == pool
    assert storage_class.inputs["provisioner"] == "rook-ceph.rbd.csi.ceph.com"
    assert storage_class.inputs["parameters"]["pool"] == pool
    assert block_pool.urn in storage_class.dependencies


def test_ceph_objects_wait_for_the_operator_crds(prod: Recording) -> None:
    operator = _charts(prod)["rook-ceph"]
    (cluster,) = prod.by_type("kubernetes:ceph.rook.io/v1:CephCluster")

    assert operator.urn in cluster.dependencies


def test_grafana_dashboard_is_provisioned_for_the_sidecar(prod: Recording) -> None:
    dashboard = prod.named("platform-monitoring-vapora-dashboard")
    model = json.loads(dashboard.inputs["data"]["vapora.json"])
    titles = " ".join(panel["title"] for panel in model["panels"]).lower()
    values = _charts(prod)["kube-prometheus-stack"].inputs["values"]

    assert dashboard.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert values["grafana"]["enabled"] is True
    assert values["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    for word in ("request", "error", "latency", "queue depth", "replicas"):
        assert word in titles, word


def test_grafana_password_keeps_the_chart_values_secret(vault: Recording) -> None:
    monitoring = _charts(vault)["kube-prometheus-stack"]

    values = monitoring.masked_inputs()["values"]

    assert values["grafana"]["adminPassword"] == MASK
    assert "hunter2" not in json.dumps(monitoring.masked_inputs())


def test_vault_source_syncs_vapora_secrets_through_the_store(
    vault: Recording,
) -> None:
    (store,) = vault.by_type("kubernetes:external-secrets.io/v1:ClusterSecretStore")
    secrets = vault.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")
    by_place = {
        (s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s
        for s in secrets
    }
    system = by_place[("vapora-system", "vapora-secrets")]

    _check(store, "external-secrets.io")
    for secret in secrets:
        _check(secret, "external-secrets.io")
        assert store.urn in secret.dependencies, secret.urn
    assert store.inputs["spec"]["provider"]["vault"]["server"] == (
        "https://vault.example.com:8200"
    )
    assert system.inputs["spec"]["target"]["name"] == "vapora-secrets"
    assert system.inputs["spec"]["data"][0]["remoteRef"]["key"] == (
        "vapora/vapora-secrets"
    )
    assert not [r for r in vault.resources if r.name == "secrets"]


def test_vault_token_reaches_the_cluster_only_as_a_secret(vault: Recording) -> None:
    token = vault.named("platform-external-secrets-vault-token")

    assert token.masked_inputs()["stringData"] == {"token": MASK}
    assert "s.token" not in json.dumps(token.masked_inputs())


def test_addons_are_in_stage_install_addons_after_the_cluster(
    prod: Recording,
) -> None:
    platform = prod.named("platform")
    eks = prod.named("cluster-eks")
    # Add-ons wait for the create-cluster stage's gate, which waits for EKS.
    gate = prod.named("stage-create-cluster")
    addons = [r for r in prod.resources if r.urn.split("::")[-1].startswith("platform")]

    assert eks.urn in gate.dependencies
    assert len(addons) > 20
    for addon in addons:
        assert addon.stage == "install-addons", addon.urn
        if addon.custom:
            assert gate.urn in addon.dependencies, addon.urn
    assert platform.type == "vapora:platform:Platform"


def test_dev_installs_no_addons(dev: Recording) -> None:
    assert not [r for r in dev.resources if r.stage == "install-addons"]
    assert not [r for r in dev.resources if r.type in (CHART, RELEASE)]
