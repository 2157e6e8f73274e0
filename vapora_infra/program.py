"""Builds a whole VAPORA stack from a loaded project, in the workflow's order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import StagePolicy
from vapora_infra.spec.project import Project
from vapora_infra.spec.stages import RESOURCE_TASKS, Stage, plan_stages
from vapora_infra.spec.units import duration_seconds

SYSTEM_NAMESPACE = "vapora-system"
AGENTS_NAMESPACE = "vapora-agents"


@dataclass
class Built:
    """What the program registered, for exports and for the offline plan."""

    stages: list[Stage]
    # Top-level component name -> the stage that deployed it.
    stage_of: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Context:
    """State shared while the stages are built, in order."""

    project: Project
    built: Built
    provider: k8s.Provider | None = None
    by_stage: dict[str, list[pulumi.Resource]] = field(default_factory=dict)
    # Service name -> its component, for references between services.
    services: dict[str, Any] = field(default_factory=dict)
    cluster: Any = None
    platform: Any = None

    def policy(self, stage: Stage) -> StagePolicy:
        after = [r for name in sorted(stage.upstream) for r in self.by_stage[name]]
        timeout = stage.step.timeout
        # Pulumi reads timeouts as Go durations; 1h30m is valid in both worlds,
        # but normalise to minutes so the plan shows one unit.
        if timeout is not None:
            timeout = f"{duration_seconds(timeout) // 60}m"
        return StagePolicy(stage.name, timeout, tuple(after))

    def add(self, stage: Stage, component: pulumi.Resource, name: str) -> None:
        self.by_stage[stage.name].append(component)
        self.built.stage_of[name] = stage.name

    def options(self) -> pulumi.ResourceOptions:
        """Options for a top-level component: the one cluster provider."""
        if self.provider is None:
            return pulumi.ResourceOptions()
        return pulumi.ResourceOptions(providers={"kubernetes": self.provider})


def build(project: Project) -> Built:
    """Register every resource of the stack; return what was built."""
    stages = plan_stages(project)
    built = Built(stages)
    context = _Context(project, built, by_stage={s.name: [] for s in stages})

    for stage in stages:
        _BUILDERS[RESOURCE_TASKS[stage.task]](context, stage)

    built.outputs["stages"] = [stage.name for stage in stages]
    return built


def _build_cluster(context: _Context, stage: Stage) -> None:
    from vapora_infra.components.namespaces import Namespaces, NamespacesArgs

    settings = context.project.settings
    policy = context.policy(stage)
    if settings.cluster.platform == "existing":
        from vapora_infra.components.existing_cluster import (
            ExistingCluster,
            ExistingClusterArgs,
        )

        cluster: Any = ExistingCluster(
            "cluster", ExistingClusterArgs(settings.cluster)
        )
    else:
        from vapora_infra.components.eks_cluster import EksCluster, EksClusterArgs

        cluster = EksCluster(
            "cluster", EksClusterArgs(settings.cluster, context.project.stack, policy)
        )
    context.cluster = cluster
    context.provider = cluster.provider
    context.add(stage, cluster, "cluster")
    context.built.outputs["cluster_name"] = cluster.cluster_name
    if settings.cluster.platform == "aws-eks":
        # Secret: it names the endpoint and the role that reaches it.
        context.built.outputs["kubeconfig"] = cluster.kubeconfig

    namespaces = Namespaces(
        "namespaces",
        NamespacesArgs(
            names=[SYSTEM_NAMESPACE, AGENTS_NAMESPACE],
            stage=policy,
            istio_injection=settings.cluster.network.service_mesh == "istio",
            retain=settings.protect,
        ),
        context.options(),
    )
    context.add(stage, namespaces, "namespaces")


def _build_nothing(context: _Context, stage: Stage) -> None:
    # A check step registers nothing: the provider's readiness await is the
    # health check, and later stages wait on this one's upstream components.
    return None


_BUILDERS: dict[str, Callable[[_Context, Stage], None]] = {
    "cluster": _build_cluster,
    "check": _build_nothing,
    # Filled in as the platform and workload components land.
    "addons": _build_nothing,
    "services": _build_nothing,
    "agents": _build_nothing,
    "migrations": _build_nothing,
    "ingress": _build_nothing,
}
