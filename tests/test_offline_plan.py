"""The engine-free plan, graph and render built on the mock-engine recorder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tests.workloads import record_stack
from vapora_infra.cli import main
from vapora_infra.errors import VaporaError
from vapora_infra.offline.graph import deploy_graph, to_dot, to_mermaid, write_graph
from vapora_infra.offline.plan import counts_by_type, short_urn, stages, to_json
from vapora_infra.offline.recorder import MASK, Recording
from vapora_infra.offline.render import kubernetes_objects, render


@pytest.fixture(scope="module")
def dev() -> Recording:
    return record_stack("dev")


def test_plan_json_has_one_object_per_resource(dev: Recording) -> None:
    plan = to_json(dev)

    assert plan["total"] == len(dev.resources) == len(plan["resources"])
    assert sum(plan["counts"].values()) == plan["total"]
    first = plan["resources"][0]
    assert set(first) >= {
        "type",
        "name",
        "parent",
        "dependencies",
        "stage",
        "protect",
        "timeouts",
        "inputs",
    }


def test_plan_groups_resources_in_workflow_order(dev: Recording) -> None:
    grouped = stages(dev)

    assert [s.name for s in grouped][:3] == [
        "create-cluster",
        "install-addons",
        "deploy-data",
    ]
    data_types = {r.type for r in grouped[2].resources}
    assert "kubernetes:apps/v1:StatefulSet" in data_types


def test_every_kubernetes_object_uses_the_one_cluster_provider(
    dev: Recording,
) -> None:
    providers = dev.by_type("pulumi:providers:kubernetes")
    assert len(providers) == 1
    expected = f"{providers[0].urn}::{providers[0].name}-id"

    for registration in dev.resources:
        if registration.custom and registration.type.startswith("kubernetes:"):
            assert registration.provider == expected, registration.urn


def test_resources_of_a_stage_wait_for_the_gate_of_the_stage_before(
    dev: Recording,
) -> None:
    statefulset = next(
        r
        for r in dev.by_type("kubernetes:apps/v1:StatefulSet")
        if r.name.startswith("surrealdb")
    )
    # Dev installs no add-ons, so deploy-data waits for create-cluster.
    gate = dev.named("stage-create-cluster")
    namespace_urns = {r.urn for r in dev.by_type("kubernetes:core/v1:Namespace")}

    assert gate.urn in statefulset.dependencies, statefulset.urn
    assert namespace_urns <= set(gate.dependencies), gate.urn
    assert gate.inputs["data"] == {"stage": "create-cluster", "after": ""}
    assert statefulset.timeouts == {"create": "30m", "update": "30m", "delete": "30m"}


def test_every_stage_that_deploys_something_has_a_gate(dev: Recording) -> None:
    gates = {
        r.inputs["data"]["stage"]
        for r in dev.by_type("kubernetes:core/v1:ConfigMap")
        if r.name.startswith("stage-")
    }
    deploying = {r.stage for r in dev.resources if r.custom and r.stage}

    assert gates == deploying


def test_counts_by_type_add_up(dev: Recording) -> None:
    assert sum(counts_by_type(dev).values()) == len(dev.resources)


def test_short_urn_keeps_type_and_name() -> None:
    urn = (
        "urn:pulumi:dev::vapora-infra::"
        "vapora:data:Nats$kubernetes:core/v1:Service::nats"
    )

    assert short_urn(urn) == "kubernetes:core/v1:Service::nats"
    assert short_urn("") == ""


def test_graph_shows_stages_in_order_and_edges_between_components(
    dev: Recording, tmp_path: Path
) -> None:
    graph = deploy_graph(dev)
    mermaid = to_mermaid(graph)

    assert next(iter(graph.stages)) == "create-cluster"
    assert "surrealdb" in graph.stages["deploy-data"]
    assert any(target == "surrealdb" for _, target in graph.edges), graph.edges
    assert mermaid.index('"create-cluster"') < mermaid.index('"deploy-data"')
    assert to_dot(graph).startswith("digraph deploy {")
    written = write_graph(graph, tmp_path / "deploy.mmd")
    assert written[0].read_text().startswith("flowchart TB")


def test_render_writes_one_appliable_file_per_object(
    dev: Recording, tmp_path: Path
) -> None:
    written = render(dev, tmp_path)
    objects = kubernetes_objects(dev)

    assert len([p for p in written if p.suffix == ".yaml"]) == len(objects)
    for path in written:
        if path.suffix != ".yaml":
            continue
        document = yaml.safe_load(path.read_text())
        assert {"apiVersion", "kind", "metadata"} <= set(document), path.name


def test_rendered_secrets_keep_keys_and_mask_values(
    dev: Recording, tmp_path: Path
) -> None:
    render(dev, tmp_path)
    top = [yaml.safe_load(p.read_text()) for p in tmp_path.glob("*.yaml")]
    secrets = [yaml.safe_load(p.read_text()) for p in tmp_path.glob("secrets/*.yaml")]

    assert not [d for d in top if d.get("kind") == "Secret"], "Secrets in apply dir"

    assert secrets, "no Secret rendered"
    for secret in secrets:
        values = secret.get("stringData") or secret.get("data")
        assert values and set(values.values()) == {MASK}, secret["metadata"]


def _export(recording: Recording, path: Path, redis_size: str) -> None:
    resources = []
    for registration in recording.by_type("kubernetes:apps/v1:StatefulSet"):
        inputs = json.loads(json.dumps(registration.inputs, default=str))
        if registration.name.startswith("redis"):
            claim = inputs["spec"]["volumeClaimTemplates"][0]["spec"]
            claim["resources"]["requests"]["storage"] = redis_size
        resources.append(
            {"urn": registration.urn, "type": registration.type, "inputs": inputs}
        )
    path.write_text(json.dumps({"version": 3, "deployment": {"resources": resources}}))


def test_plan_refuses_a_volume_claim_change_against_the_state(
    dev: Recording, root: Path, tmp_path: Path
) -> None:
    export = tmp_path / "export.json"
    _export(dev, export, redis_size="2Gi")

    result = CliRunner().invoke(
        main, ["-C", str(root), "plan", "-s", "dev", "--state", str(export)]
    )

    assert result.exit_code == 1, result.output
    assert "redis-statefulset: spec.volumeClaimTemplates[data]" in result.output
    assert "2Gi -> 1Gi" in result.output
    assert "cannot be applied in place" in result.output


def test_plan_accepts_an_unchanged_state(
    dev: Recording, root: Path, tmp_path: Path
) -> None:
    export = tmp_path / "export.json"
    _export(dev, export, redis_size="1Gi")

    result = CliRunner().invoke(
        main, ["-C", str(root), "plan", "-s", "dev", "--state", str(export)]
    )

    assert result.exit_code == 0, result.output
    assert "immutable:" not in result.output


def test_destroy_keeps_the_data_namespace_and_nothing_else_of_namespaces(
    dev: Recording,
) -> None:
    retained = {
        r.inputs["metadata"]["name"]
        for r in dev.by_type("kubernetes:core/v1:Namespace")
        if r.retain_on_delete
    }
    statefulsets = dev.by_type("kubernetes:apps/v1:StatefulSet")

    assert retained == {"vapora-system"}
    assert statefulsets and all(r.retain_on_delete for r in statefulsets)
    assert not any(r.protect for r in statefulsets), "dev protects nothing"


def test_render_replaces_its_own_files_and_refuses_foreign_ones(
    dev: Recording, tmp_path: Path
) -> None:
    render(dev, tmp_path)
    stale = tmp_path / "999-stale-object.yaml"
    stale.write_text("kind: ConfigMap\n")
    render(dev, tmp_path)
    (tmp_path / "notes.txt").write_text("mine")

    assert not stale.exists()
    with pytest.raises(VaporaError, match=r"holds notes.txt, which render did not"):
        render(dev, tmp_path)


@pytest.mark.parametrize("name", ["deploy.png", "deploy.svg", "nodir/deploy.mmd"])
def test_a_graph_file_that_cannot_be_written_is_a_usage_error(
    root: Path, tmp_path: Path, name: str
) -> None:
    target = tmp_path / name

    result = CliRunner().invoke(
        main, ["-C", str(root), "plan", "-s", "dev", "--graph", str(target)]
    )

    assert result.exit_code == 2, result.output
    assert "Invalid value for '--graph'" in result.output
    assert "Plan for stack" not in result.output


def test_plan_refuses_the_export_of_another_stack(
    dev: Recording, root: Path, tmp_path: Path
) -> None:
    export = tmp_path / "export.json"
    _export(dev, export, redis_size="1Gi")
    export.write_text(
        export.read_text().replace("urn:pulumi:dev::", "urn:pulumi:prod::")
    )

    result = CliRunner().invoke(
        main, ["-C", str(root), "plan", "-s", "dev", "--state", str(export)]
    )

    assert result.exit_code == 1
    assert "is an export of stack prod, not dev" in result.output
    assert "Plan for stack" not in result.output


def test_top_level_urns_match_the_engines(dev: Recording) -> None:
    cluster = dev.named("cluster")

    assert cluster.urn == (
        "urn:pulumi:dev::vapora-infra::vapora:cluster:ExistingCluster::cluster"
    )
    assert all("pulumi:pulumi:Stack$" not in r.urn for r in dev.resources)
