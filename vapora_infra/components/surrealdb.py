"""SurrealDB on its embedded RocksDB engine, one pod with a persistent volume."""

from __future__ import annotations

from dataclasses import dataclass

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
from vapora_infra.components.flows import Flows
from vapora_infra.components.network import allow_policies
from vapora_infra.components.secrets import DB_USER
from vapora_infra.components.workload import (
    KEEP_CLAIMS,
    cluster_host,
    container,
    endpoint_url,
    http_probe,
    pod_spec,
    port,
    secret_env,
    service_port,
    service_port_number,
    stateful_services,
    volume_claim,
)
from vapora_infra.spec.data import SurrealDB as SurrealDBSpec
from vapora_infra.spec.secrets import DB_SECRET

NAME = "surrealdb"
DATA_DIR = "/data"
SKIPS = checkov_skips(
    {
        "CKV_K8S_15": UPSTREAM_IMAGE_PULL,
        "CKV_K8S_35": (
            "The official SurrealDB image reads the root password only from "
            "SURREAL_PASS or a command-line flag and has no file option; the "
            "variable comes from a Secret through secretKeyRef and never "
            "appears in the object itself."
        ),
        "CKV_K8S_43": UPSTREAM_IMAGE_TAGS,
    }
)


@dataclass(frozen=True)
class SurrealDBArgs:
    """The SurrealDB settings of the stack and how its stage deploys them."""

    spec: SurrealDBSpec
    stage: StagePolicy
    flows: Flows
    protect: bool = True


class SurrealDB(pulumi.ComponentResource):
    """A single-writer SurrealDB StatefulSet behind a client Service."""

    url: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        args: SurrealDBArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:data:SurrealDB", name, None, opts)
        spec = args.spec
        namespace = spec.namespace
        version = spec.image.rpartition(":")[2] or None
        object_labels = labels(NAME, "database", version)
        headless_name = f"{NAME}-headless"

        headless, service = stateful_services(
            self,
            name,
            NAME,
            namespace,
            object_labels,
            peer_ports=[service_port("http", spec.port)],
            client_ports=[service_port("http", spec.port)],
            stage=args.stage,
        )

        server = container(
            NAME,
            spec.image,
            resource_requirements(spec.resources),
            args=[
                "start",
                "--log",
                "info",
                "--bind",
                f"0.0.0.0:{spec.port}",
                f"rocksdb://{DATA_DIR}/db",
            ],
            ports=[port("http", spec.port)],
            env=[
                {"name": "SURREAL_USER", "value": DB_USER},
                secret_env("SURREAL_PASS", *DB_SECRET),
            ],
            mounts=[{"name": "data", "mountPath": DATA_DIR}],
            startupProbe=http_probe("/health", "http", 5, 3, 60),
            readinessProbe=http_probe("/health", "http", 10, 3, 3),
            livenessProbe=http_probe("/health", "http", 10, 5, 6),
        )

        # Retained and, on protected stacks, protected: the claim template
        # keeps the data on its own, but losing the StatefulSet still stops
        # every service that stores anything.
        self.stateful_set = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=metadata(NAME, namespace, object_labels, SKIPS),
            spec={
                "serviceName": headless_name,
                "replicas": spec.replicas,
                "podManagementPolicy": "OrderedReady",
                "persistentVolumeClaimRetentionPolicy": KEEP_CLAIMS,
                "selector": {"matchLabels": selector(NAME)},
                "template": {
                    "metadata": {"labels": object_labels},
                    "spec": pod_spec([server], terminationGracePeriodSeconds=30),
                },
                "volumeClaimTemplates": [volume_claim("data", spec.storage)],
            },
            opts=args.stage.options(
                self,
                depends_on=[headless],
                protect=args.protect,
                retain_on_delete=True,
            ),
        )

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
        self.port = service_port_number(service, "http")
        # The SurrealDB SDKs connect over WebSocket; ws:// is the scheme their
        # any-engine accepts for a remote server.
        self.url = endpoint_url("ws", self.host, self.port)
        self.http_url = endpoint_url("http", self.host, self.port)
        self.register_outputs(
            {
                "url": self.url,
                "http_url": self.http_url,
                "host": self.host,
                "port": self.port,
            }
        )
