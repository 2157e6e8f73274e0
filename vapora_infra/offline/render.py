"""Write every Kubernetes object of a recording as kubectl-appliable YAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from vapora_infra.offline.recorder import MASK, Recording, Registration

_CHART_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
_UNSAFE = re.compile(r"[^a-z0-9.-]+")


def kubernetes_objects(recording: Recording) -> list[dict[str, Any]]:
    """Every Kubernetes object (built-in or custom) the stack registers."""
    found = []
    for registration in recording.resources:
        obj = as_object(registration)
        if obj is not None:
            found.append(obj)
    return found


def as_object(registration: Registration) -> dict[str, Any] | None:
    """The object a Kubernetes resource registration describes, secrets masked."""
    if not registration.custom or not registration.type.startswith("kubernetes:"):
        return None
    if registration.type in _CHART_TYPES or "providers" in registration.type:
        return None
    inputs = registration.masked_inputs()
    if "apiVersion" not in inputs or "kind" not in inputs:
        return None
    obj: dict[str, Any] = {
        "apiVersion": inputs["apiVersion"],
        "kind": inputs["kind"],
    }
    for key, value in inputs.items():
        if key not in obj and not key.startswith("__"):
            obj[key] = value
    return obj


def charts(recording: Recording) -> list[dict[str, Any]]:
    """Helm charts with chart, version, repository and (masked) values."""
    found = []
    for registration in recording.resources:
        if registration.type not in _CHART_TYPES:
            continue
        inputs = registration.masked_inputs()
        repository = inputs.get("repositoryOpts", {}) or {}
        found.append(
            {
                "name": registration.name,
                "kind": registration.type.split(":")[-1],
                "chart": inputs.get("chart"),
                "version": inputs.get("version"),
                "repository": repository.get("repo"),
                "namespace": inputs.get("namespace"),
                "values": inputs.get("values", {}),
            }
        )
    return found


def render(recording: Recording, out: Path) -> list[Path]:
    """Write one YAML file per object and a charts.yaml; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for index, obj in enumerate(kubernetes_objects(recording), start=1):
        meta = obj.get("metadata", {})
        parts = [meta.get("namespace", "cluster"), obj["kind"], meta.get("name", "")]
        stem = _UNSAFE.sub("-", "_".join(parts).lower()).strip("-")
        path = out / f"{index:03d}-{stem}.yaml"
        header = ""
        if obj["kind"] == "Secret":
            header = f"# Secret values are shown as {MASK}; the engine fills them.\n"
        path.write_text(header + _dump(obj), encoding="utf-8")
        written.append(path)
    listed = charts(recording)
    if listed:
        path = out / "charts.yaml"
        path.write_text(_dump({"charts": listed}), encoding="utf-8")
        written.append(path)
    return written


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
