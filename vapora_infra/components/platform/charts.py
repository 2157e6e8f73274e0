"""What every add-on shares: its arguments, chart sources and namespaces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import PART_OF, StagePolicy
from vapora_infra.spec.cluster import Cluster


@dataclass(frozen=True)
class ChartSource:
    """An official Helm chart and the version pinned in code."""

    chart: str
    repo: str
    version: str

    def pinned(self, spec: Cluster, addon: str) -> str:
        """The stack's override for the add-on, or the version pinned here."""
        return spec.addon_version(addon) or self.version


@dataclass(frozen=True)
class AddonArgs:
    """The cluster an add-on goes on, its stage, and what must come first."""

    spec: Cluster
    stage: StagePolicy
    after: Sequence[pulumi.Resource] = field(default_factory=tuple)


def namespace(
    name: str,
    namespace_name: str,
    parent: pulumi.Resource,
    stage: StagePolicy,
    privileged: bool = False,
) -> k8s.core.v1.Namespace:
    """A namespace for one add-on, at the strictest profile its pods allow."""
    # Node agents (CNI, log collector, node exporter, Ceph OSDs) need host
    # access, which only the privileged profile admits.
    level = "privileged" if privileged else "baseline"
    return k8s.core.v1.Namespace(
        name,
        metadata={
            "name": namespace_name,
            "labels": {
                "app.kubernetes.io/part-of": PART_OF,
                "pod-security.kubernetes.io/enforce": level,
            },
        },
        opts=stage.options(parent),
    )


def chart(
    name: str,
    source: ChartSource,
    version: str,
    namespace_name: str,
    values: Mapping[str, Any] | pulumi.Output[Any],
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v4.Chart:
    """A chart whose every object Pulumi registers, sees and diffs."""
    return k8s.helm.v4.Chart(
        name,
        chart=source.chart,
        version=version,
        namespace=namespace_name,
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=source.repo),
        values=values,
        opts=opts,
    )


def release(
    name: str,
    release_name: str,
    source: ChartSource,
    version: str,
    namespace_name: str,
    values: Mapping[str, Any] | pulumi.Output[Any],
    opts: pulumi.ResourceOptions,
    timeout: int = 900,
) -> k8s.helm.v3.Release:
    """A chart installed by Helm itself, so that its hooks run."""
    return k8s.helm.v3.Release(
        name,
        name=release_name,
        chart=source.chart,
        version=version,
        namespace=namespace_name,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=source.repo),
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=timeout,
        opts=opts,
    )
