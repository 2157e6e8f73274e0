"""Benchmarks of the command line and the offline plan: figures and ratios.

Run with ``make bench``. Nothing here passes or fails; each figure is printed
next to the target it is read against. Every command is timed as a fresh
process, the way a user meets it, and the median of several runs is shown.

How the 120-pool stack is made: agent roles are a closed set of 12, so the
benchmark clones each validated prod pool ten times under names such as
``developer-3`` and lists them all in the deploy workflow's agents step. The
closed role set is widened for the benchmark process only (the stage planner's
``ROLES``); every pool's settings are the prod pool's, validated as usual.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("vapora-infra"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
POOL_COPIES = 10


def main() -> int:
    """Run every benchmark and print one table."""
    if len(sys.argv) == 3 and sys.argv[1] == "--child-plan":
        return _child_plan(int(sys.argv[2]))

    rows: list[tuple[str, str, str]] = []
    rows += bench_plan_vs_imports()
    rows += bench_pools()
    rows += bench_help()
    rows += bench_decision_latency()

    width = max(len(r[0]) for r in rows)
    print(f"\n{'benchmark':<{width}}  {'figure':<34}  target")
    print(f"{'-' * width}  {'-' * 34}  ------")
    for name, figure, target in rows:
        print(f"{name:<{width}}  {figure:<34}  {target}")
    return 0


def bench_plan_vs_imports() -> list[tuple[str, str, str]]:
    """`plan --stack prod` against importing the SDK modules the plan loads."""
    used = _child(1)["sdk_modules"]
    imports = "import " + ", ".join(used)
    bare = _median([PYTHON, "-c", imports])
    plan = _median([CLI, "plan", "--stack", "prod"])
    return [
        (f"SDK import ({len(used)} pulumi* modules)", f"{bare:.2f} s", ""),
        ("vapora-infra plan --stack prod", f"{plan:.2f} s", ""),
        ("  plan / SDK import", f"{plan / bare:.2f}x", "<= 1.5x"),
    ]


def bench_pools() -> list[tuple[str, str, str]]:
    """The prod plan with 12 agent pools against a generated one with 120."""
    small = _child_runs(1)
    large = _child_runs(POOL_COPIES)
    rows = []
    for label, runs in (("12 pools", small), ("120 pools", large)):
        wall = statistics.median(r["wall"] for r in runs)
        rec = statistics.median(r["record"] for r in runs)
        count = runs[0]["resources"]
        rows.append(
            (
                f"plan, {label} ({count} resources)",
                f"{wall:.2f} s; record {rec:.2f} s",
                f"{rec / count * 1000:.2f} ms/resource",
            )
        )
    wall_ratio = statistics.median(r["wall"] for r in large) / statistics.median(
        r["wall"] for r in small
    )
    record_ratio = statistics.median(r["record"] for r in large) / statistics.median(
        r["record"] for r in small
    )
    grow = large[0]["resources"] / small[0]["resources"]
    rows.append(("  120 / 12 pools, whole command", f"{wall_ratio:.2f}x", "<= 3x"))
    rows.append(
        (
            "  120 / 12 pools, record only",
            f"{record_ratio:.2f}x ({grow:.1f}x resources)",
            "",
        )
    )
    return rows


def bench_help() -> list[tuple[str, str, str]]:
    """`vapora-infra --help` against an empty interpreter; no pulumi import."""
    runs = max(RUNS, 10)
    empty = _median([PYTHON, "-c", "pass"], runs)
    helped = _median([CLI, "--help"], runs)
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(
        [CLI, "--help"], capture_output=True, text=True, env=env, check=True
    )
    loaded = [
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    pulumi = sorted({m for m in loaded if m.lstrip().startswith("pulumi")})
    return [
        ("python -c pass", f"{empty * 1000:.0f} ms", ""),
        ("vapora-infra --help", f"{helped * 1000:.0f} ms", ""),
        ("  --help / python -c pass", f"{helped / empty:.2f}x", "<= 3x"),
        (
            "  pulumi modules imported by --help",
            str(len(pulumi)) + (f" ({', '.join(pulumi[:3])}...)" if pulumi else ""),
            "0",
        ),
    ]


def bench_decision_latency() -> list[tuple[str, str, str]]:
    """The autoscale decision latency, measured by the operations benchmark."""
    script = HERE / "decision_latency.py"
    if not script.is_file():
        return [
            (
                "autoscale decision latency",
                "MISSING: bench/decision_latency.py",
                "not measured",
            )
        ]
    done = subprocess.run(
        [PYTHON, str(script)], capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        error = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [("autoscale decision latency", f"FAILED: {error}", "")]
    return [("autoscale decision latency", line.strip(), "") for line in lines]


def _median(command: list[str], runs: int = RUNS) -> float:
    subprocess.run(command, capture_output=True, check=True)  # warm the OS cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _child_runs(copies: int) -> list[dict[str, Any]]:
    _child(copies)  # warm the OS cache
    return [_child(copies) for _ in range(RUNS)]


def _child(copies: int) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(
        [PYTHON, __file__, "--child-plan", str(copies)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"plan with {copies}x pools failed:\n{done.stderr}")
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    found["wall"] = time.perf_counter() - start
    return found


def _child_plan(copies: int) -> int:
    # The same steps as `vapora-infra plan --json`, in a fresh process.
    from vapora_infra.offline.plan import to_json
    from vapora_infra.offline.recorder import record
    from vapora_infra.spec.project import load_project
    from vapora_infra.spec.stages import plan_stages

    project = load_project(ROOT, "prod")
    if copies > 1:
        project = _widen(project, copies)
    plan_stages(project)
    start = time.perf_counter()
    recording = record(project)
    recorded = time.perf_counter() - start
    with open(os.devnull, "w") as sink:
        json.dump(to_json(recording), sink, default=str)
    sdk = sorted(
        name
        for name in sys.modules
        if name.split(".")[0] in ("pulumi", "pulumi_kubernetes", "pulumi_aws")
    )
    print(
        json.dumps(
            {
                "record": recorded,
                "resources": len(recording.resources),
                "sdk_modules": sdk,
            }
        )
    )
    return 0


def _widen(project: Any, copies: int) -> Any:
    from vapora_infra.spec import stages
    from vapora_infra.spec.project import DEPLOY_WORKFLOW

    settings = project.settings
    pools = {
        (role if index == 0 else f"{role}-{index}"): pool
        for role, pool in settings.agents.items()
        for index in range(copies)
    }
    stages.ROLES = tuple(pools)  # type: ignore[assignment]
    deploy = project.workflows[DEPLOY_WORKFLOW]
    steps = [
        step.model_copy(update={"params": {**step.params, "agents": list(pools)}})
        if step.task == "provisioning.deploy-agents"
        else step
        for step in deploy.spec.steps
    ]
    widened = deploy.model_copy(
        update={"spec": deploy.spec.model_copy(update={"steps": steps})}
    )
    return dataclasses.replace(
        project,
        settings=settings.model_copy(update={"agents": pools}),
        workflows={**project.workflows, DEPLOY_WORKFLOW: widened},
    )


if __name__ == "__main__":
    sys.exit(main())
