"""One role's pool of agent workers, scaled on its NATS queue or on CPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import (
    RELEASE_IMAGE_PULL,
    RELEASE_IMAGE_TAGS,
    StagePolicy,
    checkov_skips,
    guaranteed,
    labels,
    metadata,
)
from vapora_infra.components.flows import AGENT_POOL_COMPONENT, Flows
from vapora_infra.components.network import allow_policies
from vapora_infra.components.workload import container, pod_spec
from vapora_infra.spec.agents import AgentPool as AgentPoolSpec

# Without a queue-depth autoscaler a pool grows when its agents are busy.
CPU_TARGET_PERCENT = 70
# NATS puts every client without an account of its own into the global one.
NATS_ACCOUNT = "$G"
# A worker pulls its tasks from NATS and listens on nothing, and an exec probe
# would have to guess at a health command of the agent binary. A probe that
# guesses restarts healthy workers, so the pool has none.
NO_PROBE = (
    "Agent pool workers pull tasks from their NATS consumer and expose no port "
    "to probe; they report their health through the agent_health table in "
    "SurrealDB instead."
)
SKIPS = checkov_skips(
    {
        "CKV_K8S_8": NO_PROBE,
        "CKV_K8S_9": NO_PROBE,
        "CKV_K8S_15": RELEASE_IMAGE_PULL,
        "CKV_K8S_43": RELEASE_IMAGE_TAGS,
    }
)


class QueueServer(Protocol):
    """The NATS outputs a pool connects to and KEDA reads lag from."""

    url: pulumi.Output[str]
    monitor_host: pulumi.Output[str]
    monitor_port: pulumi.Output[int]


@dataclass(frozen=True)
class AgentPoolArgs:
    """One role's pool and where its tasks come from."""

    role: str
    pool: AgentPoolSpec
    namespace: str
    stage: StagePolicy
    flows: Flows
    nats: QueueServer
    stream: str
    keda: bool = False


def deployment_name(role: str) -> str:
    """The Deployment of a role's pool, as the operations CLI scales it."""
    return f"vapora-agents-{role}"


def consumer_name(role: str) -> str:
    """The JetStream consumer a role's agents pull their tasks from."""
    return f"agents-{role}"


class AgentPool(pulumi.ComponentResource):
    """A Deployment of agents for one role, with its autoscaler."""

    def __init__(
        self,
        name: str,
        args: AgentPoolArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:agents:AgentPool", name, None, opts)
        pool = args.pool
        app = deployment_name(args.role)
        namespace = args.namespace
        version = pool.container.image.rpartition(":")[2] or None
        object_labels = {
            **labels(app, AGENT_POOL_COMPONENT, version),
            "vapora.dev/agent-role": args.role,
        }
        pod_labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": app}
        scaled = pool.autoscaling is not None

        account = k8s.core.v1.ServiceAccount(
            f"{name}-account",
            metadata=metadata(app, namespace, object_labels),
            automount_service_account_token=False,
            opts=args.stage.options(self),
        )

        agent = container(
            "agent",
            pool.container.image,
            guaranteed(pool.container.resources),
            env=[
                {"name": "AGENT_ROLE", "value": args.role},
                {"name": "MAX_CONCURRENT", "value": str(pool.max_concurrent)},
                {"name": "NATS_URL", "value": args.nats.url},
                {"name": "NATS_STREAM", "value": args.stream},
                {"name": "NATS_CONSUMER", "value": consumer_name(args.role)},
            ],
        )
        spec: dict[str, Any] = {
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": object_labels},
                "spec": pod_spec(
                    [agent],
                    service_account=app,
                    # An agent finishes its current task before it stops.
                    terminationGracePeriodSeconds=120,
                ),
            },
        }
        # The autoscaler owns the count; setting it here would undo its
        # decisions on every `pulumi up`.
        if not scaled:
            spec["replicas"] = pool.replicas

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(app, namespace, object_labels, SKIPS),
            spec=spec,
            opts=args.stage.options(self, depends_on=[account]),
        )

        if pool.autoscaling is not None and args.keda:
            self.autoscaler: pulumi.Resource | None = _scaled_object(
                name, app, namespace, object_labels, args, self.deployment, self
            )
        elif pool.autoscaling is not None:
            self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=metadata(app, namespace, object_labels),
                spec={
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": app,
                    },
                    "minReplicas": pool.replicas,
                    "maxReplicas": pool.autoscaling.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": CPU_TARGET_PERCENT,
                                },
                            },
                        }
                    ],
                },
                opts=args.stage.options(self, depends_on=[self.deployment]),
            )
        else:
            self.autoscaler = None

        allow_policies(
            app, namespace, pod_labels, object_labels, args.flows, args.stage, self
        )

        self.name = pulumi.Output.from_input(app)
        self.min_replicas = pulumi.Output.from_input(pool.replicas)
        self.register_outputs(
            {"deployment": self.name, "min_replicas": self.min_replicas}
        )


def _scaled_object(
    name: str,
    app: str,
    namespace: str,
    object_labels: dict[str, str],
    args: AgentPoolArgs,
    deployment: pulumi.Resource,
    parent: pulumi.Resource,
) -> k8s.apiextensions.CustomResource:
    autoscaling = args.pool.autoscaling
    if autoscaling is None:
        raise ValueError(f"pool {args.role} has no autoscaling settings")
    endpoint = pulumi.Output.concat(
        args.nats.monitor_host, ":", args.nats.monitor_port.apply(str)
    )
    return k8s.apiextensions.CustomResource(
        f"{name}-scaler",
        api_version="keda.sh/v1alpha1",
        kind="ScaledObject",
        metadata=metadata(app, namespace, object_labels),
        spec={
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": app,
            },
            # The pool's configured size is the floor: the queue only adds.
            "minReplicaCount": args.pool.replicas,
            "maxReplicaCount": autoscaling.max_replicas,
            "triggers": [
                {
                    "type": "nats-jetstream",
                    "metadata": {
                        "natsServerMonitoringEndpoint": endpoint,
                        "account": NATS_ACCOUNT,
                        "stream": args.stream,
                        "consumer": consumer_name(args.role),
                        "lagThreshold": str(autoscaling.target_queue_depth),
                        "useHttps": "false",
                    },
                }
            ],
        },
        opts=args.stage.options(parent, depends_on=[deployment]),
    )
