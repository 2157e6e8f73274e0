"""The cluster stage under the mock engine: EKS for prod, a kubeconfig for dev."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.workloads import SECRET_VALUES
from vapora_infra.components.eks_cluster import subnet_cidrs
from vapora_infra.offline.recorder import (
    Recording,
    RecordingMonitor,
    Registration,
    record,
)
from vapora_infra.spec.project import load_project

ROOT = Path(__file__).resolve().parent.parent


# Resource name -> ignoreChanges, which the recording does not keep.
IGNORED: dict[str, list[str]] = {}


@pytest.fixture(scope="module")
def prod() -> Recording:
    original = RecordingMonitor.RegisterResource

    def register(monitor: RecordingMonitor, request: Any) -> Any:
        IGNORED[request.name] = list(request.ignoreChanges)
        return original(monitor, request)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordingMonitor, "RegisterResource", register)
        return record(load_project(ROOT, "prod"), SECRET_VALUES)


@pytest.fixture(scope="module")
def dev() -> Recording:
    return record(load_project(ROOT, "dev"), SECRET_VALUES)


def _aws(recording: Recording) -> list[Registration]:
    return [
        r
        for r in recording.resources
        if r.type.startswith("aws:") or r.type == "pulumi:providers:aws"
    ]


def _node_groups(recording: Recording) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["nodeGroupName"]: r.inputs
        for r in recording.by_type("aws:eks/nodeGroup:NodeGroup")
    }


def test_prod_vpc_spans_the_three_configured_zones(prod: Recording) -> None:
    (vpc,) = prod.by_type("aws:ec2/vpc:Vpc")
    subnets = prod.by_type("aws:ec2/subnet:Subnet")
    zones = {"eu-west-1a", "eu-west-1b", "eu-west-1c"}

    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    for kind, tag in (("public", "kubernetes.io/role/elb"), ("private", "internal")):
        found = [s for s in subnets if f"-{kind}-" in s.name]
        assert {s.inputs["availabilityZone"] for s in found} == zones, kind
        assert all(any(tag in k for k in s.inputs["tags"]) for s in found), kind
    assert len(prod.by_type("aws:ec2/natGateway:NatGateway")) == 3
    assert len(prod.by_type("aws:ec2/eip:Eip")) == 3
    assert len(prod.by_type("aws:ec2/internetGateway:InternetGateway")) == 1


def test_subnet_ranges_do_not_overlap() -> None:
    import ipaddress

    private, public = subnet_cidrs("10.0.0.0/16", 3)
    networks = [ipaddress.ip_network(c) for c in private + public]

    assert private == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert public == ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"]
    for index, network in enumerate(networks):
        for other in networks[index + 1 :]:
            assert not network.overlaps(other), (network, other)


def test_prod_eks_cluster_runs_the_spec_version_with_both_endpoints(
    prod: Recording,
) -> None:
    (cluster,) = prod.by_type("aws:eks/cluster:Cluster")

    assert cluster.inputs["name"] == "vapora-cluster"
    assert cluster.inputs["version"] == "1.30"
    assert cluster.inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is True
    assert len(cluster.inputs["vpcConfig"]["subnetIds"]) == 6


@pytest.mark.parametrize(
    ("pool", "instance", "count", "low", "high", "labels"),
    [
        ("agents", "t3.large", 5, 5, 20, {"workload": "agents", "tier": "compute"}),
        ("data", "t3.xlarge", 3, 3, 6, {"workload": "data", "tier": "storage"}),
    ],
)
def test_prod_node_group_per_worker_pool(
    prod: Recording,
    pool: str,
    instance: str,
    count: int,
    low: int,
    high: int,
    labels: dict[str, str],
) -> None:
    group = _node_groups(prod)[pool]

    assert group["instanceTypes"] == [instance]
    assert group["scalingConfig"] == {
        "desiredSize": count,
        "minSize": low,
        "maxSize": high,
    }
    assert group["labels"] == labels
    # Cilium is the CNI on prod: its readiness taint is the only one.
    assert group["taints"] == [
        {
            "key": "node.cilium.io/agent-not-ready",
            "value": "true",
            "effect": "NO_EXECUTE",
        }
    ]


def test_prod_node_groups_leave_desired_size_to_the_autoscaler(
    prod: Recording,
) -> None:
    groups = prod.by_type("aws:eks/nodeGroup:NodeGroup")

    assert len(groups) == 2
    for group in groups:
        assert IGNORED[group.name] == ["scalingConfig.desiredSize"], group.urn


def test_prod_creates_no_control_plane_instances(prod: Recording) -> None:
    groups = _node_groups(prod)
    types = [t for g in groups.values() for t in g["instanceTypes"]]

    assert "t3.medium" not in types
    assert not prod.by_type("aws:ec2/instance:Instance")
    assert set(groups) == {"agents", "data"}


def test_prod_iam_roles_carry_the_managed_policies(prod: Recording) -> None:
    attached = {
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in prod.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }

    assert attached == {
        "AmazonEKSClusterPolicy",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEBSCSIDriverPolicy",
    }


def test_prod_ebs_csi_addon_assumes_its_role_through_oidc(prod: Recording) -> None:
    (addon,) = prod.by_type("aws:eks/addon:Addon")
    (oidc,) = prod.by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    role = prod.named("cluster-ebs-csi")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]

    assert addon.inputs["addonName"] == "aws-ebs-csi-driver"
    assert addon.inputs["serviceAccountRoleArn"].endswith("/cluster-ebs-csi")
    assert oidc.inputs["url"].startswith("https://oidc.eks.")
    assert "system:serviceaccount:kube-system:ebs-csi-controller-sa" in (
        condition.values()
    )


def test_prod_gp3_class_serves_block_volumes_for_osds(prod: Recording) -> None:
    storage_class = prod.named("cluster-gp3")

    assert storage_class.inputs["metadata"]["name"] == "gp3"
    assert storage_class.inputs["provisioner"] == "ebs.csi.aws.com"
    assert storage_class.inputs["parameters"]["type"] == "gp3"


def test_prod_aws_resources_carry_the_stack_tags(prod: Recording) -> None:
    (provider,) = prod.by_type("pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    resources = [r for r in _aws(prod) if r.custom and r.type.startswith("aws:")]

    assert tags == {
        "project": "vapora",
        "environment": "prod",
        "managed-by": "pulumi",
        "vapora:stack": "prod",
    }
    assert provider.inputs["region"] == "eu-west-1"
    for resource in resources:
        assert resource.provider.startswith(provider.urn), resource.urn


def test_prod_kubernetes_provider_is_pinned_to_the_cluster_name(
    prod: Recording,
) -> None:
    (provider,) = prod.by_type("pulumi:providers:kubernetes")

    assert provider.inputs["clusterIdentifier"] == "vapora-cluster"
    assert provider.inputs["enableServerSideApply"] == "true"
    assert prod.outputs["kubeconfig"] == "[secret]"


def test_prod_cluster_resources_are_in_stage_create_cluster(prod: Recording) -> None:
    cluster = [r for r in prod.resources if r.urn.split("::")[-1] == "cluster"]
    (component,) = cluster
    children = [r for r in prod.resources if r.parent == component.urn]

    assert component.type == "vapora:cluster:EksCluster"
    assert len(children) > 30
    for child in children:
        assert child.stage == "create-cluster", child.urn
        if child.custom and not child.type.startswith("pulumi:providers:"):
            assert child.timeouts.get("create") == "60m", child.urn


def test_dev_registers_no_aws_resources(dev: Recording) -> None:
    assert _aws(dev) == []


def test_dev_provider_uses_the_configured_kubeconfig_context(dev: Recording) -> None:
    (provider,) = dev.by_type("pulumi:providers:kubernetes")

    assert provider.inputs["context"] == "vapora-dev"
    assert provider.inputs["kubeconfig"].endswith("/.kube/config")
    assert provider.inputs["clusterIdentifier"] == "vapora-dev"
    assert provider.stage == "create-cluster"


def test_prod_notes_that_eks_runs_the_control_plane(prod: Recording) -> None:
    assert prod.outputs["cluster_notes"] == [
        "control-plane pool (3 x t3.medium) is run by EKS; no instances are created"
    ]
