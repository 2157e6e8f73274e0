"""The cluster: platform, Kubernetes version, network, storage, nodes, add-ons."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vapora_infra.spec.base import Count, Schema
from vapora_infra.spec.units import Cpu, DnsLabel, Memory, StorageSize

# Kubernetes minor versions Amazon EKS offers under standard or extended support.
EKS_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34")

ADDONS = (
    "cilium",
    "istio",
    "metrics-server",
    "prometheus",
    "grafana",
    "keda",
    "rook-ceph",
    "loki",
    "external-secrets",
)
AddonName = Literal[
    "cilium",
    "istio",
    "metrics-server",
    "prometheus",
    "grafana",
    "keda",
    "rook-ceph",
    "loki",
    "external-secrets",
]

_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
_LABEL_KEY = re.compile(
    r"^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


class Network(Schema):
    """The CNI, the service mesh and the ingress controller."""

    cni: Literal["cilium", "aws-vpc-cni", "existing"] = "cilium"
    service_mesh: Literal["istio", "none"] = "istio"
    ingress_controller: Literal["istio-gateway", "none"] = "istio-gateway"


class StorageClassSpec(Schema):
    """A StorageClass backed by a Ceph pool on devices of one type."""

    name: DnsLabel
    type: Literal["nvme", "ssd", "sata", "hdd"] = Field(
        description="device class of the Ceph pool behind this StorageClass"
    )


class ClusterStorage(Schema):
    """The cluster's storage provider and the classes workloads may claim."""

    provider: Literal["rook-ceph", "existing"] = "rook-ceph"
    replication_factor: int = Field(default=3, ge=1, le=5, description="copies")
    storage_classes: list[StorageClassSpec] = Field(default_factory=list)
    osd_count: Count = Field(default=3, description="Ceph OSDs, one PVC each")
    osd_size: StorageSize = Field(default="500Gi", description="bytes per OSD")
    osd_storage_class: DnsLabel = Field(
        default="gp3", description="block-mode class the OSD PVCs are claimed from"
    )

    @model_validator(mode="after")
    def _replication_fits(self) -> Self:
        names = [sc.name for sc in self.storage_classes]
        if len(set(names)) != len(names):
            raise ValueError(f"storage class names repeat: {names}")
        if self.provider == "rook-ceph" and self.replication_factor > self.osd_count:
            raise ValueError(
                f"replication_factor {self.replication_factor} needs at least as "
                f"many OSDs, but osd_count is {self.osd_count}"
            )
        return self


class Taint(Schema):
    """A node taint; pods without a matching toleration stay off the node."""

    key: str = Field(min_length=1, max_length=253)
    value: str = Field(default="", max_length=63)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class NodeResources(Schema):
    """Allocatable size of one node of a pool, for capacity notes in the plan."""

    cpu: Cpu
    memory: Memory


class NodePool(Schema):
    """A group of identical nodes."""

    name: DnsLabel | None = None
    role: Literal["control-plane", "worker"]
    count: Count = Field(description="desired nodes")
    min_count: Annotated[int, Field(ge=0, le=1000)] | None = None
    max_count: Count | None = None
    # Checked even when left out, so a worker pool without one is refused.
    instance_type: str | None = Field(
        default=None, pattern=r"^[a-z0-9]+\.[a-z0-9]+$", validate_default=True
    )
    resources: NodeResources | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _label_keys(cls, labels: dict[str, str]) -> dict[str, str]:
        for key in labels:
            if not _LABEL_KEY.fullmatch(key):
                raise ValueError(f"label key {key!r} is not a valid Kubernetes key")
        return labels

    @field_validator("instance_type")
    @classmethod
    def _worker_instance(
        cls, instance_type: str | None, info: ValidationInfo
    ) -> str | None:
        if instance_type is None and info.data.get("role") == "worker":
            raise ValueError(
                "is not set; a worker pool needs an instance_type such as t3.large"
            )
        return instance_type

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        low = self.min_count if self.min_count is not None else self.count
        high = self.max_count if self.max_count is not None else self.count
        if not low <= self.count <= high:
            raise ValueError(
                f"count {self.count} must lie within min_count {low} and "
                f"max_count {high}"
            )
        return self

    @property
    def pool_name(self) -> str:
        """A stable name: the given one, or one derived from the labels."""
        if self.name:
            return self.name
        return self.labels.get("workload", self.role)


class AddonSetting(Schema):
    """An add-on with a chart version other than the one pinned in code."""

    name: AddonName
    version: str

    @field_validator("version")
    @classmethod
    def _semver(cls, version: str) -> str:
        if not _VERSION.fullmatch(version):
            raise ValueError("is not a chart version; use a version like 1.16.3")
        return version


