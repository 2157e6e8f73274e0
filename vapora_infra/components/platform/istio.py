"""Istio: the service mesh and the ingress gateway in istio-system."""

from __future__ import annotations

from typing import Any

import pulumi

from vapora_infra.components.platform.charts import (
    AddonArgs,
    ChartSource,
    chart,
    namespace,
    release,
)

ISTIO_REPO = "https://istio-release.storage.googleapis.com/charts"
ISTIO_VERSION = "1.23.3"
BASE = ChartSource("base", ISTIO_REPO, ISTIO_VERSION)
ISTIOD = ChartSource("istiod", ISTIO_REPO, ISTIO_VERSION)
GATEWAY = ChartSource("gateway", ISTIO_REPO, ISTIO_VERSION)
NAMESPACE = "istio-system"
# The labels VAPORA's Gateway object selects the gateway pods by.
GATEWAY_LABELS = {"istio": "ingressgateway"}


class Istio(pulumi.ComponentResource):
    """Istio's CRDs, the istiod control plane and an ingress gateway."""

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:Istio", name, None, opts)
        self.version = args.spec.addon_version("istio") or ISTIO_VERSION

        space = namespace(f"{name}-namespace", NAMESPACE, self, args.stage)

        # The CRDs as a chart, so Pulumi orders every Istio object after them.
        self.base = chart(
            f"{name}-base",
            BASE,
            self.version,
            NAMESPACE,
            {"defaultRevision": "default"},
            args.stage.options(self, depends_on=[*args.after, space]),
        )

        # A release for istiod: istiod rewrites its own webhook
        # configurations at run time (CA bundle, failure policy), which Helm's
        # three-way merge tolerates where a Pulumi diff would revert them on
        # every update.
        self.istiod = release(
            f"{name}-istiod",
            "istiod",
            ISTIOD,
            self.version,
            NAMESPACE,
            {
                "pilot": {"autoscaleMin": 2, "replicaCount": 2},
                "meshConfig": {"accessLogFile": "/dev/stdout"},
            },
            args.stage.options(self, depends_on=[self.base]),
        )

        # A chart for the gateway: its Deployment, Service and autoscaler are
        # what users reach VAPORA through, so their changes belong in the diff.
        self.gateway = chart(
            f"{name}-ingressgateway",
            GATEWAY,
            self.version,
            NAMESPACE,
            _gateway_values(args.spec.platform),
            args.stage.options(self, depends_on=[self.istiod]),
        )

        self.register_outputs(
            {"version": self.version, "gateway_labels": GATEWAY_LABELS}
        )


def _gateway_values(platform: str) -> dict[str, Any]:
    service: dict[str, Any] = {"type": "LoadBalancer"}
    if platform == "aws-eks":
        # A network load balancer passes TLS through to the gateway, which
        # terminates it with the certificate named in the stack settings.
        service["annotations"] = {
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        }
    return {
        "name": "istio-ingressgateway",
        "labels": dict(GATEWAY_LABELS),
        "service": service,
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 5},
    }
