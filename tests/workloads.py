"""Helpers for the workload tests: known secret config and object look-ups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vapora_infra.offline.recorder import Recording, Registration, record
from vapora_infra.spec.project import load_project

ROOT = Path(__file__).resolve().parent.parent

SECRET_VALUES: dict[str, Any] = {
    "secretValues": {
        "vapora-secrets": {
            "db-password": "db-pw",
            "jwt-secret": "jwt",
            "claude-key": "claude",
            "openai-key": "openai",
            "gemini-key": "gemini",
        }
    }
}


def record_stack(stack: str) -> Recording:
    """A recording of one stack with known secret values."""
    return record(load_project(ROOT, stack), SECRET_VALUES)


def kind(recording: Recording, api_kind: str) -> list[Registration]:
    """Every Kubernetes object of one kind, by its inputs."""
    return [
        r for r in recording.resources if r.custom and r.inputs.get("kind") == api_kind
    ]


def obj(recording: Recording, api_kind: str, name: str) -> Registration:
    """The object of that kind whose metadata.name is ``name``."""
    found = [
        r for r in kind(recording, api_kind) if r.inputs["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"{api_kind}/{name}: found {len(found)}"
    return found[0]


def pod_spec(registration: Registration) -> dict[str, Any]:
    """The pod template spec of a workload object."""
    spec: dict[str, Any] = registration.inputs["spec"]["template"]["spec"]
    return spec


def env_of(registration: Registration, container: int = 0) -> dict[str, Any]:
    """A container's environment: name -> value or valueFrom."""
    found = {}
    for variable in pod_spec(registration)["containers"][container].get("env", []):
        found[variable["name"]] = variable.get("value", variable.get("valueFrom"))
    return found
