"""The workflow runner: order, when, timeout, on_failure, variables, notices."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vapora_infra.cli import main
from vapora_infra.errors import VaporaError
from vapora_infra.ops.evaluator import Value
from vapora_infra.ops.notify import NotifyError, post_slack
from vapora_infra.ops.runner import Outcome, Runner
from vapora_infra.ops.tasks import Tasks
from vapora_infra.spec.project import load_project
from vapora_infra.spec.workflow import TASKS, Step, Workflow


def _workflow(steps: list[dict[str, Any]], **spec: Any) -> Workflow:
    return Workflow.model_validate(
        {
            "apiVersion": "provisioning/v1",
            "kind": "Workflow",
            "metadata": {"name": "test-flow"},
            "spec": {"steps": steps, **spec},
        }
    )


class Recorder:
    """Handlers that log calls; steps named fail-* raise, slow-* sleep."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def handle(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        self.calls.append((step.name, params))
        if step.name.startswith("fail"):
            raise VaporaError(f"{step.name} broke")
        if step.name.startswith("slow"):
            time.sleep(3)
        outputs: dict[str, Value] = {o: f"{step.name}-{o}" for o in step.outputs}
        return Outcome(outputs, undo=lambda: f"undid {step.name}")

    def handlers(self) -> dict[str, Any]:
        return dict.fromkeys(TASKS, self.handle)


def _run(
    flow: Workflow, variables: dict[str, str] | None = None
) -> tuple[Any, Recorder]:
    recorder = Recorder()
    result = Runner(flow, recorder.handlers(), variables or {}).run()
    return result, recorder


def _statuses(result: Any) -> list[tuple[str, str]]:
    return [(step.name, step.status) for step in result.steps]


def test_steps_run_in_dependency_order_with_substituted_params() -> None:
    flow = _workflow(
        [
            {
                "name": "b",
                "task": "provisioning.query",
                "depends_on": ["a"],
                "params": {"q": "${ROLE} ${out}"},
            },
            {"name": "a", "task": "provisioning.query", "outputs": ["out"]},
        ]
    )

    result, recorder = _run(flow, {"ROLE": "developer"})

    assert [name for name, _ in recorder.calls] == ["a", "b"]
    assert recorder.calls[1][1] == {"q": "developer a-out"}
    assert result.succeeded


def test_when_false_skips_the_step() -> None:
    flow = _workflow(
        [
            {"name": "decide", "task": "provisioning.evaluate", "outputs": ["action"]},
            {
                "name": "act",
                "task": "provisioning.scale-taskserv",
                "depends_on": ["decide"],
                "when": 'action == "no_change"',
            },
            {
                "name": "other",
                "task": "provisioning.scale-taskserv",
                "depends_on": ["decide"],
                "when": 'action != "no_change"',
            },
        ]
    )

    result, _ = _run(flow)

    assert _statuses(result) == [("decide", "ok"), ("act", "skipped"), ("other", "ok")]


def test_abort_stops_and_skips_the_rest() -> None:
    flow = _workflow(
        [
            {"name": "one", "task": "provisioning.query"},
            {"name": "fail-two", "task": "provisioning.query", "depends_on": ["one"]},
            {"name": "three", "task": "provisioning.query", "depends_on": ["one"]},
        ]
    )

    result, _ = _run(flow)

    assert _statuses(result) == [
        ("one", "ok"),
        ("fail-two", "failed"),
        ("three", "skipped"),
    ]
    assert result.steps[1].note == "fail-two broke"
    assert not result.succeeded


def test_continue_runs_independent_steps_but_not_dependents() -> None:
    flow = _workflow(
        [
            {
                "name": "fail-one",
                "task": "provisioning.query",
                "on_failure": "continue",
            },
            {"name": "two", "task": "provisioning.query"},
            {"name": "three", "task": "provisioning.query", "depends_on": ["fail-one"]},
        ]
    )

    result, _ = _run(flow)

    assert _statuses(result) == [
        ("fail-one", "failed"),
        ("two", "ok"),
        ("three", "skipped"),
    ]


def test_rollback_undoes_completed_steps_newest_first() -> None:
    flow = _workflow(
        [
            {"name": "one", "task": "provisioning.scale-taskserv"},
            {
                "name": "two",
                "task": "provisioning.scale-taskserv",
                "depends_on": ["one"],
            },
            {
                "name": "fail-three",
                "task": "provisioning.health-check",
                "depends_on": ["two"],
                "on_failure": "rollback",
            },
        ]
    )

    result, _ = _run(flow)

    assert _statuses(result) == [
        ("one", "ok"),
        ("two", "ok"),
        ("fail-three", "failed"),
        ("two", "rolled back"),
        ("one", "rolled back"),
    ]
    assert result.steps[3].note == "undid two"


def test_timeout_is_enforced() -> None:
    flow = _workflow([{"name": "slow", "task": "provisioning.query", "timeout": "1s"}])

    started = time.monotonic()
    result, _ = _run(flow)

    assert time.monotonic() - started < 2.5
    assert _statuses(result) == [("slow", "failed")]
    assert result.steps[0].note == "timed out after 1s"


