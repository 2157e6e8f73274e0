"""Upgrades are checked first; rollback finds the last good version; health rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kubernetes import client as k8s

from vapora_infra.cli import main
from vapora_infra.errors import SpecError, VaporaError
from vapora_infra.ops.health import summarize
from vapora_infra.ops.upgrade import check_upgrade, last_good_version, version_key
from vapora_infra.spec.project import load_project


def test_upgrade_of_an_unknown_service_lists_the_services(root: Path) -> None:
    with pytest.raises(SpecError, match="'vapora-api' is not a service of stack prod"):
        check_upgrade(load_project(root, "prod"), "vapora-api", "0.3.0")


@pytest.mark.parametrize("version", ["latest", "0.3", "v0.3.0", "0.3.0;rm"])
def test_upgrade_refuses_non_semantic_versions(root: Path, version: str) -> None:
    with pytest.raises(SpecError, match=r"is not a version such as 0\.3\.0"):
        check_upgrade(load_project(root, "prod"), "vapora-backend", version)


def test_upgrade_request_names_the_path_key(root: Path) -> None:
    request = check_upgrade(load_project(root, "prod"), "vapora-backend", "0.3.0")

    assert request.key == version_key("vapora-backend")
    assert request.key == "vapora:services.vapora-backend.version"


def _entry(result: str, version: str | None, kind: str = "update") -> dict[str, Any]:
    services = {} if version is None else {"vapora-backend": {"version": version}}
    # The CLI's history holds structured config as JSON text.
    return {
        "kind": kind,
        "result": result,
        "config": {"vapora:services": json.dumps(services)},
    }


def test_last_good_version_skips_failures_and_the_current_version() -> None:
    history = [
        _entry("failed", "0.4.0"),
        _entry("succeeded", "0.3.0"),
        _entry("succeeded", "0.3.0", kind="refresh"),
        _entry("succeeded", "0.2.0"),
        _entry("succeeded", None),
    ]

    assert last_good_version(history, "vapora-backend", "0.3.0", "0.1.0") == "0.2.0"
    assert last_good_version(history[4:], "vapora-backend", "0.3.0", "0.1.0") == "0.1.0"


def test_no_earlier_version_asks_for_to_version() -> None:
    with pytest.raises(VaporaError, match="pass --to-version"):
        last_good_version(
            [_entry("succeeded", "0.3.0")], "vapora-backend", "0.3.0", "0.3.0"
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["upgrade", "vapora-api", "--version", "0.3.0", "-s", "prod", "--yes"],
            "'vapora-api' is not a service of stack prod; services: vapora-agents",
        ),
        (
            ["upgrade", "vapora-backend", "--version", "next", "-s", "prod", "--yes"],
            "'next' is not a version such as 0.3.0",
        ),
        (
            ["rollback", "vapora-api", "-s", "prod", "--yes"],
            "'vapora-api' is not a service of stack prod",
        ),
    ],
)
def test_upgrade_and_rollback_refusals_exit_1(
    root: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["-C", str(root), *args])

    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert message in result.output


def test_upgrade_without_version_is_a_usage_error(root: Path) -> None:
    result = CliRunner().invoke(main, ["-C", str(root), "upgrade", "vapora-backend"])

    assert result.exit_code == 2
    assert "Missing option '--version'" in result.output


def _pod(name: str, labels: dict[str, str], restarts: int) -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, namespace="vapora-agents", labels=labels),
        status=k8s.V1PodStatus(
            container_statuses=[
                k8s.V1ContainerStatus(
                    name="agent",
                    image="a",
                    image_id="",
                    ready=True,
                    restart_count=restarts,
                )
            ]
        ),
    )


def _deployment(ready: int | None, desired: int) -> k8s.V1Deployment:
    return k8s.V1Deployment(
        kind="Deployment",
        metadata=k8s.V1ObjectMeta(
            name="vapora-agents-developer", namespace="vapora-agents"
        ),
        spec=k8s.V1DeploymentSpec(
            replicas=desired,
            selector=k8s.V1LabelSelector(
                match_labels={"app.kubernetes.io/name": "dev"}
            ),
            template=k8s.V1PodTemplateSpec(),
        ),
        status=k8s.V1DeploymentStatus(ready_replicas=ready),
    )


def _hpa(name: str, current: int, desired: int) -> k8s.V2HorizontalPodAutoscaler:
    return k8s.V2HorizontalPodAutoscaler(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V2HorizontalPodAutoscalerSpec(
            max_replicas=20,
            scale_target_ref=k8s.V2CrossVersionObjectReference(
                kind="Deployment", name="vapora-agents-developer"
            ),
        ),
        status=k8s.V2HorizontalPodAutoscalerStatus(
            current_replicas=current, desired_replicas=desired
        ),
    )


def test_health_counts_restarts_of_selected_pods_and_the_keda_scaler() -> None:
    pods = [
        _pod("dev-1", {"app.kubernetes.io/name": "dev", "x": "y"}, 2),
        _pod("dev-2", {"app.kubernetes.io/name": "dev"}, 1),
        _pod("other", {"app.kubernetes.io/name": "tester"}, 7),
    ]

    row = summarize(_deployment(5, 7), pods, [_hpa("keda-hpa-developer", 5, 7)], [])

    assert (row.ready, row.desired, row.restarts) == (5, 7, 3)
    assert (row.scaler, row.scaler_current, row.scaler_desired) == (
        "ScaledObject",
        5,
        7,
    )
    assert not row.healthy


def test_health_of_a_ready_workload_with_a_plain_hpa() -> None:
    row = summarize(_deployment(3, 3), [], [_hpa("developer", 3, 3)], [])

    assert row.healthy
    assert row.scaler == "HPA"


def test_health_of_a_workload_with_no_ready_status() -> None:
    row = summarize(_deployment(None, 2), [], [], [])

    assert (row.ready, row.healthy, row.scaler) == (0, False, "")
