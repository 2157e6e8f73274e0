"""The Istio Gateway and VirtualService that publish VAPORA on its hosts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import PART_OF, StagePolicy, metadata
from vapora_infra.components.flows import ISTIO_GATEWAY_LABELS
from vapora_infra.components.workload import Endpoint

GATEWAY = "vapora-gateway"


@dataclass(frozen=True)
class IstioIngressArgs:
    """Hosts, the TLS certificate Secret and the two services behind them."""

    hosts: Sequence[str]
    namespace: str
    frontend: Endpoint
    backend: Endpoint
    stage: StagePolicy
    tls_secret: str | None = None


class IstioIngress(pulumi.ComponentResource):
    """Routes /api to the backend and everything else to the frontend."""

    def __init__(
        self,
        name: str,
        args: IstioIngressArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:mesh:IstioIngress", name, None, opts)
        if not args.hosts:
            raise ValueError("IstioIngress needs at least one host")
        object_labels = {
            "app.kubernetes.io/name": GATEWAY,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "pulumi",
        }
        hosts = list(args.hosts)
        servers: list[dict[str, Any]] = []
        if args.tls_secret is not None:
            # The certificate Secret lives beside the gateway pods, in
            # istio-system, where the gateway reads it by name.
            servers.append(
                {
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": hosts,
                    "tls": {"mode": "SIMPLE", "credentialName": args.tls_secret},
                }
            )
        servers.append(
            {
                "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                "hosts": hosts,
                **({"tls": {"httpsRedirect": True}} if args.tls_secret else {}),
            }
        )

        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata=metadata(GATEWAY, args.namespace, object_labels),
            spec={"selector": ISTIO_GATEWAY_LABELS, "servers": servers},
            opts=args.stage.options(self),
        )

        # Istio matches routes in order, so /api must come before /.
        self.virtual_service = k8s.apiextensions.CustomResource(
            f"{name}-routes",
            api_version="networking.istio.io/v1",
            kind="VirtualService",
            metadata=metadata("vapora", args.namespace, object_labels),
            spec={
                "hosts": hosts,
                "gateways": [GATEWAY],
                "http": [
                    {
                        "name": "api",
                        "match": [{"uri": {"prefix": "/api"}}],
                        "route": [_destination(args.backend)],
                    },
                    {
                        "name": "web",
                        "match": [{"uri": {"prefix": "/"}}],
                        "route": [_destination(args.frontend)],
                    },
                ],
            },
            opts=args.stage.options(self, depends_on=[self.gateway]),
        )

        scheme = "https" if args.tls_secret else "http"
        self.urls = pulumi.Output.from_input([f"{scheme}://{h}" for h in hosts])
        self.register_outputs({"urls": self.urls})


def _destination(target: Endpoint) -> dict[str, Any]:
    return {"destination": {"host": target.host, "port": {"number": target.port}}}
