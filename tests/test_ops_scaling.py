"""Scale requests are checked against the stack, and target only their pool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vapora_infra.errors import SpecError, VaporaError
from vapora_infra.ops.scaling import (
    DeploymentsManaged,
    check_scale,
    deployments_file,
    refuse_if_deployments_managed,
    replicas_key,
)
from vapora_infra.ops.state import (
    deployed_versions,
    image_tag,
    pool_targets,
    service_targets,
)
from vapora_infra.spec.project import Project, load_project

STACK = "urn:pulumi:prod::vapora-infra::"
IMAGE = "registry.local:5000/vapora/agents:developer-0.1.0"


@pytest.fixture(scope="module")
def prod(root: Path) -> Project:
    return load_project(root, "prod")


@pytest.mark.parametrize("replicas", [50, 0, -1, 4, 21])
def test_developer_on_prod_refuses_counts_outside_5_to_20(
    prod: Project, replicas: int
) -> None:
    with pytest.raises(SpecError, match=r"outside the pool's bounds 5\.\.20") as err:
        check_scale(prod, "developer", replicas)
    assert err.value.field == "vapora:agents.developer.replicas"
    assert err.value.value == replicas


@pytest.mark.parametrize("replicas", [5, 10, 20])
def test_developer_on_prod_accepts_counts_within_bounds(
    prod: Project, replicas: int
) -> None:
    request = check_scale(prod, "developer", replicas)

    assert (request.current, request.replicas, request.bounds) == (5, replicas, (5, 20))
    assert request.key == "vapora:agents.developer.replicas"


def test_unknown_role_lists_the_stack_pools(prod: Project) -> None:
    with pytest.raises(SpecError, match="'reviewer' is not a pool of stack prod") as e:
        check_scale(prod, "reviewer", 3)
    assert "code-reviewer, decision-maker, developer" in str(e.value)


def test_pool_without_autoscaling_allows_manual_sizes(root: Path) -> None:
    dev = load_project(root, "dev")

    assert check_scale(dev, "architect", 50).bounds == (1, 50)
    with pytest.raises(SpecError, match=r"1\.\.50 \(manual scaling\)"):
        check_scale(dev, "architect", 51)


def test_replicas_key_is_a_config_path() -> None:
    assert replicas_key("code-reviewer") == "vapora:agents.code-reviewer.replicas"


def test_deployments_managed_stack_is_detected(tmp_path: Path, prod: Project) -> None:
    request = check_scale(prod, "developer", 10)
    assert deployments_file(tmp_path, "prod") is None
    refuse_if_deployments_managed(tmp_path, request)

    (tmp_path / "Pulumi.prod.deploy.yaml").write_text("settings: {}\n")

    assert deployments_file(tmp_path, "prod") == tmp_path / "Pulumi.prod.deploy.yaml"
    with pytest.raises(DeploymentsManaged, match=r"Pulumi\.prod\.deploy\.yaml") as err:
        refuse_if_deployments_managed(tmp_path, request)
    message = str(err.value)
    assert "vapora:agents.developer.replicas to 10 in Pulumi.prod.yaml" in message
    assert "commit" in message


def _resource(
    kind: str, name: str, parent: str | None = None, **extra: Any
) -> dict[str, Any]:
    parent_type = ""
    if parent is not None:
        parent_type = parent.split("::")[2] + "$"
    found: dict[str, Any] = {
        "urn": f"{STACK}{parent_type}{kind}::{name}",
        "type": kind,
        **extra,
    }
    if parent is not None:
        found["parent"] = parent
    return found


def _export() -> dict[str, Any]:
    stack = _resource("pulumi:pulumi:Stack", "vapora-infra-prod")
    developer = _resource("vapora:agents:AgentPool", "developer", stack["urn"])
    deployment = _resource(
        "kubernetes:apps/v1:Deployment",
        "developer-deployment",
        developer["urn"],
        outputs={
            "metadata": {"name": "vapora-agents-developer"},
            "spec": {"template": {"spec": {"containers": [{"image": IMAGE}]}}},
        },
    )
    scaled = _resource(
        "kubernetes:keda.sh/v1alpha1:ScaledObject", "developer-scaler", developer["urn"]
    )
    tester = _resource("vapora:agents:AgentPool", "tester", stack["urn"])
    tester_child = _resource(
        "kubernetes:apps/v1:Deployment", "tester-deployment", tester["urn"]
    )
    backend = _resource("vapora:services:Taskserv", "vapora-backend", stack["urn"])
    backend_child = _resource(
        "kubernetes:apps/v1:Deployment",
        "vapora-backend",
        backend["urn"],
        inputs={
            "metadata": {"name": "vapora-backend"},
            "spec": {
                "template": {
                    "spec": {"containers": [{"image": "vapora/backend:0.2.0"}]}
                }
            },
        },
    )
    return {
        "resources": [
            stack,
            developer,
            deployment,
            scaled,
            tester,
            tester_child,
            backend,
            backend_child,
        ]
    }


def test_pool_targets_are_the_pool_component_and_its_children() -> None:
    urns = pool_targets(_export(), "developer")

    assert [u.rsplit("::", 1)[1] for u in urns] == [
        "developer",
        "developer-deployment",
        "developer-scaler",
    ]
    assert not any("tester" in urn for urn in urns)


def test_service_targets_select_by_module_and_name() -> None:
    urns = service_targets(_export(), "vapora-backend")

    assert len(urns) == 2
    assert urns[0].endswith("vapora:services:Taskserv::vapora-backend")


def test_targets_of_an_undeployed_pool_are_refused() -> None:
    with pytest.raises(VaporaError, match="agent pool monitor has no resources"):
        pool_targets(_export(), "monitor")
    with pytest.raises(VaporaError, match="full update"):
        pool_targets({}, "developer")


def test_deployed_versions_read_image_tags() -> None:
    assert deployed_versions(_export()) == {
        "vapora-agents-developer": "developer-0.1.0",
        "vapora-backend": "0.2.0",
    }


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("vapora/backend:0.3.0", "0.3.0"),
        ("registry.local:5000/vapora/backend:0.3.0", "0.3.0"),
        ("registry.local:5000/vapora/backend", "latest"),
        ("vapora/backend:0.3.0@sha256:abc", "0.3.0"),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag
