"""Plan-time checks that need the network layout (subnet sizes, egress counts).

They live beside the network components whose arithmetic they reuse, and are
run by components.config.validate with every other rule, before any
resource exists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from components.config import (
    AwsCluster,
    AzureCluster,
    ExistingCluster,
    FleetSpec,
    GcpCluster,
    Problem,
)
from components.networks import aws, azure, gcp

#: How many CIDRs each cloud accepts on its API server allow-list.
#: EKS: 40 public access CIDRs; GKE: 100 authorized networks (clusters with private nodes; 50 for public clusters);
#: AKS: 200 authorized IP ranges.
API_ALLOW_LIST_LIMITS = {"aws": 40, "gcp": 100, "azure": 200}


def egress_address_count(cluster: AwsCluster | AzureCluster | GcpCluster | ExistingCluster) -> int:
    """How many egress addresses a cluster contributes to every allow-list."""
    if isinstance(cluster, AwsCluster):
        return len(cluster.zones)  # one NAT gateway and Elastic IP per zone
    if isinstance(cluster, AzureCluster):
        return azure.EGRESS_ADDRESSES
    if isinstance(cluster, GcpCluster):
        return gcp.egress_address_count(cluster)
    return len(cluster.egress_cidrs)


def _rule_eks_node_cidr(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, AwsCluster):
            if ipaddress.IPv4Network(c.network.node_cidr).prefixlen < 16:
                yield Problem(
                    path=f"clusters[{i}].network.nodeCidr",
                    message=f"{c.network.node_cidr} is larger than a /16; an AWS VPC CIDR block is /16 to /28",
                    fix="use a /16 to /20 for the VPC (pods take VPC addresses on EKS)",
                )
                continue
            try:
                aws.subnet_layout(c.network.node_cidr, list(c.zones))
            except ValueError as exc:
                yield Problem(
                    path=f"clusters[{i}].network.nodeCidr",
                    message=str(exc).split("; use")[0],
                    fix="use a /16 to /20 for the VPC (pods take VPC addresses on EKS)",
                )


def _rule_aks_service_cidr(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, AzureCluster) and ipaddress.IPv4Network(c.network.service_cidr).prefixlen <= 12:
            yield Problem(
                path=f"clusters[{i}].network.serviceCidr",
                message=f"{c.network.service_cidr} is too large; AKS requires a service CIDR smaller than /12",
                fix="use a /16 (or anything from /13 down)",
            )


def _rule_allow_list_size(spec: FleetSpec) -> Iterable[Problem]:
    access = spec.fleet.api_access
    size = len(access.operator_cidrs) + len(access.ci_runner_cidrs)
    size += sum(egress_address_count(c) for c in spec.clusters)
    for i, c in enumerate(spec.clusters):
        limit = API_ALLOW_LIST_LIMITS.get(c.cloud)
        if limit is not None and size > limit:
            yield Problem(
                path=f"clusters[{i}]",
                message=f"the API allow-list would hold {size} CIDRs (operators, CI runners and every "
                f"cluster's egress addresses); {c.cloud} accepts at most {limit}",
                fix="summarize fleet.apiAccess CIDRs into fewer, larger ranges, or split the fleet into two stacks",
            )


NETWORK_RULES = (_rule_eks_node_cidr, _rule_aks_service_cidr, _rule_allow_list_size)
