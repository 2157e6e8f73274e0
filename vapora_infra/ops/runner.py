"""Runs a workflow file: steps in depends_on order with when, timeout,
outputs and on_failure, then the completion notices."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vapora_infra.errors import VaporaError
from vapora_infra.ops.evaluator import Value, evaluate
from vapora_infra.spec.units import duration_seconds
from vapora_infra.spec.workflow import Step, Workflow, placeholders

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Variables the runner fills in itself when they are used.
LAZY_VARIABLES = ("SLACK_WEBHOOK",)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Undo = Callable[[], str]


@dataclass
class Outcome:
    """What a task handler returns: outputs, a note, and how to undo it."""

    outputs: dict[str, Value] = field(default_factory=dict)
    note: str = ""
    undo: Undo | None = None


Handler = Callable[[Step, dict[str, Any], dict[str, Value]], Outcome]


@dataclass(frozen=True)
class StepResult:
    """One step as it ran."""

    name: str
    task: str
    status: str  # ok, skipped, failed, rolled back
    seconds: float
    note: str = ""


@dataclass
class WorkflowResult:
    """Every step's result and whether the workflow succeeded."""

    name: str
    steps: list[StepResult] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """No step failed (a ``continue`` failure still counts as failed)."""
        return all(step.status in ("ok", "skipped") for step in self.steps)


def unused_variables(
    workflow: Workflow,
    variables: Mapping[str, str],
    task_variables: Mapping[str, Sequence[str]],
) -> list[str]:
    """The given variables the workflow never reads, sorted.

    A variable is read as ``${NAME}`` in any step or notice parameter, as a
    bare name in a ``when`` or in a parameter's text, such as a condition, or
    by a step's task itself, as ``task_variables`` lists.
    """
    spec = workflow.spec
    texts = [step.when or "" for step in spec.steps]
    texts += [" ".join(task_variables.get(step.task, ())) for step in spec.steps]
    texts += _texts([step.params for step in spec.steps])
    texts += _texts([notice.params for notice in spec.on_completion])
    words = {word for text in texts for word in _WORD.findall(text)}
    return sorted(name for name in variables if name not in words)


@dataclass
class Runner:
    """Runs one workflow with task handlers and variables."""

    workflow: Workflow
    handlers: Mapping[str, Handler]
    variables: dict[str, str]
    resolve_lazy: Callable[[str], str | None] = lambda _: None
    notify: Callable[[str, str], None] | None = None
    on_step: Callable[[StepResult], None] = lambda _: None

    def run(self) -> WorkflowResult:
        """Run every step; raise nothing for a step failure, report it."""
        self._check_variables()
        spec = self.workflow.spec
        result = WorkflowResult(self.workflow.metadata.name)
        outputs: dict[str, Value] = {}
        undo: list[tuple[str, Undo]] = []
        failed: set[str] = set()
        stopped = False

        for step in spec.order():
            if stopped or failed & set(step.depends_on):
                self._record(result, StepResult(step.name, step.task, "skipped", 0))
                continue
            names = {**_typed(self.variables), **outputs}
            if step.when is not None and not evaluate(step.when, names):
                note = f"when {step.when} is false"
                self._record(
                    result, StepResult(step.name, step.task, "skipped", 0, note)
                )
                continue
            started = time.monotonic()
            try:
                params = self._substitute(step.params, outputs)
                outcome = self._with_timeout(step, params, names)
            except VaporaError as error:
                seconds = time.monotonic() - started
                self._record(
                    result,
                    StepResult(step.name, step.task, "failed", seconds, str(error)),
                )
                failed.add(step.name)
                if step.on_failure == "continue":
                    continue
                stopped = True
                if step.on_failure == "rollback" or spec.rollback_on_failure:
                    self._roll_back(result, undo)
                continue
            outputs.update({k: v for k, v in outcome.outputs.items()})
            if outcome.undo is not None:
                undo.append((step.name, outcome.undo))
            self._record(
                result,
                StepResult(
                    step.name, step.task, "ok", time.monotonic() - started, outcome.note
                ),
            )

        self._notify(result, outputs)
        return result

    def _check_variables(self) -> None:
        declared = {o for step in self.workflow.spec.steps for o in step.outputs}
        known = set(self.variables) | declared | set(LAZY_VARIABLES)
        for step in self.workflow.spec.steps:
            missing = sorted(placeholders(step.params) - known)
            if missing:
                raise VaporaError(
                    f"workflow {self.workflow.metadata.name}: step {step.name} uses "
                    f"${{{missing[0]}}}, which is not set; pass --var "
                    f"{missing[0]}=VALUE."
                )

    def _substitute(self, value: Any, outputs: Mapping[str, Value]) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: self._lookup(m.group(1), outputs), value)
        if isinstance(value, dict):
            return {k: self._substitute(v, outputs) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, outputs) for v in value]
        return value

    def _lookup(self, name: str, outputs: Mapping[str, Value]) -> str:
        if name in self.variables:
            return self.variables[name]
        if name in outputs:
            return str(outputs[name])
        found = self.resolve_lazy(name) if name in LAZY_VARIABLES else None
        if found is None:
            raise VaporaError(f"${{{name}}} has no value yet; pass --var {name}=VALUE.")
        return found

    def _with_timeout(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        handler = self.handlers.get(step.task)
        if handler is None:
            raise VaporaError(f"task {step.task} has no handler in this runner.")
        if step.timeout is None:
            return handler(step, params, names)
        limit = duration_seconds(step.timeout)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["outcome"] = handler(step, params, names)
            except BaseException as error:
                box["error"] = error

        # The handler runs in a daemon thread so the runner can stop waiting;
        # an engine command it started keeps running until the engine ends it.
        worker = threading.Thread(target=target, name=step.name, daemon=True)
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            raise VaporaError(f"timed out after {step.timeout}")
        if "error" in box:
            error = box["error"]
            if isinstance(error, VaporaError):
                raise error
            raise VaporaError(f"{type(error).__name__}: {error}") from error
        outcome: Outcome = box["outcome"]
        return outcome

    def _roll_back(self, result: WorkflowResult, undo: list[tuple[str, Undo]]) -> None:
        for name, action in reversed(undo):
            started = time.monotonic()
            try:
                note = action()
                status = "rolled back"
            except VaporaError as error:
                note, status = f"rollback failed: {error}", "failed"
            self._record(
                result,
                StepResult(name, "rollback", status, time.monotonic() - started, note),
            )
        undo.clear()

    def _notify(self, result: WorkflowResult, outputs: Mapping[str, Value]) -> None:
        if self.notify is None:
            return
        for notice in self.workflow.spec.on_completion:
            try:
                params = self._substitute(notice.params, outputs)
            except VaporaError as error:
                result.notices.append(f"{notice.name}: not sent: {error}")
                continue
            message = params.get("message", "")
            if not result.succeeded:
                failed = next(s for s in result.steps if s.status == "failed")
                message = (
                    f"{self.workflow.metadata.name} FAILED at step {failed.name}: "
                    f"{failed.note}"
                )
            try:
                self.notify(params.get("webhook", ""), message)
                result.notices.append(f"{notice.name}: sent")
            except VaporaError as error:
                result.notices.append(f"{notice.name}: not sent: {error}")

    def _record(self, result: WorkflowResult, step: StepResult) -> None:
        result.steps.append(step)
        self.on_step(step)


def _typed(variables: Mapping[str, str]) -> dict[str, Value]:
    # --var values are text; numbers compare as numbers in when conditions.
    return {
        key: int(value) if re.fullmatch(r"-?\d{1,9}", value) else value
        for key, value in variables.items()
    }


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []
