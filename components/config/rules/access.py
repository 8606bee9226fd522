"""API allow-lists: what every cluster admits must fit each cloud's limit."""

from __future__ import annotations

import ipaddress
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


#: (message, fix) for a /0 in each list that every API server (and gateway) admits.
_OPEN_API = "admits the whole internet to every cluster's Kubernetes API"
_OPEN_RANGE_WORDS = {
    "operatorCidrs": (_OPEN_API, "list the operators' networks (VPN or office egress)"),
    "ciRunnerCidrs": (
        _OPEN_API,
        "list the runners' static egress addresses (docs/operations.md, 'Runners with a static egress address')",
    ),
    "egressCidrs": (
        "as this cluster's egress admits the whole internet to every peer's Kubernetes API and east-west gateway",
        "list the addresses this cluster's traffic leaves from (its nodes' or its NAT's)",
    ),
}


def _rule_no_open_ranges(spec: FleetSpec) -> Iterable[Problem]:
    """A /0 in what every API server and east-west gateway admits opens them to the internet.

    The guardrail `no-open-endpoints` refuses the resulting allow-lists in
    every stack; said here, the message names the field that holds the range.
    """
    access = spec.fleet.api_access
    listed = [
        *((f"fleet.apiAccess.operatorCidrs[{j}]", "operatorCidrs", c) for j, c in enumerate(access.operator_cidrs)),
        *((f"fleet.apiAccess.ciRunnerCidrs[{j}]", "ciRunnerCidrs", c) for j, c in enumerate(access.ci_runner_cidrs)),
        *(
            (f"clusters[{i}].egressCidrs[{j}]", "egressCidrs", cidr)
            for i, c in enumerate(spec.clusters)
            if isinstance(c, ExistingCluster)
            for j, cidr in enumerate(c.egress_cidrs)
        ),
    ]
    for path, key, cidr in listed:
        if ipaddress.ip_network(cidr).prefixlen == 0:
            message, fix = _OPEN_RANGE_WORDS[key]
            yield Problem(path=path, message=f"{cidr} {message}", fix=fix)


def _rule_ci_reaches_the_api(spec: FleetSpec) -> Iterable[Problem]:
    """Cloud API servers admit only their allow-lists: with no CI runner range, the deploy that removed it
    is the last one CI can make, and every later preview, up and drift check is refused."""
    if spec.fleet.api_access.ci_runner_cidrs or all(isinstance(c, ExistingCluster) for c in spec.clusters):
        return
    yield Problem(
        path="fleet.apiAccess.ciRunnerCidrs",
        message="is empty: every EKS, AKS and GKE API server would admit only its peers and the operators, so "
        "after the next deploy the CI preview, deploy and drift check (.github/workflows) are refused, and "
        "restoring the range takes a deploy from an operator's network",
        fix="list the egress CIDRs of the runners that run `pulumi preview`/`up` (a self-hosted runner's NAT "
        "address, e.g. ciRunnerCidrs: [203.0.113.10/32])",
    )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_allow_list_size,
    _rule_no_open_ranges,
    _rule_ci_reaches_the_api,
)
