"""Agent pools under the mock engine: one Deployment per role, KEDA or HPA."""

from __future__ import annotations

import pytest

from tests.workloads import env_of, kind, obj, pod_spec, record_stack
from vapora_infra.offline.recorder import Recording


@pytest.fixture(scope="module")
def prod() -> Recording:
    return record_stack("prod")


@pytest.fixture(scope="module")
def dev() -> Recording:
    return record_stack("dev")


# role: replicas (the autoscaler's floor), max, queue depth, cpu, memory
PROD_POOLS = {
    "architect": (2, 6, 5, "4", "8Gi"),
    "developer": (5, 20, 10, "4", "8Gi"),
    "code-reviewer": (3, 10, 10, "2", "4Gi"),
    "tester": (3, 10, 10, "2", "4Gi"),
    "documenter": (1, 4, 10, "1", "2Gi"),
    "devops": (2, 6, 5, "2", "4Gi"),
    "monitor": (1, 3, 20, "500m", "1Gi"),
    "security": (1, 4, 5, "2", "4Gi"),
    "pm": (1, 3, 10, "1", "2Gi"),
    "decision-maker": (1, 3, 5, "2", "4Gi"),
    "orchestrator": (2, 6, 20, "1", "2Gi"),
    "presenter": (1, 3, 10, "1", "2Gi"),
}


def test_prod_has_one_deployment_per_role(prod: Recording) -> None:
    names = {
        d.inputs["metadata"]["name"]
        for d in kind(prod, "Deployment")
        if d.inputs["metadata"]["namespace"] == "vapora-agents"
    }
    assert names == {f"vapora-agents-{role}" for role in PROD_POOLS} | {"vapora-agents"}


@pytest.mark.parametrize(("role", "expected"), sorted(PROD_POOLS.items()))
def test_prod_pool_scales_on_queue_depth(
    prod: Recording, role: str, expected: tuple[int, int, int, str, str]
) -> None:
    replicas, high, depth, cpu, memory = expected
    name = f"vapora-agents-{role}"
    deployment = obj(prod, "Deployment", name)
    assert "replicas" not in deployment.inputs["spec"], deployment.urn
    scaler = obj(prod, "ScaledObject", name)
    assert scaler.inputs["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaler.inputs["spec"]
    assert spec["scaleTargetRef"]["name"] == name
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (replicas, high)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "nats-jetstream"
    assert trigger["metadata"] == {
        "natsServerMonitoringEndpoint": (
            "nats-headless.vapora-system.svc.cluster.local:8222"
        ),
        "account": "$G",
        "stream": "AGENT_TASKS",
        "consumer": f"agents-{role}",
        "lagThreshold": str(depth),
        "useHttps": "false",
    }
    container = pod_spec(deployment)["containers"][0]
    both = {"cpu": cpu, "memory": memory}
    assert container["resources"] == {"requests": both, "limits": both}, name


def test_prod_pools_have_no_hpa(prod: Recording) -> None:
    hpas = {h.inputs["metadata"]["name"] for h in kind(prod, "HorizontalPodAutoscaler")}
    assert not {f"vapora-agents-{role}" for role in PROD_POOLS} & hpas


def test_pool_env_names_role_concurrency_and_queue(prod: Recording) -> None:
    env = env_of(obj(prod, "Deployment", "vapora-agents-developer"))
    assert env["AGENT_ROLE"] == "developer"
    assert env["MAX_CONCURRENT"] == "2"
    assert env["NATS_URL"] == "nats://nats.vapora-system.svc.cluster.local:4222"
    assert env["NATS_CONSUMER"] == "agents-developer"
    image = pod_spec(obj(prod, "Deployment", "vapora-agents-developer"))["containers"][
        0
    ]["image"]
    assert image == "vapora/agents:developer-0.1.0"


def test_dev_pools_without_autoscaling_set_replicas(dev: Recording) -> None:
    architect = obj(dev, "Deployment", "vapora-agents-architect")
    assert architect.inputs["spec"]["replicas"] == 1
    assert [
        h
        for h in kind(dev, "HorizontalPodAutoscaler")
        if h.inputs["metadata"]["name"] == "vapora-agents-architect"
    ] == []


def test_dev_pool_with_autoscaling_uses_cpu_hpa_without_keda(dev: Recording) -> None:
    assert kind(dev, "ScaledObject") == []
    developer = obj(dev, "Deployment", "vapora-agents-developer")
    assert "replicas" not in developer.inputs["spec"]
    hpa = obj(dev, "HorizontalPodAutoscaler", "vapora-agents-developer")
    assert (hpa.inputs["spec"]["minReplicas"], hpa.inputs["spec"]["maxReplicas"]) == (
        1,
        3,
    )


def test_agent_pools_deploy_in_the_agents_stage(prod: Recording) -> None:
    for role in PROD_POOLS:
        deployment = obj(prod, "Deployment", f"vapora-agents-{role}")
        assert deployment.stage == "deploy-agents", deployment.urn
        assert deployment.timeouts["create"] == "30m", deployment.urn
