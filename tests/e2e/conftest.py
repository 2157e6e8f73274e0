"""The end-to-end stack: a temp copy of the project on the local kwok cluster.

Every test in this package shares one `dev` stack and runs in file order, each
step starting from the state the previous one left. e2e/run.sh starts the
cluster and exports what these fixtures read; run alone, the fixtures find the
tool cache and cluster the same way e2e/cluster.sh does.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
STACK = "dev"
PASSPHRASE = "vapora-e2e"
SECRET_KEYS = ("db-password", "jwt-secret", "claude-key", "openai-key", "gemini-key")
# Every deploy step's timeout in the temp copy. The repository's workflow
# allows 10 to 60 minutes per step; under kwok a pod is ready within seconds,
# so a minute is ample for a good rollout and makes a never-ready one fail
# quickly instead of holding the suite for half an hour.
STEP_TIMEOUT = "1m"
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py")
PROJECT_DIRS = ("taskservs", "workflows", "migrations")
NAMESPACES = ("vapora-system", "vapora-agents")
Completed = subprocess.CompletedProcess[str]
# One command of the suite: generous, but bounded so a hung engine fails.
COMMAND_TIMEOUT = 600


@dataclass
class Timings:
    """Wall time of each step, written as TSV after every step."""

    path: Path
    rows: list[tuple[str, float]] = field(default_factory=list)

    def record(self, step: str, seconds: float) -> None:
        """Add one row and rewrite the file."""
        self.rows.append((step, seconds))
        lines = [f"{name}\t{value:.1f}" for name, value in self.rows]
        self.path.write_text("\n".join(lines) + "\n")


@dataclass
class Project:
    """The temp project, its stack and the cluster it deploys to."""

    root: Path
    env: dict[str, str]
    kubeconfig: Path
    context: str
    timings: Timings

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
    ) -> Completed:
        """Run a command in the project directory; show its output on failure."""
        result = subprocess.run(
            list(args),
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout[-6000:]}\n"
                f"--- stderr\n{result.stderr[-6000:]}"
            )
        return result

    def pulumi(self, *args: str, check: bool = True) -> Completed:
        """`pulumi ARGS --stack dev --non-interactive`."""
        return self.run(
            "pulumi", *args, "--stack", STACK, "--non-interactive", check=check
        )

    def up(self, event_log: Path, *extra: str) -> Completed:
        """`pulumi up` writing the engine's events to ``event_log``."""
        return self.pulumi(
            "up", "--yes", "--skip-preview", "--event-log", str(event_log), *extra
        )

    def start_up(self, event_log: Path, *extra: str) -> subprocess.Popen[str]:
        """Start `pulumi up` without waiting for it."""
        command = ["pulumi", "up", "--yes", "--skip-preview", "--stack", STACK]
        command += ["--non-interactive", "--event-log", str(event_log), *extra]
        return subprocess.Popen(
            command,
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group, so the plugins it starts can be ended
            # with it when it is cut off.
            start_new_session=True,
        )

    def cli(self, *args: str, check: bool = True) -> Completed:
        """The project's own CLI, run on the temp project."""
        return self.run(str(REPO / ".venv/bin/vapora-infra"), *args, check=check)

    def kubectl(self, *args: str, check: bool = True) -> Completed:
        """kubectl against the kwok cluster."""
        return self.run(
            "kubectl", "--kubeconfig", str(self.kubeconfig), *args, check=check
        )

    def kube_json(self, *args: str) -> dict[str, Any]:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def export(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """The stack's checkpoint, as `pulumi stack export` prints it.

        Secret values are encrypted afresh on every export; compare two
        exports with ``show_secrets``.
        """
        flags = ["--show-secrets"] if show_secrets else []
        return json.loads(self.pulumi("stack", "export", *flags).stdout)

    def config_set(self, key: str, value: str, *, secret: bool = False) -> None:
        """`pulumi config set --path KEY VALUE`."""
        flags = ["--secret"] if secret else ["--plaintext"]
        self.pulumi("config", "set", "--path", *flags, key, value)


@dataclass(frozen=True)
class Event:
    """One engine event of an update: its order, kind, operation and URN."""

    sequence: int
    kind: str
    op: str
    urn: str
    type: str


def read_events(event_log: Path) -> list[Event]:
    """The resource events of an `--event-log` file, in engine order."""
    events: list[Event] = []
    for line in event_log.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        for kind in ("resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
            if kind in record:
                meta = record[kind].get("metadata", {})
                events.append(
                    Event(
                        record["sequence"],
                        kind,
                        meta.get("op", ""),
                        meta.get("urn", ""),
                        meta.get("type", ""),
                    )
                )
    return sorted(events, key=lambda event: event.sequence)


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The `dev` stack of a temp copy of the project, configured for kwok."""
    bin_dir = _tool_bin()
    kubeconfig = Path(
        os.environ.get("VAPORA_E2E_KUBECONFIG")
        or _cache_root() / "state" / "kubeconfig"
    )
    base = tmp_path_factory.mktemp("vapora-e2e")
    root = base / "project"
    state = base / "state"
    state.mkdir()
    _copy_project(root)

    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{REPO / '.venv/bin'}{os.pathsep}{env['PATH']}",
        KUBECONFIG=str(kubeconfig),
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        # Enables `--event-log`, the engine's own record of operation order.
        PULUMI_DEBUG_COMMANDS="true",
        PULUMI_HOME=str(base / "pulumi-home"),
        PULUMI_STACK=STACK,
    )
    env.pop("PULUMI_ACCESS_TOKEN", None)
    timings = Timings(
        Path(os.environ.get("VAPORA_E2E_TIMINGS") or base / "timings.tsv")
    )
    timings.path.write_text("")
    probe = Project(root, env, kubeconfig, "", timings)
    if probe.kubectl("get", "--raw", "/readyz", check=False).returncode != 0:
        pytest.fail(f"no cluster answers at {kubeconfig}; run e2e/run.sh")
    context = probe.kubectl("config", "current-context").stdout.strip()
    found = Project(root, env, kubeconfig, context, timings)

    found.run("pulumi", "stack", "init", STACK, "--non-interactive")
    found.config_set("vapora:cluster.kubeconfig.path", str(kubeconfig))
    found.config_set("vapora:cluster.kubeconfig.context", context)
    for key in SECRET_KEYS:
        found.config_set(
            f"vapora:secretValues.vapora-secrets.{key}", f"e2e-{key}", secret=True
        )
    yield found


class Stopwatch:
    """Times a block and records it under a step name."""

    def __init__(self, timings: Timings, step: str) -> None:
        self.timings = timings
        self.step = step
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.start
        self.timings.record(self.step, self.seconds)


def interrupt(process: subprocess.Popen[str], times: int) -> str:
    """Send SIGINT ``times`` times, as a user pressing Ctrl-C would; wait."""
    for _ in range(times):
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
    output, _ = process.communicate(timeout=COMMAND_TIMEOUT)
    # A hard stop can leave the language host or provider behind.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return output


def wait_for_event(
    event_log: Path,
    process: subprocess.Popen[str],
    matches: Sequence[str],
    timeout: float = 300,
) -> Event:
    """Poll the event log until a resOutputsEvent whose URN ends with one of
    ``matches`` appears; fail if the update ends or the time runs out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if event_log.exists():
            for event in read_events(event_log):
                if event.kind == "resOutputsEvent" and event.urn.endswith(
                    tuple(matches)
                ):
                    return event
        if process.poll() is not None:
            raise AssertionError("the update ended before any matching resource")
        time.sleep(0.1)
    raise AssertionError(f"no resource among {matches} finished in {timeout}s")


def _tool_bin() -> Path:
    if os.environ.get("VAPORA_E2E_BIN"):
        return Path(os.environ["VAPORA_E2E_BIN"])
    printed = subprocess.run(
        ["bash", str(REPO / "e2e/build-tools.sh"), "--print-bin"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(printed.stdout.strip())


def _cache_root() -> Path:
    return Path(
        os.environ.get("VAPORA_E2E_CACHE")
        or Path.home() / ".cache" / "vapora-infra-e2e"
    )


def _copy_project(root: Path) -> None:
    root.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, root / name)
    for name in PROJECT_DIRS:
        shutil.copytree(REPO / name, root / name)
    # The program and its virtualenv are the repository's own.
    (root / "vapora_infra").symlink_to(REPO / "vapora_infra")
    (root / ".venv").symlink_to(REPO / ".venv")

    deploy = root / "workflows" / "deploy-full-stack.yaml"
    flow = yaml.safe_load(deploy.read_text())
    for step in flow["spec"]["steps"]:
        step["timeout"] = STEP_TIMEOUT
    deploy.write_text(yaml.safe_dump(flow, sort_keys=False))
