"""An existing Kubernetes cluster reached through a kubeconfig context."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.spec.cluster import Cluster


@dataclass(frozen=True)
class ExistingClusterArgs:
    """The cluster settings of a stack whose platform is ``existing``."""

    spec: Cluster


class ExistingCluster(pulumi.ComponentResource):
    """Hands every other component one provider for an existing cluster."""

    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        args: ExistingClusterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:cluster:ExistingCluster", name, None, opts)
        kubeconfig = args.spec.kubeconfig
        if kubeconfig is None:
            raise ValueError("ExistingCluster needs kubeconfig settings")

        # The provider is pinned to the cluster by name rather than by the
        # kubeconfig text: rotated credentials or a moved file then update the
        # provider in place instead of replacing every object in the cluster.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=os.path.expanduser(kubeconfig.path),
            context=kubeconfig.context,
            cluster_identifier=args.spec.name,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.cluster_name = pulumi.Output.from_input(args.spec.name)
        self.register_outputs(
            {"cluster_name": self.cluster_name, "context": kubeconfig.context}
        )
