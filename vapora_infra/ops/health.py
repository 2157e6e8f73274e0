"""Health of VAPORA's workloads, read with the Kubernetes client."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from vapora_infra.errors import VaporaError
from vapora_infra.spec.cluster import Cluster

NAMESPACES = ("vapora-system", "vapora-agents")
# The context each client was made for, so that errors can name it.
_CONTEXTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


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
    cluster: Cluster,
    kubeconfig: str | None = None,
    context: str | None = None,
    stack_kubeconfig: Callable[[], Any] | None = None,
) -> Any:
    """A Kubernetes API client for the stack's cluster.

    ``kubeconfig`` and ``context`` take priority over the stack's settings.
    An existing cluster names its kubeconfig and context in the stack; an EKS
    cluster is reached through either override or, failing both, the stack's
    ``kubeconfig`` output, which ``stack_kubeconfig`` reads.
    """
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    settings = cluster.kubeconfig
    path = kubeconfig or (settings.path if settings else None)
    chosen = context or (settings.context if settings else None)
    if cluster.platform == "aws-eks" and path is None and chosen is None:
        return _stack_output_client(cluster, stack_kubeconfig)
    try:
        file = os.path.expanduser(path) if path else None
        if chosen is None:
            _, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=file
            )
            chosen = str(active["name"])
        client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=file, context=chosen
        )
    except (ConfigException, OSError, KeyError, TypeError) as error:
        raise VaporaError(
            f"cannot load kubeconfig {path or '~/.kube/config'} (context "
            f"{chosen or 'current'}): {_first_line(error)}"
        ) from None
    _CONTEXTS[client] = chosen
    return client


@contextmanager
def api_errors(client: Any) -> Iterator[None]:
    """Turn a refused or unreachable Kubernetes API into one VaporaError."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as error:
        reason = f"{error.status} {error.reason}".strip()
        raise VaporaError(
            f"the Kubernetes API at {_where(client)} refused the request: {reason}."
        ) from None
    except (HTTPError, OSError) as error:
        raise VaporaError(
            f"cannot reach the Kubernetes API at {_where(client)}: "
            f"{_network_reason(error)}."
        ) from None


def workload_health(
    client: Any, namespaces: Sequence[str] = NAMESPACES
) -> list[WorkloadHealth]:
    """Every Deployment and StatefulSet in ``namespaces`` with its scaler."""
    from kubernetes import client as k8s

    apps = k8s.AppsV1Api(client)
    core = k8s.CoreV1Api(client)
    autoscaling = k8s.AutoscalingV2Api(client)
    found: list[WorkloadHealth] = []
    with api_errors(client):
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


def _stack_output_client(
    cluster: Cluster, stack_kubeconfig: Callable[[], Any] | None
) -> Any:
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    hint = (
        f"cluster {cluster.name} runs on aws-eks; pass --context (after aws eks "
        "update-kubeconfig) or --kubeconfig"
    )
    if stack_kubeconfig is None:
        raise VaporaError(f"{hint}.")
    try:
        data = stack_kubeconfig()
    except VaporaError as error:
        raise VaporaError(
            f"{hint}, or make the stack's kubeconfig output readable: {error}"
        ) from None
    if isinstance(data, str):
        import yaml

        data = yaml.safe_load(data)
    if not isinstance(data, dict):
        raise VaporaError(f"{hint}; the stack has no kubeconfig output yet.")
    try:
        client = config.new_client_from_config_dict(data)  # type: ignore[no-untyped-call]
    except (ConfigException, KeyError, TypeError) as error:
        raise VaporaError(
            f"the stack's kubeconfig output cannot be loaded: {_first_line(error)}"
        ) from None
    _CONTEXTS[client] = "from the stack output"
    return client


def _where(client: Any) -> str:
    configuration = getattr(client, "configuration", None)
    host = getattr(configuration, "host", None) or "(unknown host)"
    context = _CONTEXTS.get(client)
    return f"{host} (context {context})" if context else str(host)


def _network_reason(error: Exception) -> str:
    from urllib3.exceptions import MaxRetryError

    cause: BaseException | None = error
    if isinstance(error, MaxRetryError) and error.reason is not None:
        cause = error.reason
    # urllib3 wraps the socket error; the innermost one says what happened.
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    text = str(error)
    if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    if isinstance(cause, TimeoutError) or "timed out" in text.lower():
        return "timed out"
    if cause is not None and getattr(cause, "strerror", None):
        return str(cause.strerror).lower()
    return _first_line(error)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(error).__name__
