"""Upgrading one service, and going back to an earlier version of it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vapora_infra.errors import SpecError, VaporaError
from vapora_infra.ops.scaling import deployments_file
from vapora_infra.ops.state import deployed_versions, service_targets
from vapora_infra.spec.project import NAMESPACE, Project

if TYPE_CHECKING:
    from vapora_infra.ops.engine import Engine, Output

_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")


class UpgradeFailed(VaporaError):
    """The update failed; the message says whether the old version is back."""


@dataclass(frozen=True)
class UpgradeRequest:
    """A checked request to run one service at another version."""

    stack: str
    service: str
    version: str
    default_version: str

    @property
    def key(self) -> str:
        """The path config key the program reads the version from."""
        return version_key(self.service)


@dataclass(frozen=True)
class UpgradeResult:
    """What an upgrade did."""

    service: str
    previous: str
    version: str
    changes: str


def version_key(service: str) -> str:
    """``vapora:services.<service>.version``."""
    return f"{NAMESPACE}:services.{service}.version"


def check_upgrade(project: Project, service: str, version: str) -> UpgradeRequest:
    """Refuse an unknown service or a version that is not semantic."""
    taskservs = project.enabled_taskservs()
    if service not in taskservs:
        raise SpecError(
            project.config_file,
            f"{NAMESPACE}:services",
            service,
            f"is not a service of stack {project.stack}; services: "
            + ", ".join(sorted(taskservs))
            + ".",
        )
    if not _VERSION.fullmatch(version):
        raise SpecError(
            project.config_file,
            version_key(service),
            version,
            "is not a version such as 0.3.0 or 0.3.0-rc.1.",
        )
    default = project.taskservs[service].taskserv.version

    return UpgradeRequest(project.stack, service, version, default)


def refuse_upgrade_if_deployments_managed(root: Path, request: UpgradeRequest) -> None:
    """Pulumi Deployments reads config from git; a local edit would be lost."""
    settings = deployments_file(root, request.stack)
    if settings is None:
        return
    raise VaporaError(
        f"stack {request.stack} is updated by Pulumi Deployments ({settings.name}), "
        f"which reads its config from git; set {request.key} to {request.version} in "
        f"Pulumi.{request.stack}.yaml, commit and push."
    )


def upgrade(
    engine: Engine,
    request: UpgradeRequest,
    *,
    rollback_on_failure: bool,
    on_output: Output | None = None,
) -> UpgradeResult:
    """Set the version and update that service only; undo on failure if asked."""
    targets = service_targets(engine.export()["deployment"] or {}, request.service)
    previous = engine.get_config(request.key, path=True)
    engine.set_config(request.key, request.version, path=True)

    try:
        result = engine.up(targets, on_output)
    except VaporaError as error:
        if not rollback_on_failure:
            raise UpgradeFailed(
                f"upgrading {request.service} to {request.version} failed and was "
                f"not rolled back: {error}"
            ) from error
        _restore(engine, request.key, previous)
        try:
            engine.up(targets, on_output)
        except VaporaError as again:
            raise UpgradeFailed(
                f"upgrading {request.service} to {request.version} failed ({error}); "
                f"restoring {previous or request.default_version} failed too: {again}"
            ) from again
        raise UpgradeFailed(
            f"upgrading {request.service} to {request.version} failed ({error}); "
            f"rolled back to {previous or request.default_version}."
        ) from error
    return UpgradeResult(
        request.service,
        previous or request.default_version,
        request.version,
        result.summary(),
    )


def current_version(deployment: Mapping[str, Any], service: str, default: str) -> str:
    """The version running now, read from the Deployment's image tag."""
    return deployed_versions(deployment).get(service, default)


def last_good_version(
    history: Sequence[Mapping[str, Any]], service: str, current: str, default: str
) -> str:
    """The newest version of ``service`` that a successful update deployed,
    other than ``current``.

    History entries are newest first and carry the config of their update; a
    service without a version override ran its taskserv's default version.
    """
    for entry in history:
        if entry.get("kind") != "update" or entry.get("result") != "succeeded":
            continue
        version = _configured_version(entry.get("config") or {}, service) or default
        if version != current:
            return version
    raise VaporaError(
        f"the stack's history has no successful update of {service} at a version "
        f"other than {current}; pass --to-version."
    )


def _configured_version(config: Mapping[str, Any], service: str) -> str | None:
    services = config.get(f"{NAMESPACE}:services")
    # The CLI's history holds structured config as JSON text.
    if isinstance(services, str):
        try:
            services = json.loads(services)
        except json.JSONDecodeError:
            return None
    if not isinstance(services, dict):
        return None
    override = services.get(service)
    version = override.get("version") if isinstance(override, dict) else None
    return version if isinstance(version, str) else None


def _restore(engine: Engine, key: str, previous: str | None) -> None:
    if previous is None:
        engine.remove_config(key, path=True)
    else:
        engine.set_config(key, previous, path=True)
