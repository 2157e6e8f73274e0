"""NetworkPolicies that open exactly a workload's flows in a default-deny namespace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import StagePolicy, metadata
from vapora_infra.components.flows import Flows, Peer, Rule


def allow_policies(
    name: str,
    namespace: str,
    pod_labels: Mapping[str, str],
    object_labels: Mapping[str, str],
    flows: Flows,
    stage: StagePolicy,
    parent: pulumi.Resource,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """``<name>-allow-ingress`` and ``<name>-allow-egress`` for one workload.

    A workload with no flow in a direction still gets the policy, with no
    rules: the namespace already denies, and the empty policy documents that
    nothing is expected to reach or leave the pods.
    """
    found = []
    for direction, rules in (("Ingress", flows.ingress), ("Egress", flows.egress)):
        key = direction.lower()
        found.append(
            k8s.networking.v1.NetworkPolicy(
                f"{name}-allow-{key}",
                metadata=metadata(f"{name}-allow-{key}", namespace, object_labels),
                spec={
                    "podSelector": {"matchLabels": dict(pod_labels)},
                    "policyTypes": [direction],
                    key: [_rule(rule, namespace, direction) for rule in rules],
                },
                opts=stage.options(parent),
            )
        )
    return found


def _rule(rule: Rule, own_namespace: str, direction: str) -> dict[str, Any]:
    side = "from" if direction == "Ingress" else "to"
    return {
        side: [_peer(rule.peer, own_namespace)],
        "ports": [{"protocol": "TCP", "port": number} for number in rule.ports],
    }


def _peer(peer: Peer, own_namespace: str) -> dict[str, Any]:
    if peer.cidr is not None:
        return {"ipBlock": {"cidr": peer.cidr}}
    found: dict[str, Any] = {}
    if peer.namespace != own_namespace:
        found["namespaceSelector"] = {
            "matchLabels": {"kubernetes.io/metadata.name": peer.namespace}
        }
    if peer.labels is not None:
        found["podSelector"] = {"matchLabels": dict(peer.labels)}
    return found
