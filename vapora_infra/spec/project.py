"""Load a whole project: stack settings, taskservs and workflows, cross-checked."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vapora_infra.errors import SpecError
from vapora_infra.spec.base import spec_error
from vapora_infra.spec.files import read_toml, read_yaml
from vapora_infra.spec.kubeconfig import check_kubeconfig
from vapora_infra.spec.secrets import (
    check_secret_config,
    check_vault_token,
    secret_keys,
)
from vapora_infra.spec.stack import StackSettings
from vapora_infra.spec.taskserv import REF, Taskserv
from vapora_infra.spec.workflow import Workflow

NAMESPACE = "vapora"
DEPLOY_WORKFLOW = "deploy-full-stack"
DATA_SERVICES = ("surrealdb", "nats", "redis")
# Secret config keys; their values never enter the validated settings.
SECRET_KEYS = (
    "secretValues",
    "slackWebhook",
    "vaultToken",
    "grafanaAdminPassword",
)
SETTINGS_KEYS = tuple(
    info.alias or name for name, info in StackSettings.model_fields.items()
)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Project:
    """Everything a stack deploys, validated and cross-checked."""

    root: Path
    stack: str
    settings: StackSettings
    taskservs: dict[str, Taskserv]
    workflows: dict[str, Workflow]
    secret_config: dict[str, Any] = field(default_factory=dict)

    @property
    def config_file(self) -> str:
        """The stack file name used in error messages."""
        return f"Pulumi.{self.stack}.yaml"

    @property
    def deploy(self) -> Workflow:
        """The workflow whose steps order a full deployment."""
        return self.workflows[DEPLOY_WORKFLOW]

    def enabled_taskservs(self) -> dict[str, Taskserv]:
        """Taskservs the stack deploys, with its overrides applied."""
        overrides = self.settings.services
        return {
            name: ts
            for name, ts in self.taskservs.items()
            if name not in overrides or overrides[name].enabled
        }

    def enabled_components(self) -> set[str]:
        """Names of every deployable service: data services and taskservs."""
        return self.settings.storage.enabled_names() | set(self.enabled_taskservs())


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding Pulumi.yaml."""
    for candidate in (start, *start.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    raise SpecError(
        str(start), "", "Pulumi.yaml", "was not found here or in any parent; use -C."
    )


def stack_config_from_file(root: Path, stack: str) -> dict[str, Any]:
    """The ``vapora:`` keys of Pulumi.<stack>.yaml, without the namespace."""
    path = root / f"Pulumi.{stack}.yaml"
    if not stack or "." in stack or "/" in stack or not path.is_file():
        stacks = sorted(p.name[7:-5] for p in root.glob("Pulumi.*.yaml"))
        stacks = [s for s in stacks if "." not in s]
        raise SpecError(
            path.name, "", stack, f"is not a stack here; stacks: {', '.join(stacks)}."
        )
    data = read_yaml(path, path.name) or {}
    if not isinstance(data, dict) or not isinstance(data.get("config", {}), dict):
        raise SpecError(path.name, "config", data, "must be a mapping of keys.")
    found = namespaced(data.get("config") or {})
    # `pulumi config set` rewrites the file and quotes every top-level
    # scalar, so `vapora:protect: false` comes back as "false".
    found.update(_top_level_booleans(found))
    return found


def stack_config_from_engine() -> dict[str, Any]:
    """The ``vapora:`` keys the Pulumi engine passed to this program."""
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = {}
    merged.update(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    found = namespaced(merged)
    # The engine hands structured values over as JSON text.
    for key, value in list(found.items()):
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                found[key] = json.loads(value)
    found.update(_top_level_booleans(found))
    return found


def _top_level_booleans(found: dict[str, Any]) -> dict[str, Any]:
    """Pulumi keeps top-level values as text; read vapora:protect's back."""
    value = found.get("protect")
    if not isinstance(value, str):
        return {}
    return {"protect": {"true": True, "false": False}.get(value, value)}


def namespaced(config: dict[str, Any]) -> dict[str, Any]:
    """Strip the ``vapora:`` prefix; keys of other namespaces are not ours."""
    prefix = f"{NAMESPACE}:"
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def load_project(
    root: Path,
    stack: str,
    config: dict[str, Any] | None = None,
    *,
    for_update: bool = False,
    check_context: bool = False,
) -> Project:
    """Read and cross-check everything one stack deploys.

    ``for_update`` is set by the Pulumi program itself: it refuses an
    existing cluster's kubeconfig file that is missing or lacks the context,
    and secret config that lacks a value the pods read. ``check_context``
    checks the context only when the file exists. With neither, the cluster's
    kubeconfig is not read at all: a plan describes the stack, not the
    machine it runs on, whose kubeconfig may name other clusters.
    """
    source = f"Pulumi.{stack}.yaml"
    raw = stack_config_from_file(root, stack) if config is None else config
    settings, secrets = _settings(raw, source)
    if for_update or check_context:
        check_kubeconfig(settings.cluster, source, for_update)
    taskservs = _load_dir(root / "taskservs", "*.toml", Taskserv, read_toml)
    workflows = _load_dir(root / "workflows", "*.yaml", Workflow, read_yaml)
    _check_taskserv_names(taskservs)
    _check_overrides(settings, taskservs, source)
    taskservs = {
        name: _apply_override(ts, settings, source) for name, ts in taskservs.items()
    }
    project = Project(root, stack, settings, taskservs, workflows, secrets)
    _check_dependencies(project)
    _check_secrets(project, require=for_update)
    if DEPLOY_WORKFLOW not in workflows:
        raise SpecError(
            "workflows/",
            "",
            f"{DEPLOY_WORKFLOW}.yaml",
            "is missing; it orders deploys.",
        )
    return project


def _settings(raw: dict[str, Any], source: str) -> tuple[StackSettings, dict[str, Any]]:
    settings_raw = {k: v for k, v in raw.items() if k not in SECRET_KEYS}
    secrets = {k: v for k, v in raw.items() if k in SECRET_KEYS}
    for key in settings_raw:
        if key not in SETTINGS_KEYS:
            found = difflib.get_close_matches(key, SETTINGS_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean 'vapora:{found[0]}'?)" if found else ""
            accepted = ", ".join(f"vapora:{k}" for k in (*SETTINGS_KEYS, *SECRET_KEYS))
            raise SpecError(
                source,
                f"vapora:{key}",
                key,
                f"is not a known setting{hint}; accepted: {accepted}.",
            )
    try:
        settings = StackSettings.model_validate(settings_raw)
    except ValidationError as error:
        raise spec_error(source, error, prefix="vapora") from None
    return settings, secrets


def _load_dir(folder: Path, pattern: str, model: type[M], reader: Any) -> dict[str, M]:
    loaded: dict[str, M] = {}
    for path in sorted(folder.glob(pattern)):
        source = f"{folder.name}/{path.name}"
        data = reader(path, source)
        if data is None:
            raise SpecError(source, "", path.name, "is empty; it needs a mapping.")
        if not isinstance(data, dict):
            raise SpecError(source, "", type(data).__name__, "must be a mapping.")
        try:
            loaded[path.stem] = model.model_validate(data)
        except ValidationError as error:
            raise spec_error(source, error) from None
    return loaded


def _check_taskserv_names(taskservs: dict[str, Taskserv]) -> None:
    for stem, taskserv in taskservs.items():
        if taskserv.name != stem:
            raise SpecError(
                f"taskservs/{stem}.toml",
                "taskserv.name",
                taskserv.name,
                f"must match the file name; accepted: {stem!r}.",
            )
        if taskserv.name in DATA_SERVICES:
            raise SpecError(
                f"taskservs/{stem}.toml",
                "taskserv.name",
                taskserv.name,
                "is the name of a data service; choose another.",
            )


def _check_overrides(
    settings: StackSettings, taskservs: dict[str, Taskserv], source: str
) -> None:
    for name in settings.services:
        if name not in taskservs:
            accepted = ", ".join(sorted(taskservs))
            raise SpecError(
                source,
                f"vapora:services.{name}",
                name,
                f"is not a taskserv; accepted: {accepted}.",
            )


def _apply_override(
    taskserv: Taskserv, settings: StackSettings, source: str
) -> Taskserv:
    override = settings.services.get(taskserv.name)
    if override is None:
        return taskserv
    data = taskserv.model_dump(by_alias=True)
    if override.version is not None:
        data["taskserv"]["version"] = override.version
    if override.replicas is not None:
        data["deployment"]["replicas"] = override.replicas
    if override.scaling is not None:
        data["scaling"] = override.scaling.model_dump()
    if override.resources is not None:
        data["resources"] = override.resources.model_dump()
    try:
        return Taskserv.model_validate(data)
    except ValidationError as error:
        prefix = f"vapora:services.{taskserv.name}"
        raise spec_error(source, error, prefix=prefix) from None


def _check_secrets(project: Project, *, require: bool) -> None:
    # Checked here, before anything is registered: a real update that found a
    # missing value in a later stage would already have built the earlier ones.
    settings = project.settings
    source = project.config_file
    vault = settings.secrets.vault
    if settings.secrets.source == "vault":
        needs_token = vault is not None and vault.auth == "token"
        check_vault_token(source, needs_token, project.secret_config, require=require)
        return
    surrealdb = settings.storage.surrealdb
    keys = secret_keys(
        project.enabled_taskservs(), surrealdb.namespace if surrealdb.enabled else None
    )
    check_secret_config(source, keys, project.secret_config, require=require)


def _check_dependencies(project: Project) -> None:
    known = set(DATA_SERVICES) | set(project.taskservs)
    enabled = project.enabled_components()
    for name, taskserv in project.enabled_taskservs().items():
        source = f"taskservs/{name}.toml"
        deps = taskserv.dependencies
        for kind, names in (("required", deps.required), ("optional", deps.optional)):
            for index, needed in enumerate(names):
                if needed == name:
                    raise SpecError(
                        source,
                        f"dependencies.{kind}[{index}]",
                        needed,
                        "is the service itself.",
                    )
                if needed not in known:
                    raise SpecError(
                        source,
                        f"dependencies.{kind}[{index}]",
                        needed,
                        f"is not a service; accepted: {', '.join(sorted(known))}.",
                    )
                if kind == "required" and needed not in enabled:
                    raise SpecError(
                        source,
                        f"dependencies.required[{index}]",
                        needed,
                        f"is required but disabled in {project.config_file}; "
                        "enable it or move it to dependencies.optional.",
                    )
        for variable, value in taskserv.environment.items():
            ref = REF.fullmatch(value)
            if ref is not None and ref.group("service") not in known:
                raise SpecError(
                    source,
                    f"environment.{variable}",
                    value,
                    f"refers to no service; accepted: {', '.join(sorted(known))}.",
                )


def default_stack() -> str:
    """The stack a command uses when none is named."""
    return os.environ.get("PULUMI_STACK") or "dev"
