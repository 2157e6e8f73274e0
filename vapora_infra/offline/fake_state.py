"""Plausible provider outputs for the mock engine, by resource type.

The mock engine echoes inputs back as state. A few types need outputs that only
a cloud would compute (an EKS endpoint, an OIDC issuer); without them the
program could not wire its later resources offline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

OutputFactory = Callable[[str, dict[str, Any]], dict[str, Any]]

_OUTPUTS: dict[str, OutputFactory] = {}
_CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def outputs_for(type_token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Extra state the mock engine reports for a new resource."""
    factory = _OUTPUTS.get(type_token)
    return factory(name, inputs) if factory is not None else {}


def call_result(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """The mock result of a provider function."""
    handler = _CALLS.get(token)
    return handler(args) if handler is not None else {}
