"""The deploy workflow orders the program: stages, dependencies, timeouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from vapora_infra.errors import SpecError
from vapora_infra.spec.project import load_project
from vapora_infra.spec.stages import plan_stages

WORKFLOW_ORDER = [
    "create-cluster",
    "install-addons",
    "deploy-data",
    "deploy-core",
    "deploy-frontend",
    "deploy-agents",
    "health-check",
    "init-database",
    "configure-ingress",
]


@pytest.fixture
def project_copy(tmp_path: Path, root: Path) -> Path:
    """A writable copy of the project's schema files."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(root / name, tmp_path / name)
    for folder in ("taskservs", "workflows"):
        shutil.copytree(root / folder, tmp_path / folder)
    return tmp_path


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stages_follow_the_deploy_workflow(root: Path, stack: str) -> None:
    stages = plan_stages(load_project(root, stack))

    assert [stage.name for stage in stages] == WORKFLOW_ORDER


def test_each_service_lands_in_the_step_that_names_it(root: Path) -> None:
    stages = {s.name: s for s in plan_stages(load_project(root, "prod"))}

    assert stages["deploy-data"].data == ("surrealdb", "redis", "nats")
    assert set(stages["deploy-core"].taskservs) == {
        "vapora-backend",
        "vapora-llm-router",
        "vapora-mcp-gateway",
    }
    assert stages["deploy-frontend"].taskservs == ("vapora-frontend",)
    assert stages["deploy-agents"].taskservs == ("vapora-agents",)
    assert len(stages["deploy-agents"].agents) == 12


def test_upstream_is_the_transitive_closure_of_depends_on(root: Path) -> None:
    stages = {s.name: s for s in plan_stages(load_project(root, "prod"))}

    assert stages["deploy-core"].upstream == {
        "create-cluster",
        "install-addons",
        "deploy-data",
    }
    assert "deploy-frontend" not in stages["deploy-agents"].upstream
    assert stages["init-database"].upstream >= {"deploy-agents", "deploy-frontend"}


def _edit_workflow(folder: Path, change: dict[str, object]) -> None:
    path = folder / "workflows" / "deploy-full-stack.yaml"
    data = yaml.safe_load(path.read_text())
    for step in data["spec"]["steps"]:
        if step["name"] in change:
            step["params"] = change[step["name"]]
    path.write_text(yaml.safe_dump(data))


def test_a_service_no_step_deploys_is_refused(project_copy: Path) -> None:
    _edit_workflow(project_copy, {"deploy-frontend": {"taskservs": []}})

    with pytest.raises(SpecError, match=r"vapora-frontend.*no step deploys it"):
        plan_stages(load_project(project_copy, "dev"))


def test_a_service_deployed_before_its_dependency_is_refused(
    project_copy: Path,
) -> None:
    _edit_workflow(
        project_copy,
        {
            "deploy-data": {
                "taskservs": ["surrealdb", "redis", "nats", "vapora-frontend"]
            },
            "deploy-frontend": {"taskservs": []},
        },
    )

    with pytest.raises(SpecError, match="needs 'vapora-backend'"):
        plan_stages(load_project(project_copy, "dev"))


def test_a_service_listed_twice_is_refused(project_copy: Path) -> None:
    _edit_workflow(
        project_copy,
        {"deploy-frontend": {"taskservs": ["vapora-frontend", "vapora-backend"]}},
    )

    with pytest.raises(SpecError, match="already deployed by step 'deploy-core'"):
        plan_stages(load_project(project_copy, "dev"))
