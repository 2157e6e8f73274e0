"""A VAPORA service from its taskserv file: Deployment, Service and scaling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import (
    RELEASE_IMAGE_PULL,
    RELEASE_IMAGE_TAGS,
    StagePolicy,
    checkov_skips,
    labels,
    metadata,
    resource_requirements,
    selector,
)
from vapora_infra.components.flows import Flows
from vapora_infra.components.monitoring import service_monitor
from vapora_infra.components.network import allow_policies
from vapora_infra.components.workload import (
    Endpoint,
    cluster_host,
    container,
    endpoint_url,
    http_probe,
    pod_spec,
    port,
    secret_env,
    service_port,
    service_port_number,
)
from vapora_infra.spec.taskserv import REF, SECRET_REF, Taskserv


@dataclass(frozen=True)
class TaskservServiceArgs:
    """One taskserv and the endpoints of the services it references."""

    taskserv: Taskserv
    stage: StagePolicy
    flows: Flows
    references: Mapping[str, Endpoint]
    metrics: bool = False


class TaskservService(pulumi.ComponentResource):
    """A stateless service: Deployment, Service, autoscaler and disruption budget."""

    url: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        args: TaskservServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:services:TaskservService", name, None, opts)
        taskserv = args.taskserv
        app = taskserv.name
        namespace = taskserv.deployment.namespace
        scaling = taskserv.scaling
        object_labels = labels(
            app, app.removeprefix("vapora-"), taskserv.taskserv.version
        )
        ports = [service_port("http", taskserv.ports.http)]
        container_ports = [port("http", taskserv.ports.http)]
        if taskserv.ports.metrics is not None:
            ports.append(service_port("metrics", taskserv.ports.metrics))
            container_ports.append(port("metrics", taskserv.ports.metrics))

        account = k8s.core.v1.ServiceAccount(
            f"{name}-account",
            metadata=metadata(app, namespace, object_labels),
            automount_service_account_token=False,
            opts=args.stage.options(self),
        )

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(app, namespace, object_labels),
            spec={"type": "ClusterIP", "selector": selector(app), "ports": ports},
            opts=args.stage.options(self),
        )

        health = taskserv.health_check
        probe = http_probe(
            health.path,
            "http",
            health.interval_secs,
            health.timeout_secs,
            health.failure_threshold,
        )
        server = container(
            app,
            taskserv.image,
            resource_requirements(taskserv.resources),
            imagePullPolicy=taskserv.deployment.image_pull_policy,
            ports=container_ports,
            env=_environment(taskserv, args.references),
            readinessProbe=probe,
            livenessProbe=probe,
        )
        deployment_spec: dict[str, Any] = {
            "selector": {"matchLabels": selector(app)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": object_labels},
                "spec": pod_spec(
                    [server],
                    service_account=app,
                    topologySpreadConstraints=[
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(app)},
                        }
                    ],
                ),
            },
        }
        # With an autoscaler the HPA owns the count; a replicas field here
        # would reset it on every `pulumi up`.
        if scaling is None:
            deployment_spec["replicas"] = taskserv.deployment.replicas

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(
                app,
                namespace,
                object_labels,
                {**_annotations(taskserv), **_skips(taskserv)},
            ),
            spec=deployment_spec,
            opts=args.stage.options(self, depends_on=[account]),
        )

        if scaling is not None:
            metrics = []
            for resource, target in (
                ("cpu", scaling.target_cpu_percent),
                ("memory", scaling.target_memory_percent),
            ):
                if target is not None:
                    metrics.append(
                        {
                            "type": "Resource",
                            "resource": {
                                "name": resource,
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": target,
                                },
                            },
                        }
                    )
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=metadata(app, namespace, object_labels),
                spec={
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": app,
                    },
                    "minReplicas": scaling.min_replicas,
                    "maxReplicas": scaling.max_replicas,
                    "metrics": metrics,
                },
                opts=args.stage.options(self, depends_on=[self.deployment]),
            )

        least = scaling.min_replicas if scaling else taskserv.deployment.replicas
        if least > 1:
            # Drains take one pod at a time, so the service never goes dark.
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=metadata(app, namespace, object_labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": selector(app)}},
                opts=args.stage.options(self),
            )

        if args.metrics and taskserv.ports.metrics is not None:
            service_monitor(app, namespace, object_labels, args.stage, self)

        allow_policies(
            app, namespace, selector(app), object_labels, args.flows, args.stage, self
        )

        self.host = cluster_host(service)
        self.port = service_port_number(service, "http")
        self.url = endpoint_url("http", self.host, self.port)
        self.register_outputs({"url": self.url, "host": self.host, "port": self.port})


def _environment(
    taskserv: Taskserv, references: Mapping[str, Endpoint]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for variable, value in taskserv.environment.items():
        ref = REF.fullmatch(value)
        if ref is None:
            found.append({"name": variable, "value": value})
            continue
        target = references.get(ref.group("service"))
        # An optional dependency the stack disables leaves its variable unset;
        # the service then runs without it, as its taskserv allows.
        if target is None:
            continue
        output: pulumi.Output[Any] = getattr(target, ref.group("output"))
        found.append({"name": variable, "value": output.apply(str)})
    for variable, reference in taskserv.secrets.items():
        match = SECRET_REF.fullmatch(reference)
        if match is not None:
            found.append(secret_env(variable, match.group("name"), match.group("key")))
    return found


def _annotations(taskserv: Taskserv) -> dict[str, str]:
    source = taskserv.source
    found = {
        "vapora.dev/source-repository": source.repository,
        "vapora.dev/source-branch": source.branch,
        "vapora.dev/runtime": taskserv.build.runtime,
    }
    if source.path:
        found["vapora.dev/source-path"] = source.path
    if taskserv.taskserv.description:
        found["vapora.dev/description"] = taskserv.taskserv.description
    return found


def _skips(taskserv: Taskserv) -> dict[str, str]:
    reasons = {"CKV_K8S_43": RELEASE_IMAGE_TAGS}
    # The taskserv's own pull policy stands; only a service that does not
    # pull Always needs the reason on its Deployment.
    if taskserv.deployment.image_pull_policy != "Always":
        reasons["CKV_K8S_15"] = RELEASE_IMAGE_PULL
    if taskserv.secrets:
        reasons["CKV_K8S_35"] = (
            f"{taskserv.name} reads its credentials only from environment "
            "variables; they come from a Secret through secretKeyRef and never "
            "appear in the object itself."
        )
    return checkov_skips(reasons)
