"""StatefulSet fields Kubernetes refuses to update, compared before an update.

A change to any of them makes Pulumi replace the StatefulSet: its pods are
deleted and recreated, and a changed volume claim template leaves the old
volumes behind. The plan shows these changes before anyone runs ``pulumi up``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from vapora_infra.spec.units import quantity_value

_TOP_FIELDS = ("serviceName", "selector", "podManagementPolicy")


def immutable_changes(
    previous_state: Mapping[str, Any], desired: Mapping[str, Any]
) -> list[str]:
    """One line per immutable StatefulSet field that differs.

    ``previous_state`` is a resource of ``pulumi stack export`` (its
    ``inputs`` are used) or those inputs themselves; ``desired`` holds the
    inputs the program registers now.
    """
    before = _spec(previous_state)
    after = _spec(desired)
    changes: list[str] = []

    for name in _TOP_FIELDS:
        old, new = before.get(name), after.get(name)
        if name == "podManagementPolicy":
            # Absent means the API default, which is not a change.
            old, new = old or "OrderedReady", new or "OrderedReady"
        if old != new:
            changes.append(f"spec.{name}: {_show(old)} -> {_show(new)}")

    old_claims = _claims(before)
    new_claims = _claims(after)
    for claim in sorted(old_claims.keys() - new_claims.keys()):
        changes.append(f"spec.volumeClaimTemplates[{claim}]: removed")
    for claim in sorted(new_claims.keys() - old_claims.keys()):
        changes.append(f"spec.volumeClaimTemplates[{claim}]: added")
    for claim in sorted(old_claims.keys() & new_claims.keys()):
        old, new = old_claims[claim], new_claims[claim]
        for field, old_value, new_value in (
            ("storageClassName", old[0], new[0]),
            ("accessModes", old[1], new[1]),
        ):
            if old_value != new_value:
                changes.append(
                    f"spec.volumeClaimTemplates[{claim}].{field}: "
                    f"{_show(old_value)} -> {_show(new_value)}"
                )
        if not _same_size(old[2], new[2]):
            changes.append(
                f"spec.volumeClaimTemplates[{claim}].resources.requests.storage: "
                f"{_show(old[2])} -> {_show(new[2])}"
            )
    return changes


def _spec(state: Mapping[str, Any]) -> Mapping[str, Any]:
    inputs = state.get("inputs", state)
    spec = inputs.get("spec") if isinstance(inputs, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def _claims(spec: Mapping[str, Any]) -> dict[str, tuple[Any, Any, Any]]:
    found: dict[str, tuple[Any, Any, Any]] = {}
    for template in spec.get("volumeClaimTemplates") or []:
        name = (template.get("metadata") or {}).get("name", "")
        claim = template.get("spec") or {}
        size = ((claim.get("resources") or {}).get("requests") or {}).get("storage")
        modes = sorted(claim.get("accessModes") or [])
        found[name] = (claim.get("storageClassName"), modes, size)
    return found


def _same_size(old: Any, new: Any) -> bool:
    # 51200Mi and 50Gi are one size; compare values, not spellings.
    return _bytes(old) == _bytes(new) if old and new else old == new


def _bytes(size: Any) -> Decimal | str:
    try:
        return quantity_value(str(size))
    except ValueError:
        return str(size)


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, Mapping):
        inner = value.get("matchLabels", value)
        return ",".join(f"{k}={v}" for k, v in sorted(inner.items())) or "{}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "[]"
    return str(value)
