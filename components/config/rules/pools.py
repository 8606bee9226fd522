"""Node pools: unique per cluster, sane autoscaler bounds, room in the ranges."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    AzureCluster,
    ExistingCluster,
    FleetSpec,
    GcpCluster,
)
from components.naming import label_problems
from components.netcalc import NODE_POOL_MAX_SURGE, aks_surge_nodes, gke_max_nodes


def _rule_pool_names_unique_and_bounds(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            continue
        seen: set[str] = set()
        for j, pool in enumerate(c.node_pools):
            path = f"clusters[{i}].nodePools[{j}]"
            if pool.name in seen:
                yield Problem(
                    path=f"{path}.name",
                    message=f"{pool.name!r} is used by another node pool of {c.name!r}",
                    fix="give each node pool of a cluster a unique name",
                )
            seen.add(pool.name)
            if isinstance(c, AzureCluster) and j == 0 and pool.min_size < 1:
                yield Problem(
                    path=f"{path}.minSize",
                    message="the first AKS node pool is the system pool, which AKS never scales to 0",
                    fix="set minSize to 1 or more (2+ for production)",
                )
            if pool.min_size > pool.max_size:
                yield Problem(
                    path=f"{path}.minSize",
                    message=f"minSize {pool.min_size} is greater than maxSize {pool.max_size}",
                    fix="set minSize <= maxSize",
                )
            # One node group per zone (components/clusters/eks.py), and EKS
            # refuses a group whose maximum is 0.
            if isinstance(c, AwsCluster) and pool.max_size < len(c.zones):
                yield Problem(
                    path=f"{path}.maxSize",
                    message=(
                        f"maxSize {pool.max_size} is less than the {len(c.zones)} zones of EKS cluster {c.name!r}: "
                        "each zone has its own node group (so the autoscaler can add a node in the zone a pod's "
                        "volume is in), and each needs room for a node"
                    ),
                    fix=f"set maxSize to {len(c.zones)} or more",
                )
        # EKS has no node of its own: coredns (an add-on that waits for its
        # pods) and the cluster autoscaler (a Deployment) run on the pools. With
        # every pool at 0 neither ever starts, so nothing adds the first node
        # and the deployment waits out its timeouts. (GKE's and AKS's
        # autoscalers run in the control plane; AKS's system pool is above.)
        if isinstance(c, AwsCluster) and c.node_pools and all(pool.min_size < 1 for pool in c.node_pools):
            yield Problem(
                path=f"clusters[{i}].nodePools",
                message=(
                    f"every node pool of EKS cluster {c.name!r} has minSize 0: coredns and the cluster autoscaler "
                    "run on the cluster's own nodes, so no node would ever start"
                ),
                fix="set minSize to 1 or more on at least one pool (2+ for production)",
            )


def _rule_node_labels(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        for j, pool in enumerate(c.node_pools if not isinstance(c, ExistingCluster) else []):
            for key, value in sorted(pool.labels.items()):
                for message in label_problems(key, value):
                    yield Problem(
                        path=f"clusters[{i}].nodePools[{j}].labels",
                        message=message,
                        fix="shorten or rename the label (the cloud's node pool API and Kubernetes reject it)",
                    )


#: Addresses a cloud keeps in every subnet (GCP: network, gateway and the last
#: two; Azure: the first four and the last).
_RESERVED = {"gcp": 4, "azure": 5}
#: Both clouds give each node its own /24 of the pod range: GKE sizes it for
#: 110 pods (the default maximum, which meshfleet keeps), AKS's CNI overlay
#: always hands out a /24 per node.
_NODE_POD_PREFIX = 24
#: The largest range ever proposed: a /8, the size of 10.0.0.0/8, the largest private (RFC 1918) block.
_SHORTEST_PREFIX = 8


def _max_nodes(c: AzureCluster | GcpCluster) -> tuple[int, str]:
    """The most nodes the pools can reach, upgrades included, and how that was counted.

    GKE upgrades a cluster's node pools one at a time, so one pool's surge
    (per zone) is on top of the maxima; AKS surges every pool it upgrades
    together (Microsoft's quota guidance counts each pool's surge).
    """
    if isinstance(c, GcpCluster):
        zones = len(c.zones)
        total = gke_max_nodes([p.max_size for p in c.node_pools], zones, surging_pools=1)
        return total, f"maxSize per zone over {zones} zones, plus {NODE_POOL_MAX_SURGE} surge node per zone"
    total = sum(p.max_size + aks_surge_nodes(p.max_size) for p in c.node_pools)
    return total, "maxSize plus each pool's upgrade surge nodes"


def _rule_ranges_hold_nodes(spec: FleetSpec) -> Iterable[Problem]:
    """The node and pod ranges hold every node the autoscaler and an upgrade can add.

    The clouds accept a range that is too small and fail later, at scale-up
    or mid-upgrade (GKE: "IP space exhausted"; AKS: subnet full), when the
    range can no longer change without re-creating the cluster. EKS is not
    counted here: VPC CNI's use of addresses depends on each instance type's
    network interfaces, and the VPC layout gives every zone a whole block.
    """
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, (AzureCluster, GcpCluster)) or not c.node_pools:
            continue
        nodes, counted = _max_nodes(c)
        cloud = "GKE" if isinstance(c, GcpCluster) else "AKS"
        node_net = ipaddress.IPv4Network(c.network.node_cidr)
        node_room = max(node_net.num_addresses - _RESERVED[c.cloud], 0)
        if nodes > node_room:
            yield Problem(
                path=f"clusters[{i}].network.nodeCidr",
                message=(
                    f"{node_net} has {node_room} usable node addresses, but the node pools of {cloud} cluster "
                    f"{c.name!r} can reach {nodes} nodes ({counted})"
                ),
                fix=_range_fix(
                    "nodeCidr",
                    _prefix_for(nodes + _RESERVED[c.cloud], 32),
                    f"{2 ** (32 - _SHORTEST_PREFIX) - _RESERVED[c.cloud]} usable node addresses",
                ),
            )
        pod_net = ipaddress.IPv4Network(c.network.pod_cidr)
        pod_room = 2 ** (_NODE_POD_PREFIX - pod_net.prefixlen) if pod_net.prefixlen <= _NODE_POD_PREFIX else 0
        if nodes > pod_room:
            yield Problem(
                path=f"clusters[{i}].network.podCidr",
                message=(
                    f"{pod_net} holds the pods of {pod_room} nodes ({cloud} gives each node a /{_NODE_POD_PREFIX}), "
                    f"but the node pools of {c.name!r} can reach {nodes} nodes ({counted})"
                ),
                fix=_range_fix(
                    "podCidr",
                    _prefix_for(nodes, _NODE_POD_PREFIX),
                    f"the pods of {2 ** (_NODE_POD_PREFIX - _SHORTEST_PREFIX)} nodes",
                ),
            )


def _range_fix(field: str, prefix: int, largest_holds: str) -> str:
    """Use a /`prefix` `field`; if even a /8 is too small, say the pools are too large for any range."""
    if prefix >= _SHORTEST_PREFIX:
        return (
            f"on a new cluster use a {field} of /{prefix} or a shorter prefix; on a deployed one (its range "
            "cannot change) lower maxSize"
        )
    return (
        f"lower maxSize or move pools to another cluster: the pools are too large for any {field}; even a "
        f"/{_SHORTEST_PREFIX} (as large as 10.0.0.0/{_SHORTEST_PREFIX}, the largest private range) holds only "
        f"{largest_holds}"
    )


def _prefix_for(count: int, block_prefix: int) -> int:
    """The longest prefix whose range holds `count` blocks of /`block_prefix`."""
    return block_prefix - max(count - 1, 0).bit_length()


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_pool_names_unique_and_bounds,
    _rule_node_labels,
    _rule_ranges_hold_nodes,
)
