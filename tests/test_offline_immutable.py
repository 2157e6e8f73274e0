"""Immutable StatefulSet fields between an exported state and the program."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vapora_infra.offline.immutable import immutable_changes

BASE: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "spec": {
        "serviceName": "nats-headless",
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": {"app.kubernetes.io/name": "nats"}},
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "ssd",
                    "resources": {"requests": {"storage": "30Gi"}},
                },
            }
        ],
    },
}


def _changed(path: str, value: Any) -> dict[str, Any]:
    desired = copy.deepcopy(BASE)
    target = desired["spec"]
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    target[parts[-1]] = value
    return desired


def test_no_change_is_no_line() -> None:
    assert immutable_changes({"inputs": BASE}, copy.deepcopy(BASE)) == []


def test_same_size_spelled_differently_is_no_change() -> None:
    desired = _changed(
        "volumeClaimTemplates.0.spec.resources.requests.storage", "30720Mi"
    )
    assert immutable_changes({"inputs": BASE}, desired) == []


@pytest.mark.parametrize(
    ("path", "value", "line"),
    [
        (
            "volumeClaimTemplates.0.spec.resources.requests.storage",
            "50Gi",
            "spec.volumeClaimTemplates[data].resources.requests.storage: 30Gi -> 50Gi",
        ),
        (
            "volumeClaimTemplates.0.spec.storageClassName",
            "hdd",
            "spec.volumeClaimTemplates[data].storageClassName: ssd -> hdd",
        ),
        (
            "volumeClaimTemplates.0.spec.accessModes",
            ["ReadWriteMany"],
            "spec.volumeClaimTemplates[data].accessModes: "
            "ReadWriteOnce -> ReadWriteMany",
        ),
        ("serviceName", "nats", "spec.serviceName: nats-headless -> nats"),
        (
            "podManagementPolicy",
            "OrderedReady",
            "spec.podManagementPolicy: Parallel -> OrderedReady",
        ),
        (
            "selector",
            {"matchLabels": {"app": "nats"}},
            "spec.selector: app.kubernetes.io/name=nats -> app=nats",
        ),
    ],
)
def test_each_immutable_change_is_one_line(path: str, value: Any, line: str) -> None:
    assert immutable_changes({"inputs": BASE}, _changed(path, value)) == [line]


def test_added_and_removed_claims_are_reported() -> None:
    desired = copy.deepcopy(BASE)
    desired["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] = "store"
    assert immutable_changes(BASE, desired) == [
        "spec.volumeClaimTemplates[data]: removed",
        "spec.volumeClaimTemplates[store]: added",
    ]


def test_absent_pod_management_policy_is_the_default() -> None:
    previous = copy.deepcopy(BASE)
    del previous["spec"]["podManagementPolicy"]
    desired = _changed("podManagementPolicy", "OrderedReady")
    assert immutable_changes({"inputs": previous}, desired) == []
