"""Which scale requests are allowed, and where they are written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vapora_infra.errors import SpecError, VaporaError
from vapora_infra.ops.state import pool_targets
from vapora_infra.spec.agents import AgentPool
from vapora_infra.spec.project import NAMESPACE, Project

if TYPE_CHECKING:
    from vapora_infra.ops.engine import Engine, Output, UpdateResult


@dataclass(frozen=True)
class ScaleRequest:
    """A checked request to set one pool's replicas (the autoscaler floor)."""

    stack: str
    role: str
    current: int
    replicas: int
    bounds: tuple[int, int]

    @property
    def key(self) -> str:
        """The path config key the program reads the pool size from."""
        return replicas_key(self.role)

    @property
    def changes(self) -> bool:
        """Whether the request asks for anything new."""
        return self.current != self.replicas


class DeploymentsManaged(VaporaError):
    """The stack is updated by Pulumi Deployments, which reads config from git."""


def pool_for(project: Project, role: str) -> AgentPool:
    """The stack's pool for ``role``, or an error listing the pools there are."""
    pools = project.settings.agents
    pool: AgentPool | None = pools.get(role)  # type: ignore[call-overload]
    if pool is None or not pool.enabled:
        enabled = sorted(name for name, p in pools.items() if p.enabled)
        state = "is disabled on" if pool is not None else "is not a pool of"
        raise SpecError(
            project.config_file,
            f"{NAMESPACE}:agents",
            role,
            f"{state} stack {project.stack}; pools: {', '.join(enabled) or '(none)'}.",
        )
    return pool


def check_scale(project: Project, role: str, replicas: int) -> ScaleRequest:
    """Refuse a role or replica count the stack does not allow."""
    pool = pool_for(project, role)
    low, high = pool.bounds
    if not low <= replicas <= high:
        origin = (
            "autoscaling min_replicas..max_replicas"
            if pool.autoscaling is not None
            else "manual scaling"
        )
        raise SpecError(
            project.config_file,
            replicas_key(role),
            replicas,
            f"lies outside the pool's bounds {low}..{high} ({origin}); "
            f"accepted: {low} to {high}.",
        )

    return ScaleRequest(project.stack, role, pool.replicas, replicas, (low, high))


def replicas_key(role: str) -> str:
    """``vapora:agents.<role>.replicas``, for ``pulumi config set --path``."""
    return f"{NAMESPACE}:agents.{role}.replicas"


def deployments_file(root: Path, stack: str) -> Path | None:
    """The Pulumi Deployments settings file of the stack, when there is one."""
    path = root / f"Pulumi.{stack}.deploy.yaml"
    return path if path.is_file() else None


def refuse_if_deployments_managed(root: Path, request: ScaleRequest) -> None:
    """Stop a local config edit that Pulumi Deployments would never see."""
    settings = deployments_file(root, request.stack)
    if settings is None:
        return
    raise DeploymentsManaged(
        f"stack {request.stack} is updated by Pulumi Deployments ({settings.name}), "
        f"which reads its config from git; set {request.key} to {request.replicas} "
        f"in Pulumi.{request.stack}.yaml (config: {NAMESPACE}:agents: {request.role}: "
        "replicas), commit and push, and the deployment applies it."
    )


def apply_scale(
    engine: Engine,
    request: ScaleRequest,
    *,
    preview: bool = False,
    on_output: Output | None = None,
) -> UpdateResult:
    """Write the pool's replicas and update only that pool.

    A failed update puts the previous value back, so the stack file never
    claims a size the cluster does not have; a preview always does.
    """
    targets = pool_targets(engine.export()["deployment"] or {}, request.role)
    previous = engine.get_config(request.key, path=True)
    engine.set_config(request.key, str(request.replicas), path=True)

    try:
        if preview:
            return engine.preview(targets, on_output)
        return engine.up(targets, on_output)
    except VaporaError:
        _restore(engine, request.key, previous)
        raise
    finally:
        if preview:
            _restore(engine, request.key, previous)


def _restore(engine: Engine, key: str, previous: str | None) -> None:
    if previous is None:
        engine.remove_config(key, path=True)
    else:
        engine.set_config(key, previous, path=True)
