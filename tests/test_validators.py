"""The rendered-output referees catch what they are meant to catch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT.parent / "shared" / "schemas" / "crds"


def _load_tool() -> ModuleType:
    path = ROOT / "tools" / "validate_rendered.py"
    spec = importlib.util.spec_from_file_location("validate_rendered", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = _load_tool()

CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings", "namespace": "vapora-system"},
    "data": {"mode": "dev"},
}
SCALED_OBJECT = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "developer", "namespace": "vapora-agents"},
    "spec": {
        "scaleTargetRef": {"name": "developer"},
        "triggers": [{"type": "cpu", "metadata": {"value": "70"}}],
    },
}
needs_schemas = pytest.mark.skipif(
    not SCHEMAS.is_dir(), reason="../shared/schemas is not beside the clone"
)


def _write(directory: Path, *objects: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for index, obj in enumerate(objects, start=1):
        (directory / f"{index:03d}.yaml").write_text(yaml.safe_dump(obj))
    return directory


@pytest.mark.parametrize(
    ("api_version", "builtin"),
    [
        ("v1", True),
        ("apps/v1", True),
        ("networking.k8s.io/v1", True),
        ("autoscaling/v2", True),
        ("keda.sh/v1alpha1", False),
        ("monitoring.coreos.com/v1", False),
    ],
)
def test_builtin_groups_are_told_from_custom_ones(
    api_version: str, builtin: bool
) -> None:
    assert tool.is_builtin(api_version) is builtin


def test_valid_objects_pass(tmp_path: Path) -> None:
    directory = _write(tmp_path / "out", CONFIG_MAP)

    assert tool.main([str(directory)]) == 0


def test_unknown_field_fails_strict_kubernetes_validation(tmp_path: Path) -> None:
    bad = {**CONFIG_MAP, "spec": {"mode": "dev"}}
    directory = _write(tmp_path / "out", bad)

    tally = tool.validate_builtin(sorted(directory.glob("*.yaml")), "1.30.0")

    assert (tally.passed, tally.failed) == (0, 1), tally.notes


@needs_schemas
def test_custom_resource_is_checked_against_its_crd_schema() -> None:
    bad = {**SCALED_OBJECT, "spec": {"triggers": "cpu"}}

    tally = tool.validate_custom(
        {Path("good.yaml"): SCALED_OBJECT, Path("bad.yaml"): bad}, SCHEMAS, {}
    )

    assert (tally.passed, tally.failed) == (1, 1), tally.notes
    assert any("INVALID bad.yaml" in note for note in tally.notes)


def test_custom_resource_without_schema_fails_and_is_listed() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}}

    tally = tool.validate_custom({Path("w.yaml"): widget}, Path("/nonexistent"), {})

    assert tally.failed == 1
    assert "NO SCHEMA w.yaml: example.com/Widget" in tally.notes[0]


def test_allow_listed_custom_resource_is_listed_with_its_reason() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}}
    allowed = {"example.com/Widget": "no published CRD schema"}

    tally = tool.validate_custom({Path("w.yaml"): widget}, Path("/x"), allowed)

    assert (tally.failed, tally.skipped) == (0, 1)
    assert "no published CRD schema" in tally.notes[0]


def test_charts_file_is_not_taken_for_an_object(tmp_path: Path) -> None:
    directory = _write(tmp_path / "out", CONFIG_MAP)
    (directory / "charts.yaml").write_text("charts: []\n")

    assert list(tool.load_objects(directory)) == [directory / "001.yaml"]
