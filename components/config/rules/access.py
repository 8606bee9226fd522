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
    if isinstance(spec.mesh, ConsulMeshSpec):
        # components.access.allow_list: a Consul fleet's API admits no peer (peering goes
        # through mesh gateways), so each cluster's list holds only its own egress.
        vault = spec.mesh.vault.egress_cidrs if spec.mesh.ca == "vault" and spec.mesh.vault else []
        for i, c in enumerate(spec.clusters):
            size = static + egress_address_count(c) + len(vault)
            limit = API_ALLOW_LIST_LIMITS.get(c.cloud)
            if limit is not None and size > limit:
                yield Problem(
                    path="fleet.apiAccess",
                    message=f"the API allow-list of clusters[{i}] ({c.name}) would hold {size} CIDRs (operators, "
                    f"CI runners, its own egress addresses{' and Vault' if vault else ''}); {c.cloud} accepts at most {limit}",
                    fix=f"summarize fleet.apiAccess CIDRs into fewer, larger ranges (at most {limit} in all)",
                )
        return
    size = static
    size += sum(egress_address_count(c) for c in spec.clusters)
    # One allow-list serves every cluster: report it once, at the strictest cloud it overflows.
    over = sorted(
        {(limit, c.cloud) for c in spec.clusters if (limit := API_ALLOW_LIST_LIMITS.get(c.cloud)) and size > limit}
    )
    if not over:
        return
    limit, cloud = over[0]
    affected = [f"clusters[{i}] ({c.name})" for i, c in enumerate(spec.clusters) if c.cloud in {o[1] for o in over}]
    yield Problem(
        path="fleet.apiAccess",
        message=f"the API allow-list would hold {size} CIDRs (operators, CI runners and every "
        f"cluster's egress addresses); {cloud} accepts at most {limit} (affects {', '.join(affected)})",
        fix=f"stay at or under {limit}: summarize fleet.apiAccess CIDRs into fewer, larger ranges; give EKS "
        "clusters fewer zones (one egress address each); split the fleet into two stacks; or choose "
        "mesh.kind: consul, whose API allow-lists hold no peers (README, 'How large a fleet can grow')",
    )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_allow_list_size,)
