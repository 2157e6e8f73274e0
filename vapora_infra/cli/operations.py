"""Commands that operate a deployed stack through the Pulumi engine.

Each command imports ``vapora_infra.ops`` (and through it Pulumi, the
Kubernetes client or nats-py) inside its body, so ``--help`` stays fast.
"""

from __future__ import annotations

import click

from vapora_infra.cli import project_root, resolve_stack, stack_option

# Lets REPLICAS be negative: -1 reaches the bounds check instead of being
# taken for an unknown option, so the refusal names the pool's bounds.
_NEGATIVE_NUMBERS = {"ignore_unknown_options": True}


def register(group: click.Group) -> None:
    """Add the operations commands to the top-level group."""
    group.add_command(scale)


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
