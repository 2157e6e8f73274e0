"""SurrealDB, NATS and Redis under the mock engine, for prod and dev."""

from __future__ import annotations

import pytest

from tests.workloads import ROOT, env_of, kind, obj, pod_spec, record_stack
from vapora_infra.errors import SpecError
from vapora_infra.offline.recorder import MASK, Recording, record
from vapora_infra.spec.project import load_project, stack_config_from_file


@pytest.fixture(scope="module")
def prod() -> Recording:
    return record_stack("prod")


@pytest.fixture(scope="module")
def dev() -> Recording:
    return record_stack("dev")


def _claim(recording: Recording, name: str) -> dict[str, object]:
    spec = obj(recording, "StatefulSet", name).inputs["spec"]
    (template,) = spec["volumeClaimTemplates"]
    claim: dict[str, object] = template["spec"]
    return claim


@pytest.mark.parametrize(
    ("stack", "name", "size", "storage_class"),
    [
        ("prod", "surrealdb", "50Gi", "ssd"),
        ("prod", "redis", "20Gi", "ssd"),
        ("prod", "nats", "30Gi", "ssd"),
        ("dev", "surrealdb", "1Gi", "standard"),
        ("dev", "redis", "1Gi", "standard"),
        ("dev", "nats", "1Gi", "standard"),
    ],
)
def test_data_service_claims_its_volume(
    request: pytest.FixtureRequest,
    stack: str,
    name: str,
    size: str,
    storage_class: str,
) -> None:
    claim = _claim(request.getfixturevalue(stack), name)
    assert claim["resources"] == {"requests": {"storage": size}}, name
    assert claim["storageClassName"] == storage_class, name
    assert claim["accessModes"] == ["ReadWriteOnce"], name


@pytest.mark.parametrize(
    ("stack", "name", "replicas"),
    [
        ("prod", "surrealdb", 1),
        ("prod", "redis", 1),
        ("prod", "nats", 3),
        ("dev", "nats", 1),
    ],
)
def test_data_service_replicas(
    request: pytest.FixtureRequest, stack: str, name: str, replicas: int
) -> None:
    spec = obj(request.getfixturevalue(stack), "StatefulSet", name).inputs["spec"]
    assert spec["replicas"] == replicas, f"StatefulSet/{name}"
    assert spec["serviceName"] == f"{name}-headless", f"StatefulSet/{name}"


@pytest.mark.parametrize(("stack", "protect"), [("prod", True), ("dev", False)])
def test_stateful_sets_are_retained_and_protected_per_stack(
    request: pytest.FixtureRequest, stack: str, protect: bool
) -> None:
    recording = request.getfixturevalue(stack)
    sets = kind(recording, "StatefulSet")
    assert {s.inputs["metadata"]["name"] for s in sets} == {
        "surrealdb",
        "redis",
        "nats",
    }
    for stateful_set in sets:
        assert stateful_set.retain_on_delete, stateful_set.urn
        assert stateful_set.protect is protect, stateful_set.urn
        policy = stateful_set.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_surrealdb_starts_rocksdb_with_password_from_secret(
    prod: Recording,
) -> None:
    surreal = obj(prod, "StatefulSet", "surrealdb")
    container = pod_spec(surreal)["containers"][0]
    assert container["image"] == "surrealdb/surrealdb:v2.3.10"
    assert container["args"] == [
        "start",
        "--log",
        "info",
        "--bind",
        "0.0.0.0:8000",
        "rocksdb:///data/db",
    ]
    assert container["ports"] == [
        {"name": "http", "containerPort": 8000, "protocol": "TCP"}
    ]
    env = env_of(surreal)
    assert env["SURREAL_USER"] == "root"
    assert env["SURREAL_PASS"] == {
        "secretKeyRef": {"name": "vapora-secrets", "key": "db-password"}
    }


