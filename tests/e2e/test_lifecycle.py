"""The stack's life on a real engine and API server, one step per test.

The tests share one stack and run in file order; each starts from the state
the previous one left, as an operator's day would.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import (
    NAMESPACES,
    Event,
    Project,
    Stopwatch,
    interrupt,
    read_events,
    wait_for_event,
)

pytestmark = pytest.mark.e2e

# kwok keeps pods of this version Running but never Ready (e2e/stages.yaml).
NEVER_READY = "0.0.0-never-ready"
SERVICES = (
    "vapora-backend",
    "vapora-frontend",
    "vapora-agents",
    "vapora-mcp-gateway",
    "vapora-llm-router",
)
# What destroy keeps by design: the data namespace, the data StatefulSets
# (whose claims stay with them) and the Secret the data needs.
RETAINED = (
    ("Namespace", "", "vapora-system"),
    ("StatefulSet", "vapora-system", "surrealdb"),
    ("StatefulSet", "vapora-system", "nats"),
    ("StatefulSet", "vapora-system", "redis"),
    ("Secret", "vapora-system", "vapora-secrets"),
)


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


def test_scale_changes_only_that_pool(project: Project) -> None:
    before = _resource_versions(project)
    with Stopwatch(project.timings, "vapora-infra scale developer 2"):
        project.cli("scale", "developer", "2", "--stack", "dev", "--yes")

    after = _resource_versions(project)
    changed = {urn for urn in after if before.get(urn) != after[urn]}
    assert changed, "scale changed nothing in the stack's state"
    outside = changed - _family(project, "agents-developer")
    assert not outside, f"scale changed resources outside the pool: {outside}"
    hpa = project.kube_json("hpa", "vapora-agents-developer", "-n", "vapora-agents")
    assert hpa["spec"]["minReplicas"] == 2
    # The autoscaler, not Pulumi, owns the Deployment's count: it raises it
    # to the new floor on its next sync.
    _wait(
        project,
        "deployment/vapora-agents-developer",
        "vapora-agents",
        "jsonpath={.status.readyReplicas}=2",
    )


def test_failed_upgrade_rolls_back(project: Project) -> None:
    deployment = ("deployment", "vapora-backend", "-n", "vapora-system")
    good_image = _image(project.kube_json(*deployment))
    with Stopwatch(project.timings, "vapora-infra upgrade (fails, rolls back)"):
        result = project.cli(
            "upgrade",
            "vapora-backend",
            "--version",
            NEVER_READY,
            "--stack",
            "dev",
            "--yes",
            check=False,
        )

    output = result.stdout + result.stderr
    assert result.returncode != 0, f"the upgrade to {NEVER_READY} succeeded"
    assert "rolled back to" in output, output[-3000:]
    live = project.kube_json(*deployment)
    assert _image(live) == good_image
    labels = live["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] != NEVER_READY
    assert live["status"].get("readyReplicas") == live["spec"]["replicas"]
    version = project.pulumi(
        "config", "get", "--path", "vapora:services.vapora-backend.version", check=False
    )
    assert version.returncode != 0, f"version left set: {version.stdout}"
    project.pulumi("preview", "--expect-no-changes")


def test_interrupted_update_converges(project: Project, tmp_path: Path) -> None:
    for service in SERVICES:
        project.config_set(f"vapora:services.{service}.version", "0.2.0")
    event_log = tmp_path / "interrupted.events"
    with Stopwatch(project.timings, "interrupted update (until killed)"):
        # One operation at a time, so the update is surely cut halfway.
        running = project.start_up(event_log, "--parallel", "1")
        wait_for_event(event_log, running, [f"::{s}-deployment" for s in SERVICES])
        output = interrupt(running, times=2)

    assert running.returncode != 0, f"the update was not interrupted:\n{output}"
    updated = {
        e.urn
        for e in read_events(event_log)
        if e.kind == "resOutputsEvent" and e.op == "update"
    }
    touched = [urn for urn in _deployment_urns(project) if _wants_update(urn)]
    assert len(updated & set(touched)) < len(touched), "nothing was left undone"
    pending = project.export()["deployment"].get("pending_operations") or []

    step = f"recovery: refresh + up ({len(pending)} pending operations)"
    with Stopwatch(project.timings, step):
        # The second SIGINT ends the CLI without releasing the stack's lock
        # when an operation was in flight. The CLI is gone, so the lock is
        # stale: `pulumi cancel` deletes a file backend's lock files. A
        # refresh then reads back what the cut-off operations did and drops
        # creates that never finished, so `up` starts from the cluster's truth.
        project.pulumi("cancel", "--yes")
        project.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
        project.up(tmp_path / "converge.events")
    assert not project.export()["deployment"].get("pending_operations"), pending
    project.pulumi("preview", "--expect-no-changes")
    for service in SERVICES:
        namespace = "vapora-agents" if service == "vapora-agents" else "vapora-system"
        live = project.kube_json("deployment", service, "-n", namespace)
        assert _image(live).endswith(":0.2.0"), f"Deployment/{service}: {_image(live)}"
        assert live["status"].get("readyReplicas") == live["spec"]["replicas"]


def test_destroy_leaves_only_the_designed_stateful_objects(project: Project) -> None:
    managed = _managed_objects(project)
    with Stopwatch(project.timings, "pulumi destroy"):
        project.pulumi("destroy", "--yes", "--skip-preview")

    retained = set(RETAINED)
    assert retained <= set(managed), f"not deployed at all: {retained - set(managed)}"
    for kind, namespace, name in managed:
        if (kind, namespace, name) in retained:
            _get(project, kind, namespace, name)
        else:
            _wait_gone(project, kind, namespace, name)
    for kind, namespace, name in retained:
        if kind != "StatefulSet":
            continue
        sts = _get(project, kind, namespace, name)
        for template in sts["spec"].get("volumeClaimTemplates", []):
            for ordinal in range(sts["spec"]["replicas"]):
                claim = f"{template['metadata']['name']}-{name}-{ordinal}"
                _get(project, "PersistentVolumeClaim", namespace, claim)
    # Pods of the deleted Deployments and Job go with their owners.
    _wait_until(
        lambda: (
            {
                ref["kind"]
                for pod in project.kube_json("pods", "-n", "vapora-system")["items"]
                for ref in pod["metadata"].get("ownerReferences", [])
            }
            <= {"StatefulSet"}
        ),
        "pods other than the retained StatefulSets' are gone",
    )


def test_kubectl_apply_of_the_same_objects(project: Project, tmp_path: Path) -> None:
    """The baseline: the rendered objects applied by kubectl and waited for."""
    project.kubectl("delete", "namespace", "vapora-system", "--wait=true")
    _wait_until(
        lambda: not project.kube_json("pv")["items"],
        "the provisioner released every volume",
    )
    rendered = tmp_path / "rendered"
    project.cli("render", "--stack", "dev", "--out", str(rendered))
    with Stopwatch(project.timings, "kubectl apply + wait (same objects)"):
        project.kubectl("apply", "-R", "-f", str(rendered))
        for namespace in NAMESPACES:
            for kind in ("deployment", "statefulset"):
                names = project.kubectl(
                    "get", kind, "-n", namespace, "-o", "name"
                ).stdout.split()
                for name in names:
                    project.kubectl(
                        "rollout", "status", name, "-n", namespace, "--timeout=5m"
                    )
        project.kubectl(
            "wait",
            "--for=condition=complete",
            "job",
            "--all",
            "-n",
            "vapora-system",
            "--timeout=5m",
        )
    assert _workloads(project), "kubectl applied no workloads"
    _assert_workloads_ready(project)


# -- helpers -----------------------------------------------------------------


def _planned(project: Project) -> dict[str, dict[str, Any]]:
    """URN -> the offline plan's entry, which names each resource's stage."""
    printed = project.cli("plan", "--stack", "dev", "--json").stdout
    # The offline plan's URNs are the engine's, so they match state entries.
    return {entry["urn"]: entry for entry in json.loads(printed)["resources"]}


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


def _resource_versions(project: Project) -> dict[str, str]:
    """URN -> the state entry's inputs, outputs and modification time."""
    resources = project.export(show_secrets=True)["deployment"]["resources"]
    return {
        entry["urn"]: json.dumps(
            [entry.get("inputs"), entry.get("outputs"), entry.get("modified")],
            sort_keys=True,
        )
        for entry in resources
    }


