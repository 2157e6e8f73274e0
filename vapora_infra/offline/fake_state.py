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


def _eks_cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cluster = inputs.get("name", name)
    issuer = f"https://oidc.eks.eu-west-1.amazonaws.com/id/{cluster.upper()}"
    return {
        "name": cluster,
        "arn": f"arn:aws:eks:eu-west-1:000000000000:cluster/{cluster}",
        "endpoint": f"https://{cluster}.gr7.eu-west-1.eks.amazonaws.com",
        "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"},
        "identities": [{"oidcs": [{"issuer": issuer}]}],
        "vpcConfig": {
            **inputs.get("vpcConfig", {}),
            "clusterSecurityGroupId": f"sg-{cluster}",
        },
    }


def _iam_role(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "arn": f"arn:aws:iam::000000000000:role/{name}",
    }


def _oidc_provider(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    host = str(inputs.get("url", name)).removeprefix("https://")
    return {"arn": f"arn:aws:iam::000000000000:oidc-provider/{host}"}


def _availability_zones(args: dict[str, Any]) -> dict[str, Any]:
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    return {"names": zones, "zoneIds": ["euw1-az1", "euw1-az2", "euw1-az3"]}


_OUTPUTS.update(
    {
        "aws:eks/cluster:Cluster": _eks_cluster,
        "aws:iam/role:Role": _iam_role,
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    }
)
_CALLS.update(
    {"aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones}
)
