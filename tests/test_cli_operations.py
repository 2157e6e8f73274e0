"""The operations commands: refusals, exit codes and a light --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vapora_infra.cli import main


def _run(root: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-C", str(root), *args], input=stdin)
    return result.exit_code, result.output


@pytest.mark.parametrize("replicas", ["50", "0", "-1"])
def test_scale_refuses_developer_on_prod_outside_bounds(
    root: Path, replicas: str
) -> None:
    code, output = _run(root, "scale", "developer", replicas, "--stack", "prod")

    assert code == 1, output
    assert output.count("\n") == 1, output
    assert output.startswith(
        f"error: Pulumi.prod.yaml: vapora:agents.developer.replicas: {replicas} "
        "lies outside the pool's bounds 5..20"
    ), output


def test_scale_unknown_role_lists_valid_pools(root: Path) -> None:
    code, output = _run(root, "scale", "wizard", "3", "-s", "prod", "--yes")

    assert code == 1
    assert "'wizard' is not a pool of stack prod; pools: architect," in output
    assert "presenter, security, tester." in output


@pytest.mark.parametrize(
    "args",
    [
        ["scale", "developer"],
        ["scale", "developer", "many"],
        ["scale", "developer", "5", "6"],
        ["scale"],
    ],
)
def test_scale_usage_errors_exit_2(root: Path, args: list[str]) -> None:
    code, output = _run(root, *args)

    assert code == 2, output
    assert "Usage:" in output


def test_scale_to_the_current_size_changes_nothing(root: Path) -> None:
    code, output = _run(root, "scale", "developer", "5", "-s", "prod")

    assert code == 0, output
    assert "already has 5 replicas" in output


def test_scale_declined_confirmation_exits_1(root: Path) -> None:
    code, output = _run(root, "scale", "developer", "2", "-s", "dev", stdin="n\n")

    assert code == 1
    assert "Scale developer on stack dev from 1 to 2 replicas?" in output
    assert "Aborted" in output


def test_scale_of_a_deployments_managed_stack_names_the_key_to_commit(
    root: Path,
) -> None:
    assert (root / "Pulumi.prod.deploy.yaml").is_file()

    code, output = _run(root, "scale", "developer", "7", "-s", "prod", "--yes")

    assert code == 1
    assert output == (
        "error: stack prod is updated by Pulumi Deployments (Pulumi.prod.deploy.yaml), "
        "which reads its config from git; set vapora:agents.developer.replicas to 7 "
        "in Pulumi.prod.yaml (config: vapora:agents: developer: replicas), commit "
        "and push, and the deployment applies it.\n"
    )


def test_help_imports_no_pulumi_module(root: Path) -> None:
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from vapora_infra.cli import main\n"
        "commands = ['scale', 'autoscale', 'health', 'upgrade', 'rollback',\n"
        "            'status', 'logs', 'dashboard', 'workflow']\n"
        "for args in [['--help'], *([c, '--help'] for c in commands),\n"
        "             ['workflow', 'run', '--help']]:\n"
        "    assert CliRunner().invoke(main, args).exit_code == 0\n"
        "heavy = ('pulumi', 'kubernetes', 'nats', 'vapora_infra.ops')\n"
        "print(__import__('json').dumps(sorted(m for m in sys.modules\n"
        "      if m.split('.')[0] in heavy or m.startswith('vapora_infra.ops'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert json.loads(done.stdout) == []
