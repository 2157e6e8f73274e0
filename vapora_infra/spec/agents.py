"""Agent pools: one Deployment of agent workers per role."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from vapora_infra.spec.base import Count, ResourceList, Schema

ROLES = (
    "architect",
    "developer",
    "code-reviewer",
    "tester",
    "documenter",
    "devops",
    "monitor",
    "security",
    "pm",
    "decision-maker",
    "orchestrator",
    "presenter",
)
Role = Literal[
    "architect",
    "developer",
    "code-reviewer",
    "tester",
    "documenter",
    "devops",
    "monitor",
    "security",
    "pm",
    "decision-maker",
    "orchestrator",
    "presenter",
]

# Without an autoscaler a pool may still be scaled by hand, up to this many.
MANUAL_MAX_REPLICAS = 50


class AgentContainer(Schema):
    """The agent image and the resources of each agent pod."""

    image: str = Field(pattern=r"^\S+$")
    resources: ResourceList = Field(
        description="requests and limits alike: agents get Guaranteed QoS"
    )

    @model_validator(mode="after")
    def _both_set(self) -> Self:
        if self.resources.cpu is None or self.resources.memory is None:
            raise ValueError("resources needs both cpu and memory")
        return self


class AgentAutoscaling(Schema):
    """Bounds for scaling a pool on the depth of its task queue."""

    min_replicas: Count
    max_replicas: Count
    target_queue_depth: Count = Field(
        description="pending tasks per replica above which the pool grows"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} is above max_replicas "
                f"{self.max_replicas}"
            )
        return self


class AgentPool(Schema):
    """One role's pool of agent workers."""

    enabled: bool = True
    replicas: Count = Field(
        description="initial size; with autoscaling, the autoscaler's floor"
    )
    max_concurrent: Count = Field(description="tasks one agent runs at once")
    container: AgentContainer
    autoscaling: AgentAutoscaling | None = None

    @model_validator(mode="after")
    def _replicas_in_bounds(self) -> Self:
        low, high = self.bounds
        if not low <= self.replicas <= high:
            raise ValueError(
                f"replicas {self.replicas} lies outside the pool's bounds {low}..{high}"
            )
        return self

    @property
    def bounds(self) -> tuple[int, int]:
        """The replica counts a user may ask for."""
        if self.autoscaling is None:
            return 1, MANUAL_MAX_REPLICAS
        return self.autoscaling.min_replicas, self.autoscaling.max_replicas
