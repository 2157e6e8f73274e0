"""Commands that operate a deployed stack through the Pulumi engine.

Each command imports ``vapora_infra.ops`` (and through it Pulumi, the
Kubernetes client or nats-py) inside its body, so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vapora_infra.cli import project_root, resolve_stack, stack_option
from vapora_infra.errors import VaporaError

if TYPE_CHECKING:
    from vapora_infra.ops.autoscale import Decision, DepthReader
    from vapora_infra.ops.health import WorkloadHealth
    from vapora_infra.ops.runner import StepResult
    from vapora_infra.spec.project import Project

# Lets REPLICAS be negative: -1 reaches the bounds check instead of being
# taken for an unknown option, so the refusal names the pool's bounds.
_NEGATIVE_NUMBERS = {"ignore_unknown_options": True}


def register(group: click.Group) -> None:
    """Add the operations commands to the top-level group."""
    group.add_command(scale)
    group.add_command(autoscale)
    group.add_command(workflow)
    group.add_command(health)
    group.add_command(upgrade)
    group.add_command(rollback)
    group.add_command(status)
    group.add_command(logs)
    group.add_command(dashboard)


@click.command(context_settings=_NEGATIVE_NUMBERS)
@click.argument("role")
@click.argument("replicas", type=int)
@stack_option
@click.option("--preview", is_flag=True, help="Show the change; apply nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def scale(
    ctx: click.Context,
    role: str,
    replicas: int,
    stack: str | None,
    preview: bool,
    yes: bool,
) -> None:
    """Set an agent pool's replicas (its autoscaler floor) and update that pool."""
    from vapora_infra.ops.engine import Engine, require_pulumi_cli
    from vapora_infra.ops.scaling import (
        apply_scale,
        check_scale,
        refuse_if_deployments_managed,
    )
    from vapora_infra.spec.project import load_project

    root = project_root(ctx)
    project = load_project(root, resolve_stack(stack))
    request = check_scale(project, role, replicas)
    if not request.changes:
        click.echo(f"{role} on {project.stack} already has {_replicas(replicas)}.")
        return
    # A preview writes the stack file only for its own run and puts it back,
    # so it is safe on a stack that Pulumi Deployments updates.
    if not preview:
        refuse_if_deployments_managed(root, request)
    require_pulumi_cli()

    verb = "Preview scaling" if preview else "Scale"
    if not (yes or preview):
        click.confirm(
            f"{verb} {role} on stack {project.stack} from {request.current} to "
            f"{_replicas(replicas)}?",
            abort=True,
        )
    result = apply_scale(
        Engine(root, project.stack), request, preview=preview, on_output=_stream
    )

    done = "would change" if preview else "scaled"
    click.echo(
        f"{role} on {project.stack}: {done} {request.current} -> {replicas} "
        f"({result.summary()})"
    )


def _replicas(count: int) -> str:
    return f"{count} replica" if count == 1 else f"{count} replicas"


def _stream(line: str) -> None:
    click.echo(line.rstrip("\n"), err=True)


def cluster_options(func: Any) -> Any:
    """--kubeconfig and --context, which take priority over the stack's cluster."""
    func = click.option(
        "--context",
        "kube_context",
        default=None,
        help="Kubeconfig context (default: the stack's, else the file's current).",
    )(func)
    return click.option(
        "--kubeconfig",
        default=None,
        help="Kubeconfig file (default: the stack's, else ~/.kube/config).",
    )(func)


