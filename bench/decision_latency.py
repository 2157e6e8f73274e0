"""Decision latency of the autoscaler: from a queue depth read to a decision.

The specification asks for scaling decisions in under a minute. This measures
the part the operations CLI owns: once the depth is known, running the
scale-agents workflow's own rule through the safe interpreter and deciding
whether the execute step applies. With --nats it also times reading the depth
from a local nats-server (started here, in a temporary directory).

    python bench/decision_latency.py [--rounds 2000] [--nats]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vapora_infra.ops.autoscale import ScalingRule, decide, should_apply  # noqa: E402
from vapora_infra.spec.project import load_project  # noqa: E402


def main() -> int:
    """Print percentiles of the decision latency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument(
        "--nats", action="store_true", help="also time a JetStream read"
    )
    args = parser.parse_args()

    project = load_project(ROOT, "prod")
    rule = ScalingRule.from_workflow(project.workflows["scale-agents"])
    pool = project.settings.agents["developer"]
    samples: list[float] = []
    for round_number in range(args.rounds):
        depth = round_number % 25
        current = 5 + round_number % 16
        started = time.perf_counter()
        decision = decide(rule, "developer", pool, depth, current)
        should_apply(rule, decision)
        samples.append(time.perf_counter() - started)

    _report("decision after depth read", samples)
    budget = 1.0
    worst = max(samples)
    print(f"budget 1 s (spec: 1 min); worst case uses {worst / budget:.4%} of it")
    if args.nats:
        _nats_read(args.rounds // 10 or 1)
    return 0


def _report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1e3
    print(
        f"{label}: n={len(ordered)} p50={p50:.3f} ms p99={p99:.3f} ms "
        f"max={ordered[-1] * 1e3:.3f} ms"
    )


def _nats_read(rounds: int) -> None:
    import asyncio
    import shutil
    import socket
    import subprocess
    import tempfile

    from vapora_infra.ops.queue import nats_depths

    binary = shutil.which("nats-server")
    if binary is None:
        print("nats read: skipped, nats-server is not installed")
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as store:
        server = subprocess.Popen(
            [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"nats://127.0.0.1:{port}"
            asyncio.run(_prepare(url, port))
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                nats_depths(url, "AGENT_TASKS", ["developer"])
                samples.append(time.perf_counter() - started)
            _report("nats depth read (connect + consumer info)", samples)
        finally:
            server.terminate()
            server.wait(timeout=10)


async def _prepare(url: str, port: int) -> None:
    import asyncio

    import nats

    for _ in range(100):
        try:
            client = await nats.connect(url)
            break
        except Exception:
            await asyncio.sleep(0.05)
    else:
        raise SystemExit(f"nats-server did not start on port {port}")
    stream = client.jetstream()
    await stream.add_stream(name="AGENT_TASKS", subjects=["agents.>"])
    await stream.add_consumer(
        "AGENT_TASKS",
        durable_name="agents-developer",
        filter_subject="agents.developer",
    )
    for number in range(12):
        await stream.publish("agents.developer", str(number).encode())
    await client.close()


if __name__ == "__main__":
    raise SystemExit(main())
