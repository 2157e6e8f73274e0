"""The data services: SurrealDB, NATS JetStream and Redis."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from vapora_infra.spec.base import Count, Port, Resources, Schema
from vapora_infra.spec.units import DnsLabel, StorageSize


class Volume(Schema):
    """The persistent volume each pod of a data service claims."""

    size: StorageSize
    storage_class: DnsLabel


class DataService(Schema):
    """One StatefulSet-backed data service."""

    enabled: bool = True
    namespace: Literal["vapora-system"] = "vapora-system"
    replicas: Count
    image: str = Field(pattern=r"^\S+$")
    port: Port
    storage: Volume
    resources: Resources


class SurrealDB(DataService):
    """SurrealDB on its embedded storage engine."""

    @model_validator(mode="after")
    def _single_writer(self) -> Self:
        # With the embedded engine each pod owns its own files: three pods would
        # be three unrelated databases behind one Service, not replicas. High
        # availability needs a distributed backend (TiKV), which this project
        # does not deploy; the volume sits on replicated Ceph storage instead.
        if self.replicas != 1:
            raise ValueError(
                f"replicas {self.replicas} would run independent databases, since "
                "SurrealDB's embedded engine does not replicate; accepted: 1"
            )
        return self


class Redis(DataService):
    """Redis as a cache with an append-only file."""

    @model_validator(mode="after")
    def _single_instance(self) -> Self:
        # Without Sentinel or Redis Cluster, more pods are separate caches
        # that never see each other's writes.
        if self.replicas != 1:
            raise ValueError(
                f"replicas {self.replicas} would run independent caches, since "
                "no replication is configured; accepted: 1"
            )
        return self


class Nats(DataService):
    """NATS with JetStream; three or more servers form a Raft cluster."""

    cluster_port: Port = 6222
    monitor_port: Port = 8222

    @model_validator(mode="after")
    def _odd_quorum(self) -> Self:
        if self.replicas > 1 and self.replicas % 2 == 0:
            raise ValueError(
                f"replicas {self.replicas} is even; JetStream's Raft quorum needs "
                "an odd count such as 1, 3 or 5"
            )
        ports = {self.port, self.cluster_port, self.monitor_port}
        if len(ports) != 3:
            raise ValueError("port, cluster_port and monitor_port must differ")
        return self


class DataServices(Schema):
    """The three data services VAPORA needs."""

    surrealdb: SurrealDB
    nats: Nats
    redis: Redis

    def enabled_names(self) -> set[str]:
        """Names of the data services the stack deploys."""
        return {
            name
            for name in ("surrealdb", "nats", "redis")
            if getattr(self, name).enabled
        }
