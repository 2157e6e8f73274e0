"""Engine-free commands: validate, plan and render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from vapora_infra.cli import project_root, resolve_stack, stack_option

if TYPE_CHECKING:
    from vapora_infra.offline.recorder import Recording
    from vapora_infra.spec.project import Project


def register(group: click.Group) -> None:
    """Add the offline commands to the top-level group."""
    group.add_command(validate)
    group.add_command(plan)
    group.add_command(render)


@click.command()
@stack_option
@click.pass_context
def validate(ctx: click.Context, stack: str | None) -> None:
    """Check the stack config, taskservs and workflows; register nothing."""
    from vapora_infra.spec.project import load_project
    from vapora_infra.spec.stages import plan_stages

    name = resolve_stack(stack)
    project = load_project(project_root(ctx), name)
    stages = plan_stages(project)

    click.echo(
        f"{project.config_file}: valid ({len(project.taskservs)} taskservs, "
        f"{len(project.workflows)} workflows, {len(project.settings.agents)} agent "
        f"pools, {len(stages)} deploy stages)"
    )


@click.command()
@stack_option
@click.option("--json", "as_json", is_flag=True, help="One object per resource.")
@click.option(
    "--graph",
    "graph_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the deploy graph: .mmd/.md (Mermaid) or .dot (Graphviz).",
)
@click.pass_context
def plan(
    ctx: click.Context, stack: str | None, as_json: bool, graph_file: Path | None
) -> None:
    """Show what `pulumi up` would create, stage by stage, without an engine."""
    project, recording = _record(ctx, stack)

    if as_json:
        from vapora_infra.offline.plan import to_json

        json.dump(to_json(recording), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        _print_plan(project, recording)
    if graph_file is not None:
        from vapora_infra.offline.graph import deploy_graph, write_graph

        for path in write_graph(deploy_graph(recording), graph_file):
            click.echo(f"wrote {path}", err=as_json)


@click.command()
@stack_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for one YAML file per Kubernetes object.",
)
@click.pass_context
def render(ctx: click.Context, stack: str | None, out: Path) -> None:
    """Write every Kubernetes object as kubectl-appliable YAML."""
    from vapora_infra.offline.render import charts
    from vapora_infra.offline.render import render as write

    _, recording = _record(ctx, stack)
    written = write(recording, out)

    listed = charts(recording)
    click.echo(f"wrote {len(written)} files to {out}")
    for chart in listed:
        click.echo(f"  chart {chart['chart']} {chart['version']} ({chart['name']})")


def _record(ctx: click.Context, stack: str | None) -> tuple[Project, Recording]:
    from vapora_infra.offline.recorder import record
    from vapora_infra.spec.project import load_project
    from vapora_infra.spec.stages import plan_stages

    project = load_project(project_root(ctx), resolve_stack(stack))
    # Every check across files runs before the mock engine starts, so a bad
    # input stops with its one-line error and nothing half registered.
    plan_stages(project)
    return project, record(project)


def _print_plan(project: Project, recording: Recording) -> None:
    from rich.console import Console
    from rich.table import Table

    from vapora_infra.offline.plan import counts_by_type, stages

    console = Console()
    console.print(
        f"[bold]Plan for stack {project.stack}[/bold] "
        f"(engine-free: Pulumi's mock engine, nothing deployed)"
    )
    for number, stage in enumerate(stages(recording), start=1):
        table = Table(title=f"{number}. {stage.name}", title_justify="left")
        table.add_column("type")
        table.add_column("name")
        table.add_column("protect")
        table.add_column("timeout")
        for registration in stage.resources:
            table.add_row(
                registration.type,
                registration.name,
                "yes" if registration.protect else "",
                registration.timeouts.get("create", ""),
            )
        if not stage.resources:
            table.add_row("(no resources: checks only)", "", "", "")
        console.print(table)
    notes = recording.outputs.get("cluster_notes") or []
    for note in notes:
        console.print(f"note: {note}")
    counts = Table(title="Resources by type", title_justify="left")
    counts.add_column("type")
    counts.add_column("count", justify="right")
    for type_token, count in sorted(counts_by_type(recording).items()):
        counts.add_row(type_token, str(count))
    counts.add_row("[bold]total[/bold]", f"[bold]{len(recording.resources)}[/bold]")
    console.print(counts)
