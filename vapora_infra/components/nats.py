"""NATS with JetStream: a StatefulSet that forms a Raft cluster at 3+ replicas."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import (
    UPSTREAM_IMAGE_PULL,
    UPSTREAM_IMAGE_TAGS,
    StagePolicy,
    checkov_skips,
    labels,
    metadata,
    resource_requirements,
    selector,
)
from vapora_infra.components.flows import NATS_METRICS_PORT, Flows
from vapora_infra.components.monitoring import service_monitor
from vapora_infra.components.network import allow_policies
from vapora_infra.components.workload import (
    KEEP_CLAIMS,
    cluster_host,
    container,
    endpoint_url,
    http_probe,
    pod_spec,
    port,
    service_port,
    service_port_number,
    stateful_services,
    volume_claim,
)
from vapora_infra.spec.data import Nats as NatsSpec
from vapora_infra.spec.units import quantity_value

NAME = "nats"
CLUSTER_NAME = "vapora-nats"
CONFIG_DIR = "/etc/nats-config"
STORE_DIR = "/data/jetstream"
EXPORTER_IMAGE = "natsio/prometheus-nats-exporter:0.15.0"
# JetStream refuses writes at max_file_store; keeping it under the volume size
# leaves room for the filesystem's own overhead instead of failing on ENOSPC.
STORE_SHARE = Decimal("0.9")
SKIPS = checkov_skips(
    {"CKV_K8S_15": UPSTREAM_IMAGE_PULL, "CKV_K8S_43": UPSTREAM_IMAGE_TAGS}
)


@dataclass(frozen=True)
class NatsArgs:
    """The NATS settings of the stack and how its stage deploys them."""

    spec: NatsSpec
    stage: StagePolicy
    flows: Flows
    protect: bool = True
    metrics: bool = False


def nats_config(spec: NatsSpec, namespace: str) -> str:
    """The server configuration shared by every pod of the StatefulSet."""
    store_bytes = int(quantity_value(spec.storage.size) * STORE_SHARE)
    lines = [
        "server_name: $POD_NAME",
        f"listen: 0.0.0.0:{spec.port}",
        f"http: 0.0.0.0:{spec.monitor_port}",
        "pid_file: /tmp/nats.pid",
        "lame_duck_duration: 30s",
        "lame_duck_grace_period: 10s",
        "jetstream {",
        f"  store_dir: {STORE_DIR}",
        f"  max_file_store: {store_bytes}",
        "}",
    ]
    if spec.replicas > 1:
        routes = [
            f"    nats://{NAME}-{index}.{NAME}-headless.{namespace}"
            f".svc.cluster.local:{spec.cluster_port}"
            for index in range(spec.replicas)
        ]
        lines += [
            "cluster {",
            f"  name: {CLUSTER_NAME}",
            f"  listen: 0.0.0.0:{spec.cluster_port}",
            "  routes: [",
            *routes,
            "  ]",
            "}",
        ]
    return "\n".join(lines) + "\n"


class Nats(pulumi.ComponentResource):
    """A NATS JetStream StatefulSet, its configuration and its Services."""

    url: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    monitor_host: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: NatsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:data:Nats", name, None, opts)
        spec = args.spec
        namespace = spec.namespace
        version = spec.image.rpartition(":")[2] or None
        object_labels = labels(NAME, "message-queue", version)
        headless_name = f"{NAME}-headless"
        config_text = nats_config(spec, namespace)
        client_ports = [
            service_port("client", spec.port),
            service_port("monitor", spec.monitor_port),
        ]
        if args.metrics:
            client_ports.append(service_port("metrics", NATS_METRICS_PORT))

        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata(f"{NAME}-config", namespace, object_labels),
            data={"nats.conf": config_text},
            opts=args.stage.options(self),
        )

        headless, service = stateful_services(
            self,
            name,
            NAME,
            namespace,
            object_labels,
            peer_ports=[
                service_port("client", spec.port),
                service_port("cluster", spec.cluster_port),
                service_port("monitor", spec.monitor_port),
            ],
            client_ports=client_ports,
            stage=args.stage,
        )

        server_ports = [
            port("client", spec.port),
            port("cluster", spec.cluster_port),
            port("monitor", spec.monitor_port),
        ]
        server = container(
            NAME,
            spec.image,
            resource_requirements(spec.resources),
            args=["--config", f"{CONFIG_DIR}/nats.conf"],
            ports=server_ports,
            env=[
                {
                    "name": "POD_NAME",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                }
            ],
            mounts=[
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                {"name": "data", "mountPath": "/data"},
            ],
            # Lame duck mode moves clients and JetStream leaders away before
            # the pod stops, so a rolling update loses no messages.
            lifecycle={
                "preStop": {
                    "exec": {"command": ["/nats-server", "-sl=ldm=/tmp/nats.pid"]}
                }
            },
            startupProbe=http_probe("/healthz", "monitor", 10, 5, 90),
            readinessProbe=http_probe(
                "/healthz?js-server-only=true", "monitor", 10, 5, 3
            ),
            livenessProbe=http_probe(
                "/healthz?js-enabled-only=true", "monitor", 30, 5, 3
            ),
        )
        containers = [server]
        if args.metrics:
            # The monitor port speaks JSON, not the Prometheus format; the
            # exporter translates it and serves /metrics for the ServiceMonitor.
            containers.append(
                container(
                    "metrics",
                    EXPORTER_IMAGE,
                    {
                        "requests": {"cpu": "10m", "memory": "32Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                    },
                    args=[
                        f"-port={NATS_METRICS_PORT}",
                        "-connz",
                        "-routez",
                        "-subz",
                        "-varz",
                        "-healthz",
                        "-jsz=all",
                        f"http://localhost:{spec.monitor_port}",
                    ],
                    ports=[port("metrics", NATS_METRICS_PORT)],
                    readinessProbe=http_probe("/metrics", "metrics", 10, 5, 3),
                    livenessProbe=http_probe("/metrics", "metrics", 30, 5, 3),
                )
            )

        # The checksum rolls the pods when the configuration changes; NATS
        # would otherwise keep running the configuration it started with.
        checksum = hashlib.sha256(config_text.encode()).hexdigest()
        self.stateful_set = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=metadata(NAME, namespace, object_labels, SKIPS),
            spec={
                "serviceName": headless_name,
                "replicas": spec.replicas,
                # Peers must start together to elect a JetStream leader.
                "podManagementPolicy": "Parallel",
                "persistentVolumeClaimRetentionPolicy": KEEP_CLAIMS,
                "selector": {"matchLabels": selector(NAME)},
                "template": {
                    "metadata": {
                        "labels": object_labels,
                        "annotations": {"vapora.dev/config-sha256": checksum},
                    },
                    "spec": pod_spec(
                        containers,
                        volumes=[
                            {"name": "config", "configMap": {"name": f"{NAME}-config"}}
                        ],
                        terminationGracePeriodSeconds=60,
                    ),
                },
                "volumeClaimTemplates": [volume_claim("data", spec.storage)],
            },
            opts=args.stage.options(
                self,
                depends_on=[config, headless],
                protect=args.protect,
                retain_on_delete=True,
            ),
        )

        if spec.replicas > 1:
            # One server at a time may go: a 3-node Raft group keeps quorum.
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=metadata(NAME, namespace, object_labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": selector(NAME)}},
                opts=args.stage.options(self),
            )

        if args.metrics:
            service_monitor(NAME, namespace, object_labels, args.stage, self)

        allow_policies(
            NAME,
            namespace,
            selector(NAME),
            object_labels,
            args.flows,
            args.stage,
            self,
        )

        self.host = cluster_host(service)
        self.port = service_port_number(service, "client")
        self.url = endpoint_url("nats", self.host, self.port)
        # KEDA asks each server of a cluster for its consumer lag by pod name
        # under this host, so it must be the headless Service.
        self.monitor_host = cluster_host(headless)
        self.monitor_port = service_port_number(headless, "monitor")
        self.register_outputs(
            {
                "url": self.url,
                "host": self.host,
                "port": self.port,
                "monitor_host": self.monitor_host,
                "monitor_port": self.monitor_port,
            }
        )
