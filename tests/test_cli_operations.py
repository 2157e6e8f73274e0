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


def test_scale_declined_confirmation_exits_1(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: "/usr/bin/pulumi")

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


def _kubeconfig(tmp_path: Path, server: str, context: str = "vapora-dev") -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        f"contexts: [{{name: {context}, context: {{cluster: c, user: u}}}}]\n"
        f"current-context: {context}\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    return path


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


COMMANDS = [["health"], ["logs", "developer"], ["dashboard"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_cluster_commands_report_a_refused_connection_in_one_line(
    root: Path, tmp_path: Path, command: list[str]
) -> None:
    server = f"http://127.0.0.1:{_closed_port()}"
    config = _kubeconfig(tmp_path, server)

    code, output = _run(root, *command, "--kubeconfig", str(config))

    assert code == 1, output
    assert output == (
        f"error: cannot reach the Kubernetes API at {server} (context "
        "vapora-dev): connection refused.\n"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_cluster_commands_report_a_forbidden_answer_in_one_line(
    root: Path, tmp_path: Path, command: list[str]
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Forbidden(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(403, "Forbidden")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Forbidden)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        code, output = _run(
            root,
            *command,
            "--kubeconfig",
            str(_kubeconfig(tmp_path, url, "other")),
            "--context",
            "other",
        )
    finally:
        server.shutdown()

    assert code == 1, output
    assert output == (
        f"error: the Kubernetes API at {url} (context other) refused the "
        "request: 403 Forbidden.\n"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_cluster_commands_on_eks_need_a_context_or_kubeconfig(
    root: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)

    code, output = _run(root, *command, "--stack", "prod")

    assert code == 1, output
    assert output.count("\n") == 1, output
    assert output.startswith(
        "error: cluster vapora-cluster runs on aws-eks; pass --context"
    ), output


@pytest.mark.parametrize(
    "args",
    [
        ["dashboard", "--port", "70000"],
        ["dashboard", "--port", "0"],
        ["logs", "developer", "--tail", "-5"],
        ["autoscale", "--all", "--once", "--nats-url", "http://127.0.0.1:4222"],
        ["autoscale", "--all", "--once", "--nats-url", "nats://"],
    ],
)
def test_out_of_range_options_are_usage_errors(root: Path, args: list[str]) -> None:
    code, output = _run(root, *args)

    assert code == 2, output
    assert "Invalid value" in output


def test_logs_of_an_unknown_service_is_refused_offline(root: Path) -> None:
    code, output = _run(root, "logs", "nosuch")

    assert code == 1
    assert output.count("\n") == 1, output
    assert "'nosuch' is neither a service nor an agent pool of stack dev" in output


def test_autoscale_reports_a_refused_nats_at_once(root: Path) -> None:
    import time

    url = f"nats://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    code, output = _run(root, "autoscale", "--all", "--once", "--nats-url", url)

    assert code == 1, output
    assert output == f"error: cannot reach NATS at {url}: connection refused.\n"
    assert time.monotonic() - started < 3


def test_scale_to_one_replica_reads_singular(root: Path) -> None:
    code, output = _run(root, "scale", "developer", "1", "-s", "dev")

    assert code == 0, output
    assert output == "developer on dev already has 1 replica.\n"


def test_scale_checks_the_pulumi_cli_before_asking(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)

    code, output = _run(root, "scale", "developer", "2", "-s", "dev", stdin="y\n")

    assert code == 1
    assert output.startswith("error: the pulumi CLI is not on PATH"), output
    assert "?" not in output


def test_scale_preview_is_allowed_on_a_deployments_managed_stack(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)

    code, output = _run(root, "scale", "developer", "7", "-s", "prod", "--preview")

    assert code == 1
    assert "Pulumi Deployments" not in output
    assert output.startswith("error: the pulumi CLI is not on PATH"), output


def test_upgrade_to_the_configured_version_needs_no_engine(root: Path) -> None:
    from vapora_infra.spec.project import load_project

    version = load_project(root, "dev").taskservs["vapora-backend"].taskserv.version

    code, output = _run(root, "upgrade", "vapora-backend", "--version", version)

    assert code == 0, output
    assert output == f"vapora-backend on dev is already at {version}.\n"


@pytest.mark.parametrize("command", [["status"], ["rollback", "vapora-backend"]])
def test_commands_never_create_a_missing_stack(
    root: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi import automation as auto
    from pulumi.automation._cmd import CommandResult

    def missing(**_: object) -> None:
        raise auto.StackNotFoundError(CommandResult("", "no stack named dev", 255))

    def create(**_: object) -> None:
        raise AssertionError("create_or_select_stack called")

    monkeypatch.setattr("shutil.which", lambda _name: "/usr/bin/pulumi")
    monkeypatch.setattr(auto, "select_stack", missing)
    monkeypatch.setattr(auto, "create_or_select_stack", create)

    code, output = _run(root, *command, "-s", "dev")

    assert code == 1, output
    assert output == (
        "error: stack dev does not exist in the backend; run pulumi stack init "
        "dev first.\n"
    )


def test_workflow_run_refuses_unused_variables(root: Path) -> None:
    code, output = _run(
        root,
        "workflow",
        "run",
        str(root / "workflows" / "upgrade-vapora.yaml"),
        "--var",
        "SERVICE=vapora-backend",
        "--var",
        "VERSON=0.3.0",
    )

    assert code == 2, output
    assert "VERSON not used by workflow upgrade-vapora" in output
