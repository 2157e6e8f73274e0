"""What every component shares: stage policy, labels, hardened pod settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from vapora_infra.spec.base import ResourceList, Resources

PART_OF = "vapora"
MANAGED_BY = "pulumi"

# Why checkov checks that do not fit this deployment are skipped. Each object
# they apply to carries its own copy, so a reviewer reads it on the object.
RELEASE_IMAGE_TAGS = (
    "The image is pinned by its version tag in the taskserv file or the stack "
    "configuration, and the release pipeline that builds it owns its digest."
)
RELEASE_IMAGE_PULL = (
    "Release version tags are immutable, so the node's cached copy is the "
    "released image; pulling Always would add a registry round-trip to every "
    "pod start and make the registry an outage dependency."
)
UPSTREAM_IMAGE_TAGS = (
    "The upstream image is pinned by its version tag in the stack configuration "
    "or this program and changes only through a reviewed change to that tag; "
    "the release pipeline, not this program, owns image digests."
)
UPSTREAM_IMAGE_PULL = (
    "The image is pinned by its version tag and pulled once per node; pulling "
    "Always would add a registry round-trip to every pod start and make the "
    "public registry an outage dependency for restarts of the data services."
)


@dataclass(frozen=True)
class StagePolicy:
    """How the deploy workflow's step constrains the resources of one stage.

    The step's ``depends_on`` becomes ``after`` (components of earlier stages
    that must be ready first) and its ``timeout`` becomes the custom timeouts of
    every resource in the stage, so ``pulumi up`` follows the workflow.
    """

    name: str
    timeout: str | None = None
    after: Sequence[pulumi.Resource] = field(default_factory=tuple)

    def options(self, parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
        """Options for a child resource of a component in this stage."""
        depends_on = [*self.after, *extra.pop("depends_on", [])]
        timeouts = None
        if self.timeout is not None:
            timeouts = pulumi.CustomTimeouts(
                create=self.timeout, update=self.timeout, delete=self.timeout
            )
        return pulumi.ResourceOptions(
            parent=parent,
            depends_on=depends_on or None,
            custom_timeouts=timeouts,
            **extra,
        )


def labels(name: str, component: str, version: str | None = None) -> dict[str, str]:
    """The recommended app.kubernetes.io labels for one workload."""
    found = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if version is not None:
        found["app.kubernetes.io/version"] = version
    return found


def selector(name: str) -> dict[str, str]:
    """The immutable subset of labels that Deployments and Services select on."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}


def resource_requirements(resources: Resources) -> dict[str, dict[str, str]]:
    """Container resources from a validated requests/limits pair."""
    return {
        "requests": _quantities(resources.requests),
        "limits": _quantities(resources.limits),
    }


def guaranteed(resources: ResourceList) -> dict[str, dict[str, str]]:
    """Requests equal to limits, which gives the pod Guaranteed QoS."""
    both = _quantities(resources)
    return {"requests": dict(both), "limits": dict(both)}


def _quantities(resources: ResourceList) -> dict[str, str]:
    found: dict[str, str] = {}
    if resources.cpu is not None:
        found["cpu"] = resources.cpu
    if resources.memory is not None:
        found["memory"] = resources.memory
    return found


def pod_security_context(user: int = 65532) -> dict[str, Any]:
    """A pod that runs as a fixed non-root user under the default seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": user,
        "fsGroup": user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(user: int = 65532) -> dict[str, Any]:
    """The restricted Pod Security Standard, container side."""
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": user,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def checkov_skips(reasons: Mapping[str, str]) -> dict[str, str]:
    """Annotations that make checkov skip each check, with the reason why."""
    for check, reason in reasons.items():
        # checkov splits the annotation value on "=" into exactly two parts.
        if "=" in check or "=" in reason or not reason.strip():
            raise ValueError(f"checkov skip {check} needs a reason without '='")

    return {
        f"checkov.io/skip{index}": f"{check}={reason}"
        for index, (check, reason) in enumerate(sorted(reasons.items()), start=1)
    }


def metadata(
    name: str,
    namespace: str | None,
    object_labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """ObjectMeta with a fixed name, so rendered objects and URNs stay stable."""
    found: dict[str, Any] = {"name": name, "labels": dict(object_labels)}
    if namespace is not None:
        found["namespace"] = namespace
    if annotations:
        found["annotations"] = dict(annotations)
    return found
