"""Cilium: network policy enforcement and flow visibility."""

from __future__ import annotations

from typing import Any

import pulumi

from vapora_infra.components.platform.charts import AddonArgs, ChartSource, chart

CILIUM = ChartSource("cilium", "https://helm.cilium.io/", "1.16.5")
NAMESPACE = "kube-system"


class Cilium(pulumi.ComponentResource):
    """The Cilium agent and operator, chained after the VPC CNI on EKS."""

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:Cilium", name, None, opts)
        self.version = CILIUM.pinned(args.spec, "cilium")

        # A chart rather than a release: Cilium has no install hooks, and
        # every DaemonSet and ConfigMap change should show in the diff.
        self.chart = chart(
            f"{name}-chart",
            CILIUM,
            self.version,
            NAMESPACE,
            _values(args.spec.platform),
            args.stage.options(self, depends_on=list(args.after)),
        )

        self.register_outputs({"version": self.version})


def _values(platform: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "operator": {"replicas": 2},
        "hubble": {"enabled": True, "relay": {"enabled": True}},
    }
    if platform == "aws-eks":
        # Chaining with the AWS VPC CNI, not ENI mode: the VPC CNI keeps
        # address management and routing, so the node groups need no custom
        # launch template and aws-node stays as EKS installs it; Cilium adds
        # identity-based policy and Hubble. The VPC routes pod addresses
        # natively, hence no masquerading and no tunnel.
        values.update(
            {
                "cni": {"chainingMode": "aws-cni", "exclusive": False},
                "enableIPv4Masquerade": False,
                "routingMode": "native",
                "endpointRoutes": {"enabled": True},
            }
        )
    return values
