"""The stack's life on a real engine and API server, one step per test.

The tests share one stack and run in file order; each starts from the state
the previous one left, as an operator's day would.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import NAMESPACES, Event, Project, Stopwatch, read_events

pytestmark = pytest.mark.e2e

ROOT_TYPE = "pulumi:pulumi:Stack$"


def test_up_from_empty_follows_the_deploy_workflow(
    project: Project, tmp_path: Path
) -> None:
    event_log = tmp_path / "up.events"
    with Stopwatch(project.timings, "pulumi up from empty"):
        project.up(event_log)

    events = read_events(event_log)
    created = {e.urn for e in events if e.kind == "resOutputsEvent"}
    planned = _planned(project)
    kube = {urn for urn, entry in planned.items() if _is_kube(entry["type"])}
    assert kube <= created, f"not created: {sorted(kube - created)}"
    _assert_stage_order(project, planned, events)
    _assert_workloads_ready(project)


def test_second_up_changes_nothing(project: Project) -> None:
    with Stopwatch(project.timings, "second run: no changes"):
        project.pulumi("preview", "--expect-no-changes", "--diff")


# -- helpers -----------------------------------------------------------------


def _planned(project: Project) -> dict[str, dict[str, Any]]:
    """URN -> the offline plan's entry, which names each resource's stage."""
    printed = project.cli("plan", "--stack", "dev", "--json").stdout
    # The engine leaves the root stack's type out of its children's URNs;
    # the offline recorder writes it in.
    return {
        entry["urn"].replace(ROOT_TYPE, ""): entry
        for entry in json.loads(printed)["resources"]
    }


def _is_gate(entry: dict[str, Any]) -> bool:
    """The ConfigMap the program registers when a deploy stage completes."""
    return entry["type"] == "kubernetes:core/v1:ConfigMap" and entry["name"].startswith(
        "stage-"
    )


def _is_kube(type_: str) -> bool:
    return type_.startswith("kubernetes:")


def _assert_stage_order(
    project: Project, planned: dict[str, dict[str, Any]], events: list[Event]
) -> None:
    """Nothing of a stage starts before every stage it depends on is gated,
    and a stage's gate is created only after everything in its stage."""
    started = {
        e.urn: e.sequence
        for e in events
        if e.kind == "resourcePreEvent" and e.op == "create"
    }
    finished = {
        e.urn: e.sequence
        for e in events
        if e.kind == "resOutputsEvent" and e.op == "create"
    }
    by_stage: dict[str, list[str]] = defaultdict(list)
    gates: dict[str, str] = {}
    for urn, entry in planned.items():
        if not _is_kube(entry["type"]):
            continue
        if _is_gate(entry):
            gates[entry["stage"]] = urn
        else:
            by_stage[entry["stage"]].append(urn)
    upstream = _upstream_stages(project)
    assert gates, "the program registered no stage gates"

    for stage, gate in gates.items():
        for urn in by_stage[stage]:
            assert finished[urn] < started[gate], (
                f"gate of {stage} created before {urn} was ready"
            )
        for later, urns in by_stage.items():
            if stage not in upstream[later]:
                continue
            for urn in urns:
                assert finished[gate] < started[urn], (
                    f"{urn} ({later}) started before stage {stage} was complete"
                )
    names = {
        item["metadata"]["name"]
        for item in project.kube_json("configmap", "-n", "vapora-system")["items"]
    }
    expected = {f"vapora-stage-{stage}" for stage in gates}
    assert expected <= names, f"gate ConfigMaps missing: {expected - names}"


def _upstream_stages(project: Project) -> dict[str, set[str]]:
    """Each deploy step -> every step it depends on, directly or not."""
    flow = yaml.safe_load(
        (project.root / "workflows" / "deploy-full-stack.yaml").read_text()
    )
    direct = {
        step["name"]: set(step.get("depends_on", [])) for step in flow["spec"]["steps"]
    }

    def closure(name: str) -> set[str]:
        found = set(direct[name])
        for needed in direct[name]:
            found |= closure(needed)
        return found

    return defaultdict(set, {name: closure(name) for name in direct})


def _workloads(project: Project) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for namespace in NAMESPACES:
        listed = project.kube_json("deployments,statefulsets", "-n", namespace)
        items.extend(listed["items"])
    return items


def _assert_workloads_ready(project: Project) -> None:
    """Read right after `up` returned: ready only if the provider awaited it."""
    workloads = _workloads(project)
    kinds = {item["kind"] for item in workloads}
    assert kinds == {"Deployment", "StatefulSet"}, f"workloads found: {kinds}"
    for item in workloads:
        name = f"{item['kind']}/{item['metadata']['name']}"
        wanted = item["spec"]["replicas"]
        ready = item["status"].get("readyReplicas", 0)
        assert ready == wanted, f"{name}: {ready}/{wanted} ready"
    jobs = project.kube_json("jobs", "-n", "vapora-system")["items"]
    for job in jobs:
        assert job["status"].get("succeeded"), (
            f"Job/{job['metadata']['name']} has not completed"
        )
