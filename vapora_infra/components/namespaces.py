"""VAPORA's namespaces with the Pod Security Standard and default-deny policies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import PART_OF, StagePolicy, metadata


@dataclass(frozen=True)
class NamespacesArgs:
    """Which namespaces to create and how they are enforced."""

    names: Sequence[str]
    stage: StagePolicy
    istio_injection: bool = False
    # Namespaces that hold data outlive `pulumi destroy` (see below).
    retained: frozenset[str] = frozenset()


class Namespaces(pulumi.ComponentResource):
    """Namespaces that enforce the restricted profile and deny traffic by default."""

    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(
        self,
        name: str,
        args: NamespacesArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:security:Namespaces", name, None, opts)
        self.namespaces = {}
        for namespace in args.names:
            namespace_labels = {
                "app.kubernetes.io/part-of": PART_OF,
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "v1.30",
            }
            if args.istio_injection:
                namespace_labels["istio-injection"] = "enabled"

            # Deleting a namespace deletes everything in it, the StatefulSets'
            # volume claims included; the StatefulSets themselves are kept on
            # `pulumi destroy`, so the namespace that holds them is kept too.
            self.namespaces[namespace] = k8s.core.v1.Namespace(
                f"{name}-{namespace}",
                metadata=metadata(namespace, None, namespace_labels),
                opts=args.stage.options(
                    self, retain_on_delete=namespace in args.retained
                ),
            )

            # Everything is refused until a workload's own policy allows a flow.
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{namespace}-default-deny",
                metadata=metadata(
                    "default-deny", namespace, {"app.kubernetes.io/part-of": PART_OF}
                ),
                spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                opts=args.stage.options(self, depends_on=[self.namespaces[namespace]]),
            )

            # Default deny includes DNS; every pod needs it to find its peers.
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{namespace}-allow-dns",
                metadata=metadata(
                    "allow-dns", namespace, {"app.kubernetes.io/part-of": PART_OF}
                ),
                spec={
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {
                                            "kubernetes.io/metadata.name": "kube-system"
                                        }
                                    },
                                    "podSelector": {
                                        "matchLabels": {"k8s-app": "kube-dns"}
                                    },
                                }
                            ],
                            "ports": [
                                {"protocol": "UDP", "port": 53},
                                {"protocol": "TCP", "port": 53},
                            ],
                        }
                    ],
                },
                opts=args.stage.options(self, depends_on=[self.namespaces[namespace]]),
            )

        self.register_outputs(
            {"namespaces": {n: ns.metadata.name for n, ns in self.namespaces.items()}}
        )
