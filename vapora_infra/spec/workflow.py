"""Workflows: ordered operational steps in YAML."""

from __future__ import annotations

import ast
import graphlib
import re
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from vapora_infra.spec.base import Schema, register
from vapora_infra.spec.units import DnsLabel, Duration

TASKS = (
    "provisioning.cluster",
    "provisioning.addon",
    "provisioning.deploy-taskservs",
    "provisioning.deploy-agents",
    "provisioning.health-check",
    "provisioning.run-migrations",
    "provisioning.configure-ingress",
    "provisioning.query",
    "provisioning.evaluate",
    "provisioning.scale-taskserv",
    "provisioning.upgrade-taskserv",
    "provisioning.rollback-taskserv",
    "provisioning.backup",
    "provisioning.restore",
    "provisioning.stack-export",
    "provisioning.stack-import",
    "provisioning.stack-update",
    "notifications.slack",
)
Task = Literal[
    "provisioning.cluster",
    "provisioning.addon",
    "provisioning.deploy-taskservs",
    "provisioning.deploy-agents",
    "provisioning.health-check",
    "provisioning.run-migrations",
    "provisioning.configure-ingress",
    "provisioning.query",
    "provisioning.evaluate",
    "provisioning.scale-taskserv",
    "provisioning.upgrade-taskserv",
    "provisioning.rollback-taskserv",
    "provisioning.backup",
    "provisioning.restore",
    "provisioning.stack-export",
    "provisioning.stack-import",
    "provisioning.stack-update",
    "notifications.slack",
]
_IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Step(Schema):
    """One step: a task, its parameters and how it relates to the others."""

    name: DnsLabel
    task: Task
    depends_on: list[DnsLabel] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: Duration | None = None
    on_failure: Literal["abort", "rollback", "continue"] = "abort"
    when: str | None = Field(default=None, description="condition on outputs")
    outputs: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checks(self) -> Self:
        for output in self.outputs:
            if not re.fullmatch(_IDENTIFIER, output):
                raise ValueError(f"output {output!r} is not a lowercase identifier")
        if self.when is not None:
            try:
                ast.parse(self.when, mode="eval")
            except SyntaxError:
                raise ValueError(
                    f"when {self.when!r} is not an expression such as "
                    'action != "no_change"'
                ) from None
        return self


class Notification(Schema):
    """A message sent when the workflow ends."""

    name: DnsLabel
    task: Literal["notifications.slack"]
    params: dict[str, str] = Field(default_factory=dict)


class Metadata(Schema):
    """The workflow's identity."""

    name: DnsLabel
    namespace: DnsLabel | None = None


class WorkflowSpec(Schema):
    """Steps, rollback policy and completion notices."""

    description: str = ""
    steps: list[Step] = Field(min_length=1)
    rollback_on_failure: bool = False
    on_completion: list[Notification] = Field(default_factory=list)

    @model_validator(mode="after")
    def _graph(self) -> Self:
        names = [step.name for step in self.steps]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"step name {name!r} appears twice")
            seen.add(name)
        for step in self.steps:
            for needed in step.depends_on:
                if needed not in seen:
                    raise ValueError(
                        f"step {step.name!r} depends on {needed!r}, which is not a "
                        f"step; steps: {', '.join(names)}"
                    )
        try:
            self.order()
        except graphlib.CycleError as error:
            cycle = " -> ".join(error.args[1])
            raise ValueError(f"depends_on forms a cycle: {cycle}") from None
        return self

    def order(self) -> list[Step]:
        """Steps in an order that respects every depends_on."""
        by_name = {step.name: step for step in self.steps}
        graph = {step.name: set(step.depends_on) for step in self.steps}
        sorter = graphlib.TopologicalSorter(graph)
        ordered = list(sorter.static_order())
        # static_order is deterministic but not file order; keep file order
        # among steps that are ready together, which is what readers expect.
        position = {name: index for index, name in enumerate(by_name)}
        return _stable_topological(self.steps, position, ordered, by_name)


def _stable_topological(
    steps: list[Step],
    position: dict[str, int],
    ordered: list[str],
    by_name: dict[str, Step],
) -> list[Step]:
    done: set[str] = set()
    result: list[Step] = []
    remaining = sorted(ordered, key=position.__getitem__)
    while remaining:
        for name in remaining:
            if set(by_name[name].depends_on) <= done:
                result.append(by_name[name])
                done.add(name)
                remaining.remove(name)
                break
    return result


@register
class Workflow(Schema):
    """A whole workflow file."""

    api_version: Literal["provisioning/v1"] = Field(alias="apiVersion")
    kind: Literal["Workflow"]
    metadata: Metadata
    spec: WorkflowSpec

    def step(self, name: str) -> Step:
        """The step of that name."""
        for step in self.spec.steps:
            if step.name == name:
                return step
        raise KeyError(name)


def placeholders(value: object) -> set[str]:
    """Names of ${VAR} placeholders anywhere in a parameter value."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value))
    return set()
