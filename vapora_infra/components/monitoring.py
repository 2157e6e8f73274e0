"""Prometheus ServiceMonitors for the metrics ports of VAPORA's Services."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import StagePolicy, metadata, selector


def service_monitor(
    app: str,
    namespace: str,
    object_labels: Mapping[str, str],
    stage: StagePolicy,
    parent: pulumi.Resource,
    port_name: str = "metrics",
) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor ``<app>-metrics`` scraping the Service's metrics port."""
    return k8s.apiextensions.CustomResource(
        f"{app}-metrics",
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata=metadata(f"{app}-metrics", namespace, object_labels),
        spec={
            "selector": {"matchLabels": selector(app)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": port_name, "path": "/metrics", "interval": "30s"}],
        },
        opts=stage.options(parent),
    )