def test_missing_variable_is_refused_before_any_step() -> None:
    flow = _workflow(
        [
            {"name": "one", "task": "provisioning.query"},
            {
                "name": "two",
                "task": "provisioning.restore",
                "params": {"b": "${BACKUP}"},
            },
        ]
    )
    recorder = Recorder()

    with pytest.raises(VaporaError, match=r"uses \$\{BACKUP\}.*--var BACKUP=VALUE"):
        Runner(flow, recorder.handlers(), {}).run()
    assert recorder.calls == []


def test_every_task_has_a_handler(root: Path) -> None:
    tasks = Tasks(root, load_project(root, "dev"))

    assert set(tasks.handlers()) == set(TASKS)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []  # noqa: RUF012
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(
            {
                "path": self.path,
                "type": self.headers["Content-Type"],
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received = []
    _Hook.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/secret-token"
    finally:
        server.shutdown()
        server.server_close()


def test_post_slack_sends_text_as_json(webhook: str) -> None:
    post_slack(webhook, "VAPORA deployment completed successfully!")

    assert _Hook.received == [
        {
            "path": "/services/T0/B0/secret-token",
            "type": "application/json",
            "body": {"text": "VAPORA deployment completed successfully!"},
        }
    ]


def test_webhook_errors_never_show_the_url(webhook: str) -> None:
    _Hook.status = 500

    with pytest.raises(NotifyError, match="answered HTTP 500") as caught:
        post_slack(webhook, "hello")
    assert "secret-token" not in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)


def test_workflow_run_notifies_on_completion_without_printing_the_url(
    root: Path, tmp_path: Path, webhook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = tmp_path / "notify.yaml"
    flow.write_text(
        """\
apiVersion: provisioning/v1
kind: Workflow
metadata: {name: decide-only}
spec:
  steps:
    - name: decide
      task: provisioning.evaluate
      params:
        condition: |
          if queue_depth > 10 && current_replicas < max_replicas:
            scale_to = min(current_replicas + 2, max_replicas)
            action = "scale_up"
          else:
            action = "no_change"
      outputs: [action, scale_to]
  on_completion:
    - name: notify-slack
      task: notifications.slack
      params:
        webhook: "${SLACK_WEBHOOK}"
        message: "decided ${action} to ${scale_to} on ${STACK}"
"""
    )
    monkeypatch.setenv("SLACK_WEBHOOK", webhook)

    result = CliRunner().invoke(
        main,
        [
            "-C",
            str(root),
            "workflow",
            "run",
            str(flow),
            "-s",
            "prod",
            "--var",
            "AGENT_ROLE=developer",
            "--var",
            "queue_depth=12",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "scale_to = 7, action = scale_up" in result.output
    assert "notice notify-slack: sent" in result.output
    assert "secret-token" not in result.output
    assert [r["body"] for r in _Hook.received] == [
        {"text": "decided scale_up to 7 on prod"}
    ]


def test_workflow_run_failure_exits_1_and_sends_a_failure_notice(
    root: Path, tmp_path: Path, webhook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = tmp_path / "broken.yaml"
    flow.write_text(
        """\
apiVersion: provisioning/v1
kind: Workflow
metadata: {name: broken}
spec:
  steps:
    - name: decide
      task: provisioning.evaluate
      params: {condition: "action = open('x')"}
      outputs: [action]
  on_completion:
    - name: notify-slack
      task: notifications.slack
      params: {webhook: "${SLACK_WEBHOOK}", message: "done"}
"""
    )
    monkeypatch.setenv("SLACK_WEBHOOK", webhook)

    result = CliRunner().invoke(
        main, ["-C", str(root), "workflow", "run", str(flow), "-s", "prod"]
    )

    assert result.exit_code == 1
    assert result.output.strip().endswith(
        "error: workflow broken failed at step decide: condition line 1: call of "
        "'open' is not allowed; only min(a, b, ...) and max(a, b, ...); allowed: "
        "comparisons, and/or/not (&&, ||), integer + and -, min(), max(), string "
        "and integer constants, if/elif/else and assignments to the outputs."
    )
    assert _Hook.received[0]["body"]["text"].startswith("broken FAILED at step decide")


@pytest.mark.parametrize(
    "name", ["deploy-full-stack", "scale-agents", "upgrade-vapora", "disaster-recovery"]
)
def test_project_workflows_have_handlers_and_known_variables(
    root: Path, name: str
) -> None:
    project = load_project(root, "prod")
    flow = project.workflows[name]
    variables = {
        "STACK": "prod",
        "SERVICE": "vapora-backend",
        "VERSION": "0.2.0",
        "BACKUP": "20260101T000000Z",
        "AGENT_ROLE": "developer",
    }

    runner = Runner(flow, Tasks(root, project).handlers(), variables)
    runner._check_variables()
