"""Loki and Grafana Alloy: the cluster's log store and its collector.

Loki rather than an ELK stack: it indexes only labels, not the full text, so
it needs a fraction of Elasticsearch's memory and CPU on 2-4 core nodes; its
chunks go to a filesystem or any S3 API, which a Ceph object store provides;
and Grafana, already here for metrics, queries it directly. Alloy collects,
because Promtail is deprecated in its favour.
"""

from __future__ import annotations

import pulumi

from vapora_infra.components.platform.charts import (
    AddonArgs,
    ChartSource,
    chart,
    namespace,
)

GRAFANA_REPO = "https://grafana.github.io/helm-charts"
LOKI = ChartSource("loki", GRAFANA_REPO, "6.5.2")
ALLOY = ChartSource("alloy", GRAFANA_REPO, "0.9.2")
NAMESPACE = "logging"
LOKI_PUSH_URL = f"http://loki.{NAMESPACE}.svc:3100/loki/api/v1/push"

_ALLOY_CONFIG = f"""
discovery.kubernetes "pods" {{
  role = "pod"
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "{LOKI_PUSH_URL}"
  }}
}}
"""


class Logging(pulumi.ComponentResource):
    """Loki in single-binary mode and an Alloy DaemonSet shipping pod logs."""

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        storage_class: str | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:Logging", name, None, opts)
        self.version = LOKI.pinned(args.spec, "loki")

        space = namespace(
            f"{name}-namespace", NAMESPACE, self, args.stage, privileged=True
        )

        # Single binary with chunks on a volume: VAPORA's log volume does not
        # need the scalable mode. This is the gap to close when a Ceph object
        # store exists: point storage at its S3 endpoint and scale out.
        persistence = {"enabled": True, "size": "50Gi"}
        if storage_class is not None:
            persistence["storageClass"] = storage_class
        self.loki = chart(
            f"{name}-loki",
            LOKI,
            self.version,
            NAMESPACE,
            {
                "deploymentMode": "SingleBinary",
                "loki": {
                    "auth_enabled": False,
                    "commonConfig": {"replication_factor": 1},
                    "storage": {"type": "filesystem"},
                    "schemaConfig": {
                        "configs": [
                            {
                                "from": "2024-01-01",
                                "store": "tsdb",
                                "object_store": "filesystem",
                                "schema": "v13",
                                "index": {"prefix": "index_", "period": "24h"},
                            }
                        ]
                    },
                },
                "singleBinary": {"replicas": 1, "persistence": persistence},
                "backend": {"replicas": 0},
                "read": {"replicas": 0},
                "write": {"replicas": 0},
                "chunksCache": {"enabled": False},
                "resultsCache": {"enabled": False},
                "gateway": {"enabled": False},
            },
            args.stage.options(self, depends_on=[*args.after, space]),
        )

        # A chart for both: neither has install hooks worth running.
        self.alloy = chart(
            f"{name}-alloy",
            ALLOY,
            ALLOY.version,
            NAMESPACE,
            {
                "alloy": {
                    "configMap": {"create": True, "content": _ALLOY_CONFIG},
                },
                "controller": {"type": "daemonset"},
            },
            args.stage.options(self, depends_on=[self.loki]),
        )

        self.register_outputs({"version": self.version, "push_url": LOKI_PUSH_URL})
