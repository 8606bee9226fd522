"""Address ranges: no overlap in the fleet, and each cloud's limits on its ranges."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    AzureCluster,
    FleetSpec,
    GcpCluster,
    GcpNetwork,
)
from components.netcalc import subnet_layout

_PRIVATE = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def _private(net: ipaddress.IPv4Network) -> bool:
    return any(net.subnet_of(p) for p in _PRIVATE)


def _net(value: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(value)


def cluster_ranges(index: int, cluster: Any) -> list[tuple[str, str]]:
    """(field path, cidr) of every range a cluster owns."""
    net = cluster.network
    out = [
        (f"clusters[{index}].network.nodeCidr", net.node_cidr),
        (f"clusters[{index}].network.podCidr", net.pod_cidr),
        (f"clusters[{index}].network.serviceCidr", net.service_cidr),
    ]
    if isinstance(net, GcpNetwork):
        out.append((f"clusters[{index}].network.controlPlaneCidr", net.control_plane_cidr))
    return out


def overlapping_pairs(nets: list[ipaddress.IPv4Network]) -> list[tuple[int, int]]:
    """Every (a, b), a < b, whose ranges overlap, in that order; O(n log n) plus the pairs found.

    Two CIDR blocks overlap only by one containing the other. Sorted by first
    address, widest first, the blocks containing the current one are exactly
    those left on a stack of nested blocks once the blocks ending before it
    are popped.
    """
    order = sorted(range(len(nets)), key=lambda k: (int(nets[k].network_address), nets[k].prefixlen))
    pairs: list[tuple[int, int]] = []
    stack: list[int] = []
    for k in order:
        start = int(nets[k].network_address)
        while stack and int(nets[stack[-1]].broadcast_address) < start:
            stack.pop()
        pairs += [(min(j, k), max(j, k)) for j in stack]
        stack.append(k)
    return sorted(pairs)


def _rule_no_overlap(spec: FleetSpec) -> Iterable[Problem]:
    ranges = [(p, _net(cidr)) for i, c in enumerate(spec.clusters) for p, cidr in cluster_ranges(i, c)]
    for a, b in overlapping_pairs([n for _, n in ranges]):
        (pa, na), (pb, nb) = ranges[a], ranges[b]
        yield Problem(
            path=pb,
            message=f"{nb} overlaps {pa} ({na})",
            fix="give every cluster and every range its own non-overlapping CIDR: "
            "mesh traffic and peers' allow-lists rely on unique addresses",
        )


def _rule_eks_service_cidr(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, AwsCluster):
            continue
        svc = _net(c.network.service_cidr)
        path = f"clusters[{i}].network.serviceCidr"
        if not _private(svc):
            yield Problem(
                path=path,
                message=f"{svc} is not in a private range; EKS requires 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
                fix="pick a private range outside the VPC, e.g. 172.20.0.0/16",
            )
        if not 12 <= svc.prefixlen <= 24:
            yield Problem(
                path=path,
                message=f"{svc} is a /{svc.prefixlen}; EKS accepts /12 to /24",
                fix="use a prefix between /12 and /24, e.g. /16",
            )


def _rule_aks_dns_ip(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, AzureCluster) or c.network.dns_service_ip is None:
            continue
        path = f"clusters[{i}].network.dnsServiceIp"
        svc = _net(c.network.service_cidr)
        try:
            ip = ipaddress.IPv4Address(c.network.dns_service_ip)
        except ValueError:
            yield Problem(
                path=path, message=f"{c.network.dns_service_ip!r} is not an IPv4 address", fix="write e.g. 10.0.0.10"
            )
            continue
        if ip not in svc or ip in (svc.network_address, svc.network_address + 1, svc.broadcast_address):
            yield Problem(
                path=path,
                message=f"{ip} is not a usable address of serviceCidr {svc} (AKS reserves the first address for the API service)",
                fix=f"use an address inside {svc}, e.g. {svc.network_address + 10}",
            )


def _rule_gke_control_plane(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, GcpCluster):
            continue
        cp = _net(c.network.control_plane_cidr)
        if cp.prefixlen != 28 or not _private(cp):
            yield Problem(
                path=f"clusters[{i}].network.controlPlaneCidr",
                message=f"{cp} must be a private /28 (GKE private clusters take exactly a /28)",
                fix="use e.g. 172.16.0.32/28",
            )


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
                subnet_layout(c.network.node_cidr, list(c.zones))
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


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_no_overlap,
    _rule_eks_node_cidr,
    _rule_eks_service_cidr,
    _rule_aks_service_cidr,
    _rule_aks_dns_ip,
    _rule_gke_control_plane,
)
