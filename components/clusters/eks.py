"""An EKS cluster as a careful platform engineer builds it by hand.

Control plane with API authentication (access entries, no aws-auth
ConfigMap), private endpoint plus a public endpoint limited to the fleet's
allow-list, secrets encrypted with a rotating KMS key, all control-plane
logs; managed add-ons pinned in config and installed in the order that
works; managed node groups scaled by the Cluster Autoscaler; the AWS Load
Balancer Controller for internet-facing NLBs on static Elastic IPs; a
default gp3 StorageClass. Every in-cluster identity uses EKS Pod Identity.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.clusters.build import CloudClusterArgs, ClusterBuild, KubernetesAccess
from components.common import CLUSTER_TIMEOUTS, NODE_POOL_TIMEOUTS, helm_release, identity_tags, protected
from components.config import AwsCluster, ChartPin, EksAddons, NodePool
from components.handle import ClusterHandle, cluster_provider, kubeconfig_document
from components.naming import node_group_prefix, zone_suffix
from components.netcalc import spread
from components.networks.aws import AwsNetwork

#: The default StorageClass meshfleet gives each EKS cluster (gp3 on the EBS
#: CSI driver): EKS itself creates none that stateful mesh parts could bind.
STORAGE_CLASS = "gp3"
#: Every control-plane log type EKS offers.
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
#: Retention of the control-plane log group (EKS would create it with no expiry).
LOG_RETENTION_DAYS = 90
#: Managed add-ons wait for their pods; coredns waits for nodes.
ADDON_TIMEOUTS = pulumi.CustomTimeouts(create="30m", update="30m", delete="20m")
#: Helm releases wait (atomic) for their workloads, which need nodes.
HELM_TIMEOUT_SECONDS = 900

KUBE_SYSTEM = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
LB_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
#: Tag the Load Balancer Controller puts on everything it creates (value: cluster name).
LB_CONTROLLER_TAG = "elbv2.k8s.aws/cluster"


EksClusterArgs = CloudClusterArgs[AwsCluster, AwsNetwork]


def partition_of(arn: str) -> str:
    """`aws`, `aws-cn` or `aws-us-gov`: taken from the deployer's role ARN, never assumed."""
    return arn.split(":")[1]


#: Instance families that need an accelerated AL2023 AMI (EKS user guide, "Use
#: EKS-optimized accelerated AMIs for GPU instances"): the standard AMI has no
#: NVIDIA or Neuron drivers, so a GPU node would join but its devices stay unusable.
ACCELERATED_AMI_FAMILIES: dict[str, frozenset[str]] = {
    "AL2023_x86_64_NVIDIA": frozenset(
        {"p6-b300", "p6-b200", "p5", "p5e", "p5en", "p4d", "p4de", "p3", "p3dn"}
        | {"g7e", "gr6", "g6", "g6e", "g6f", "gr6f", "g5", "g4dn"}
    ),
    "AL2023_ARM_64_NVIDIA": frozenset({"p6e-gb200", "p6e-gb300", "g5g"}),
    "AL2023_x86_64_NEURON": frozenset({"inf1", "inf2", "trn1", "trn1n", "trn2"}),
}


def ami_type(machine_type: str) -> str:
    """AL2023 AMI type for an instance type.

    GPU and Inferentia/Trainium families get the accelerated variant; other
    Graviton families (m7g, c6gn, t4g) are arm64; everything else x86_64.
    """
    family = machine_type.split(".", 1)[0]
    for ami, families in ACCELERATED_AMI_FAMILIES.items():
        if family in families:
            return ami
    return "AL2023_ARM_64_STANDARD" if re.match(r"^[a-z]+\d+g", family) else "AL2023_x86_64_STANDARD"


def assume_role_policy(service: str, pod: tuple[str, str] | None = None, cluster_name: str = "") -> str:
    """Trust policy letting an AWS service assume a role (EKS and Pod Identity also tag the session).

    With `pod` = (namespace, service account), the role is usable only by that
    service account of this cluster: Pod Identity sets these session tags, and
    without the conditions any association in the account could use the role.
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
    if pod is not None:
        statement["Condition"] = {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-name": cluster_name,
                "aws:RequestTag/kubernetes-namespace": pod[0],
                "aws:RequestTag/kubernetes-service-account": pod[1],
            }
        }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def autoscaler_policy(cluster_name: str) -> str:
    """Cluster Autoscaler: read the node groups' ASGs, resize only this cluster's.

    Managed node groups tag their ASGs `k8s.io/cluster-autoscaler/<cluster>`
    = owned, so the write actions are limited to this cluster's groups.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Discover",
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "autoscaling:DescribeTags",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                        "eks:DescribeNodegroup",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "ScaleOwnGroups",
                    "Effect": "Allow",
                    "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}
                    },
                },
            ],
        }
    )


