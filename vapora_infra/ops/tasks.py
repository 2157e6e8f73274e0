"""One handler per workflow task, bound to a stack.

The deploy tasks (cluster, add-ons, services, agents, migrations, ingress) are
stages of the Pulumi program, so the first of them runs one full stack update
and the engine orders the rest; later deploy steps only report that the update
covered them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vapora_infra.errors import VaporaError
from vapora_infra.ops.evaluator import Value, run_block
from vapora_infra.ops.runner import Handler, Outcome
from vapora_infra.ops.scaling import (
    apply_scale,
    check_scale,
    deployments_file,
    refuse_if_deployments_managed,
)
from vapora_infra.spec.project import NAMESPACE, Project
from vapora_infra.spec.stages import RESOURCE_TASKS
from vapora_infra.spec.units import duration_seconds
from vapora_infra.spec.workflow import TASKS, Step

if TYPE_CHECKING:
    from vapora_infra.ops.engine import Engine, Output

AGENT_PREFIX = "vapora-agents-"
SURREAL_POD = "surrealdb-0"
SYSTEM_NAMESPACE = "vapora-system"


# Variables a task reads by name, beyond the ${NAME} in its parameters.
TASK_VARIABLES: dict[str, tuple[str, ...]] = {
    "provisioning.query": ("AGENT_ROLE",),
    "provisioning.evaluate": ("AGENT_ROLE",),
    "provisioning.backup": ("BACKUP",),
}


@dataclass
class Tasks:
    """Handlers for every task in TASKS, sharing one engine and one update."""

    root: Path
    project: Project
    variables: dict[str, str] = field(default_factory=dict)
    nats_url: str | None = None
    on_output: Output | None = None
    engine_factory: Callable[[Path, str], Engine] | None = None
    kube: Callable[[], Any] | None = None
    # The workflow's rollback_on_failure: a failing upgrade then restores the
    # old version itself, since a failed step has nothing for the runner to undo.
    rollback_on_failure: bool = False
    _engine: Engine | None = field(default=None, init=False)
    _updated: bool = field(default=False, init=False)

    def handlers(self) -> dict[str, Handler]:
        """Task name -> handler, covering every task a workflow may name."""
        found: dict[str, Handler] = {
            task: self.stack_update
            for task, kind in RESOURCE_TASKS.items()
            if kind != "check"
        }
        found.update(
            {
                "provisioning.stack-update": self.stack_update,
                "provisioning.health-check": self.health_check,
                "provisioning.query": self.query,
                "provisioning.evaluate": self.evaluate,
                "provisioning.scale-taskserv": self.scale_taskserv,
                "provisioning.upgrade-taskserv": self.upgrade_taskserv,
                "provisioning.rollback-taskserv": self.rollback_taskserv,
                "provisioning.stack-export": self.stack_export,
                "provisioning.stack-import": self.stack_import,
                "provisioning.backup": self.backup,
                "provisioning.restore": self.restore,
                "notifications.slack": self.slack,
            }
        )
        missing = set(TASKS) - set(found)
        assert not missing, f"tasks without a handler: {sorted(missing)}"
        return found

    def engine(self) -> Engine:
        """The stack, opened once on first use."""
        if self._engine is None:
            if self.engine_factory is not None:
                self._engine = self.engine_factory(self.root, self.project.stack)
            else:
                from vapora_infra.ops.engine import Engine

                self._engine = Engine(self.root, self.project.stack)
        return self._engine

    def stack_update(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """One full update; the program's stages follow the deploy workflow."""
        if self._updated:
            return Outcome(note="applied by the stack update")
        settings = deployments_file(self.root, self.project.stack)
        if settings is not None:
            raise VaporaError(
                f"stack {self.project.stack} is updated by Pulumi Deployments "
                f"({settings.name}); push to git or run `pulumi deployment run update`."
            )
        result = self.engine().up(on_output=self.on_output)
        self._updated = True
        return Outcome(note=f"stack update: {result.summary()}")

    def health_check(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Wait until the named workloads (or all) are ready, up to params.timeout."""
        from vapora_infra.ops.health import api_client, workload_health

        wanted = params.get("services", "all")
        limit = duration_seconds(str(params.get("timeout", "5m")))
        client = self.kube() if self.kube else api_client(self.project.settings.cluster)
        deadline = time.monotonic() + limit
        while True:
            rows = workload_health(client)
            if wanted != "all":
                rows = [row for row in rows if row.name in set(wanted)]
            sick = [row for row in rows if not row.healthy]
            if rows and not sick:
                return Outcome(note=f"{len(rows)} workloads ready")
            if time.monotonic() > deadline:
                shown = ", ".join(f"{r.name} {r.ready}/{r.desired}" for r in sick[:5])
                raise VaporaError(
                    f"not ready after {params.get('timeout', '5m')}: "
                    f"{shown or 'no workloads found'}"
                )
            time.sleep(5)

    def query(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Queue depth for AGENT_ROLE from the stack's configured source."""
        from vapora_infra.ops import queue

        role = self.variables.get("AGENT_ROLE")
        if role is None:
            raise VaporaError("the query needs --var AGENT_ROLE=ROLE.")
        output = step.outputs[0] if step.outputs else "queue_depth"
        settings = self.project.settings.autoscaler
        if settings.queue_source == "nats":
            url = self.nats_url or queue.DEFAULT_NATS_URL
            depth = queue.nats_depths(url, settings.stream, [role])[role]
        else:
            depth = queue.SurrealSource(query=str(params["query"])).depth(role)
        return Outcome({output: depth}, note=f"{output} = {depth}")

    def evaluate(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Run the condition with the pool's size and bounds in scope."""
        scope = dict(names)
        role = self.variables.get("AGENT_ROLE")
        if role is not None:
            from vapora_infra.ops.scaling import pool_for

            pool = pool_for(self.project, role)
            low, high = pool.bounds
            scope.update(
                current_replicas=pool.replicas, min_replicas=low, max_replicas=high
            )
        outputs = run_block(str(params["condition"]), scope, step.outputs)
        shown = ", ".join(f"{k} = {v}" for k, v in outputs.items())
        return Outcome(outputs, note=shown)

    def scale_taskserv(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Scale an agent pool named vapora-agents-<role>."""
        taskserv = str(params.get("taskserv", ""))
        if not taskserv.startswith(AGENT_PREFIX):
            raise VaporaError(
                f"taskserv {taskserv!r} is not an agent pool; scale-taskserv takes "
                f"{AGENT_PREFIX}<role>."
            )
        role = taskserv.removeprefix(AGENT_PREFIX)
        request = check_scale(self.project, role, _count(params.get("replicas")))
        refuse_if_deployments_managed(self.root, request)
        engine = self.engine()
        apply_scale(engine, request, on_output=self.on_output)

        def undo() -> str:
            back = check_scale(self.project, role, request.current)
            apply_scale(engine, back, on_output=self.on_output)
            return f"{role} back to {request.current}"

        return Outcome(
            note=f"{role} {request.current} -> {request.replicas}", undo=undo
        )

    def upgrade_taskserv(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Upgrade a service; the workflow's on_failure decides about rollback."""
        from vapora_infra.ops.upgrade import (
            check_upgrade,
            refuse_upgrade_if_deployments_managed,
            upgrade,
        )

        request = check_upgrade(
            self.project, str(params.get("taskserv")), str(params.get("version"))
        )
        refuse_upgrade_if_deployments_managed(self.root, request)
        engine = self.engine()
        rollback = step.on_failure == "rollback" or self.rollback_on_failure
        result = upgrade(
            engine, request, rollback_on_failure=rollback, on_output=self.on_output
        )

        def undo() -> str:
            back = check_upgrade(self.project, request.service, result.previous)
            upgrade(engine, back, rollback_on_failure=False, on_output=self.on_output)
            return f"{request.service} back to {result.previous}"

        return Outcome(
            note=f"{request.service} {result.previous} -> {result.version}", undo=undo
        )

    def rollback_taskserv(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Return a service to params.version or its last good version."""
        version = rollback_version(
            self.engine(),
            self.project,
            str(params.get("taskserv")),
            params.get("version"),
        )
        return self.upgrade_taskserv(
            step, {"taskserv": params.get("taskserv"), "version": version}, names
        )

    def stack_export(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Write the stack's state to params.file (under the project)."""
        path = self._file(params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.engine().export(), indent=2))
        return Outcome(note=f"state written to {path.relative_to(self.root)}")

    def stack_import(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Replace the stack's state with params.file."""
        path = self._file(params)
        if not path.is_file():
            raise VaporaError(f"{path.relative_to(self.root)} does not exist.")
        self.engine().import_state(json.loads(path.read_text()))
        return Outcome(note=f"state imported from {path.relative_to(self.root)}")

    def backup(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """``surreal export`` inside the SurrealDB pod, saved under backups/."""
        services = params.get("services", ["surrealdb"])
        if services != ["surrealdb"]:
            raise VaporaError(
                f"backup supports services [surrealdb], not {services}; NATS "
                "JetStream keeps its own replicas."
            )
        stamp = self.variables.get("BACKUP") or datetime.now(UTC).strftime(
            "%Y%m%dT%H%M%SZ"
        )
        path = self.root / "backups" / f"{stamp}-surrealdb.surql"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            _kubectl(
                [
                    "exec",
                    "-n",
                    SYSTEM_NAMESPACE,
                    SURREAL_POD,
                    "--",
                    *_surreal("export"),
                ],
                stdout=out,
            )
        return Outcome({"backup": stamp}, note=f"wrote {path.relative_to(self.root)}")

    def restore(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """``surreal import`` of a backup set into the SurrealDB pod."""
        if params.get("service") != "surrealdb":
            raise VaporaError(
                f"restore supports service surrealdb, not {params.get('service')!r}."
            )
        path = self.root / "backups" / f"{params.get('backup')}-surrealdb.surql"
        if not path.is_file():
            raise VaporaError(f"backup {path.relative_to(self.root)} does not exist.")
        with path.open("rb") as source:
            _kubectl(
                [
                    "exec",
                    "-i",
                    "-n",
                    SYSTEM_NAMESPACE,
                    SURREAL_POD,
                    "--",
                    *_surreal("import"),
                ],
                stdin=source,
            )
        return Outcome(note=f"imported {path.relative_to(self.root)}")

    def slack(
        self, step: Step, params: dict[str, Any], names: dict[str, Value]
    ) -> Outcome:
        """Post params.message to params.webhook."""
        from vapora_infra.ops.notify import post_slack

        post_slack(str(params.get("webhook", "")), str(params.get("message", "")))
        return Outcome(note="notice sent")

    def _file(self, params: dict[str, Any]) -> Path:
        path = (self.root / str(params.get("file", ""))).resolve()
        if self.root.resolve() not in path.parents:
            raise VaporaError(
                f"file {params.get('file')!r} must lie inside the project."
            )
        return path


def rollback_version(
    engine: Engine, project: Project, service: str, wanted: object
) -> str:
    """``wanted``, or the last version a successful update deployed."""
    from vapora_infra.ops.upgrade import current_version, last_good_version

    if isinstance(wanted, str) and wanted:
        return wanted
    taskserv = project.taskservs.get(service)
    if taskserv is None:
        raise VaporaError(f"{service!r} is not a service; see taskservs/.")
    default = taskserv.taskserv.version
    state = engine.export()["deployment"] or {}
    current = current_version(state, service, default)
    return last_good_version(engine.history(), service, current, default)


def webhook_from_config(engine: Engine, project: Project) -> str | None:
    """The Slack webhook from the stack's secret config, or None."""
    key = f"{NAMESPACE}:{project.settings.notifications.slack_webhook_key}"
    return engine.get_config(key)


def _count(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise VaporaError(f"replicas {value!r} is not a whole number.") from None


def _surreal(verb: str) -> list[str]:
    # The image has no shell, so the binary runs directly. It reads the
    # credentials from SURREAL_USER and SURREAL_PASS in the pod's environment
    # (set from the vapora-secrets Secret); they never pass through this
    # process. Export writes to "-" (stdout); import reads the piped file.
    target = "-" if verb == "export" else "/dev/stdin"
    return [
        "/surreal",
        verb,
        "--conn",
        "http://localhost:8000",
        "--ns",
        "vapora",
        "--db",
        "vapora",
        target,
    ]


def _kubectl(args: list[str], **streams: Any) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise VaporaError("kubectl is not on PATH; backup and restore use it.")
    done = subprocess.run(
        [kubectl, *args], stderr=subprocess.PIPE, check=False, **streams
    )
    if done.returncode != 0:
        last = (done.stderr or b"").decode(errors="replace").strip().splitlines()
        raise VaporaError(
            f"kubectl {args[0]} failed: {last[-1] if last else 'no output'}"
        )
