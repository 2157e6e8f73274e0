"""Health of VAPORA's workloads, read with the Kubernetes client."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vapora_infra.errors import VaporaError
from vapora_infra.spec.cluster import Cluster

NAMESPACES = ("vapora-system", "vapora-agents")


@dataclass(frozen=True)
class WorkloadHealth:
    """One Deployment or StatefulSet and what scales it."""

    namespace: str
    kind: str
    name: str
    ready: int
    desired: int
    restarts: int
    scaler: str = ""
    scaler_current: int | None = None
    scaler_desired: int | None = None

    @property
    def healthy(self) -> bool:
        """Every desired replica is ready."""
        return self.ready >= self.desired


def api_client(
    cluster: Cluster, kubeconfig: str | None = None, context: str | None = None
) -> Any:
    """A Kubernetes API client for the stack's cluster.

    An existing cluster names its kubeconfig and context in the stack; for EKS
    the current context of the default kubeconfig is used unless one is given
    (``aws eks update-kubeconfig`` writes it).
    """
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    settings = cluster.kubeconfig
    path = kubeconfig or (settings.path if settings else None)
    chosen = context or (settings.context if settings else None)
    try:
        return config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=os.path.expanduser(path) if path else None, context=chosen
        )
    except (ConfigException, OSError) as error:
        raise VaporaError(
            f"cannot load kubeconfig {path or '~/.kube/config'} (context "
            f"{chosen or 'current'}): {error}"
        ) from None


def workload_health(
    client: Any, namespaces: Sequence[str] = NAMESPACES
) -> list[WorkloadHealth]:
    """Every Deployment and StatefulSet in ``namespaces`` with its scaler."""
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    apps = k8s.AppsV1Api(client)
    core = k8s.CoreV1Api(client)
    autoscaling = k8s.AutoscalingV2Api(client)
    found: list[WorkloadHealth] = []
    try:
        for namespace in namespaces:
            pods = core.list_namespaced_pod(namespace).items
            hpas = autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace)
            scaled = _scaled_objects(client, namespace)
            workloads = [
                *apps.list_namespaced_deployment(namespace).items,
                *apps.list_namespaced_stateful_set(namespace).items,
            ]
            found.extend(
                summarize(workload, pods, hpas.items, scaled) for workload in workloads
            )
    except ApiException as error:
        raise VaporaError(
            f"the Kubernetes API refused the health read: {error.status} {error.reason}"
        ) from None
    except OSError as error:
        raise VaporaError(f"the Kubernetes API is unreachable: {error}") from None
    return found


def summarize(
    workload: Any, pods: Iterable[Any], hpas: Iterable[Any], scaled: Iterable[Any]
) -> WorkloadHealth:
    """Health of one workload from the client's model objects."""
    meta = workload.metadata
    kind = workload.kind or type(workload).__name__.removeprefix("V1")
    status = workload.status
    desired = workload.spec.replicas if workload.spec.replicas is not None else 1
    selector = (workload.spec.selector.match_labels or {}) if workload.spec else {}
    restarts = sum(
        sum(cs.restart_count for cs in (pod.status.container_statuses or []))
        for pod in pods
        if pod.metadata.namespace == meta.namespace
        and selector
        and selector.items() <= (pod.metadata.labels or {}).items()
    )
    health = WorkloadHealth(
        namespace=meta.namespace,
        kind=kind,
        name=meta.name,
        ready=(status.ready_replicas or 0) if status else 0,
        desired=desired,
        restarts=restarts,
    )

    for hpa in hpas:
        target = hpa.spec.scale_target_ref
        if target.kind == kind and target.name == meta.name:
            # KEDA drives a pool through an HPA named keda-hpa-<ScaledObject>.
            owner = "ScaledObject" if hpa.metadata.name.startswith("keda-hpa-") else ""
            return _with_scaler(health, owner or "HPA", hpa.status)
    for item in scaled:
        target = (item.get("spec") or {}).get("scaleTargetRef") or {}
        if target.get("name") == meta.name:
            return _with_scaler(health, "ScaledObject", None)
    return health


def _with_scaler(health: WorkloadHealth, scaler: str, status: Any) -> WorkloadHealth:
    return WorkloadHealth(
        **{
            **health.__dict__,
            "scaler": scaler,
            "scaler_current": status.current_replicas if status else None,
            "scaler_desired": status.desired_replicas if status else None,
        }
    )


def _scaled_objects(client: Any, namespace: str) -> list[dict[str, Any]]:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    try:
        answer: Any = k8s.CustomObjectsApi(client).list_namespaced_custom_object(
            "keda.sh", "v1alpha1", namespace, "scaledobjects"
        )
    except ApiException as error:
        # Stacks without KEDA have no ScaledObject kind at all.
        if error.status == 404:
            return []
        raise
    items: list[dict[str, Any]] = answer.get("items") or []
    return items
