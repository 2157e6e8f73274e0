"""Deploy stages: which step of the deploy workflow deploys which component."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from vapora_infra.errors import SpecError
from vapora_infra.spec.agents import ROLES
from vapora_infra.spec.project import DATA_SERVICES, DEPLOY_WORKFLOW, Project
from vapora_infra.spec.workflow import Step

SOURCE = f"workflows/{DEPLOY_WORKFLOW}.yaml"

# Tasks that put objects on the cluster; the others check or run things.
RESOURCE_TASKS = {
    "provisioning.cluster": "cluster",
    "provisioning.addon": "addons",
    "provisioning.deploy-taskservs": "services",
    "provisioning.deploy-agents": "agents",
    "provisioning.run-migrations": "migrations",
    "provisioning.configure-ingress": "ingress",
    "provisioning.health-check": "check",
}


@dataclass(frozen=True)
class Stage:
    """One step of the deploy workflow and what it deploys."""

    step: Step
    data: tuple[str, ...] = ()
    taskservs: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    upstream: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        """The step's name, which is the stage's name."""
        return self.step.name

    @property
    def task(self) -> str:
        """The workflow task of the step."""
        return self.step.task


def plan_stages(project: Project) -> list[Stage]:
    """Stages in deploy order; every enabled component lands in exactly one."""
    steps = project.deploy.spec.order()
    upstream = _upstream(steps)
    enabled = project.enabled_components()
    pools = {r for r, pool in project.settings.agents.items() if pool.enabled}
    placed: dict[str, str] = {}
    stages: list[Stage] = []

    for index, step in enumerate(project.deploy.spec.steps):
        if step.task not in RESOURCE_TASKS:
            raise SpecError(
                SOURCE,
                f"spec.steps[{index}].task",
                step.task,
                "does not deploy anything; accepted in this workflow: "
                + ", ".join(RESOURCE_TASKS)
                + ".",
            )
    for step in steps:
        names = _names(step, "taskservs")
        roles = _names(step, "agents")
        for name in [*names, *roles]:
            if name in placed:
                raise SpecError(
                    SOURCE,
                    f"{step.name}.params",
                    name,
                    f"is already deployed by step {placed[name]!r}; list it once.",
                )
            placed[name] = step.name
        known = set(DATA_SERVICES) | set(project.taskservs)
        for name in names:
            if name not in known:
                raise SpecError(
                    SOURCE,
                    f"{step.name}.params.taskservs",
                    name,
                    f"is not a service; accepted: {', '.join(sorted(known))}.",
                )
        for role in roles:
            # A role the stack does not enable is skipped, so a misspelled
            # one would otherwise vanish without a word.
            if role not in ROLES:
                found = difflib.get_close_matches(role, ROLES, n=1, cutoff=0.6)
                hint = f" (did you mean {found[0]!r}?)" if found else ""
                raise SpecError(
                    SOURCE,
                    f"{step.name}.params.agents",
                    role,
                    f"is not an agent role{hint}; accepted: {', '.join(ROLES)}.",
                )
        stages.append(
            Stage(
                step=step,
                data=tuple(n for n in names if n in DATA_SERVICES and n in enabled),
                taskservs=tuple(
                    n for n in names if n not in DATA_SERVICES and n in enabled
                ),
                agents=tuple(r for r in roles if r in pools),
                upstream=frozenset(upstream[step.name]),
            )
        )

    for name in sorted(enabled | pools):
        if name not in placed:
            raise SpecError(
                SOURCE,
                "spec.steps",
                name,
                "is enabled on the stack but no step deploys it; add it to a step.",
            )
    _check_dependency_order(project, stages, placed)
    return stages


def _names(step: Step, key: str) -> list[str]:
    value = step.params.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(SOURCE, f"{step.name}.params.{key}", value, "must be a list.")
    return list(value)


def _upstream(steps: list[Step]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for step in steps:
        closure: set[str] = set()
        for needed in step.depends_on:
            closure |= {needed, *found[needed]}
        found[step.name] = closure
    return found


def _check_dependency_order(
    project: Project, stages: list[Stage], placed: dict[str, str]
) -> None:
    by_name = {stage.name: stage for stage in stages}
    enabled = project.enabled_components()
    for name, taskserv in project.enabled_taskservs().items():
        own = by_name[placed[name]]
        for needed in taskserv.dependencies.all:
            if needed not in enabled:
                continue
            if placed[needed] not in own.upstream:
                raise SpecError(
                    SOURCE,
                    f"{own.name}.params.taskservs",
                    name,
                    f"needs {needed!r}, which step {placed[needed]!r} does not deploy "
                    "before it; order the steps with depends_on.",
                )
