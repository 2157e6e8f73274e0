"""An Amazon EKS cluster with its network, node groups and storage driver."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from vapora_infra.components.base import StagePolicy
from vapora_infra.spec.cluster import AwsSettings, Cluster, NodePool

# The managed policies AWS documents for the EKS control plane and for nodes.
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
)
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"
EBS_CSI_SERVICE_ACCOUNT = "system:serviceaccount:kube-system:ebs-csi-controller-sa"

# Cilium puts this taint on nodes until its agent runs there, so no pod starts
# on a node whose networking Cilium does not manage yet.
CILIUM_NOT_READY_TAINT = "node.cilium.io/agent-not-ready"

TAINT_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}


@dataclass(frozen=True)
class EksClusterArgs:
    """The cluster settings of a stack whose platform is ``aws-eks``."""

    spec: Cluster
    stack: str
    stage: StagePolicy


class EksCluster(pulumi.ComponentResource):
    """A VPC, an EKS control plane, one node group per worker pool, and EBS CSI."""

    provider: k8s.Provider
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    notes: list[str]

    def __init__(
        self,
        name: str,
        args: EksClusterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:cluster:EksCluster", name, None, opts)
        spec = args.spec
        if spec.aws is None:
            raise ValueError("EksCluster needs the aws settings of the cluster")
        settings = spec.aws
        stage = args.stage
        self.notes = _control_plane_notes(spec)

        # An explicit provider rather than the default one: every AWS resource
        # then carries the stack's tags, and the region comes from the stack
        # settings instead of whatever the shell's profile says.
        aws_provider = aws.Provider(
            f"{name}-aws",
            region=settings.region,
            default_tags=aws.ProviderDefaultTagsArgs(
                tags={**settings.tags, "vapora:stack": args.stack}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        def aws_opts(**extra: Any) -> pulumi.ResourceOptions:
            return stage.options(self, provider=aws_provider, **extra)

        network = _Network(name, spec.name, settings, aws_opts)

        cluster_role = _service_role(
            f"{name}-control-plane", "eks.amazonaws.com", CLUSTER_POLICIES, aws_opts
        )
        node_role = _service_role(
            f"{name}-node", "ec2.amazonaws.com", NODE_POLICIES, aws_opts
        )

        # Both endpoints: nodes reach the API server inside the VPC, operators
        # and the deploy pipeline reach it from outside.
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=spec.name,
            version=spec.version,
            role_arn=cluster_role.role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=[s.id for s in network.private + network.public],
                endpoint_private_access=True,
                endpoint_public_access=True,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API_AND_CONFIG_MAP",
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            opts=aws_opts(depends_on=cluster_role.attachments),
        )

        issuer = cluster.identities.apply(_oidc_issuer)

        # Service accounts assume IAM roles through this provider (IRSA); the
        # EBS CSI driver is the first user, the platform add-ons may follow.
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],
            opts=aws_opts(),
        )

        cilium = spec.network.cni == "cilium" and spec.has_addon("cilium")
        node_groups = [
            _node_group(
                name, pool, cluster, spec.name, node_role, network, cilium, aws_opts
            )
            for pool in spec.worker_pools
        ]

        ebs_role = _irsa_role(
            f"{name}-ebs-csi", oidc, issuer, EBS_CSI_SERVICE_ACCOUNT, aws_opts
        )

        # The EBS CSI driver provisions the gp3 volumes the Ceph OSDs sit on. An
        # EKS add-on needs running nodes to become active. Its controller
        # tolerates the Cilium taint because Cilium only arrives in the next
        # stage, and this stage waits for the add-on to be active.
        ebs_csi = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=cluster.name,
            addon_name="aws-ebs-csi-driver",
            service_account_role_arn=ebs_role.arn,
            configuration_values=json.dumps(_ebs_csi_configuration(cilium)),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=aws_opts(depends_on=node_groups),
        )

        self.cluster_name = cluster.name
        self.oidc_issuer = issuer
        self.oidc_provider_arn = oidc.arn
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                cluster.name, cluster.endpoint, cluster.certificate_authority
            ).apply(
                lambda parts: _kubeconfig(
                    parts[0], parts[1], parts[2]["data"], settings.region
                )
            )
        )

        # The provider is pinned to the cluster by name rather than by the
        # kubeconfig text: a refreshed certificate or endpoint then updates the
        # provider in place instead of replacing every object in the cluster.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            cluster_identifier=spec.name,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_groups),
        )

        # Rook claims its OSDs as raw block devices from this class, so Ceph
        # owns the disks and EBS only supplies them.
        self.osd_storage_class = k8s.storage.v1.StorageClass(
            f"{name}-{spec.storage.osd_storage_class}",
            metadata={"name": spec.storage.osd_storage_class},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "fsType": "ext4"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            # OSD volumes hold the cluster's data; deleting a claim by mistake
            # must not delete the disk behind it.
            reclaim_policy="Retain",
            opts=stage.options(self, provider=self.provider, depends_on=[ebs_csi]),
        )

        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer": self.oidc_issuer,
                "vpc_id": network.vpc.id,
                "notes": self.notes,
            }
        )


@dataclass
class _Role:
    role: aws.iam.Role
    attachments: list[aws.iam.RolePolicyAttachment]


class _Network:
    """A VPC with a public and a private subnet in every availability zone."""

    def __init__(
        self,
        name: str,
        cluster_name: str,
        settings: AwsSettings,
        aws_opts: Any,
    ) -> None:
        zones = settings.availability_zones
        private_cidrs, public_cidrs = subnet_cidrs(settings.vpc_cidr, len(zones))
        shared = {f"kubernetes.io/cluster/{cluster_name}": "shared"}

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": cluster_name},
            opts=aws_opts(),
        )

        gateway = aws.ec2.InternetGateway(
            f"{name}-igw",
            vpc_id=self.vpc.id,
            tags={"Name": cluster_name},
            opts=aws_opts(),
        )

        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[
                aws.ec2.RouteTableRouteArgs(
                    cidr_block="0.0.0.0/0", gateway_id=gateway.id
                )
            ],
            tags={"Name": f"{cluster_name}-public"},
            opts=aws_opts(),
        )

        self.public: list[aws.ec2.Subnet] = []
        self.private: list[aws.ec2.Subnet] = []
        for zone, private_cidr, public_cidr in zip(
            zones, private_cidrs, public_cidrs, strict=True
        ):
            # The role tags tell the AWS load balancer controller and the
            # in-tree service controller where to place load balancers.
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=self.vpc.id,
                availability_zone=zone,
                cidr_block=public_cidr,
                map_public_ip_on_launch=True,
                tags={
                    "Name": f"{cluster_name}-public-{zone}",
                    "kubernetes.io/role/elb": "1",
                    **shared,
                },
                opts=aws_opts(),
            )
            self.public.append(public)

            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}",
                subnet_id=public.id,
                route_table_id=public_routes.id,
                opts=aws_opts(),
            )

            # One NAT gateway per zone: losing a zone then cuts only that
            # zone's nodes off the internet, not the whole cluster.
            address = aws.ec2.Eip(
                f"{name}-nat-{zone}",
                domain="vpc",
                tags={"Name": f"{cluster_name}-nat-{zone}"},
                opts=aws_opts(depends_on=[gateway]),
            )

            nat = aws.ec2.NatGateway(
                f"{name}-nat-{zone}",
                allocation_id=address.id,
                subnet_id=public.id,
                tags={"Name": f"{cluster_name}-nat-{zone}"},
                opts=aws_opts(),
            )

            # Nodes live in private subnets; with the VPC CNI their pods take
            # addresses from them too, which is why these are the large ones.
            private = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                availability_zone=zone,
                cidr_block=private_cidr,
                tags={
                    "Name": f"{cluster_name}-private-{zone}",
                    "kubernetes.io/role/internal-elb": "1",
                    **shared,
                },
                opts=aws_opts(),
            )
            self.private.append(private)

            private_routes = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                routes=[
                    aws.ec2.RouteTableRouteArgs(
                        cidr_block="0.0.0.0/0", nat_gateway_id=nat.id
                    )
                ],
                tags={"Name": f"{cluster_name}-private-{zone}"},
                opts=aws_opts(),
            )

            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}",
                subnet_id=private.id,
                route_table_id=private_routes.id,
                opts=aws_opts(),
            )


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Private and public subnet ranges, one of each per zone.

    The VPC is cut into eight equal blocks. Each zone gets one whole block for
    its private subnet, where nodes and pods take addresses; the last block is
    cut into eight again for the public subnets, which hold only NAT gateways
    and load balancers.
    """
    blocks = list(ipaddress.IPv4Network(vpc_cidr).subnets(prefixlen_diff=3))
    public_blocks = list(blocks[-1].subnets(prefixlen_diff=3))

    private = [str(block) for block in blocks[:zones]]
    public = [str(block) for block in public_blocks[:zones]]
    return private, public


