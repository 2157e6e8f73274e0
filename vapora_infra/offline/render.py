"""Write every Kubernetes object of a recording as kubectl-appliable YAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from vapora_infra.errors import VaporaError
from vapora_infra.offline.recorder import MASK, Recording, Registration

_CHART_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
_UNSAFE = re.compile(r"[^a-z0-9.-]+")


# `kubectl apply -f DIR` applies files in name order; within a stage, objects
# others refer to come first, so a plain apply of the directory succeeds.
_KIND_ORDER = (
    "Namespace",
    "StorageClass",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "Role",
    "RoleBinding",
    "Service",
    "NetworkPolicy",
    "StatefulSet",
    "Deployment",
    "Job",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
)


def kubernetes_objects(recording: Recording) -> list[dict[str, Any]]:
    """Every Kubernetes object the stack registers, in a stable apply order."""
    stage_index = {name: i for i, name in enumerate(recording.stage_order)}
    keyed = []
    for registration in recording.resources:
        obj = as_object(registration)
        if obj is not None:
            meta = obj.get("metadata", {})
            rank = (
                _KIND_ORDER.index(obj["kind"])
                if obj["kind"] in _KIND_ORDER
                else len(_KIND_ORDER)
            )
            key = (
                stage_index.get(registration.stage, len(stage_index)),
                rank,
                meta.get("namespace", ""),
                meta.get("name", ""),
            )
            keyed.append((key, obj))
    return [obj for _, obj in sorted(keyed, key=lambda pair: pair[0])]


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
        "metadata": _sorted(inputs.get("metadata", {})),
    }
    for key, value in sorted(inputs.items()):
        if key not in obj and not key.startswith("__"):
            obj[key] = _sorted(value)
    return obj


def _sorted(value: Any) -> Any:
    # The engine hands inputs over in no fixed order; sorted keys keep
    # rendered files stable from run to run, so they diff cleanly.
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


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
                "values": _sorted(inputs.get("values", {})),
            }
        )
    return sorted(found, key=lambda chart: str(chart["name"]))


CHARTS_FILE = "helm-charts.txt"
SECRETS_DIR = "secrets"
_RENDERED = re.compile(r"^\d{3}-[a-z0-9.-]+\.yaml$")


def prepare(out: Path) -> None:
    """Make ``out`` ready for a render, or refuse it before any work is done.

    Files an earlier render wrote are removed, so a directory never mixes two
    stacks; a directory holding anything else is refused rather than emptied.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        for path in out.iterdir():
            if path.is_dir() and path.name == SECRETS_DIR:
                prepare(path)
                continue
            if not (
                path.is_file()
                and (_RENDERED.match(path.name) or path.name == CHARTS_FILE)
            ):
                raise VaporaError(
                    f"{out}: holds {path.name}, which render did not write; "
                    "choose an empty directory."
                )
        for path in out.iterdir():
            if path.is_file():
                path.unlink()
    except OSError as error:
        raise VaporaError(f"{out}: cannot be written: {error.strerror}.") from None


def render(recording: Recording, out: Path) -> list[Path]:
    """Write one YAML file per object; return the paths.

    ``kubectl apply -f OUT`` applies everything but the Secrets: their values
    exist only inside the engine, so they go to ``OUT/secrets`` with masked
    values, for review, where a plain apply of the directory does not reach.
    The Helm charts, which are not Kubernetes objects, are listed in
    ``OUT/helm-charts.txt``.
    """
    prepare(out)
    written: list[Path] = []
    for index, obj in enumerate(kubernetes_objects(recording), start=1):
        meta = obj.get("metadata", {})
        parts = [meta.get("namespace", "cluster"), obj["kind"], meta.get("name", "")]
        stem = _UNSAFE.sub("-", "_".join(parts).lower()).strip("-")
        folder = out
        header = ""
        if obj["kind"] == "Secret":
            folder = out / SECRETS_DIR
            folder.mkdir(exist_ok=True)
            header = f"# Secret values are shown as {MASK}; the engine fills them.\n"
        path = folder / f"{index:03d}-{stem}.yaml"
        path.write_text(header + _dump(obj), encoding="utf-8")
        written.append(path)
    listed = charts(recording)
    if listed:
        path = out / CHARTS_FILE
        path.write_text(
            "# Helm charts the stack installs (YAML; not Kubernetes objects).\n"
            + _dump({"charts": listed}),
            encoding="utf-8",
        )
        written.append(path)
    return written


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
