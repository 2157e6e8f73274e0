"""The engine-free plan: what a stack would register, stage by stage."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from vapora_infra.offline.recorder import Recording, Registration

# The part of a URN after the stack and project, for compact references.
_URN_PARTS = 4


@dataclass(frozen=True)
class StagePlan:
    """The resources one stage registers."""

    name: str
    resources: list[Registration]


def stages(recording: Recording) -> list[StagePlan]:
    """Resources grouped by deploy stage, in the workflow's order."""
    grouped: dict[str, list[Registration]] = {s: [] for s in recording.stage_order}
    for registration in recording.resources:
        grouped.setdefault(registration.stage or "(none)", []).append(registration)
    return [StagePlan(name, found) for name, found in grouped.items()]


def counts_by_type(recording: Recording) -> Counter[str]:
    """How many resources of each type the stack registers."""
    return Counter(r.type for r in recording.resources)


def to_json(recording: Recording) -> dict[str, Any]:
    """One object per resource, secrets masked, for machines and diffs."""
    return {
        "stack": recording.stack,
        "stages": recording.stage_order,
        "total": len(recording.resources),
        "counts": dict(sorted(counts_by_type(recording).items())),
        "outputs": recording.outputs,
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": short_urn(r.parent),
                "dependencies": [short_urn(d) for d in r.dependencies],
                "stage": r.stage,
                "protect": r.protect,
                "retain_on_delete": r.retain_on_delete,
                "timeouts": r.timeouts,
                "inputs": r.masked_inputs(),
            }
            for r in recording.resources
        ],
    }


def short_urn(urn: str) -> str:
    """``type::name`` of a URN, or the empty string."""
    if not urn:
        return ""
    parts = urn.split("::")
    if len(parts) < _URN_PARTS:
        return urn
    return f"{parts[2].split('$')[-1]}::{parts[3]}"