def _service_role(
    name: str, service: str, policies: tuple[str, ...], aws_opts: Any
) -> _Role:
    role = aws.iam.Role(
        name,
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
        opts=aws_opts(),
    )

    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy.lower().replace('_', '-')}",
            role=role.name,
            policy_arn=f"arn:aws:iam::aws:policy/{policy}",
            opts=aws_opts(),
        )
        for policy in policies
    ]
    return _Role(role, attachments)


def _irsa_role(
    name: str,
    oidc: aws.iam.OpenIdConnectProvider,
    issuer: pulumi.Output[str],
    service_account: str,
    aws_opts: Any,
) -> aws.iam.Role:
    def trust(parts: list[str]) -> str:
        arn, url = parts
        host = url.removeprefix("https://")
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{host}:sub": service_account,
                                f"{host}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            }
        )

    role = aws.iam.Role(
        name,
        assume_role_policy=pulumi.Output.all(oidc.arn, issuer).apply(trust),
        opts=aws_opts(),
    )

    aws.iam.RolePolicyAttachment(
        f"{name}-policy",
        role=role.name,
        policy_arn=f"arn:aws:iam::aws:policy/{EBS_CSI_POLICY}",
        opts=aws_opts(),
    )
    return role


def _node_group(
    name: str,
    pool: NodePool,
    cluster: aws.eks.Cluster,
    cluster_name: str,
    role: _Role,
    network: _Network,
    cilium: bool,
    aws_opts: Any,
) -> aws.eks.NodeGroup:
    taints = [
        aws.eks.NodeGroupTaintArgs(
            key=taint.key, value=taint.value or None, effect=TAINT_EFFECTS[taint.effect]
        )
        for taint in pool.taints
    ]
    # Cilium runs chained after the AWS VPC CNI rather than in ENI mode: the
    # VPC CNI keeps handing out addresses and routing pods, and Cilium adds
    # identity-based network policy and Hubble on top. Nodes then
    # need no custom launch template and aws-node need not be removed first.
    # Pods that start before the Cilium agent would escape its policies, so
    # the node carries this taint until the agent removes it.
    if cilium:
        taints.append(
            aws.eks.NodeGroupTaintArgs(
                key=CILIUM_NOT_READY_TAINT, value="true", effect="NO_EXECUTE"
            )
        )

    low = pool.min_count if pool.min_count is not None else pool.count
    high = pool.max_count if pool.max_count is not None else pool.count
    # The cluster autoscaler owns the desired size once the group exists; a
    # later `pulumi up` must not reset it to the count in the stack file.
    return aws.eks.NodeGroup(
        f"{name}-{pool.pool_name}",
        cluster_name=cluster.name,
        node_group_name=pool.pool_name,
        node_role_arn=role.role.arn,
        subnet_ids=[subnet.id for subnet in network.private],
        instance_types=[pool.instance_type or ""],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            desired_size=pool.count, min_size=low, max_size=high
        ),
        update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
        labels=dict(pool.labels),
        taints=taints,
        tags={
            "k8s.io/cluster-autoscaler/enabled": "true",
            f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
        },
        opts=aws_opts(
            depends_on=role.attachments,
            ignore_changes=["scalingConfig.desiredSize"],
        ),
    )


