"""Pieces every workload shares: restricted pods, probes, claims and endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import (
    StagePolicy,
    container_security_context,
    metadata,
    pod_security_context,
    selector,
)
from vapora_infra.spec.data import Volume

NONROOT = 65532

# A read-only root filesystem still leaves most runtimes needing a scratch
# directory; memory-backed so it counts against the pod's limit, not the node.
TMP_VOLUME: dict[str, Any] = {
    "name": "tmp",
    "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"},
}
TMP_MOUNT: dict[str, Any] = {"name": "tmp", "mountPath": "/tmp"}


class Endpoint(Protocol):
    """What a service exposes to the services that depend on it."""

    url: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]


def container(
    name: str,
    image: str,
    resources: Mapping[str, Any],
    *,
    user: int = NONROOT,
    ports: Sequence[Mapping[str, Any]] = (),
    env: Sequence[Mapping[str, Any]] = (),
    mounts: Sequence[Mapping[str, Any]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A container under the restricted profile, with /tmp writable."""
    found: dict[str, Any] = {
        "name": name,
        "image": image,
        "resources": dict(resources),
        "securityContext": container_security_context(user),
        "volumeMounts": [TMP_MOUNT, *mounts],
    }
    if ports:
        found["ports"] = [dict(port) for port in ports]
    if env:
        found["env"] = [dict(variable) for variable in env]
    found.update(extra)
    return found


def pod_spec(
    containers: Sequence[Mapping[str, Any]],
    *,
    service_account: str | None = None,
    volumes: Sequence[Mapping[str, Any]] = (),
    user: int = NONROOT,
    **extra: Any,
) -> dict[str, Any]:
    """A pod spec that never mounts an API token and runs as non-root."""
    found: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(user),
        "containers": [dict(c) for c in containers],
        "volumes": [TMP_VOLUME, *volumes],
    }
    if service_account is not None:
        found["serviceAccountName"] = service_account
    found.update(extra)
    return found


def http_probe(
    path: str, port: str | int, period: int, timeout: int, failures: int
) -> dict[str, Any]:
    """An HTTP GET probe."""
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def port(name: str, number: int) -> dict[str, Any]:
    """A named TCP container port."""
    return {"name": name, "containerPort": number, "protocol": "TCP"}


def service_port(name: str, number: int) -> dict[str, Any]:
    """A Service port that targets the container port of the same name."""
    return {"name": name, "port": number, "targetPort": name, "protocol": "TCP"}


def stateful_services(
    parent: pulumi.Resource,
    name: str,
    app: str,
    namespace: str,
    object_labels: Mapping[str, str],
    peer_ports: Sequence[dict[str, Any]],
    client_ports: Sequence[dict[str, Any]],
    stage: StagePolicy,
) -> tuple[k8s.core.v1.Service, k8s.core.v1.Service]:
    """The headless Service a StatefulSet's pods resolve through, and a client one.

    The headless Service publishes pods before they are ready, so peers of a
    clustered store (NATS routes) find each other while they form a quorum.
    """
    headless = k8s.core.v1.Service(
        f"{name}-headless",
        metadata=metadata(f"{app}-headless", namespace, object_labels),
        spec={
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector(app),
            "ports": list(peer_ports),
        },
        opts=stage.options(parent),
    )
    client = k8s.core.v1.Service(
        f"{name}-client",
        metadata=metadata(app, namespace, object_labels),
        spec={
            "type": "ClusterIP",
            "selector": selector(app),
            "ports": list(client_ports),
        },
        opts=stage.options(parent),
    )
    return headless, client


def volume_claim(name: str, volume: Volume) -> dict[str, Any]:
    """A StatefulSet volumeClaimTemplate of one ReadWriteOnce volume."""
    return {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": volume.storage_class,
            "resources": {"requests": {"storage": volume.size}},
        },
    }


# Deleting or scaling down a StatefulSet must never take its data with it.
KEEP_CLAIMS: dict[str, str] = {"whenDeleted": "Retain", "whenScaled": "Retain"}


def secret_env(variable: str, secret: str, key: str) -> dict[str, Any]:
    """An environment variable read from one key of a Secret."""
    return {
        "name": variable,
        "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
    }


def cluster_host(service: Any) -> pulumi.Output[str]:
    """The in-cluster DNS name of a Service, from the Service's own outputs."""
    return pulumi.Output.concat(
        service.metadata.name, ".", service.metadata.namespace, ".svc.cluster.local"
    )


def service_port_number(service: Any, name: str) -> pulumi.Output[int]:
    """The number of the named port, from the Service's own outputs."""
    found: pulumi.Output[int] = service.spec.apply(
        lambda spec: next(int(p.port) for p in spec.ports if p.name == name)
    )
    return found


def endpoint_url(
    scheme: str, host: pulumi.Output[str], number: pulumi.Output[int]
) -> pulumi.Output[str]:
    """``scheme://host:port`` built from Outputs."""
    return pulumi.Output.concat(scheme, "://", host, ":", number.apply(str))