@click.command()
@click.option("--role", default=None, help="Watch this pool only.")
@click.option("--all", "all_pools", is_flag=True, help="Watch every autoscaled pool.")
@click.option("--once", is_flag=True, help="Decide once and exit.")
@click.option(
    "--interval",
    default="30s",
    show_default=True,
    help="Time between rounds, such as 30s or 2m.",
)
@stack_option
@click.option(
    "--nats-url",
    envvar="NATS_URL",
    default=None,
    callback=lambda _ctx, _param, value: _nats_url(value),
    help="NATS server for queue depth (env NATS_URL; default nats://127.0.0.1:4222).",
)
@click.option(
    "--surreal-url",
    envvar="SURREAL_URL",
    default=None,
    help="SurrealDB HTTP endpoint when the stack reads depth from SurrealDB.",
)
@click.option("--dry-run", is_flag=True, help="Decide and log; scale nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per decision.")
@click.pass_context
def autoscale(
    ctx: click.Context,
    role: str | None,
    all_pools: bool,
    once: bool,
    interval: str,
    stack: str | None,
    nats_url: str | None,
    surreal_url: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Scale agent pools on their queue depth with the scale-agents workflow."""
    if (role is None) == (not all_pools):
        raise click.UsageError("Pass either --role ROLE or --all.")
    seconds = _interval_seconds(ctx, interval, once)
    from vapora_infra.ops.autoscale import Autoscaler
    from vapora_infra.spec.project import load_project

    root = project_root(ctx)
    project = load_project(root, resolve_stack(stack))
    autoscaler = Autoscaler(
        root,
        project.stack,
        role,
        _depth_reader(project, nats_url, surreal_url),
        apply=not dry_run,
    )

    failed = False
    while True:
        try:
            decisions = autoscaler.run_once()
        except Exception as error:
            # A long-running autoscaler outlives a NATS restart; --once reports.
            if once or not isinstance(error, VaporaError):
                raise
            click.echo(f"error: {error}", err=True)
            decisions = []
        for decision in decisions:
            failed = failed or decision.error is not None
        _log_decisions(decisions, as_json)
        for decision in decisions:
            if decision.error is not None:
                click.echo(f"error: {decision.role}: {decision.error}", err=True)
        if once:
            break
        time.sleep(seconds)
    if failed:
        ctx.exit(1)


def _nats_url(value: str | None) -> str | None:
    from urllib.parse import urlsplit

    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("nats", "tls") or not parts.hostname:
        raise click.BadParameter(
            f"{value!r} is not a NATS URL such as nats://127.0.0.1:4222 or "
            "tls://nats.example.com:4222.",
            param_hint="--nats-url",
        )
    return value


def _interval_seconds(ctx: click.Context, interval: str, once: bool) -> int:
    from vapora_infra.spec.units import duration_seconds

    source = ctx.get_parameter_source("interval")
    if once and source is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("Pass either --once or --interval, not both.")
    try:
        seconds = duration_seconds(interval)
    except ValueError:
        raise click.BadParameter(
            f"{interval!r} is not a duration such as 30s or 2m.",
            param_hint="--interval",
        ) from None
    if seconds < 1:
        raise click.BadParameter("must be at least 1s.", param_hint="--interval")
    return seconds


def _depth_reader(
    project: Project, nats_url: str | None, surreal_url: str | None
) -> DepthReader:
    from functools import partial

    from vapora_infra.ops import queue

    settings = project.settings.autoscaler
    if settings.queue_source == "nats":
        url = nats_url or queue.DEFAULT_NATS_URL
        return partial(queue.nats_depths, url, settings.stream)
    source = queue.SurrealSource(
        url=surreal_url or queue.DEFAULT_SURREAL_URL,
        user=os.environ.get("SURREAL_USER"),
        password=os.environ.get("SURREAL_PASS"),
    )
    return lambda roles: {role: source.depth(role) for role in roles}


def _log_decisions(decisions: list[Decision], as_json: bool) -> None:
    if as_json:
        for decision in decisions:
            click.echo(json.dumps(decision.as_dict()))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title_justify="left")
    for column in ("time", "role", "depth", "current", "action", "target", "result"):
        table.add_column(column, justify="right" if column != "role" else "left")
    for decision in decisions:
        if decision.error is not None:
            # The error itself goes to stderr as one line, unwrapped.
            result = "[red]failed[/red]"
        elif decision.applied:
            result = "scaled"
        else:
            result = "decided" if decision.action != "no_change" else ""
        table.add_row(
            decision.time,
            decision.role,
            str(decision.depth),
            str(decision.current),
            decision.action,
            str(decision.target),
            result,
        )
    Console(soft_wrap=True).print(table)


@click.group()
def workflow() -> None:
    """Run workflow files."""


@workflow.command("run")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="A ${KEY} value; repeat for more.",
)
@stack_option
@click.option("--nats-url", envvar="NATS_URL", default=None, help="For queries.")
@click.pass_context
def run_workflow(
    ctx: click.Context,
    file: Path,
    variables: tuple[str, ...],
    stack: str | None,
    nats_url: str | None,
) -> None:
    """Run a workflow's steps in depends_on order, then its notices."""
    from vapora_infra.ops.notify import post_slack
    from vapora_infra.ops.runner import Runner, unused_variables
    from vapora_infra.ops.tasks import TASK_VARIABLES, Tasks, webhook_from_config
    from vapora_infra.spec.files import read_yaml
    from vapora_infra.spec.project import load_project
    from vapora_infra.spec.workflow import Workflow

    values = _variables(variables)
    root = project_root(ctx)
    project = load_project(root, resolve_stack(stack))
    flow = _load_workflow(file, read_yaml, Workflow)
    unused = unused_variables(flow, values, TASK_VARIABLES)
    if unused:
        raise click.BadParameter(
            f"{', '.join(unused)} not used by workflow {flow.metadata.name}; "
            "remove or correct the name.",
            param_hint="--var",
        )
    values.setdefault("STACK", project.stack)
    tasks = Tasks(
        root,
        project,
        values,
        nats_url=nats_url,
        on_output=_stream,
        rollback_on_failure=flow.spec.rollback_on_failure,
    )

    def webhook(name: str) -> str | None:
        # Tests and CI may pass the URL by environment; otherwise it is the
        # stack's secret config. Either way it is never shown.
        return os.environ.get(name) or webhook_from_config(tasks.engine(), project)

    runner = Runner(
        flow,
        tasks.handlers(),
        values,
        resolve_lazy=webhook,
        notify=post_slack,
        on_step=_print_step,
    )
    result = runner.run()

    for notice in result.notices:
        click.echo(f"notice {notice}")
    if not result.succeeded:
        failed = next(s for s in result.steps if s.status == "failed")
        raise VaporaError(
            f"workflow {flow.metadata.name} failed at step {failed.name}: {failed.note}"
        )
    click.echo(f"workflow {flow.metadata.name} succeeded ({len(result.steps)} steps)")


@click.command()
@stack_option
@cluster_options
@click.pass_context
def health(
    ctx: click.Context,
    stack: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> None:
    """Ready/desired replicas, restarts and scalers of every VAPORA workload."""
    from vapora_infra.ops.health import workload_health

    _, client = _cluster_client(ctx, stack, kubeconfig, kube_context)
    rows = workload_health(client)

    _print_health(rows)
    sick = [row for row in rows if not row.healthy]
    if not rows:
        raise VaporaError("no Deployment or StatefulSet found in VAPORA's namespaces.")
    if sick:
        names = ", ".join(f"{row.name} {row.ready}/{row.desired}" for row in sick)
        raise VaporaError(f"{len(sick)} unhealthy: {names}")


@click.command()
@click.argument("service")
@click.option("--version", "version", required=True, help="Version to run, e.g. 0.3.0.")
@stack_option
@click.option(
    "--rollback/--no-rollback",
    default=None,
    help="Restore the old version if the update fails "
    "(default: rollback_on_failure of workflows/upgrade-vapora.yaml).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def upgrade(
    ctx: click.Context,
    service: str,
    version: str,
    stack: str | None,
    rollback: bool | None,
    yes: bool,
) -> None:
    """Run SERVICE at another version, updating only that service."""
    from vapora_infra.spec.project import load_project

    root = project_root(ctx)
    project = load_project(root, resolve_stack(stack))
    if rollback is None:
        flow = project.workflows.get("upgrade-vapora")
        rollback = bool(flow and flow.spec.rollback_on_failure)
    _upgrade(root, project, service, version, rollback, yes, "Upgrade")


@click.command()
@click.argument("service")
@click.option("--to-version", default=None, help="Default: the last good version.")
@stack_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rollback(
    ctx: click.Context,
    service: str,
    to_version: str | None,
    stack: str | None,
    yes: bool,
) -> None:
    """Return SERVICE to an earlier version, from --to-version or the history."""
    from vapora_infra.ops.engine import Engine
    from vapora_infra.ops.tasks import rollback_version
    from vapora_infra.ops.upgrade import check_upgrade
    from vapora_infra.spec.project import load_project

    root = project_root(ctx)
    project = load_project(root, resolve_stack(stack))
    if to_version is None:
        # Check the name before the engine is needed to look up the history.
        check_upgrade(project, service, "0.0.0")
        to_version = rollback_version(
            Engine(root, project.stack), project, service, None
        )
    _upgrade(root, project, service, to_version, False, yes, "Roll back")


@click.command()
@stack_option
@click.pass_context
def status(ctx: click.Context, stack: str | None) -> None:
    """Outputs, endpoints, versions and pool sizes of the stack, in one table."""
    from rich.console import Console
    from rich.table import Table

    from vapora_infra.ops.engine import Engine
    from vapora_infra.ops.state import deployed_versions
    from vapora_infra.spec.project import load_project

    root = project_root(ctx)
    project = load_project(root, resolve_stack(stack))
    engine = Engine(root, project.stack)
    outputs = engine.outputs()
    versions = deployed_versions(engine.export()["deployment"] or {})

    table = Table(title=f"Stack {project.stack}", title_justify="left")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("value")
    for key, value in sorted(outputs.items()):
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        table.add_row("output", key, shown)
    for name, version in sorted(versions.items()):
        table.add_row("version", name, version)
    for role, pool in project.settings.agents.items():
        low, high = pool.bounds
        table.add_row("pool", role, f"{pool.replicas} (bounds {low}..{high})")
    Console(soft_wrap=True).print(table)


@click.command()
@click.argument("service")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new lines.")
@click.option(
    "--tail",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="Lines per pod.",
)
@stack_option
@cluster_options
@click.pass_context
def logs(
    ctx: click.Context,
    service: str,
    follow: bool,
    tail: int,
    stack: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> None:
    """Logs of SERVICE's pods: a service, or an agent pool's role."""
    from kubernetes import client as k8s

    from vapora_infra.ops.health import NAMESPACES, api_errors

    project = _cluster_project(ctx, stack, kubeconfig, kube_context)
    app = _log_target(project, service)
    _, client = _cluster_client(ctx, stack, kubeconfig, kube_context, project)
    core: Any = k8s.CoreV1Api(client)
    selector = f"app.kubernetes.io/name={app}"
    with api_errors(client):
        pods = [
            pod
            for namespace in NAMESPACES
            for pod in core.list_namespaced_pod(
                namespace, label_selector=selector
            ).items
        ]
    if not pods:
        raise VaporaError(f"no pod has label {selector} in {', '.join(NAMESPACES)}.")
    if follow and len(pods) > 1:
        click.echo(f"following {pods[0].metadata.name} of {len(pods)} pods", err=True)
        pods = pods[:1]

    with api_errors(client):
        for pod in pods:
            meta = pod.metadata
            answer = core.read_namespaced_pod_log(
                meta.name,
                meta.namespace,
                tail_lines=tail,
                follow=follow,
                _preload_content=False,
            )
            for line in answer.stream():
                for text in line.decode(errors="replace").splitlines():
                    click.echo(f"{meta.name} {text}")


@click.command()
@click.option("--port-forward", is_flag=True, help="Forward Grafana to localhost:3000.")
@click.option(
    "--port",
    default=3000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Local port.",
)
@stack_option
@cluster_options
@click.pass_context
def dashboard(
    ctx: click.Context,
    port_forward: bool,
    port: int,
    stack: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> None:
    """Find the Grafana service; print how to reach it, or forward it."""
    import shutil
    import subprocess

    from kubernetes import client as k8s

    from vapora_infra.ops.health import api_errors

    project, client = _cluster_client(ctx, stack, kubeconfig, kube_context)
    core: Any = k8s.CoreV1Api(client)
    with api_errors(client):
        found = core.list_service_for_all_namespaces(
            label_selector="app.kubernetes.io/name=grafana"
        ).items
    if not found:
        raise VaporaError(
            "no Service labelled app.kubernetes.io/name=grafana; is the grafana "
            "add-on enabled in vapora:cluster.addons?"
        )
    service = found[0]
    namespace, name = service.metadata.namespace, service.metadata.name
    remote = service.spec.ports[0].port
    command = [
        "kubectl",
        "port-forward",
        "-n",
        namespace,
        f"svc/{name}",
        f"{port}:{remote}",
    ]
    click.echo(f"Grafana: service {namespace}/{name} port {remote}")

    if not port_forward:
        click.echo(
            f"reach it with: {' '.join(command)}  then open http://localhost:{port}"
        )
        return
    # The kubernetes client forwards single connections only; kubectl keeps a
    # listener open for the browser, so the forward runs through kubectl.
    if shutil.which("kubectl") is None:
        raise VaporaError("kubectl is not on PATH; run the command above elsewhere.")
    click.echo(f"forwarding to http://localhost:{port} (Ctrl-C stops)")
    settings = project.settings.cluster.kubeconfig
    path = kubeconfig or (settings.path if settings else None)
    chosen = kube_context or (settings.context if settings else None)
    if path is None and chosen is None:
        # kubectl cannot read the stack's kubeconfig output from here.
        raise VaporaError(
            f"stack {project.stack} runs on aws-eks; pass --context or "
            "--kubeconfig to forward Grafana with kubectl."
        )
    if path is not None:
        command[1:1] = ["--kubeconfig", os.path.expanduser(path)]
    if chosen is not None:
        command[1:1] = ["--context", chosen]
    subprocess.run(command, check=False)


def _cluster_project(
    ctx: click.Context,
    stack: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> Project:
    from vapora_infra.spec.project import load_project, stack_config_from_file

    root = project_root(ctx)
    name = resolve_stack(stack)
    if kubeconfig is None and kube_context is None:
        return load_project(root, name)
    raw = stack_config_from_file(root, name)
    cluster = raw.get("cluster")
    stacked = cluster.get("kubeconfig") if isinstance(cluster, dict) else None
    if isinstance(cluster, dict) and isinstance(stacked, dict):
        # The options replace the stack's kubeconfig, so the load checks the
        # file and context that are used rather than the ones set aside.
        chosen = {**stacked}
        if kubeconfig is not None:
            chosen["path"] = kubeconfig
        if kube_context is not None:
            chosen["context"] = kube_context
        raw = {**raw, "cluster": {**cluster, "kubeconfig": chosen}}
    return load_project(root, name, raw)


def _cluster_client(
    ctx: click.Context,
    stack: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    project: Project | None = None,
) -> tuple[Project, Any]:
    from vapora_infra.ops.engine import Engine
    from vapora_infra.ops.health import api_client

    if project is None:
        project = _cluster_project(ctx, stack, kubeconfig, kube_context)
    loaded = project

    def stack_kubeconfig() -> Any:
        return Engine(loaded.root, loaded.stack).output("kubeconfig")

    client = api_client(
        project.settings.cluster, kubeconfig, kube_context, stack_kubeconfig
    )
    return project, client


def _log_target(project: Project, service: str) -> str:
    from vapora_infra.components.agent_pool import deployment_name
    from vapora_infra.errors import SpecError
    from vapora_infra.spec.project import NAMESPACE

    services = sorted(project.enabled_taskservs())
    roles = sorted(
        role for role, pool in project.settings.agents.items() if pool.enabled
    )
    if service in services:
        return service
    if service in roles:
        return deployment_name(service)
    raise SpecError(
        project.config_file,
        f"{NAMESPACE}:services",
        service,
        f"is neither a service nor an agent pool of stack {project.stack}; "
        f"services: {', '.join(services)}; pools: {', '.join(roles) or '(none)'}.",
    )


def _upgrade(
    root: Path,
    project: Project,
    service: str,
    version: str,
    rollback_on_failure: bool,
    yes: bool,
    verb: str,
) -> None:
    from vapora_infra.ops.engine import Engine, require_pulumi_cli
    from vapora_infra.ops.upgrade import (
        check_upgrade,
        refuse_upgrade_if_deployments_managed,
    )
    from vapora_infra.ops.upgrade import (
        upgrade as run_upgrade,
    )

    request = check_upgrade(project, service, version)
    if version == request.default_version:
        click.echo(f"{service} on {project.stack} is already at {version}.")
        return
    refuse_upgrade_if_deployments_managed(root, request)
    require_pulumi_cli()
    if not yes:
        click.confirm(
            f"{verb} {service} on stack {project.stack} to {version}?", abort=True
        )
    result = run_upgrade(
        Engine(root, project.stack),
        request,
        rollback_on_failure=rollback_on_failure,
        on_output=_stream,
    )
    click.echo(
        f"{service} on {project.stack}: {result.previous} -> {result.version} "
        f"({result.changes})"
    )


def _variables(pairs: tuple[str, ...]) -> dict[str, str]:
    import re

    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise click.BadParameter(
                f"{pair!r} is not KEY=VALUE with KEY a name such as AGENT_ROLE.",
                param_hint="--var",
            )
        found[key] = value
    return found


def _load_workflow(file: Path, reader: Any, model: Any) -> Any:
    from pydantic import ValidationError

    from vapora_infra.spec.base import spec_error

    data = reader(file, file.name)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise spec_error(file.name, error) from None


def _print_step(step: StepResult) -> None:
    colour = {"ok": "green", "skipped": "yellow", "rolled back": "yellow"}.get(
        step.status, "red"
    )
    from rich.console import Console

    Console(soft_wrap=True, highlight=False).print(
        f"[{colour}]{step.status:>11}[/{colour}] {step.name} ({step.task}, "
        f"{step.seconds:.1f}s) {step.note}"
    )


def _print_health(rows: list[WorkloadHealth]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="VAPORA workloads", title_justify="left")
    for column in (
        "namespace",
        "kind",
        "name",
        "ready",
        "restarts",
        "scaler",
        "scaler current/desired",
        "state",
    ):
        table.add_column(column)
    for row in rows:
        scaled = ""
        if row.scaler_current is not None:
            scaled = f"{row.scaler_current}/{row.scaler_desired}"
        state = "[green]ok[/green]" if row.healthy else "[red]unhealthy[/red]"
        table.add_row(
            row.namespace,
            row.kind,
            row.name,
            f"{row.ready}/{row.desired}",
            str(row.restarts),
            row.scaler,
            scaled,
            state,
        )
    Console(soft_wrap=True).print(table)
