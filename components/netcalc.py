"""Network arithmetic shared by config rules and network components.

Pure functions of plain values (no pulumi, no config models): the config
rules check a stack with them before anything exists, and the network
components build resources from the very same numbers, so what validation
accepts is what gets created.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass

# --------------------------------------------------------------------------
# AWS: subnet layout of an EKS VPC

#: The smallest subnet AWS accepts.
MIN_SUBNET_PREFIX = 28


@dataclass(frozen=True)
class ZoneSubnets:
    """The address ranges of one availability zone."""

    zone: str
    #: Nodes and (VPC CNI) pods: the large range.
    private: str
    #: NAT gateways and internet-facing NLBs only: a small range.
    public: str


def subnet_layout(node_cidr: str, zones: list[str]) -> list[ZoneSubnets]:
    """Split the VPC range into one private and one public subnet per zone.

    The VPC is cut into the smallest power of two of equal blocks that holds
    one block per zone plus one spare: each zone gets a whole block as its
    private subnet (VPC CNI gives every pod a VPC address, so nodes need the
    room), and the spare block is cut again into the public subnets. A /16
    over three zones gives three /18 private and three /20 public subnets.
    The layout depends on the number of zones: changing it re-cuts the VPC
    (every subnet is replaced), so choose the zones when creating the cluster.
    """
    vpc = ipaddress.IPv4Network(node_cidr)
    count = len(zones)
    private_bits = math.ceil(math.log2(count + 1))
    public_bits = math.ceil(math.log2(count))
    blocks = list(vpc.subnets(prefixlen_diff=private_bits))
    publics = list(blocks[-1].subnets(prefixlen_diff=public_bits))
    if publics[0].prefixlen > MIN_SUBNET_PREFIX:
        raise ValueError(
            f"nodeCidr {node_cidr} is too small for {count} zones: public subnets would be "
            f"/{publics[0].prefixlen}, AWS needs at least /{MIN_SUBNET_PREFIX}; use a /16 to /20"
        )
    return [ZoneSubnets(zone, str(blocks[i]), str(publics[i])) for i, zone in enumerate(zones)]


# --------------------------------------------------------------------------
# Egress addresses per cloud

#: Azure: one Standard NAT public IP gives 64,512 SNAT ports; one per cluster
#: is plenty for control-plane and mesh traffic and keeps peers' allow-lists short.
AZURE_EGRESS_ADDRESSES = 1

#: GCP: ports one NAT address offers (65536 minus the 1024 well-known ports).
PORTS_PER_NAT_ADDRESS = 64512
#: Cloud NAT port allocation per VM. Pods share their node's allocation
#: (alias IP ranges are NATed with the node), and mesh sidecars open many
#: connections, so the default minimum of 64 exhausts quickly; dynamic
#: allocation lends busy nodes more, up to the maximum.
NAT_MIN_PORTS_PER_VM = 256
NAT_MAX_PORTS_PER_VM = 4096
#: Extra nodes a surge upgrade adds per zone and pool (GKE applies the node
#: pool's upgrade settings zone by zone); components/clusters/gke.py sets
#: the pools' max_surge from this, so NAT sizing and upgrades agree.
NODE_POOL_MAX_SURGE = 1
#: AKS: surge nodes per pool during an upgrade, a percentage of the pool
#: (rounded up). Microsoft's upgrade guidance recommends 33% for production
#: pools; the API default (10%, and 1 node on older API versions) drains a
#: large pool one or two nodes at a time. Nothing is taken away first
#: (maxUnavailable stays 0), and evictions still wait for PodDisruptionBudgets.
AKS_MAX_SURGE_PERCENT = 33
#: AKS: minutes an upgrade waits for one node's pods to be evicted (the API's
#: default, written down): the mesh's PodDisruptionBudgets let one pod go at
#: a time, and a gateway's drain takes about a minute (components/mesh).
AKS_DRAIN_MINUTES = 30


def spread(total: int, parts: int) -> list[int]:
    """`total` nodes over `parts` zones as evenly as possible, the first zones taking the remainder."""
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def aks_surge_nodes(max_count: int) -> int:
    """Extra nodes an AKS pool of at most `max_count` nodes adds while upgrading."""
    return math.ceil(max_count * AKS_MAX_SURGE_PERCENT / 100)


def gke_max_nodes(pool_max_sizes: Iterable[int], zone_count: int, *, surging_pools: int) -> int:
    """Nodes GKE pools can reach: each pool's maxSize in every zone (autoscaler bounds are per zone),
    plus NODE_POOL_MAX_SURGE per zone for each of `surging_pools` pools upgrading at once."""
    return (sum(pool_max_sizes) + NODE_POOL_MAX_SURGE * surging_pools) * zone_count


def gcp_nat_address_count(pool_max_sizes: Iterable[int], zone_count: int) -> int:
    """Static NAT addresses needed so every node, at the pools' maxima, gets its minimum ports.

    With MANUAL_ONLY allocation Cloud NAT never adds addresses by itself: a
    node that finds no free ports has no egress. With dynamic port allocation
    each VM first receives `min_ports_per_vm`, so one address serves
    64512 / min VMs (Cloud NAT port-allocation docs). GKE autoscaler bounds
    are per zone, and a surge upgrade adds `NODE_POOL_MAX_SURGE` nodes per
    zone and pool; the count stays as small as that allows since every
    address lands in every peer's allow-list.
    """
    sizes = list(pool_max_sizes)
    # Every pool surging at once: a node without ports has no egress at all.
    max_nodes = gke_max_nodes(sizes, zone_count, surging_pools=len(sizes))
    return max(1, math.ceil(max_nodes * NAT_MIN_PORTS_PER_VM / PORTS_PER_NAT_ADDRESS))


# --------------------------------------------------------------------------
# Allow-lists

#: How many CIDRs each cloud accepts on its API server allow-list.
#: EKS: 40 public access CIDRs; GKE: 100 authorized networks (clusters with private nodes; 50 for public clusters);
#: AKS: 200 authorized IP ranges.
API_ALLOW_LIST_LIMITS = {"aws": 40, "gcp": 100, "azure": 200}


def host_cidrs(addresses: list[str]) -> list[str]:
    """Egress addresses are single IPs; allow-lists want CIDRs (`/32`)."""
    return [a if "/" in a else f"{a}/32" for a in addresses]
