"""The workflow condition interpreter runs the scaling rule and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from vapora_infra.errors import VaporaError
from vapora_infra.ops.autoscale import ScalingRule, decide, should_apply
from vapora_infra.ops.evaluator import EvaluationError, evaluate, run_block
from vapora_infra.spec.agents import AgentPool
from vapora_infra.spec.project import load_project
from vapora_infra.spec.workflow import Workflow

# The scale-agents text exactly as the specification writes it, with && and
# no scale_to in the else branch.
SPEC_RULE = """\
if queue_depth > 10 && current_replicas < max_replicas:
  scale_to = min(current_replicas + 2, max_replicas)
  action = "scale_up"
elif queue_depth < 2 && current_replicas > min_replicas:
  scale_to = max(current_replicas - 1, min_replicas)
  action = "scale_down"
else:
  action = "no_change"
"""
OUTPUTS = ("action", "scale_to")


def _pool(low: int, high: int) -> AgentPool:
    return AgentPool.model_validate(
        {
            "replicas": low,
            "max_concurrent": 1,
            "container": {"image": "a:1", "resources": {"cpu": "1", "memory": "1Gi"}},
            "autoscaling": {
                "min_replicas": low,
                "max_replicas": high,
                "target_queue_depth": 10,
            },
        }
    )


@pytest.fixture(scope="module")
def rule(root: Path) -> ScalingRule:
    project = load_project(root, "prod")
    return ScalingRule.from_workflow(project.workflows["scale-agents"])


DECISIONS = [
    # depth, current, min, max -> action, target
    (11, 5, 5, 20, "scale_up", 7),
    (50, 19, 5, 20, "scale_up", 20),
    (50, 20, 5, 20, "no_change", 20),
    (10, 5, 5, 20, "no_change", 5),
    (2, 8, 5, 20, "no_change", 8),
    (1, 8, 5, 20, "scale_down", 7),
    (0, 6, 5, 20, "scale_down", 5),
    (0, 5, 5, 20, "no_change", 5),
    (100, 1, 1, 3, "scale_up", 3),
    (0, 3, 1, 3, "scale_down", 2),
]


@pytest.mark.parametrize(
    ("depth", "current", "low", "high", "action", "target"), DECISIONS
)
def test_workflow_rule_decides_scaling(
    rule: ScalingRule,
    depth: int,
    current: int,
    low: int,
    high: int,
    action: str,
    target: int,
) -> None:
    decision = decide(rule, "developer", _pool(low, high), depth, current)

    assert (decision.action, decision.target) == (action, target), decision
    assert should_apply(rule, decision) is (action != "no_change")


@pytest.mark.parametrize(
    ("depth", "current", "low", "high", "action", "target"), DECISIONS
)
def test_spec_rule_with_c_operators_decides_the_same(
    depth: int, current: int, low: int, high: int, action: str, target: int
) -> None:
    names = {
        "queue_depth": depth,
        "current_replicas": current,
        "min_replicas": low,
        "max_replicas": high,
    }
    outputs = run_block(SPEC_RULE, names, OUTPUTS)

    assert outputs["action"] == action
    assert outputs.get("scale_to", current) == target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('action != "no_change"', True),
        ('action == "no_change"', False),
        ("scale_to > 3 || action == 'x'", True),
        ("!(scale_to > 3)", False),
        ("not scale_to - 4", True),
        ("max(1, 2, scale_to) - min(3, 9)", 1),
        ('"a && b" == "a && b"', True),
    ],
)
def test_expressions(text: str, expected: object) -> None:
    assert evaluate(text, {"action": "scale_up", "scale_to": 4}) == expected


HOSTILE = [
    ("__import__('os').system('true')", "attribute access"),
    ("__import__('os')", "call of '__import__'"),
    ("-" * 399 + "1", "nested too deeply|more than"),
    ("not " * 399 + "1", "nested too deeply|more than"),
    ("().__class__.__bases__", "attribute access"),
    ("action.upper()", "attribute access"),
    ("open('/etc/passwd')", "call of 'open'"),
    ("scale_to ** 999999999", r"the \*\* operator"),
    ("scale_to * 2", r"the \* operator"),
    ("[x for x in range(9)]", "comprehensions"),
    ("(lambda: 1)()", "lambda"),
    ("action[0]", "subscripts"),
    ("__builtins__", "name '__builtins__'"),
    ("min(scale_to)", "call of 'min'"),
    ("min(1, 2, key=abs)", "call of 'min'"),
    ("99999999999999999999", "out of range"),
    ("1.5 > scale_to", "constant 1.5"),
    ("(" * 300 + "1" + ")" * 300, "nested|more than"),
    ("x = 1", "invalid syntax|not allowed"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE)
def test_hostile_expressions_are_refused(text: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message) as caught:
        evaluate(text, {"action": "scale_up", "scale_to": 4})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("import os\naction = 'x'", "import"),
        ("from os import path", "import"),
        ("replicas = 99", "assignment to 'replicas'"),
        ("action, scale_to = 1, 2", "assignment to"),
        ("action = scale_to = 1", "assignment to"),
        ("while True:\n  action = 'x'", "While"),
        ("def f():\n  pass", "FunctionDef"),
        ("action = [1][0]", "subscripts|List"),
        ("action = f'{queue_depth}'", "JoinedStr"),
        ("action = 'x'" + "\n" * 5000, "characters long"),
    ],
)
def test_hostile_blocks_are_refused(text: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        run_block(text, {"queue_depth": 1}, OUTPUTS)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(EvaluationError, match="'depth' is not defined; known: a, b"):
        evaluate("depth > 1", {"a": 1, "b": 2})


def test_ordering_text_against_numbers_is_refused() -> None:
    with pytest.raises(EvaluationError, match="cannot order"):
        evaluate("action > 3", {"action": "scale_up"})


def test_rule_outside_bounds_is_refused(root: Path) -> None:
    workflow = load_project(root, "prod").workflows["scale-agents"]
    data = workflow.model_dump(by_alias=True)
    data["spec"]["steps"][1]["params"]["condition"] = (
        'action = "scale_up"\nscale_to = current_replicas + 100'
    )
    rule = ScalingRule.from_workflow(Workflow.model_validate(data))

    with pytest.raises(VaporaError, match=r"outside the pool's bounds 5\.\.20"):
        decide(rule, "developer", _pool(5, 20), 50, 5)


def test_hostile_rule_in_workflow_is_refused_when_loaded(root: Path) -> None:
    workflow = load_project(root, "prod").workflows["scale-agents"]
    data = workflow.model_dump(by_alias=True)
    data["spec"]["steps"][1]["params"]["condition"] = "action = __import__('os')"

    with pytest.raises(EvaluationError, match="call of '__import__'"):
        ScalingRule.from_workflow(Workflow.model_validate(data))
