"""Autoscaling reads a real JetStream consumer's pending count and decides."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from vapora_infra.cli import main
from vapora_infra.ops.queue import QueueError, nats_depths

NATS_SERVER = shutil.which("nats-server")
STREAM = "AGENT_TASKS"

needs_nats = pytest.mark.skipif(
    NATS_SERVER is None,
    reason="nats-server is not installed (apt-get install -y nats-server)",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert NATS_SERVER is not None
    store = tmp_path_factory.mktemp("jetstream")
    port = _free_port()
    server = subprocess.Popen(
        [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"nats-server did not listen on port {port}")
                time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _queue(url: str, pending: dict[str, int]) -> None:
    import nats

    client = await nats.connect(url)
    try:
        stream = client.jetstream()
        await stream.add_stream(name=STREAM, subjects=["agents.>"])
        for role, count in pending.items():
            await stream.add_consumer(
                STREAM,
                durable_name=f"agents-{role}",
                filter_subject=f"agents.{role}",
                ack_policy="explicit",
            )
            for number in range(count):
                await stream.publish(f"agents.{role}", f"task {number}".encode())
    finally:
        await client.close()


@pytest.fixture(scope="module")
def queued(nats_url: str) -> str:
    # developer has more than 10 waiting tasks; tester's queue is empty.
    asyncio.run(_queue(nats_url, {"developer": 13, "tester": 0, "architect": 1}))
    return nats_url


def _autoscale(root: Path, *args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(
        main, ["-C", str(root), "autoscale", "--once", "--json", *args]
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, [json.loads(line) for line in lines], result.output


@needs_nats
def test_pending_messages_are_the_queue_depth(queued: str) -> None:
    depths = nats_depths(queued, STREAM, ["developer", "tester", "architect"])

    assert depths == {"developer": 13, "tester": 0, "architect": 1}


@needs_nats
def test_deep_queue_scales_developer_up_by_two(root: Path, queued: str) -> None:
    code, decisions, output = _autoscale(
        root, "--role", "developer", "-s", "prod", "--nats-url", queued, "--dry-run"
    )

    assert code == 0, output
    assert len(decisions) == 1
    decision = decisions[0]
    assert decision["role"] == "developer"
    assert (decision["depth"], decision["current"]) == (13, 5)
    assert (decision["action"], decision["target"]) == ("scale_up", 7)
    assert decision["applied"] is False
    assert float(str(decision["decision_seconds"])) < 1.0


@needs_nats
def test_pool_at_its_floor_with_a_short_queue_stays(root: Path, queued: str) -> None:
    code, decisions, output = _autoscale(
        root, "--role", "tester", "-s", "prod", "--nats-url", queued, "--dry-run"
    )

    # prod tester runs 3 replicas with a floor of 2: an empty queue shrinks it.
    assert code == 0, output
    assert (decisions[0]["action"], decisions[0]["target"]) == ("scale_down", 2)


@needs_nats
def test_missing_consumer_is_named(root: Path, queued: str) -> None:
    args = ["autoscale", "--once", "--all", "-s", "prod", "--nats-url", queued]
    result = CliRunner().invoke(main, ["-C", str(root), *args, "--dry-run"])

    assert result.exit_code == 1
    assert "consumer agents-code-reviewer on stream AGENT_TASKS" in result.output


@needs_nats
def test_deployments_managed_stack_is_not_scaled_locally(
    root: Path, queued: str, tmp_path: Path
) -> None:
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        shutil.copy(root / name, tmp_path / name)
    for folder in ("taskservs", "workflows"):
        shutil.copytree(root / folder, tmp_path / folder)
    (tmp_path / "Pulumi.prod.deploy.yaml").write_text("settings: {}\n")
    before = (tmp_path / "Pulumi.prod.yaml").read_text()

    code, decisions, output = _autoscale(
        tmp_path, "--role", "developer", "-s", "prod", "--nats-url", queued
    )

    assert code == 1, output
    assert decisions[0]["action"] == "scale_up"
    assert decisions[0]["applied"] is False
    assert "Pulumi Deployments (Pulumi.prod.deploy.yaml)" in str(decisions[0]["error"])
    assert (tmp_path / "Pulumi.prod.yaml").read_text() == before


def test_unreachable_nats_is_one_clear_error() -> None:
    port = _free_port()
    with pytest.raises(
        QueueError, match=f"cannot reach NATS at nats://127.0.0.1:{port}"
    ):
        nats_depths(f"nats://127.0.0.1:{port}", STREAM, ["developer"], timeout=1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Pass either --role ROLE or --all."),
        (["--role", "developer", "--all"], "Pass either --role ROLE or --all."),
        (["--all", "--interval", "30s"], "either --once or --interval"),
    ],
)
def test_autoscale_usage_errors(root: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["-C", str(root), "autoscale", "--once", *args])

    assert result.exit_code == 2
    assert message in result.output


def test_pool_without_autoscaling_is_refused(root: Path) -> None:
    result = CliRunner().invoke(
        main, ["-C", str(root), "autoscale", "--once", "--role", "architect"]
    )

    assert result.exit_code == 1
    assert (
        "vapora:agents.architect: 'architect' has no autoscaling settings"
        in result.output
    )
