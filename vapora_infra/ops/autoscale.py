"""The scale-agents workflow: read a queue's depth, decide, and scale.

The decision rule is the workflow's own text (the ``condition`` of its
``provisioning.evaluate`` step and the ``when`` of its
``provisioning.scale-taskserv`` step), so operators change the policy by
editing workflows/scale-agents.yaml, not this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vapora_infra.errors import SpecError, VaporaError
from vapora_infra.ops.evaluator import check_block, evaluate, run_block
from vapora_infra.ops.scaling import (
    apply_scale,
    check_scale,
    pool_for,
    refuse_if_deployments_managed,
)
from vapora_infra.spec.agents import AgentPool
from vapora_infra.spec.project import NAMESPACE, Project, load_project
from vapora_infra.spec.workflow import Workflow

if TYPE_CHECKING:
    from vapora_infra.ops.engine import Engine

DepthReader = Callable[[Sequence[str]], dict[str, int]]

WORKFLOW = "scale-agents"
ACTIONS = ("scale_up", "scale_down", "no_change")
SOURCE = f"workflows/{WORKFLOW}.yaml"


@dataclass(frozen=True)
class ScalingRule:
    """The decide and execute conditions of the scale-agents workflow."""

    condition: str
    outputs: tuple[str, ...]
    when: str | None
    depth_output: str = "queue_depth"

    @classmethod
    def from_workflow(cls, workflow: Workflow) -> ScalingRule:
        """Take the rule from the workflow's evaluate and scale steps."""
        steps = workflow.spec.steps
        decide = [s for s in steps if s.task == "provisioning.evaluate"]
        execute = [s for s in steps if s.task == "provisioning.scale-taskserv"]
        query = [s for s in steps if s.task == "provisioning.query"]
        if len(decide) != 1 or not isinstance(decide[0].params.get("condition"), str):
            raise VaporaError(
                f"{SOURCE}: needs exactly one provisioning.evaluate step with a "
                "condition text."
            )
        outputs = tuple(decide[0].outputs)
        for needed in ("action", "scale_to"):
            if needed not in outputs:
                raise VaporaError(
                    f"{SOURCE}: {decide[0].name}.outputs {list(outputs)} lacks "
                    f"{needed!r}; the rule must set action and scale_to."
                )
        condition = decide[0].params["condition"]
        check_block(condition, outputs)
        depth = query[0].outputs[0] if query and query[0].outputs else "queue_depth"

        return cls(condition, outputs, execute[0].when if execute else None, depth)


@dataclass(frozen=True)
class Decision:
    """One scaling decision, as logged."""

    time: str
    role: str
    depth: int
    current: int
    action: str
    target: int
    minimum: int
    maximum: int
    applied: bool = False
    error: str | None = None
    decision_seconds: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The decision as one JSON-ready object."""
        return asdict(self)


def decide(
    rule: ScalingRule, role: str, pool: AgentPool, depth: int, current: int
) -> Decision:
    """Run the rule for one pool; the target always stays inside its bounds."""
    started = time.perf_counter()
    low, high = pool.bounds
    names: dict[str, int | str | bool] = {
        rule.depth_output: depth,
        "queue_depth": depth,
        "current_replicas": current,
        "min_replicas": low,
        "max_replicas": high,
        "target_queue_depth": (
            pool.autoscaling.target_queue_depth if pool.autoscaling else 0
        ),
    }
    outputs = run_block(rule.condition, names, rule.outputs)
    action = outputs.get("action", "no_change")
    target = outputs.get("scale_to", current)

    if action not in ACTIONS:
        raise VaporaError(
            f"{SOURCE}: the rule set action to {action!r}; accepted: "
            + ", ".join(ACTIONS)
            + "."
        )
    if isinstance(target, str | bool):
        raise VaporaError(
            f"{SOURCE}: the rule set scale_to to {target!r}, not a count."
        )
    if action != "no_change" and not low <= target <= high:
        raise VaporaError(
            f"{SOURCE}: the rule set scale_to {target} for {role}, outside the "
            f"pool's bounds {low}..{high}; refusing to scale."
        )
    return Decision(
        time=datetime.now(UTC).isoformat(timespec="seconds"),
        role=role,
        depth=depth,
        current=current,
        action=action,
        target=target if action != "no_change" else current,
        minimum=low,
        maximum=high,
        decision_seconds=time.perf_counter() - started,
    )


def should_apply(rule: ScalingRule, decision: Decision) -> bool:
    """The execute step's ``when``, evaluated on the decision's outputs."""
    if rule.when is None:
        return decision.action != "no_change"
    names: dict[str, int | str | bool] = {
        "action": decision.action,
        "scale_to": decision.target,
        "queue_depth": decision.depth,
        "current_replicas": decision.current,
    }
    return bool(evaluate(rule.when, names))


def autoscaled_roles(project: Project, role: str | None) -> list[str]:
    """The pools to watch: one named pool, or every pool with autoscaling."""
    if role is not None:
        pool = pool_for(project, role)
        if pool.autoscaling is None:
            raise SpecError(
                project.config_file,
                f"{NAMESPACE}:agents.{role}",
                role,
                "has no autoscaling settings, so no scaling bounds; set "
                "autoscaling min_replicas, max_replicas and target_queue_depth.",
            )
        return [role]
    roles: list[str] = [
        name
        for name, pool in project.settings.agents.items()
        if pool.enabled and pool.autoscaling is not None
    ]
    if not roles:
        raise VaporaError(
            f"{project.config_file}: no agent pool sets autoscaling; nothing to watch."
        )
    return roles


@dataclass
class Autoscaler:
    """Runs the scale-agents workflow for some pools of one stack."""

    root: Path
    stack: str
    role: str | None
    read_depths: DepthReader
    apply: bool = True
    engine_factory: Callable[[Path, str], Engine] | None = None
    _engine: Engine | None = field(default=None, init=False, repr=False)

    def run_once(self) -> list[Decision]:
        """Read every watched queue once, decide, and scale where the rule says."""
        # The stack file is read afresh each round: scaling writes to it.
        project = load_project(self.root, self.stack)
        rule = ScalingRule.from_workflow(_workflow(project))
        roles = autoscaled_roles(project, self.role)
        depths = self.read_depths(roles)

        decisions: list[Decision] = []
        for role in roles:
            pool = project.settings.agents[role]  # type: ignore[index]
            decision = decide(rule, role, pool, depths[role], pool.replicas)
            if should_apply(rule, decision):
                decision = self._scale(project, decision)
            decisions.append(decision)
        return decisions

    def _scale(self, project: Project, decision: Decision) -> Decision:
        if not self.apply:
            return decision
        try:
            request = check_scale(project, decision.role, decision.target)
            refuse_if_deployments_managed(self.root, request)
            apply_scale(self._stack_engine(), request)
        except VaporaError as error:
            return replace(decision, error=str(error))
        return replace(decision, applied=True)

    def _stack_engine(self) -> Engine:
        if self._engine is None:
            if self.engine_factory is None:
                from vapora_infra.ops.engine import Engine

                self._engine = Engine(self.root, self.stack)
            else:
                self._engine = self.engine_factory(self.root, self.stack)
        return self._engine


def _workflow(project: Project) -> Workflow:
    workflow = project.workflows.get(WORKFLOW)
    if workflow is None:
        raise VaporaError(f"{SOURCE} is missing; it holds the scaling rule.")
    return workflow
