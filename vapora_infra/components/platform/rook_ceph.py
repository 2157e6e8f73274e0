"""Rook-Ceph: replicated block storage behind VAPORA's storage classes."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.platform.charts import (
    AddonArgs,
    ChartSource,
    chart,
    namespace,
)
from vapora_infra.spec.cluster import ClusterStorage, StorageClassSpec

ROOK_CEPH = ChartSource("rook-ceph", "https://charts.rook.io/release", "v1.15.5")
CEPH_IMAGE = "quay.io/ceph/ceph:v18.2.4"
NAMESPACE = "rook-ceph"
CLUSTER = "rook-ceph"
RBD_PROVISIONER = f"{NAMESPACE}.rbd.csi.ceph.com"

# Ceph CRUSH device classes for the device types a storage class may name.
DEVICE_CLASSES = {"nvme": "nvme", "ssd": "ssd", "sata": "hdd", "hdd": "hdd"}


class RookCeph(pulumi.ComponentResource):
    """The Rook operator, one CephCluster on PVCs, and a pool per storage class."""

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        data_node_labels: dict[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:RookCeph", name, None, opts)
        storage = args.spec.storage
        self.version = ROOK_CEPH.pinned(args.spec, "rook-ceph")

        # OSDs and the CSI node plugin need raw devices and host mounts.
        space = namespace(
            f"{name}-namespace", NAMESPACE, self, args.stage, privileged=True
        )

        # A chart for the operator: no hooks, and Pulumi must know the Ceph
        # CRDs so the CephCluster and pools below wait for them.
        self.operator = chart(
            f"{name}-operator",
            ROOK_CEPH,
            self.version,
            NAMESPACE,
            {
                "crds": {"enabled": True},
                "csi": {"enableRbdDriver": True, "enableCephfsDriver": False},
                "monitoring": {"enabled": False},
            },
            args.stage.options(self, depends_on=[*args.after, space]),
        )

        # Custom resources rather than the rook-ceph-cluster chart, so every
        # setting of the Ceph cluster is an object Pulumi diffs and the tests
        # check against the CRD schema.
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="ceph.rook.io/v1",
            kind="CephCluster",
            metadata={"name": CLUSTER, "namespace": NAMESPACE},
            spec=ceph_cluster_spec(storage, data_node_labels or {}),
            opts=args.stage.options(self, depends_on=[self.operator]),
        )

        self.pools: dict[str, k8s.apiextensions.CustomResource] = {}
        self.storage_classes: dict[str, k8s.storage.v1.StorageClass] = {}
        for storage_class in storage.storage_classes:
            pool = k8s.apiextensions.CustomResource(
                f"{name}-pool-{storage_class.name}",
                api_version="ceph.rook.io/v1",
                kind="CephBlockPool",
                metadata={"name": storage_class.name, "namespace": NAMESPACE},
                spec=block_pool_spec(storage_class, storage.replication_factor),
                opts=args.stage.options(self, depends_on=[self.cluster]),
            )
            self.pools[storage_class.name] = pool

            self.storage_classes[storage_class.name] = k8s.storage.v1.StorageClass(
                f"{name}-class-{storage_class.name}",
                metadata={"name": storage_class.name},
                provisioner=RBD_PROVISIONER,
                parameters=_rbd_parameters(storage_class.name),
                allow_volume_expansion=True,
                # Claims of the data services outlive their pods on purpose;
                # the image behind a deleted claim stays until removed by hand.
                reclaim_policy="Retain",
                volume_binding_mode="Immediate",
                opts=args.stage.options(self, depends_on=[pool]),
            )

        self.register_outputs(
            {
                "version": self.version,
                "storage_classes": sorted(self.storage_classes),
            }
        )


def ceph_cluster_spec(
    storage: ClusterStorage, data_node_labels: dict[str, str]
) -> dict[str, Any]:
    """The CephCluster spec: mons and OSDs on PVCs, one device set per class."""
    placement: dict[str, Any] = {}
    if data_node_labels:
        # Ceph daemons go to the data nodes, away from the agent pools.
        placement = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": key, "operator": "In", "values": [value]}
                                for key, value in sorted(data_node_labels.items())
                            ]
                        }
                    ]
                }
            }
        }
    device_sets = [
        _device_set(device_class, storage, placement)
        for device_class in _device_classes(storage)
    ]
    spec: dict[str, Any] = {
        "cephVersion": {"image": CEPH_IMAGE},
        "dataDirHostPath": "/var/lib/rook",
        "mon": {
            "count": 3,
            "allowMultiplePerNode": False,
            # Mon data on volumes, so a replaced node does not lose a mon.
            "volumeClaimTemplate": {
                "spec": {
                    "storageClassName": storage.osd_storage_class,
                    "resources": {"requests": {"storage": "10Gi"}},
                }
            },
        },
        "mgr": {
            "count": 2,
            "modules": [{"name": "pg_autoscaler", "enabled": True}],
        },
        "dashboard": {"enabled": True, "ssl": True},
        "crashCollector": {"disable": False},
        "storage": {
            "useAllNodes": False,
            "useAllDevices": False,
            "storageClassDeviceSets": device_sets,
        },
    }
    if placement:
        spec["placement"] = {"all": placement}
    return spec


def block_pool_spec(
    storage_class: StorageClassSpec, replication: int
) -> dict[str, Any]:
    """A replicated pool on the devices of the storage class's type."""
    return {
        "failureDomain": "host",
        "deviceClass": DEVICE_CLASSES[storage_class.type],
        "replicated": {"size": replication, "requireSafeReplicaSize": replication > 1},
    }


def _device_classes(storage: ClusterStorage) -> list[str]:
    found = {DEVICE_CLASSES[sc.type] for sc in storage.storage_classes}
    return sorted(found) or ["ssd"]


def _device_set(
    device_class: str, storage: ClusterStorage, placement: dict[str, Any]
) -> dict[str, Any]:
    # Cloud volumes report no reliable device type, so each set names its
    # CRUSH device class: a pool then lands only on OSDs of its own class.
    device_set: dict[str, Any] = {
        "name": f"set-{device_class}",
        "count": storage.osd_count,
        "portable": True,
        "encrypted": False,
        "volumeClaimTemplates": [
            {
                "metadata": {
                    "name": "data",
                    "annotations": {"crushDeviceClass": device_class},
                },
                "spec": {
                    "resources": {"requests": {"storage": storage.osd_size}},
                    "storageClassName": storage.osd_storage_class,
                    "volumeMode": "Block",
                    "accessModes": ["ReadWriteOnce"],
                },
            }
        ],
    }
    if placement:
        device_set["placement"] = placement
    return device_set


def _rbd_parameters(pool: str) -> dict[str, str]:
    secrets = "csi.storage.k8s.io"
    return {
        "clusterID": NAMESPACE,
        "pool": pool,
        "imageFormat": "2",
        "imageFeatures": "layering",
        f"{secrets}/provisioner-secret-name": "rook-csi-rbd-provisioner",
        f"{secrets}/provisioner-secret-namespace": NAMESPACE,
        f"{secrets}/controller-expand-secret-name": "rook-csi-rbd-provisioner",
        f"{secrets}/controller-expand-secret-namespace": NAMESPACE,
        f"{secrets}/node-stage-secret-name": "rook-csi-rbd-node",
        f"{secrets}/node-stage-secret-namespace": NAMESPACE,
        f"{secrets}/fstype": "ext4",
    }
