"""kube-prometheus-stack: Prometheus, Alertmanager and, when enabled, Grafana."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import PART_OF
from vapora_infra.components.platform.charts import (
    AddonArgs,
    ChartSource,
    namespace,
    release,
)

KUBE_PROMETHEUS_STACK = ChartSource(
    "kube-prometheus-stack",
    "https://prometheus-community.github.io/helm-charts",
    "65.2.0",
)
NAMESPACE = "monitoring"
RELEASE = "kube-prometheus-stack"
# The label the chart's Grafana sidecar watches for dashboards.
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
VAPORA_NAMESPACES = "vapora-system|vapora-agents"


class Monitoring(pulumi.ComponentResource):
    """Prometheus with its operator, and Grafana with VAPORA's dashboard."""

    dashboard: k8s.core.v1.ConfigMap | None

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        grafana: bool,
        grafana_password: pulumi.Output[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:Monitoring", name, None, opts)
        self.version = KUBE_PROMETHEUS_STACK.pinned(args.spec, "prometheus")

        # Node exporter reads the host's /proc and /sys.
        space = namespace(
            f"{name}-namespace", NAMESPACE, self, args.stage, privileged=True
        )

        values: dict[str, Any] = {
            "prometheus": {
                "prometheusSpec": {
                    "retention": "15d",
                    # Scrape every ServiceMonitor and PodMonitor, not only
                    # those labelled with this release, so VAPORA's and the
                    # other add-ons' monitors count too.
                    "serviceMonitorSelectorNilUsesHelmValues": False,
                    "podMonitorSelectorNilUsesHelmValues": False,
                    "ruleSelectorNilUsesHelmValues": False,
                }
            },
            "grafana": {
                "enabled": grafana,
                # Without a configured password the Grafana chart generates
                # one into its Secret instead of the chart's well-known default.
                "adminPassword": "",
                "sidecar": {
                    "dashboards": {
                        "enabled": True,
                        "label": "grafana_dashboard",
                        "labelValue": "1",
                        "searchNamespace": "ALL",
                    }
                },
            },
        }
        chart_values: dict[str, Any] | pulumi.Output[Any] = values
        if grafana and grafana_password is not None:
            # The admin password turns the whole values object secret, so it
            # never shows in a plan or in the state in clear text.
            chart_values = pulumi.Output.secret(
                grafana_password.apply(
                    lambda password: _with_password(values, password)
                )
            )

        # A release, not a chart: the admission webhook's certificate is made
        # by Helm hook Jobs that a Pulumi chart would never run, and Helm
        # applies the operator's CRDs, which are too large for client-side
        # apply annotations.
        self.release = release(
            f"{name}-release",
            RELEASE,
            KUBE_PROMETHEUS_STACK,
            self.version,
            NAMESPACE,
            chart_values,
            args.stage.options(self, depends_on=[*args.after, space]),
        )

        self.dashboard = None
        if grafana:
            self.dashboard = k8s.core.v1.ConfigMap(
                f"{name}-vapora-dashboard",
                metadata={
                    "name": "vapora-dashboard",
                    "namespace": NAMESPACE,
                    "labels": {**DASHBOARD_LABEL, "app.kubernetes.io/part-of": PART_OF},
                },
                data={"vapora.json": json.dumps(vapora_dashboard(), indent=1)},
                opts=args.stage.options(self, depends_on=[self.release]),
            )

        self.register_outputs({"version": self.version, "grafana": grafana})


def _with_password(values: dict[str, Any], password: str) -> dict[str, Any]:
    grafana = {**values["grafana"], "adminPassword": password}
    return {**values, "grafana": grafana}


def vapora_dashboard() -> dict[str, Any]:
    """The Grafana dashboard of VAPORA's services, data stores and agent pools."""
    ns = f'namespace=~"{VAPORA_NAMESPACES}"'
    panels = [
        _panel(
            "Request rate by service",
            "reqps",
            f"sum by (destination_service_name) (rate(istio_requests_total"
            f'{{destination_service_namespace=~"{VAPORA_NAMESPACES}"}}[5m]))',
        ),
        _panel(
            "Error rate (5xx) by service",
            "percentunit",
            "sum by (destination_service_name) (rate(istio_requests_total"
            f'{{destination_service_namespace=~"{VAPORA_NAMESPACES}",'
            'response_code=~"5.."}[5m])) / sum by (destination_service_name) '
            "(rate(istio_requests_total"
            f'{{destination_service_namespace=~"{VAPORA_NAMESPACES}"}}[5m]))',
        ),
        _panel(
            "Latency p95 by service",
            "ms",
            "histogram_quantile(0.95, sum by (destination_service_name, le) "
            "(rate(istio_request_duration_milliseconds_bucket"
            f'{{destination_service_namespace=~"{VAPORA_NAMESPACES}"}}[5m])))',
        ),
        _panel(
            "NATS queue depth by consumer",
            "short",
            "sum by (consumer_name) (nats_consumer_num_pending)",
        ),
        _panel(
            "Agent pool replicas",
            "short",
            "sum by (deployment) (kube_deployment_status_replicas_available"
            '{namespace="vapora-agents"})',
        ),
        _panel(
            "Service replicas",
            "short",
            "sum by (deployment) (kube_deployment_status_replicas_available"
            '{namespace="vapora-system"})',
        ),
        _panel(
            "Data store replicas ready",
            "short",
            f"sum by (statefulset) (kube_statefulset_status_replicas_ready{{{ns}}})",
        ),
        _panel(
            "Container CPU by pod",
            "cores",
            "sum by (pod) (rate(container_cpu_usage_seconds_total"
            f'{{{ns},container!=""}}[5m]))',
        ),
    ]
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        panel["gridPos"] = {"h": 8, "w": 12, "x": (index % 2) * 12, "y": index // 2 * 8}
    return {
        "uid": "vapora-overview",
        "title": "VAPORA",
        "tags": ["vapora"],
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": panels,
    }


def _panel(title: str, unit: str, expression: str) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"expr": expression, "refId": "A", "legendFormat": "__auto"}],
    }
