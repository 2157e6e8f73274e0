"""Redis as a cache with an append-only file on a persistent volume."""

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
from vapora_infra.components.workload import (
    KEEP_CLAIMS,
    cluster_host,
    container,
    endpoint_url,
    pod_spec,
    port,
    service_port,
    service_port_number,
    stateful_services,
    volume_claim,
)
from vapora_infra.spec.data import DataService

NAME = "redis"
SKIPS = checkov_skips(
    {"CKV_K8S_15": UPSTREAM_IMAGE_PULL, "CKV_K8S_43": UPSTREAM_IMAGE_TAGS}
)


@dataclass(frozen=True)
class RedisArgs:
    """The Redis settings of the stack and how its stage deploys them."""

    spec: DataService
    stage: StagePolicy
    flows: Flows
    protect: bool = True


class Redis(pulumi.ComponentResource):
    """A one-pod Redis StatefulSet behind a client Service."""

    url: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        args: RedisArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:data:Redis", name, None, opts)
        spec = args.spec
        namespace = spec.namespace
        version = spec.image.rpartition(":")[2] or None
        object_labels = labels(NAME, "cache", version)
        headless_name = f"{NAME}-headless"

        headless, service = stateful_services(
            self,
            name,
            NAME,
            namespace,
            object_labels,
            peer_ports=[service_port("redis", spec.port)],
            client_ports=[service_port("redis", spec.port)],
            stage=args.stage,
        )

        server = container(
            NAME,
            spec.image,
            resource_requirements(spec.resources),
            args=[
                "redis-server",
                "--port",
                str(spec.port),
                "--dir",
                "/data",
                "--appendonly",
                "yes",
            ],
            ports=[port("redis", spec.port)],
            mounts=[{"name": "data", "mountPath": "/data"}],
            readinessProbe={
                "exec": {"command": ["redis-cli", "-p", str(spec.port), "ping"]},
                "periodSeconds": 10,
                "timeoutSeconds": 3,
                "failureThreshold": 3,
            },
            livenessProbe={
                "tcpSocket": {"port": "redis"},
                "periodSeconds": 15,
                "timeoutSeconds": 5,
                "failureThreshold": 4,
            },
        )

        # Redis runs as the same high non-root user as everything else, not
        # the image's redis user (999), which could share a UID with a host
        # account. The image's entrypoint starts redis-server as whatever user
        # it is given, and fsGroup makes /data writable for that user, also
        # for files an earlier pod wrote as 999.
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
                    "spec": pod_spec([server]),
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
        self.port = service_port_number(service, "redis")
        self.url = endpoint_url("redis", self.host, self.port)
        self.register_outputs({"url": self.url, "host": self.host, "port": self.port})
