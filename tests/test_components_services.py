"""Taskserv services under the mock engine: sizes, probes, env and scaling."""

from __future__ import annotations

import pytest

from tests.workloads import env_of, kind, obj, pod_spec, record_stack
from vapora_infra.offline.recorder import Recording


@pytest.fixture(scope="module")
def prod() -> Recording:
    return record_stack("prod")


SERVICES = [
    # name, HPA minReplicas, maxReplicas, http port, stage
    ("vapora-backend", 3, 10, 8080, "deploy-core"),
    ("vapora-frontend", 2, 6, 3000, "deploy-frontend"),
    ("vapora-agents", 3, 20, 8089, "deploy-agents"),
    ("vapora-mcp-gateway", 2, 6, 8888, "deploy-core"),
    ("vapora-llm-router", 2, 8, 8899, "deploy-core"),
]


@pytest.mark.parametrize(("name", "low", "high", "http", "stage"), SERVICES)
def test_service_replicas_are_carried_by_its_hpa(
    prod: Recording, name: str, low: int, high: int, http: int, stage: str
) -> None:
    deployment = obj(prod, "Deployment", name)
    assert "replicas" not in deployment.inputs["spec"], deployment.urn
    hpa = obj(prod, "HorizontalPodAutoscaler", name).inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (low, high), name
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name,
    }
    assert deployment.stage == stage, deployment.urn


@pytest.mark.parametrize(("name", "low", "high", "http", "stage"), SERVICES)
def test_service_ports_are_named_http_and_metrics(
    prod: Recording, name: str, low: int, high: int, http: int, stage: str
) -> None:
    ports = obj(prod, "Service", name).inputs["spec"]["ports"]
    assert {p["name"]: p["port"] for p in ports} == {"http": http, "metrics": 9090}
    container = pod_spec(obj(prod, "Deployment", name))["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "http": http,
        "metrics": 9090,
    }


def test_backend_hpa_targets_cpu_and_memory(prod: Recording) -> None:
    metrics = obj(prod, "HorizontalPodAutoscaler", "vapora-backend").inputs["spec"][
        "metrics"
    ]
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in metrics
    }
    assert targets == {"cpu": 70, "memory": 80}


@pytest.mark.parametrize(
    ("name", "path", "timeout"),
    [("vapora-backend", "/health", 5), ("vapora-frontend", "/healthz", 3)],
)
def test_probes_follow_the_health_check(
    prod: Recording, name: str, path: str, timeout: int
) -> None:
    container = pod_spec(obj(prod, "Deployment", name))["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe] == {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": timeout,
            "failureThreshold": 3,
        }, f"{name} {probe}"


def test_backend_resources_image_and_pull_policy(prod: Recording) -> None:
    container = pod_spec(obj(prod, "Deployment", "vapora-backend"))["containers"][0]
    assert container["image"] == "vapora/backend:0.1.0"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == {
        "requests": {"cpu": "1000m", "memory": "2Gi"},
        "limits": {"cpu": "2000m", "memory": "4Gi"},
    }


def test_env_wires_references_plain_values_and_secrets(prod: Recording) -> None:
    env = env_of(obj(prod, "Deployment", "vapora-llm-router"))
    assert env["REDIS_URL"] == "redis://redis.vapora-system.svc.cluster.local:6379"
    assert env["RUST_LOG"] == "info"
    assert env["CLAUDE_API_KEY"] == {
        "secretKeyRef": {"name": "vapora-secrets", "key": "claude-key"}
    }
    frontend = env_of(obj(prod, "Deployment", "vapora-frontend"))
    assert frontend == {
        "API_URL": "http://vapora-backend.vapora-system.svc.cluster.local:8080"
    }


def test_disabled_optional_dependency_leaves_its_variable_out() -> None:
    from tests.workloads import ROOT, SECRET_VALUES
    from vapora_infra.offline.recorder import record
    from vapora_infra.spec.project import load_project, stack_config_from_file

    config = stack_config_from_file(ROOT, "dev")
    config["storage"]["redis"]["enabled"] = False
    recording = record(load_project(ROOT, "dev", config), SECRET_VALUES)
    backend = env_of(obj(recording, "Deployment", "vapora-backend"))
    assert "REDIS_URL" not in backend
    assert backend["NATS_URL"] == "nats://nats.vapora-system.svc.cluster.local:4222"
    assert kind(recording, "StatefulSet") and not [
        s for s in kind(recording, "StatefulSet") if s.name.startswith("redis")
    ]


def test_required_dependencies_are_depends_on(prod: Recording) -> None:
    by_urn = {r.urn: r for r in prod.resources}
    deployment = obj(prod, "Deployment", "vapora-frontend")
    dependencies = {by_urn[d].name for d in deployment.dependencies if d in by_urn}
    # The engine expands a component dependency to the component's children.
    assert "vapora-backend-deployment" in dependencies
    backend = obj(prod, "Deployment", "vapora-backend")
    dependencies = {by_urn[d].name for d in backend.dependencies if d in by_urn}
    assert {
        "surrealdb-statefulset",
        "nats-statefulset",
        "secrets-vapora-system-vapora-secrets",
    } <= dependencies
    # Redis is optional for the backend: wired through its URL, not waited on
    # beyond the stage order.
    assert "vapora-frontend-deployment" not in dependencies


@pytest.mark.parametrize("name", [s[0] for s in SERVICES])
def test_services_keep_one_pod_up_during_drains(prod: Recording, name: str) -> None:
    budget = obj(prod, "PodDisruptionBudget", name).inputs["spec"]
    assert budget["maxUnavailable"] == 1, name


def test_every_metrics_port_has_a_service_monitor(prod: Recording) -> None:
    monitors = {
        m.inputs["metadata"]["name"]: m.inputs["spec"]
        for m in kind(prod, "ServiceMonitor")
    }
    assert set(monitors) == {f"{s[0]}-metrics" for s in SERVICES} | {"nats-metrics"}
    for spec in monitors.values():
        assert spec["endpoints"][0]["port"] == "metrics"


def test_service_accounts_mount_no_token(prod: Recording) -> None:
    for account in kind(prod, "ServiceAccount"):
        assert account.inputs["automountServiceAccountToken"] is False, account.urn
