"""The ``vapora-infra`` command line.

Commands import Pulumi and the Kubernetes client inside their bodies, so that
``--help`` and usage errors answer at interpreter speed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from vapora_infra.errors import VaporaError

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """A group that turns every VaporaError into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VaporaError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "--cwd",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the nearest parent holding Pulumi.yaml).",
)
@click.version_option(package_name="vapora-infra")
@click.pass_context
def main(ctx: click.Context, cwd: Path | None) -> None:
    """Deploy and operate VAPORA with Pulumi."""
    ctx.obj = cwd


def project_root(ctx: click.Context) -> Path:
    """The project directory chosen by -C, or found from the working directory."""
    from vapora_infra.spec.project import find_root

    start = ctx.find_root().obj
    return find_root((start or Path.cwd()).resolve())


def stack_option(func: F) -> F:
    """The --stack option every command shares."""
    return click.option(
        "-s",
        "--stack",
        default=None,
        help="Stack name (default: $PULUMI_STACK or dev).",
    )(func)


def resolve_stack(stack: str | None) -> str:
    """The named stack, or the default one."""
    from vapora_infra.spec.project import default_stack

    return stack or default_stack()


from vapora_infra.cli import offline as _offline  # noqa: E402

_offline.register(main)

from vapora_infra.cli import operations as _operations  # noqa: E402

_operations.register(main)
