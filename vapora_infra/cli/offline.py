"""Engine-free commands: validate, plan and render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vapora_infra.cli import project_root, resolve_stack, stack_option
from vapora_infra.errors import VaporaError

STATEFULSET = "kubernetes:apps/v1:StatefulSet"

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
    project = load_project(project_root(ctx), name, check_context=True)
    stages = plan_stages(project)

    click.echo(
        f"{project.config_file}: valid ({len(project.taskservs)} taskservs, "
        f"{len(project.workflows)} workflows, {len(project.settings.agents)} agent "
        f"pools, {len(stages)} deploy stages)"
    )


@click.command()
@stack_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="JSON: the stages, counts and one object per resource.",
)
@click.option(
    "--graph",
    "graph_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=lambda _ctx, _param, value: _graph_path(value),
    help="Write the deploy graph: .mmd or .md (Mermaid), .dot or .gv "
    "(Graphviz); an .svg beside it when Graphviz's dot is installed.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A `pulumi stack export` file; changes Kubernetes cannot apply in "
    "place (StatefulSet volume claims, selectors) are refused.",
)
@click.pass_context
def plan(
    ctx: click.Context,
    stack: str | None,
    as_json: bool,
    graph_file: Path | None,
    state_file: Path | None,
) -> None:
    """Show what `pulumi up` would create, stage by stage, without an engine."""
    previous = _read_export(state_file) if state_file is not None else None
    project, recording = _record(ctx, stack)
    if previous is not None and state_file is not None:
        _refuse_immutable_changes(recording, previous, state_file)

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
    from vapora_infra.offline.render import charts, prepare
    from vapora_infra.offline.render import render as write

    # A directory that cannot take the files is refused before the program runs.
    prepare(out)
    _, recording = _record(ctx, stack)
    written = write(recording, out)

    listed = charts(recording)
    click.echo(f"wrote {len(written)} files to {out}")
    for chart in listed:
        click.echo(f"  chart {chart['chart']} {chart['version']} ({chart['name']})")


GRAPH_SUFFIXES = (".mmd", ".md", ".dot", ".gv")


def _graph_path(path: Path | None) -> Path | None:
    """The --graph file, checked before any work is done."""
    if path is None:
        return None
    if path.suffix not in GRAPH_SUFFIXES:
        raise click.BadParameter(
            f"{str(path)!r} has no graph suffix; accepted: "
            + ", ".join(GRAPH_SUFFIXES)
            + "."
        )
    if not path.parent.is_dir():
        raise click.BadParameter(f"{str(path.parent)!r} is not a directory.")
    return path


def _read_export(path: Path) -> dict[str, dict[str, Any]]:
    """StatefulSets of a stack export, by resource name."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        resources = data["deployment"].get("resources") or []
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise VaporaError(
            f"{path}: is not a `pulumi stack export` file (JSON with "
            "deployment.resources)."
        ) from None
    return {
        str(r.get("urn", "")): r
        for r in resources
        if isinstance(r, dict) and r.get("type") == STATEFULSET
    }


def _refuse_immutable_changes(
    recording: Recording, previous: dict[str, dict[str, Any]], state_file: Path
) -> None:
    from vapora_infra.offline.immutable import immutable_changes

    stacks = {urn.split("::")[0].removeprefix("urn:pulumi:") for urn in previous}
    stacks.discard("")
    by_name = {urn.rsplit("::", 1)[-1]: state for urn, state in previous.items()}
    if stacks and stacks != {recording.stack}:
        raise VaporaError(
            f"{state_file}: is an export of stack {', '.join(sorted(stacks))}, "
            f"not {recording.stack}; export the stack you plan."
        )
    found = []
    for registration in recording.by_type(STATEFULSET):
        before = by_name.get(registration.name)
        if before is not None:
            for change in immutable_changes(before, registration.inputs):
                found.append(f"{registration.name}: {change}")
    for line in found:
        click.echo(f"immutable: {line}", err=True)
    if found:
        raise VaporaError(
            f"{state_file}: {len(found)} StatefulSet change(s) cannot be applied in "
            "place and would replace the StatefulSet; see the lines above."
        )


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

    # A pipe gets full names, not names cut to 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
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
