"""NetworkPolicies and pod hardening across every workload of a stack."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workloads import kind, obj, record_stack
from vapora_infra.offline.recorder import Recording

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


@pytest.fixture(scope="module")
def prod() -> Recording:
    return record_stack("prod")


@pytest.fixture(scope="module")
def dev() -> Recording:
    return record_stack("dev")


def _workloads(recording: Recording) -> list[Any]:
    return [w for k in WORKLOAD_KINDS for w in kind(recording, k)]


def _selects(policy: dict[str, Any], pod_labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(pod_labels.get(k) == v for k, v in wanted.items())


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_every_workload_has_its_own_ingress_and_egress_policy(
    request: pytest.FixtureRequest, stack: str
) -> None:
    recording = request.getfixturevalue(stack)
    policies = [
        p.inputs
        for p in kind(recording, "NetworkPolicy")
        if p.inputs["spec"]["podSelector"].get("matchLabels")
    ]
    for workload in _workloads(recording):
        namespace = workload.inputs["metadata"]["namespace"]
        pod_labels = workload.inputs["spec"]["template"]["metadata"]["labels"]
        types = {
            t
            for p in policies
            if p["metadata"]["namespace"] == namespace and _selects(p, pod_labels)
            for t in p["spec"]["policyTypes"]
        }
        assert types == {"Ingress", "Egress"}, workload.urn


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_every_container_is_restricted_and_sized(
    request: pytest.FixtureRequest, stack: str
) -> None:
    for workload in _workloads(request.getfixturevalue(stack)):
        spec = workload.inputs["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, workload.urn
        assert spec["automountServiceAccountToken"] is False, workload.urn
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{workload.urn} {container['name']}"
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}, where
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}, where
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, where


def test_every_kubernetes_resource_uses_the_one_cluster_provider(
    prod: Recording,
) -> None:
    providers = [r for r in prod.resources if r.type == "pulumi:providers:kubernetes"]
    assert len(providers) == 1
    expected = f"{providers[0].urn}::{providers[0].name}-id"
    for resource in prod.resources:
        if resource.custom and resource.type.startswith("kubernetes:"):
            assert resource.provider == expected, resource.urn


def _ingress_from(recording: Recording, name: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = obj(
        recording, "NetworkPolicy", f"{name}-allow-ingress"
    ).inputs["spec"]["ingress"]
    return rules


def test_surrealdb_admits_exactly_its_dependents(prod: Recording) -> None:
    sources = sorted(
        (
            rule["from"][0]
            .get("namespaceSelector", {})
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name", "vapora-system"),
            rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
            tuple(p["port"] for p in rule["ports"]),
        )
        for rule in _ingress_from(prod, "surrealdb")
    )
    assert sources == [
        ("vapora-agents", "vapora-agents", (8000,)),
        ("vapora-system", "surrealdb-migrations", (8000,)),
        ("vapora-system", "vapora-backend", (8000,)),
    ]


def test_nats_admits_peers_keda_prometheus_and_agent_pools(prod: Recording) -> None:
    rules = _ingress_from(prod, "nats")
    by_port: dict[int, list[dict[str, Any]]] = {}
    for rule in rules:
        for port in rule["ports"]:
            by_port.setdefault(port["port"], []).append(rule["from"][0])
    assert {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "nats",
                "app.kubernetes.io/instance": "nats",
            }
        }
    } in by_port[6222]
    keda = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}
    }
    assert by_port[8222] == [keda]
    assert by_port[7777] == [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
            }
        }
    ]
    pools = {
        "namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": "vapora-agents"}
        },
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/part-of": "vapora",
                "app.kubernetes.io/component": "agent-pool",
            }
        },
    }
    assert pools in by_port[4222]


def test_istio_gateway_reaches_frontend_and_backend_only(prod: Recording) -> None:
    def from_gateway(name: str) -> bool:
        return any(
            rule["from"][0].get("namespaceSelector", {}).get("matchLabels")
            == {"kubernetes.io/metadata.name": "istio-system"}
            and "podSelector" in rule["from"][0]
            and rule["from"][0]["podSelector"]["matchLabels"]
            == {"istio": "ingressgateway"}
            for rule in _ingress_from(prod, name)
        )

    assert from_gateway("vapora-frontend")
    assert from_gateway("vapora-backend")
    assert not from_gateway("vapora-llm-router")
    assert not from_gateway("surrealdb")


def test_agent_pools_reach_nats_router_and_gateway(prod: Recording) -> None:
    egress = obj(prod, "NetworkPolicy", "vapora-agents-developer-allow-egress").inputs[
        "spec"
    ]["egress"]
    targets = {
        rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: [
            p["port"] for p in rule["ports"]
        ]
        for rule in egress
        if "podSelector" in rule["to"][0]
        and "app.kubernetes.io/name" in rule["to"][0]["podSelector"]["matchLabels"]
    }
    assert targets == {
        "nats": [4222],
        "vapora-llm-router": [8899],
        "vapora-mcp-gateway": [8888],
    }


def test_dev_has_no_mesh_keda_or_prometheus_flows(dev: Recording) -> None:
    namespaces = {
        selector["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for policy in kind(dev, "NetworkPolicy")
        for direction, side in (("ingress", "from"), ("egress", "to"))
        for rule in policy.inputs["spec"].get(direction, [])
        for selector in rule.get(side, [])
        if "namespaceSelector" in selector
    }
    assert namespaces <= {"vapora-system", "vapora-agents", "kube-system"}