def _ebs_csi_configuration(cilium: bool) -> dict[str, Any]:
    tolerations: list[dict[str, str]] = [
        {"key": "CriticalAddonsOnly", "operator": "Exists"}
    ]
    if cilium:
        tolerations.append(
            {"key": CILIUM_NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute"}
        )
    return {"controller": {"tolerations": tolerations}}


def _kubeconfig(cluster: str, endpoint: str, authority: str, region: str) -> str:
    # Tokens come from `aws eks get-token` at each call, so the kubeconfig
    # holds no long-lived credential; it stays secret because it names the
    # endpoint and the role that reaches it.
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {
                        "server": endpoint,
                        "certificate-authority-data": authority,
                    },
                }
            ],
            "contexts": [
                {"name": cluster, "context": {"cluster": cluster, "user": cluster}}
            ],
            "current-context": cluster,
            "users": [
                {
                    "name": cluster,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster,
                                "--region",
                                region,
                            ],
                        }
                    },
                }
            ],
        }
    )


def _oidc_issuer(identities: Any) -> str:
    # EKS gives every cluster exactly one OIDC identity.
    return str(identities[0].oidcs[0].issuer)


def _control_plane_notes(spec: Cluster) -> list[str]:
    notes: list[str] = []
    for pool in spec.nodes:
        if pool.role != "control-plane":
            continue
        size = f"{pool.count} x {pool.instance_type or 'any size'}"
        notes.append(
            f"control-plane pool ({size}) is run by EKS; no instances are created"
        )
    return notes
