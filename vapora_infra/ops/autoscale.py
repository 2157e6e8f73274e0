"""The scale-agents workflow: read a queue's depth, decide, and scale.

The decision rule is the workflow's own text (the ``condition`` of its
``provisioning.evaluate`` step and the ``when`` of its
``provisioning.scale-taskserv`` step), so operators change the policy by
editing workflows/scale-agents.yaml, not this module.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from vapora_infra.errors import VaporaError
from vapora_infra.ops.evaluator import check_block, evaluate, run_block
from vapora_infra.spec.agents import AgentPool
from vapora_infra.spec.workflow import Workflow

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