def volume_tag_parameters(tags: dict[str, str]) -> dict[str, str]:
    """StorageClass parameters that make the EBS CSI driver tag every volume it provisions.

    The driver reads each `tagSpecification_<n>` parameter as one `key=value`
    tag (docs/tagging.md of aws-ebs-csi-driver); its managed policy lets it
    tag volumes as it creates them.
    """
    return {f"tagSpecification_{i}": f"{key}={value}" for i, (key, value) in enumerate(sorted(tags.items()), start=1)}


def lb_controller_policy(cluster_name: str, partition: str, region: str, account_id: str) -> str:
    """AWS Load Balancer Controller, compact and scoped to this cluster.

    AWS publishes no managed policy for the controller (AmazonEKSLoadBalancingPolicy
    is for EKS Auto Mode's cluster role and keys on other tags). What this covers:
    reads (ec2/elasticloadbalancing Describe*, certificates, WAF/Shield lookups);
    the ELB service-linked role; creating load balancers and target groups
    only when tagged `elbv2.k8s.aws/cluster=<this cluster>` and tagging them
    (and its security groups) at creation; modifying, deleting and re-tagging
    only what carries that tag (the tag itself is never rewritten); listener,
    rule and target management in this account and region (listeners and
    rules are reached through their load balancer), and tagging listeners
    and rules, which need not carry the ownership tag; creating its security
    groups and the ingress rules it adds to node security groups for targets.
    Unlike AWS's published policy, ownership is this cluster's name, not any
    cluster's tag, so one cluster's controller cannot touch another's NLBs.
    """
    # Owned by this cluster's controller, and the ownership tag itself is never rewritten.
    owned = {
        "StringEquals": {f"aws:ResourceTag/{LB_CONTROLLER_TAG}": cluster_name},
        "Null": {f"aws:RequestTag/{LB_CONTROLLER_TAG}": "true"},
    }
    elb = f"arn:{partition}:elasticloadbalancing:{region}:{account_id}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Read",
                    "Effect": "Allow",
                    "Action": [
                        "ec2:Describe*",
                        "ec2:GetCoipPoolUsage",
                        "ec2:GetSecurityGroupsForVpc",
                        "elasticloadbalancing:Describe*",
                        "acm:ListCertificates",
                        "acm:DescribeCertificate",
                        "iam:ListServerCertificates",
                        "iam:GetServerCertificate",
                        "cognito-idp:DescribeUserPoolClient",
                        "wafv2:GetWebACL",
                        "wafv2:GetWebACLForResource",
                        "waf-regional:GetWebACL",
                        "waf-regional:GetWebACLForResource",
                        "shield:GetSubscriptionState",
                        "shield:DescribeProtection",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "ServiceLinkedRole",
                    "Effect": "Allow",
                    "Action": "iam:CreateServiceLinkedRole",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
                },
                {
                    "Sid": "CreateTagged",
                    "Effect": "Allow",
                    "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {f"aws:RequestTag/{LB_CONTROLLER_TAG}": cluster_name}},
                },
                {
                    "Sid": "TagOnCreate",
                    "Effect": "Allow",
                    "Action": "elasticloadbalancing:AddTags",
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "elasticloadbalancing:CreateAction": [
                                "CreateLoadBalancer",
                                "CreateTargetGroup",
                                "CreateListener",
                                "CreateRule",
                            ]
                        }
                    },
                },
                {
                    "Sid": "TagSecurityGroupOnCreate",
                    "Effect": "Allow",
                    "Action": "ec2:CreateTags",
                    "Resource": f"arn:{partition}:ec2:{region}:{account_id}:security-group/*",
                    "Condition": {
                        "StringEquals": {
                            "ec2:CreateAction": "CreateSecurityGroup",
                            f"aws:RequestTag/{LB_CONTROLLER_TAG}": cluster_name,
                        }
                    },
                },
                {
                    "Sid": "ManageOwned",
                    "Effect": "Allow",
                    "Action": [
                        "elasticloadbalancing:AddTags",
                        "elasticloadbalancing:RemoveTags",
                        "elasticloadbalancing:ModifyLoadBalancerAttributes",
                        "elasticloadbalancing:ModifyCapacityReservation",
                        "elasticloadbalancing:ModifyIpPools",
                        "elasticloadbalancing:SetIpAddressType",
                        "elasticloadbalancing:SetSecurityGroups",
                        "elasticloadbalancing:SetSubnets",
                        "elasticloadbalancing:DeleteLoadBalancer",
                        "elasticloadbalancing:ModifyTargetGroup",
                        "elasticloadbalancing:ModifyTargetGroupAttributes",
                        "elasticloadbalancing:DeleteTargetGroup",
                        "ec2:CreateTags",
                        "ec2:DeleteTags",
                        "ec2:DeleteSecurityGroup",
                    ],
                    "Resource": "*",
                    "Condition": owned,
                },
                {
                    "Sid": "ListenersRulesTargets",
                    "Effect": "Allow",
                    "Action": [
                        "elasticloadbalancing:CreateListener",
                        "elasticloadbalancing:DeleteListener",
                        "elasticloadbalancing:ModifyListener",
                        "elasticloadbalancing:ModifyListenerAttributes",
                        "elasticloadbalancing:AddListenerCertificates",
                        "elasticloadbalancing:RemoveListenerCertificates",
                        "elasticloadbalancing:CreateRule",
                        "elasticloadbalancing:DeleteRule",
                        "elasticloadbalancing:ModifyRule",
                        "elasticloadbalancing:SetRulePriorities",
                        "elasticloadbalancing:SetWebAcl",
                        "elasticloadbalancing:RegisterTargets",
                        "elasticloadbalancing:DeregisterTargets",
                    ],
                    "Resource": [
                        f"{elb}:loadbalancer/*",
                        f"{elb}:listener/*",
                        f"{elb}:listener-rule/*",
                        f"{elb}:targetgroup/*/*",
                    ],
                },
                {
                    # Listeners and rules may not carry the ownership tag; AWS's
                    # published policy tags them unconditionally too.
                    "Sid": "TagListenersAndRules",
                    "Effect": "Allow",
                    "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                    "Resource": [f"{elb}:listener/*", f"{elb}:listener-rule/*"],
                },
                {
                    # Its own frontend security groups, and the ingress rules it
                    # adds to the node/cluster security groups for NLB targets.
                    "Sid": "SecurityGroups",
                    "Effect": "Allow",
                    "Action": [
                        "ec2:CreateSecurityGroup",
                        "ec2:AuthorizeSecurityGroupIngress",
                        "ec2:RevokeSecurityGroupIngress",
                    ],
                    "Resource": "*",
                },
            ],
        }
    )


def kubeconfig_of(
    cluster_name: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    ca_data: pulumi.Input[str],
    region: str,
    role_arn: str,
) -> pulumi.Output[str]:
    """Deployer kubeconfig using the `aws eks get-token` exec plugin (static tokens expire in ~15 minutes)."""
    exec_plugin = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": [
                "eks",
                "get-token",
                "--cluster-name",
                cluster_name,
                "--region",
                region,
                "--role-arn",
                role_arn,
                "--output",
                "json",
            ],
            "interactiveMode": "Never",
        }
    }
    return pulumi.Output.secret(
        pulumi.Output.json_dumps(kubeconfig_document(cluster_name, endpoint, ca_data, exec_plugin))
    )


@dataclass(frozen=True)
class _Roles:
    """The control plane's and the nodes' IAM roles, with the policies each must hold first."""

    cluster: aws.iam.Role
    cluster_policies: list[pulumi.Resource]
    node: aws.iam.Role
    node_policies: list[pulumi.Resource]


@dataclass(frozen=True)
class _NodeAddons:
    """Managed add-ons nodes need to join: pod networking and the Pod Identity agent."""

    vpc_cni: aws.eks.Addon
    kube_proxy: aws.eks.Addon
    pod_identity: aws.eks.Addon


def managed_policy(partition: str, policy: str) -> str:
    """ARN of an AWS managed IAM policy in the deployer's partition."""
    return f"arn:{partition}:iam::aws:policy/{policy}"


class EksCluster(pulumi.ComponentResource):
    """One EKS cluster with its node groups, add-ons, controllers and Kubernetes provider."""

    handle: ClusterHandle

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:cluster:Eks", name, None, opts)
        b = ClusterBuild.of(self, name, args)
        deployer, versions = b.meta.deployers.aws, b.spec.addons.eks
        ca_pin, lbc_pin = b.spec.addons.cluster_autoscaler, b.spec.addons.aws_load_balancer_controller
        if deployer is None or versions is None or ca_pin is None or lbc_pin is None:  # pragma: no cover
            raise ValueError("config validation requires fleet.deployers.aws and the EKS add-ons with EKS clusters")
        # kube-proxy and the autoscaler of this cluster's own minor (another than the fleet's while a
        # minor upgrade moves one cluster at a time: addons.eks.otherMinors).
        versions = versions.for_minor(b.cluster.kubernetes_version)
        partition = partition_of(deployer.role_arn)

        roles = self._identities(b, partition)
        key, key_grant = self._secrets_encryption(b, roles.cluster)
        log_group = self._log_destination(b)
        cluster = self._control_plane(b, args.api_allow_list, roles, key, [key_grant, log_group])
        admin = self._deployer_access(b, cluster, deployer.role_arn, partition)
        node_addons = self._addons_before_nodes(b, cluster, versions)
        node_groups = self._node_pools(b, cluster, roles, node_addons)
        coredns, ebs_csi, metrics = self._addons_after_nodes(b, cluster, versions, partition, node_groups, node_addons)
        access = self._kubernetes_provider(b, cluster, deployer.role_arn, admin)
        storage_class = self._storage_class(b, access.provider, [ebs_csi, admin])
        # Controllers run on the nodes, and reach AWS by name: cluster DNS first.
        # Every Helm release waits for the metrics API too: one that is
        # registered but not yet serving fails the discovery Helm starts with.
        running: list[pulumi.Resource] = [*node_groups, coredns, metrics, admin]
        self._cluster_autoscaler(b, cluster, access.provider, ca_pin, versions, node_addons, running)
        lb_controller = self._lb_controller(b, cluster, access.provider, lbc_pin, partition, node_addons, running)
        self.handle = b.handle(
            access,
            cluster.endpoint,
            ready=[*running, storage_class, lb_controller],
            load_balancer_annotations=self._load_balancer_annotations(b),
            storage_class=STORAGE_CLASS,
        )
        self.register_outputs({"apiEndpoint": cluster.endpoint, "clusterName": cluster.name})

    def _identities(self, b: ClusterBuild[AwsCluster, AwsNetwork], partition: str) -> _Roles:
        """IAM: the control plane's role and the nodes' role, with their managed policies."""
        name = b.name
        cluster_role = self._role(b, "cluster", "eks.amazonaws.com")
        cluster_attach = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-role-eks",
            role=cluster_role.name,
            policy_arn=managed_policy(partition, "AmazonEKSClusterPolicy"),
            opts=b.child,
        )
        node_role = self._role(b, "node", "ec2.amazonaws.com")
        # The CNI policy stays on the node role: aws-node must assign pod IPs
        # before the Pod Identity agent (itself a pod) can run.
        node_attach: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-role-{slug}",
                role=node_role.name,
                policy_arn=managed_policy(partition, policy),
                opts=b.child,
            )
            for slug, policy in (
                ("worker", "AmazonEKSWorkerNodePolicy"),
                ("cni", "AmazonEKS_CNI_Policy"),
                ("ecr", "AmazonEC2ContainerRegistryPullOnly"),
            )
        ]
        return _Roles(
            cluster=cluster_role, cluster_policies=[cluster_attach], node=node_role, node_policies=node_attach
        )

    def _secrets_encryption(
        self, b: ClusterBuild[AwsCluster, AwsNetwork], cluster_role: aws.iam.Role
    ) -> tuple[aws.kms.Key, aws.iam.RolePolicy]:
        """A rotating KMS key for Kubernetes secrets, and the cluster role's grant to use it."""
        name, names = b.name, b.names
        key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"EKS secrets encryption for {names.physical}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=b.tags,
            opts=protected(b.meta, b.child),
        )
        aws.kms.Alias(
            f"{name}-secrets-key-alias",
            name=f"alias/{names.physical}-eks-secrets",
            target_key_id=key.key_id,
            opts=b.child,
        )
        # The default key policy delegates to IAM: the cluster role needs these
        # to wrap secrets (AmazonEKSClusterPolicy has no KMS permissions).
        grant = aws.iam.RolePolicy(
            f"{name}-cluster-role-kms",
            role=cluster_role.name,
            name="secrets-encryption",
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                            "Resource": key.arn,
                        }
                    ],
                }
            ),
            opts=b.child,
        )
        return key, grant

    def _log_destination(self, b: ClusterBuild[AwsCluster, AwsNetwork]) -> aws.cloudwatch.LogGroup:
        """The control-plane log group, created before EKS would create it."""
        # EKS would create this group itself, untagged and never expiring.
        return aws.cloudwatch.LogGroup(
            f"{b.name}-control-plane-logs",
            name=f"/aws/eks/{b.names.physical}/cluster",
            retention_in_days=LOG_RETENTION_DAYS,
            deletion_protection_enabled=b.meta.protect,
            tags=b.tags,
            opts=b.child,
        )

    def _control_plane(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        api_allow_list: pulumi.Output[list[str]],
        roles: _Roles,
        key: aws.kms.Key,
        prerequisites: list[pulumi.Resource],
    ) -> aws.eks.Cluster:
        """The EKS control plane: private and allow-listed public endpoint, API authentication, encrypted secrets."""
        c = b.cluster
        vpc_config: aws.eks.ClusterVpcConfigArgsDict = {
            "subnet_ids": b.network.private_subnet_ids,
            "endpoint_private_access": True,
            "endpoint_public_access": True,
            "public_access_cidrs": api_allow_list,
        }
        access_config: aws.eks.ClusterAccessConfigArgsDict = {
            "authentication_mode": "API",
            # The deployer gets admin through its own access entry below; the
            # creator's implicit entry would collide with it when they are the same role.
            "bootstrap_cluster_creator_admin_permissions": False,
        }
        encryption_config: aws.eks.ClusterEncryptionConfigArgsDict = {
            "provider": {"key_arn": key.arn},
            "resources": ["secrets"],
        }
        network_config: aws.eks.ClusterKubernetesNetworkConfigArgsDict = {
            "ip_family": "ipv4",
            "service_ipv4_cidr": c.network.service_cidr,
        }
        # STANDARD would upgrade the control plane at the end of standard
        # support, behind Pulumi's back; EXTENDED keeps the pinned version.
        upgrade_policy: aws.eks.ClusterUpgradePolicyArgsDict = {"support_type": "EXTENDED"}
        return aws.eks.Cluster(
            f"{b.name}-cluster",
            name=b.names.physical,
            version=c.kubernetes_version,
            role_arn=roles.cluster.arn,
            vpc_config=vpc_config,
            access_config=access_config,
            encryption_config=encryption_config,
            kubernetes_network_config=network_config,
            upgrade_policy=upgrade_policy,
            enabled_cluster_log_types=LOG_TYPES,
            # The managed add-ons below are the only copies: no self-managed
            # vpc-cni/kube-proxy/coredns for them to conflict with.
            bootstrap_self_managed_addons=False,
            deletion_protection=b.meta.protect,
            tags=b.tags,
            opts=protected(
                b.meta,
                b.opts(
                    custom_timeouts=CLUSTER_TIMEOUTS,
                    # The role must hold its policies before the create (and
                    # keep them until the delete finishes).
                    depends_on=[*roles.cluster_policies, *prerequisites],
                ),
            ),
        )

    def _deployer_access(
        self, b: ClusterBuild[AwsCluster, AwsNetwork], cluster: aws.eks.Cluster, deployer_role: str, partition: str
    ) -> aws.eks.AccessPolicyAssociation:
        """Deployer access (API authentication mode): an access entry with cluster admin."""
        access_entry = aws.eks.AccessEntry(
            f"{b.name}-deployer-access",
            cluster_name=cluster.name,
            principal_arn=deployer_role,
            type="STANDARD",
            tags=b.tags,
            opts=b.child,
        )
        access_scope: aws.eks.AccessPolicyAssociationAccessScopeArgsDict = {"type": "cluster"}
        return aws.eks.AccessPolicyAssociation(
            f"{b.name}-deployer-admin",
            cluster_name=cluster.name,
            principal_arn=access_entry.principal_arn,
            policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            access_scope=access_scope,
            opts=b.child,
        )

    def _addon(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        cluster: aws.eks.Cluster,
        addon_name: str,
        version: str,
        depends_on: list[pulumi.Resource] | None = None,
        **kwargs: Any,
    ) -> aws.eks.Addon:
        """A managed add-on at its pinned version; EKS's copy wins over in-cluster edits."""
        return aws.eks.Addon(
            f"{b.name}-addon-{addon_name}",
            cluster_name=cluster.name,
            addon_name=addon_name,
            addon_version=version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=b.tags,
            opts=b.opts(custom_timeouts=ADDON_TIMEOUTS, depends_on=depends_on or []),
            **kwargs,
        )

    def _addons_before_nodes(
        self, b: ClusterBuild[AwsCluster, AwsNetwork], cluster: aws.eks.Cluster, versions: EksAddons
    ) -> _NodeAddons:
        """Add-ons before nodes: networking and the Pod Identity agent."""
        return _NodeAddons(
            vpc_cni=self._addon(b, cluster, "vpc-cni", versions.vpc_cni),
            kube_proxy=self._addon(b, cluster, "kube-proxy", versions.kube_proxy),
            pod_identity=self._addon(b, cluster, "eks-pod-identity-agent", versions.pod_identity_agent),
        )

    def _node_pools(
        self, b: ClusterBuild[AwsCluster, AwsNetwork], cluster: aws.eks.Cluster, roles: _Roles, addons: _NodeAddons
    ) -> list[pulumi.Resource]:
        """Managed node groups, one per configured pool and zone, a pool's groups from one launch template.

        One group per zone, not one across the zones: the cluster autoscaler
        can only add a node in the zone a pending pod needs (an EBS volume is
        zonal; Consul's servers and app teams' StatefulSets keep theirs) when
        a group lives in that zone alone. A group spanning zones leaves the
        zone to the Auto Scaling group, and the autoscaler's template node may
        be in another zone, so such a pod can stay Pending (Cluster
        Autoscaler FAQ; EKS best practices, "Cluster Autoscaler": one node
        group per zone with --balance-similar-node-groups, which the
        autoscaler here runs with). The pool's bounds are divided over its
        zones, so its totals are the configured ones.
        """
        c, net = b.cluster, b.network
        opts = b.opts(
            custom_timeouts=NODE_POOL_TIMEOUTS,
            # The autoscaler owns the desired size after creation.
            ignore_changes=["scalingConfig.desiredSize"],
            # Nodes join only with their policies, networking add-ons
            # and a NAT route to pull images.
            depends_on=[
                *roles.node_policies,
                addons.vpc_cni,
                addons.kube_proxy,
                addons.pod_identity,
                *net.egress_ready,
            ],
        )
        groups: list[pulumi.Resource] = []
        for pool in c.node_pools:
            template = self._node_template(b, pool)
            shares = zip(c.zones, spread(pool.min_size, len(c.zones)), spread(pool.max_size, len(c.zones)), strict=True)
            for zone, lo, hi in shares:
                subnet = net.private_subnets[zone]
                groups.append(self._node_group(b, pool, zone, subnet, (lo, hi), cluster, roles.node, template, opts))
        return groups

    def _addons_after_nodes(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        cluster: aws.eks.Cluster,
        versions: EksAddons,
        partition: str,
        node_groups: list[pulumi.Resource],
        node_addons: _NodeAddons,
    ) -> tuple[aws.eks.Addon, aws.eks.Addon, aws.eks.Addon]:
        """Add-ons after nodes (their Deployments need somewhere to run): coredns, the EBS CSI driver and
        metrics-server (EKS ships no metrics API: without it the HPAs of istiod and the gateways never scale
        out)."""
        name = b.name
        coredns = self._addon(b, cluster, "coredns", versions.coredns, depends_on=node_groups)
        metrics = self._addon(b, cluster, "metrics-server", versions.metrics_server, depends_on=node_groups)
        ebs_role = self._role(b, "ebs-csi", "pods.eks.amazonaws.com", (KUBE_SYSTEM, EBS_CSI_SERVICE_ACCOUNT))
        ebs_attach = aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-role-policy",
            role=ebs_role.name,
            policy_arn=managed_policy(partition, "service-role/AmazonEBSCSIDriverPolicy"),
            opts=b.child,
        )
        ebs_identity: aws.eks.AddonPodIdentityAssociationArgsDict = {
            "role_arn": ebs_role.arn,
            "service_account": EBS_CSI_SERVICE_ACCOUNT,
        }
        ebs_csi = self._addon(
            b,
            cluster,
            "aws-ebs-csi-driver",
            versions.ebs_csi_driver,
            pod_identity_associations=[ebs_identity],
            depends_on=[*node_groups, node_addons.pod_identity, ebs_attach],
        )
        return coredns, ebs_csi, metrics

    def _kubernetes_provider(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        cluster: aws.eks.Cluster,
        deployer_role: str,
        admin: aws.eks.AccessPolicyAssociation,
    ) -> KubernetesAccess:
        """The deployer's exec kubeconfig and the Kubernetes provider built on it."""
        ca_data = cluster.certificate_authority.apply(lambda ca: ca.data or "")
        kubeconfig = kubeconfig_of(cluster.name, cluster.endpoint, ca_data, b.cluster.region, deployer_role)
        # Every in-cluster object waits for the deployer's admin association
        # (an access entry alone grants no Kubernetes permissions), whoever
        # uses the provider: the objects below, the fleet and the mesh.
        provider = cluster_provider(b.names, self, kubeconfig=kubeconfig, depends_on=[admin])
        ca_pem = ca_data.apply(lambda data: base64.b64decode(data).decode())
        return KubernetesAccess(provider=provider, kubeconfig=kubeconfig, ca_pem=ca_pem)

    def _storage_class(
        self, b: ClusterBuild[AwsCluster, AwsNetwork], provider: k8s.Provider, after: list[pulumi.Resource]
    ) -> k8s.storage.v1.StorageClass:
        """A default gp3 StorageClass on the EBS CSI driver."""
        # New EKS clusters have no default StorageClass; stateful mesh parts need one.
        return k8s.storage.v1.StorageClass(
            f"{b.name}-gp3",
            metadata={
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            provisioner="ebs.csi.aws.com",
            # Only the identity tags: parameters are immutable, so any other
            # tag would re-create the class whenever it changes.
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "fsType": "ext4",
                **volume_tag_parameters(identity_tags(b.tags)),
            },
            # Bind in the zone the pod is scheduled to (EBS volumes are zonal).
            volume_binding_mode="WaitForFirstConsumer",
            reclaim_policy="Delete",
            allow_volume_expansion=True,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after),
        )

    def _cluster_autoscaler(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        cluster: aws.eks.Cluster,
        provider: k8s.Provider,
        pin: ChartPin,
        versions: EksAddons,
        node_addons: _NodeAddons,
        running: list[pulumi.Resource],
    ) -> k8s.helm.v3.Release:
        """Cluster Autoscaler (IAM via Pod Identity)."""
        c = b.cluster
        identity = self._pod_identity(
            b, cluster, "autoscaler", autoscaler_policy(b.names.physical), AUTOSCALER_SERVICE_ACCOUNT, node_addons
        )
        values: dict[str, Any] = {
            "fullnameOverride": "cluster-autoscaler",
            "cloudProvider": "aws",
            # Given explicitly: the chart defaults to us-east-1.
            "awsRegion": c.region,
            "autoDiscovery": {
                "clusterName": cluster.name,
                # Managed node groups tag their ASGs with both keys.
                "tags": [
                    "k8s.io/cluster-autoscaler/enabled",
                    cluster.name.apply(lambda n: f"k8s.io/cluster-autoscaler/{n}"),
                ],
            },
            "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SERVICE_ACCOUNT}},
            "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste"},
        }
        # The autoscaler is released per Kubernetes minor; config validation
        # ties this tag to the cluster's minor (chart default: the newest).
        values["image"] = {"tag": versions.cluster_autoscaler_image}
        # It reaches the AWS APIs by name: cluster DNS must run first (in `running`).
        return self._controller(
            b, "cluster-autoscaler", "cluster-autoscaler", pin, values, provider, [*running, identity]
        )

    def _lb_controller(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        cluster: aws.eks.Cluster,
        provider: k8s.Provider,
        pin: ChartPin,
        partition: str,
        node_addons: _NodeAddons,
        running: list[pulumi.Resource],
    ) -> k8s.helm.v3.Release:
        """AWS Load Balancer Controller (IAM via Pod Identity)."""
        c = b.cluster
        policy = lb_controller_policy(b.names.physical, partition, c.region, c.account_id)
        identity = self._pod_identity(b, cluster, "lb-controller", policy, LB_CONTROLLER_SERVICE_ACCOUNT, node_addons)
        return self._controller(
            b,
            "lb-controller",
            "aws-load-balancer-controller",
            pin,
            {
                "clusterName": cluster.name,
                # Given explicitly: IMDS is not reachable from pods on nodes
                # with a hop limit of 1, and the controller would guess them there.
                "region": c.region,
                "vpcId": b.network.vpc_id,
                "serviceAccount": {"create": True, "name": LB_CONTROLLER_SERVICE_ACCOUNT},
                # By default (v2.5+) its webhook stamps loadBalancerClass on every
                # new LoadBalancer Service, taking all of them over. Off: it
                # serves only Services that ask for it (type `external` below).
                "enableServiceMutatorWebhook": False,
                # The fleet tags on every NLB, target group and security group
                # it creates (`--default-tags`; its policy tags at creation).
                "defaultTags": dict(b.tags),
            },
            provider,
            [*running, identity],
        )

    def _controller(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        child: str,
        release: str,
        pin: ChartPin,
        values: dict[str, Any],
        provider: k8s.Provider,
        depends_on: list[pulumi.Resource],
    ) -> k8s.helm.v3.Release:
        """A controller's pinned Helm release in kube-system."""
        return helm_release(
            f"{b.name}-{child}",
            release=release,
            chart=pin.chart,
            version=pin.version,
            repository=pin.repository,
            namespace=KUBE_SYSTEM,
            timeout=HELM_TIMEOUT_SECONDS,
            values=values,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=depends_on),
        )

    def _load_balancer_annotations(self, b: ClusterBuild[AwsCluster, AwsNetwork]) -> dict[str, pulumi.Input[str]]:
        """What a LoadBalancer Service needs here: the controller's internet-facing NLB on the static EIPs."""
        net, join = b.network, ",".join
        return {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            # One allocation per subnet, in the same order: the controller
            # rejects a count that differs from the NLB's subnets.
            "service.beta.kubernetes.io/aws-load-balancer-subnets": net.public_subnet_ids.apply(join),
            "service.beta.kubernetes.io/aws-load-balancer-eip-allocations": net.gateway_allocation_ids.apply(join),
            # NLB cross-zone is off by default: a zone's EIP would only reach
            # gateway pods in that zone, and peers may dial any of the EIPs.
            "service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
        }

    def _role(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        purpose: str,
        service: str,
        pod: tuple[str, str] | None = None,
    ) -> aws.iam.Role:
        """An IAM role `<physical>-<purpose>` that `service` (and, with `pod`, only that service account) may assume."""
        names = b.names
        return aws.iam.Role(
            f"{b.name}-{purpose}-role",
            # IAM role names are account-wide: fleet-qualified like the cluster.
            name=f"{names.physical}-{purpose}",
            assume_role_policy=assume_role_policy(service, pod, names.physical),
            tags=b.tags,
            opts=b.child,
        )

    def _pod_identity(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        cluster: aws.eks.Cluster,
        purpose: str,
        policy: str,
        service_account: str,
        node_addons: _NodeAddons,
    ) -> aws.eks.PodIdentityAssociation:
        """An IAM role with an inline policy, assumable only by one kube-system service account.

        The association waits for the policy, as the EBS CSI add-on waits for
        its attachment: the controller's release waits for the association,
        so it never starts without its permissions, and on destroy the policy
        goes only after the controller, which needs it to delete the load
        balancers (and free the EIPs and subnets they hold) on its way out.
        """
        name = b.name
        role = self._role(b, purpose, "pods.eks.amazonaws.com", (KUBE_SYSTEM, service_account))
        grant = aws.iam.RolePolicy(
            f"{name}-{purpose}-policy", role=role.name, name=purpose, policy=policy, opts=b.child
        )
        return aws.eks.PodIdentityAssociation(
            f"{name}-{purpose}-identity",
            cluster_name=cluster.name,
            namespace=KUBE_SYSTEM,
            service_account=service_account,
            role_arn=role.arn,
            tags=b.tags,
            opts=b.opts(depends_on=[node_addons.pod_identity, grant]),
        )

    def _node_template(self, b: ClusterBuild[AwsCluster, AwsNetwork], pool: NodePool) -> aws.ec2.LaunchTemplate:
        """The pool's launch template: IMDSv2 only and out of pods' reach, its root disk, the fleet tags.

        Pods reach the AWS APIs through Pod Identity, never the node's role:
        a hop limit of 1 keeps the instance metadata (and the node role's
        credentials) away from every pod that is not on the host network
        (EKS best practices, "Restrict access to the instance profile");
        aws-node, kube-proxy and the Pod Identity agent run on the host
        network, and the controllers are given their region and VPC. The
        tag specifications put the fleet's identity tags on the instances and
        their volumes, which the node group's own tags do not reach.
        """
        return aws.ec2.LaunchTemplate(
            f"{b.name}-nodes-{pool.name}-template",
            name_prefix=f"{b.names.physical}-{pool.name}-",
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
            },
            # AL2023 AMIs (every ami_type here) boot from /dev/xvda.
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": pool.disk_size_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            # The identity tags only: a new template version rolls every node.
            tag_specifications=[
                {"resource_type": kind, "tags": identity_tags(b.tags)} for kind in ("instance", "volume")
            ],
            # Node groups name the version they run; the default follows it
            # only for whoever launches from the template by hand.
            update_default_version=True,
            tags=b.tags,
            opts=b.child,
        )

    def _node_group(
        self,
        b: ClusterBuild[AwsCluster, AwsNetwork],
        pool: NodePool,
        zone: str,
        subnet: pulumi.Input[str],
        bounds: tuple[int, int],
        cluster: aws.eks.Cluster,
        node_role: aws.iam.Role,
        template: aws.ec2.LaunchTemplate,
        opts: pulumi.ResourceOptions,
    ) -> aws.eks.NodeGroup:
        """The pool's managed node group in one zone's private subnet, at the cluster's version."""
        lo, hi = bounds
        scaling: aws.eks.NodeGroupScalingConfigArgsDict = {"min_size": lo, "max_size": hi, "desired_size": lo}
        update: aws.eks.NodeGroupUpdateConfigArgsDict = {"max_unavailable": 1}
        return aws.eks.NodeGroup(
            f"{b.name}-nodes-{pool.name}-{zone}",
            cluster_name=cluster.name,
            # A prefix, not a fixed name: the instance type and AMI type
            # force a new node group, and with a fixed name Pulumi can
            # only delete the old group first (every node of the pool gone at
            # once) or fail on the name. With a prefix the provider names each
            # group `<pool>-<zone>-<26 characters>`, so the new one comes up
            # before the old one is drained and deleted (terraform-aws-eks's
            # `use_name_prefix`). Pool names are capped accordingly.
            node_group_name_prefix=node_group_prefix(pool.name, zone_suffix(b.cluster.region, zone)),
            node_role_arn=node_role.arn,
            subnet_ids=[subnet],
            # Nodes follow the control-plane version from config.
            version=cluster.version,
            ami_type=ami_type(pool.machine_type),
            capacity_type="ON_DEMAND",
            instance_types=[pool.machine_type],
            # The disk is the template's (EKS refuses disk_size beside a
            # launch template); a new template version rolls the nodes in place.
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=pool.labels,
            scaling_config=scaling,
            update_config=update,
            tags=b.tags,
            opts=opts,
        )