def test_prod_nats_routes_to_every_peer(prod: Recording) -> None:
    config = obj(prod, "ConfigMap", "nats-config").inputs["data"]["nats.conf"]
    routes = [
        f"nats://nats-{i}.nats-headless.vapora-system.svc.cluster.local:6222"
        for i in range(3)
    ]
    for route in routes:
        assert route in config
    assert config.count("nats://") == 3
    assert "server_name: $POD_NAME" in config
    assert "name: vapora-nats" in config
    assert "listen: 0.0.0.0:6222" in config
    assert "http: 0.0.0.0:8222" in config
    assert "store_dir: /data/jetstream" in config
    nats = obj(prod, "StatefulSet", "nats")
    assert nats.inputs["spec"]["podManagementPolicy"] == "Parallel"
    assert env_of(nats)["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_dev_nats_has_no_cluster_block(dev: Recording) -> None:
    config = obj(dev, "ConfigMap", "nats-config").inputs["data"]["nats.conf"]
    assert "cluster {" not in config
    assert "routes" not in config
    assert "jetstream {" in config


def test_nats_exposes_client_cluster_and_monitor_ports(prod: Recording) -> None:
    headless = obj(prod, "Service", "nats-headless").inputs["spec"]
    assert headless["clusterIP"] == "None"
    assert {p["name"]: p["port"] for p in headless["ports"]} == {
        "client": 4222,
        "cluster": 6222,
        "monitor": 8222,
    }
    client = obj(prod, "Service", "nats").inputs["spec"]
    assert {p["name"]: p["port"] for p in client["ports"]} == {
        "client": 4222,
        "monitor": 8222,
        "metrics": 7777,
    }


def test_prod_nats_keeps_quorum_during_drains(prod: Recording) -> None:
    budget = obj(prod, "PodDisruptionBudget", "nats").inputs["spec"]
    assert budget["maxUnavailable"] == 1


def test_data_outputs_come_from_the_services(prod: Recording) -> None:
    backend = env_of(obj(prod, "Deployment", "vapora-backend"))
    assert backend["NATS_URL"] == "nats://nats.vapora-system.svc.cluster.local:4222"
    assert backend["DATABASE_URL"] == (
        "ws://surrealdb.vapora-system.svc.cluster.local:8000"
    )
    assert backend["REDIS_URL"] == (
        "redis://redis.vapora-system.svc.cluster.local:6379"
    )


def test_data_stage_has_its_workflow_timeout(prod: Recording) -> None:
    for name in ("surrealdb", "redis", "nats"):
        stateful_set = obj(prod, "StatefulSet", name)
        assert stateful_set.stage == "deploy-data", stateful_set.urn
        assert stateful_set.timeouts == {
            "create": "30m",
            "update": "30m",
            "delete": "30m",
        }, stateful_set.urn


def test_secrets_hold_config_values_as_pulumi_secrets(prod: Recording) -> None:
    from pulumi.runtime import rpc

    secrets = kind(prod, "Secret")
    assert {s.inputs["metadata"]["name"] for s in secrets} == {"vapora-secrets"}
    for secret in secrets:
        data = secret.inputs["stringData"]
        assert rpc.is_rpc_secret(data), secret.urn
        assert secret.retain_on_delete, secret.urn


def test_each_namespace_gets_only_the_keys_its_pods_read(prod: Recording) -> None:
    from pulumi.runtime import rpc

    keys = {
        s.inputs["metadata"]["namespace"]: rpc.unwrap_rpc_secret(s.inputs["stringData"])
        for s in kind(prod, "Secret")
    }
    assert keys["vapora-agents"] == {"db-password": "db-pw"}
    assert keys["vapora-system"] == {
        "claude-key": "claude",
        "db-password": "db-pw",
        "gemini-key": "gemini",
        "jwt-secret": "jwt",
        "openai-key": "openai",
    }


def test_missing_secret_key_is_refused_before_anything_is_registered() -> None:
    config = stack_config_from_file(ROOT, "dev")
    config["secretValues"] = {"vapora-secrets": {"db-password": "x"}}

    with pytest.raises(SpecError, match=r"vapora:secretValues\..*jwt-secret"):
        load_project(ROOT, "dev", config)


def test_without_secret_config_a_real_update_is_refused() -> None:
    with pytest.raises(SpecError, match="vapora:secretValues: is not set"):
        record(load_project(ROOT, "dev"), placeholders=False)


def test_without_secret_config_the_plan_shows_masked_secrets() -> None:
    recording = record(load_project(ROOT, "dev"))

    secrets = kind(recording, "Secret")
    assert secrets, "no Secret in the offline plan"
    for secret in secrets:
        assert set(secret.masked_inputs()["stringData"].values()) == {MASK}


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_redis_runs_as_the_shared_high_uid(
    request: pytest.FixtureRequest, stack: str
) -> None:
    pod = pod_spec(obj(request.getfixturevalue(stack), "StatefulSet", "redis"))
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsUser"] == 65532, "StatefulSet/redis"
    assert pod["securityContext"]["fsGroup"] == 65532, "StatefulSet/redis"
    assert container["securityContext"]["runAsUser"] == 65532, "StatefulSet/redis"


def test_nats_metrics_exporter_is_probed_on_its_metrics_port(
    prod: Recording,
) -> None:
    containers = pod_spec(obj(prod, "StatefulSet", "nats"))["containers"]
    exporter = next(c for c in containers if c["name"] == "metrics")
    for probe in ("readinessProbe", "livenessProbe"):
        assert exporter[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
