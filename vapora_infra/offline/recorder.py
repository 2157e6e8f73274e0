"""Runs the real program under Pulumi's mock engine and records every resource."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from vapora_infra.offline import fake_state
from vapora_infra.spec.project import Project

PROJECT = "vapora-infra"
MASK = "[secret]"


@dataclass
class Registration:
    """One resource as the engine would have received it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    provider: str
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    timeouts: dict[str, str]
    inputs: dict[str, Any]
    stage: str = ""

    def masked_inputs(self) -> Any:
        """Inputs with every secret value replaced by a mask."""
        return mask_secrets(self.inputs)


@dataclass
class Recording:
    """Everything one run of the program registered."""

    stack: str
    resources: list[Registration] = field(default_factory=list)
    stage_order: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_type(self, type_token: str) -> list[Registration]:
        """Every registration of one resource type."""
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registration:
        """The registration with that resource name."""
        for registration in self.resources:
            if registration.name == name:
                return registration
        raise KeyError(name)


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that keeps what each registration asked of the engine."""

    def __init__(self, engine_mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(engine_mocks)
        self.recorded: list[Registration] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the stack out of its children's type chain; the
        # mock monitor does not, so URNs would differ from `pulumi up`'s.
        if "::pulumi:pulumi:Stack::" in parent:
            parent = ""
        urn: str = super().make_urn(parent, type_, name)
        return urn

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        timeouts = request.customTimeouts
        self.recorded.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                custom=bool(request.custom),
                provider=request.provider,
                dependencies=list(request.dependencies),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                timeouts={
                    kind: getattr(timeouts, kind)
                    for kind in ("create", "update", "delete")
                    if timeouts is not None and getattr(timeouts, kind)
                },
                inputs=_whole_numbers(rpc.deserialize_properties(request.object)),
            )
        )
        return response


class _Mocks(pulumi.runtime.Mocks):
    """Echo inputs back as state, with plausible values where a type needs them."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:  # type: ignore[type-arg]
        state = dict(args.inputs)
        state.update(fake_state.outputs_for(args.typ, args.name, args.inputs))
        return f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return fake_state.call_result(args.token, args.args), None


def record(
    project: Project,
    secret_config: dict[str, Any] | None = None,
    placeholders: bool = True,
) -> Recording:
    """Run the program for one stack under the mock engine.

    ``secret_config`` supplies values for the stack's secret config keys (tests
    pass known values); otherwise each secret key gets a masked placeholder.
    Without ``placeholders`` the program sees exactly the stack's config, as it
    would under the engine.
    """
    from vapora_infra.program import build

    # The SDK runs on the thread's event loop; a caller that used asyncio.run
    # (the NATS client does) leaves the thread without one.
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    monitor = RecordingMonitor(_Mocks())
    pulumi.runtime.set_mocks(
        _Mocks(), project=PROJECT, stack=project.stack, preview=False, monitor=monitor
    )
    config, secret_keys = _engine_config(project, secret_config, placeholders)
    pulumi.runtime.set_all_config(config, secret_keys)

    outputs: dict[str, Any] = {}

    def program() -> None:
        built = build(project)
        outputs.update(
            {"stage_of": built.stage_of, "stage_order": [s.name for s in built.stages]}
        )
        for key, value in built.outputs.items():
            pulumi.export(key, value)
            outputs.setdefault("exports", {})[key] = value

    _sync_await(run_pulumi_func(program))

    recording = Recording(project.stack, monitor.recorded, outputs["stage_order"])
    recording.outputs = _resolve(outputs.get("exports", {}))
    _assign_stages(recording, outputs["stage_of"])
    return recording


def _engine_config(
    project: Project, secret_config: dict[str, Any] | None, placeholders: bool
) -> tuple[dict[str, str], list[str]]:
    config: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in (project.secret_config or {}).items():
        provided = (secret_config or {}).get(key, _placeholder(value))
        config[f"vapora:{key}"] = (
            json.dumps(provided) if not isinstance(provided, str) else provided
        )
        secrets.append(f"vapora:{key}")
    # Encrypted values cannot be read without the engine, and a stack may not
    # have set them yet: the plan shows the Secrets with masked values either
    # way, while `pulumi up` refuses missing ones.
    if (
        placeholders
        and "vapora:secretValues" not in config
        and "secretValues" not in (secret_config or {})
    ):
        config["vapora:secretValues"] = MASK
        secrets.append("vapora:secretValues")
    for key, value in (secret_config or {}).items():
        if f"vapora:{key}" not in config:
            config[f"vapora:{key}"] = (
                value if isinstance(value, str) else json.dumps(value)
            )
            secrets.append(f"vapora:{key}")
    return config, secrets


def _placeholder(value: Any) -> Any:
    # Encrypted config cannot be read without the engine; keep its shape.
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return MASK
        return {k: _placeholder(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholder(v) for v in value]
    return MASK


def _resolve(exports: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in exports.items():
        output = pulumi.Output.from_input(value)
        is_secret = _sync_await(output.is_secret())
        resolved[key] = MASK if is_secret else _sync_await(output.future())
    return resolved


def _whole_numbers(value: Any) -> Any:
    # The wire format carries every number as a double, so 65532 arrives as
    # 65532.0. The engine hands providers JSON, where the two are one number;
    # rendered YAML and policy tools (checkov compares with int) must see 65532.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _assign_stages(recording: Recording, stage_of: dict[str, str]) -> None:
    parents = {r.urn: r for r in recording.resources}
    for registration in recording.resources:
        top = registration
        while top.parent in parents:
            top = parents[top.parent]
        registration.stage = stage_of.get(top.name, "")


def mask_secrets(value: Any) -> Any:
    """A copy of a deserialized value with secrets replaced by a mask."""
    if rpc.is_rpc_secret(value):
        return _mask_leaves(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def _mask_leaves(value: Any) -> Any:
    # Keep a secret map's keys: a Secret renders as valid YAML with masked values.
    if isinstance(value, dict):
        return {k: _mask_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(v) for v in value]
    return MASK
