"""The platform: every add-on the stack enables, in dependency order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from vapora_infra.components.base import StagePolicy
from vapora_infra.components.platform.charts import AddonArgs
from vapora_infra.spec.cluster import Cluster
from vapora_infra.spec.stack import SecretSource


@dataclass(frozen=True)
class PlatformArgs:
    """The cluster's add-ons, the stage they install in, and their secrets."""

    cluster: Cluster
    stage: StagePolicy
    secrets: SecretSource = field(default_factory=SecretSource)
    # Keys per (namespace, Secret name) that VAPORA's pods read; with the
    # vault source each becomes an ExternalSecret.
    app_secrets: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)
    vault_token: pulumi.Output[str] | None = None
    grafana_password: pulumi.Output[str] | None = None


class Platform(pulumi.ComponentResource):
    """One component per enabled add-on, each after the ones it needs."""

    addons: dict[str, pulumi.ComponentResource]

    def __init__(
        self,
        name: str,
        args: PlatformArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:Platform", name, None, opts)
        spec = args.cluster
        stage = args.stage
        self.addons = {}
        child = pulumi.ResourceOptions(parent=self)

        def addon_args(*needs: str) -> AddonArgs:
            after = [self.addons[n] for n in needs if n in self.addons]
            return AddonArgs(spec, stage, tuple(after))

        # Cilium first: until its agent runs, nodes carry a taint that keeps
        # every other add-on's pods from starting.
        if spec.has_addon("cilium"):
            from vapora_infra.components.platform.cilium import Cilium

            self.addons["cilium"] = Cilium(f"{name}-cilium", addon_args(), child)

        if spec.has_addon("prometheus") or spec.has_addon("grafana"):
            from vapora_infra.components.platform.monitoring import Monitoring

            self.addons["monitoring"] = Monitoring(
                f"{name}-monitoring",
                addon_args("cilium"),
                grafana=spec.has_addon("grafana"),
                grafana_password=args.grafana_password,
                opts=child,
            )

        if spec.has_addon("metrics-server"):
            from vapora_infra.components.platform.metrics_server import (
                MetricsServer,
            )

            self.addons["metrics-server"] = MetricsServer(
                f"{name}-metrics-server", addon_args("cilium"), child
            )

        if spec.has_addon("istio"):
            from vapora_infra.components.platform.istio import Istio

            self.addons["istio"] = Istio(f"{name}-istio", addon_args("cilium"), child)

        # KEDA's ServiceMonitors need the Prometheus operator's CRDs.
        if spec.has_addon("keda"):
            from vapora_infra.components.platform.keda import Keda

            self.addons["keda"] = Keda(
                f"{name}-keda",
                addon_args("cilium", "monitoring"),
                monitored="monitoring" in self.addons,
                opts=child,
            )

        if spec.has_addon("rook-ceph"):
            from vapora_infra.components.platform.rook_ceph import RookCeph

            self.addons["rook-ceph"] = RookCeph(
                f"{name}-rook-ceph",
                addon_args("cilium"),
                data_node_labels=_data_node_labels(spec),
                opts=child,
            )

        # Loki keeps its chunks on the cheapest Ceph class when there is one.
        if spec.has_addon("loki"):
            from vapora_infra.components.platform.logging import Logging

            self.addons["logging"] = Logging(
                f"{name}-logging",
                addon_args("cilium", "rook-ceph"),
                storage_class=_log_storage_class(spec),
                opts=child,
            )

        self.external_secrets = None
        vault = args.secrets.vault
        if spec.has_addon("external-secrets") and vault is not None:
            from vapora_infra.components.platform.external_secrets import (
                ExternalSecrets,
            )

            self.external_secrets = ExternalSecrets(
                f"{name}-external-secrets",
                addon_args("cilium"),
                vault=vault,
                app_secrets=args.app_secrets,
                vault_token=args.vault_token,
                opts=child,
            )
            self.addons["external-secrets"] = self.external_secrets

        self.register_outputs({"addons": sorted(self.addons)})

    @property
    def provides_app_secrets(self) -> bool:
        """Whether VAPORA's Secrets come from the store, not from the stack."""
        return self.external_secrets is not None


def _data_node_labels(spec: Cluster) -> dict[str, str]:
    for pool in spec.worker_pools:
        if pool.labels.get("workload") == "data":
            return {"workload": "data"}
    return {}


def _log_storage_class(spec: Cluster) -> str | None:
    if not spec.has_addon("rook-ceph"):
        return None
    for storage_class in spec.storage.storage_classes:
        if storage_class.type in ("sata", "hdd"):
            return storage_class.name
    classes = spec.storage.storage_classes
    return classes[0].name if classes else None
