"""Reading an exported stack state: targets for an update, deployed versions.

Works on the plain ``deployment`` dictionary of ``pulumi stack export``, so it
needs no engine and tests can feed it a small hand-written state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vapora_infra.errors import VaporaError

WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
)


def resources(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of an exported deployment (empty for a new stack)."""
    found = deployment.get("resources") or []
    return [r for r in found if isinstance(r, dict) and "urn" in r]


def urn_name(urn: str) -> str:
    """The resource name at the end of a URN."""
    return urn.rsplit("::", 1)[-1]


def component_targets(
    deployment: Mapping[str, Any], module: str, names: Iterable[str]
) -> list[str]:
    """URNs of the ``vapora:<module>:*`` component called one of ``names``,
    and of every resource below it.

    Targeting the children too matters: ``pulumi up --target`` updates only the
    URNs it is given, and a component's Deployment is its child, not itself.
    """
    wanted = set(names)
    found = resources(deployment)
    roots = [
        r["urn"]
        for r in found
        if _module(r.get("type", "")) == module and urn_name(r["urn"]) in wanted
    ]
    if not roots:
        return []

    children: dict[str, list[str]] = {}
    for resource in found:
        parent = resource.get("parent")
        if parent:
            children.setdefault(parent, []).append(resource["urn"])
    selected: list[str] = []
    pending = list(roots)
    while pending:
        urn = pending.pop(0)
        if urn in selected:
            continue
        selected.append(urn)
        pending.extend(children.get(urn, []))
    return selected


def pool_targets(deployment: Mapping[str, Any], role: str) -> list[str]:
    """URNs of one agent pool's component and its children."""
    return _required(
        component_targets(deployment, "agents", _pool_names(role)),
        f"agent pool {role}",
    )


def service_targets(deployment: Mapping[str, Any], service: str) -> list[str]:
    """URNs of one service's component and its children."""
    return _required(
        component_targets(deployment, "services", (service,)),
        f"service {service}",
    )


def deployed_versions(deployment: Mapping[str, Any]) -> dict[str, str]:
    """Workload name -> the image tag of its first container, as deployed."""
    versions: dict[str, str] = {}
    for resource in resources(deployment):
        if resource.get("type") not in WORKLOAD_TYPES:
            continue
        state = resource.get("outputs") or resource.get("inputs") or {}
        name = (state.get("metadata") or {}).get("name") or urn_name(resource["urn"])
        pod = ((state.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = pod.get("containers") or []
        if containers and isinstance(containers[0].get("image"), str):
            versions[name] = image_tag(containers[0]["image"])
    return versions


def image_tag(image: str) -> str:
    """The tag of an image reference (``latest`` when it has none)."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _module(type_token: str) -> str | None:
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "vapora":
        return None
    return parts[1]


def _pool_names(role: str) -> tuple[str, ...]:
    # The pool component is named after its role; the prefixed forms keep the
    # selection working if the program namespaces names by area.
    return (role, f"agents-{role}", f"agent-{role}", f"vapora-agents-{role}")


def _required(urns: list[str], what: str) -> list[str]:
    if not urns:
        raise VaporaError(
            f"{what} has no resources in the stack's state; run a full update "
            "(pulumi up) before a targeted one."
        )
    return urns