def _family(project: Project, name: str) -> set[str]:
    """The URNs of the component called ``name`` and of all its descendants."""
    resources = project.export()["deployment"]["resources"]
    found = {e["urn"] for e in resources if e["urn"].endswith(f"::{name}")}
    grew = True
    while grew:
        children = {e["urn"] for e in resources if e.get("parent") in found}
        grew = not children <= found
        found |= children
    return found


def _managed_objects(project: Project) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of every Kubernetes object in the state."""
    found = []
    for entry in project.export()["deployment"]["resources"]:
        if not _is_kube(entry["type"]):
            continue
        outputs = entry.get("outputs") or {}
        meta = outputs.get("metadata") or {}
        found.append((outputs["kind"], meta.get("namespace", ""), meta["name"]))
    return found


def _deployment_urns(project: Project) -> list[str]:
    return [
        entry["urn"]
        for entry in project.export()["deployment"]["resources"]
        if entry["type"] == "kubernetes:apps/v1:Deployment"
    ]


def _wants_update(urn: str) -> bool:
    """The Deployments the interrupted update changes: the five services'."""
    return urn.endswith(tuple(f"::{service}-deployment" for service in SERVICES))


def _image(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def _object_args(kind: str, namespace: str, name: str) -> list[str]:
    args = [kind, name]
    return [*args, "-n", namespace] if namespace else args


def _get(project: Project, kind: str, namespace: str, name: str) -> dict[str, Any]:
    found = project.kubectl(
        "get", *_object_args(kind, namespace, name), "-o", "json", check=False
    )
    assert found.returncode == 0, f"{kind}/{name} in {namespace!r} is gone"
    return dict(json.loads(found.stdout))


def _wait_gone(project: Project, kind: str, namespace: str, name: str) -> None:
    gone = project.kubectl(
        "wait",
        "--for=delete",
        *_object_args(kind, namespace, name),
        "--timeout=120s",
        check=False,
    )
    assert gone.returncode == 0, f"{kind}/{name} in {namespace!r} was not deleted"


def _wait(project: Project, name: str, namespace: str, condition: str) -> None:
    project.kubectl(
        "wait", f"--for={condition}", name, "-n", namespace, "--timeout=120s"
    )


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.5)
