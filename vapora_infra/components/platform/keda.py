"""KEDA: scales the agent pools on NATS queue depth."""

from __future__ import annotations

import pulumi

from vapora_infra.components.platform.charts import (
    AddonArgs,
    ChartSource,
    chart,
    namespace,
)

KEDA = ChartSource("keda", "https://kedacore.github.io/charts", "2.15.1")
NAMESPACE = "keda"


class Keda(pulumi.ComponentResource):
    """The KEDA operator, its metrics API server and its CRDs."""

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        monitored: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:Keda", name, None, opts)
        self.version = KEDA.pinned(args.spec, "keda")

        space = namespace(f"{name}-namespace", NAMESPACE, self, args.stage)

        # A chart: ScaledObject and TriggerAuthentication CRDs must be seen
        # by Pulumi so the agent pools can depend on them; there are no hooks.
        self.chart = chart(
            f"{name}-chart",
            KEDA,
            self.version,
            NAMESPACE,
            {
                "prometheus": {
                    "operator": {
                        "enabled": True,
                        "serviceMonitor": {"enabled": monitored},
                    },
                    "metricServer": {
                        "enabled": True,
                        "serviceMonitor": {"enabled": monitored},
                    },
                },
            },
            args.stage.options(self, depends_on=[*args.after, space]),
        )

        self.register_outputs({"version": self.version, "namespace": NAMESPACE})
