"""API allow-lists: what every cluster admits must fit each cloud's limit."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    AzureCluster,
    ConsulMeshSpec,
    ExistingCluster,
    FleetSpec,
    GcpCluster,
)
from components.netcalc import API_ALLOW_LIST_LIMITS, AZURE_EGRESS_ADDRESSES, gcp_nat_address_count


def egress_address_count(cluster: AwsCluster | AzureCluster | GcpCluster | ExistingCluster) -> int:
    """How many egress addresses a cluster contributes to every allow-list."""
    if isinstance(cluster, AwsCluster):
        return len(cluster.zones)  # one NAT gateway and Elastic IP per zone
    if isinstance(cluster, AzureCluster):
        return AZURE_EGRESS_ADDRESSES
    if isinstance(cluster, GcpCluster):
        return gcp_nat_address_count([p.max_size for p in cluster.node_pools], len(cluster.zones))
    return len(cluster.egress_cidrs)


def _rule_allow_list_size(spec: FleetSpec) -> Iterable[Problem]:
    access = spec.fleet.api_access
    static = len(access.operator_cidrs) + len(access.ci_runner_cidrs)
    fleet_wide = static + sum(egress_address_count(c) for c in spec.clusters)
    for i, c in enumerate(spec.clusters):
        size = fleet_wide
        if isinstance(spec.mesh, ConsulMeshSpec):
            # components.access.allow_list: a Consul fleet's API admits no peer (peering goes through mesh gateways).
            vault = spec.mesh.vault.egress_cidrs if spec.mesh.ca == "vault" and spec.mesh.vault else []
            size = static + egress_address_count(c) + len(vault)
        limit = API_ALLOW_LIST_LIMITS.get(c.cloud)
        if limit is not None and size > limit:
            yield Problem(
                path=f"clusters[{i}]",
                message=f"the API allow-list would hold {size} CIDRs (operators, CI runners and every "
                f"cluster's egress addresses); {c.cloud} accepts at most {limit}",
                fix="summarize fleet.apiAccess CIDRs into fewer, larger ranges, or split the fleet into two stacks",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_allow_list_size,)
