"""Commands that operate a deployed stack through the Pulumi engine.

Each command imports ``vapora_infra.ops`` (and through it Pulumi, the
Kubernetes client or nats-py) inside its body, so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

import click

from vapora_infra.cli import project_root, resolve_stack, stack_option

if TYPE_CHECKING:
    from vapora_infra.ops.autoscale import Decision, DepthReader
    from vapora_infra.spec.project import Project

# Lets REPLICAS be negative: -1 reaches the bounds check instead of being
# taken for an unknown option, so the refusal names the pool's bounds.
_NEGATIVE_NUMBERS = {"ignore_unknown_options": True}


def register(group: click.Group) -> None:
    """Add the operations commands to the top-level group."""
    group.add_command(scale)
    group.add_command(autoscale)


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
    from vapora_infra.ops.engine import Engine
    from vapora_infra.ops.scaling import (
        apply_scale,
        check_scale,
        refuse_if_deployments_managed,
    )
    from vapora_infra.spec.project import load_project

    root = project_root(ctx)
    project = load_project(root, resolve_stack(stack))
    request = check_scale(project, role, replicas)
    refuse_if_deployments_managed(root, request)

    if not request.changes:
        click.echo(f"{role} on {project.stack} already has {replicas} replicas.")
        return
    verb = "Preview scaling" if preview else "Scale"
    if not (yes or preview):
        click.confirm(
            f"{verb} {role} on stack {project.stack} from {request.current} to "
            f"{replicas} replicas?",
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


def _stream(line: str) -> None:
    click.echo(line.rstrip("\n"), err=True)


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
            from vapora_infra.errors import VaporaError

            # A long-running autoscaler outlives a NATS restart; --once reports.
            if once or not isinstance(error, VaporaError):
                raise
            click.echo(f"error: {error}", err=True)
            decisions = []
        for decision in decisions:
            failed = failed or decision.error is not None
        _log_decisions(decisions, as_json)
        if once:
            break
        time.sleep(seconds)
    if failed:
        ctx.exit(1)


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
            result = f"[red]{decision.error}[/red]"
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