def _addon_form(value: object) -> str:
    # An add-on is a bare name or a mapping with name and version. Choosing the
    # form up front makes an error speak of the form the user wrote: a bad
    # version in a mapping, not "not one of the names".
    return "AddonSetting" if isinstance(value, dict | AddonSetting) else "name"


Addon = Annotated[
    Annotated[AddonName, Tag("name")] | Annotated[AddonSetting, Tag("AddonSetting")],
    Discriminator(_addon_form),
]


class AwsSettings(Schema):
    """Where an EKS cluster lives and how its AWS resources are tagged."""

    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    availability_zones: list[str] = Field(min_length=2, max_length=6)
    vpc_cidr: str = Field(default="10.0.0.0/16", pattern=r"^\d+\.\d+\.\d+\.\d+/\d+$")
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("availability_zones")
    @classmethod
    def _zones_in_region(cls, zones: list[str], info: ValidationInfo) -> list[str]:
        region = info.data.get("region")
        for zone in zones:
            if region is not None and not _zone_of(zone, region):
                raise ValueError(
                    f"zone {zone!r} is not in region {region}; use e.g. {region}a"
                )
        if len(set(zones)) != len(zones):
            raise ValueError(f"zones repeat: {zones}")
        return zones

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_size(cls, cidr: str) -> str:
        # The VPC is cut into eight private blocks and 64 public ones; below
        # a /20 the public subnets would fall under AWS's /28 minimum.
        try:
            network = ipaddress.IPv4Network(cidr)
        except ValueError:
            raise ValueError("is not a network address like 10.0.0.0/16") from None
        if not 16 <= network.prefixlen <= 20:
            raise ValueError("must have a prefix from /16 to /20, e.g. 10.0.0.0/16")
        return cidr


class Kubeconfig(Schema):
    """An existing cluster reached through a kubeconfig file and context."""

    path: str = Field(min_length=1)
    context: str = Field(min_length=1)


class Cluster(Schema):
    """The whole cluster definition of a stack."""

    name: DnsLabel
    platform: Literal["aws-eks", "existing"]
    version: str = Field(pattern=r"^1\.\d{2}$", description="Kubernetes minor")
    network: Network = Field(default_factory=Network)
    storage: ClusterStorage = Field(default_factory=ClusterStorage)
    nodes: list[NodePool] = Field(default_factory=list)
    addons: list[Addon] = Field(default_factory=list)
    aws: AwsSettings | None = None
    kubeconfig: Kubeconfig | None = None

    @model_validator(mode="after")
    def _platform_settings(self) -> Self:
        if self.platform == "aws-eks":
            if self.aws is None:
                raise ValueError("platform aws-eks needs the aws settings")
            if self.version not in EKS_VERSIONS:
                raise ValueError(
                    f"version {self.version} is not offered by EKS; accepted: "
                    + ", ".join(EKS_VERSIONS)
                )
            if not any(pool.role == "worker" for pool in self.nodes):
                raise ValueError("platform aws-eks needs at least one worker pool")
        elif self.kubeconfig is None:
            raise ValueError("platform existing needs kubeconfig path and context")
        names = [pool.pool_name for pool in self.nodes if pool.role == "worker"]
        if len(set(names)) != len(names):
            raise ValueError(f"worker pool names repeat: {names}; set name on each")
        seen = [self.addon_name(entry) for entry in self.addons]
        if len(set(seen)) != len(seen):
            raise ValueError(f"add-ons repeat: {seen}")
        return self

    @staticmethod
    def addon_name(entry: str | AddonSetting) -> str:
        """The add-on's name, whether given bare or with a version."""
        return entry if isinstance(entry, str) else entry.name

    def has_addon(self, name: str) -> bool:
        """Whether the add-on is enabled on this stack."""
        return any(self.addon_name(entry) == name for entry in self.addons)

    def addon_version(self, name: str) -> str | None:
        """The version the stack pins for an add-on, if it overrides the code."""
        for entry in self.addons:
            if isinstance(entry, AddonSetting) and entry.name == name:
                return entry.version
        return None

    @property
    def worker_pools(self) -> list[NodePool]:
        """Pools of nodes that run workloads; EKS runs the control plane itself."""
        return [pool for pool in self.nodes if pool.role == "worker"]


def _zone_of(zone: str, region: str) -> bool:
    # Zone names are the region's name and one letter: eu-west-1a.
    return (
        len(zone) == len(region) + 1 and zone.startswith(region) and zone[-1].isalpha()
    )
