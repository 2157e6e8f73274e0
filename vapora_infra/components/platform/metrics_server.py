"""metrics-server: the resource metrics API behind CPU-based autoscaling."""

from __future__ import annotations

import pulumi

from vapora_infra.components.platform.charts import AddonArgs, ChartSource, chart

METRICS_SERVER = ChartSource(
    "metrics-server", "https://kubernetes-sigs.github.io/metrics-server/", "3.12.2"
)
NAMESPACE = "kube-system"


class MetricsServer(pulumi.ComponentResource):
    """metrics-server, two replicas so HPAs keep their metrics during updates."""

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:MetricsServer", name, None, opts)
        self.version = METRICS_SERVER.pinned(args.spec, "metrics-server")

        # A chart: plain Deployment, Service and APIService, no hooks.
        self.chart = chart(
            f"{name}-chart",
            METRICS_SERVER,
            self.version,
            NAMESPACE,
            {
                "replicas": 2,
                "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            },
            args.stage.options(self, depends_on=list(args.after)),
        )

        self.register_outputs({"version": self.version})
