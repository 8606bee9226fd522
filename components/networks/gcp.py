"""The Google Cloud network of one GKE cluster: VPC, subnetwork, Cloud NAT with static egress.

The subnetwork's primary range holds the nodes; its two secondary ranges hold
pods and Services (VPC-native cluster). Nodes are private, so everything they
send to the internet leaves through Cloud NAT on reserved static addresses:
those addresses are the cluster's egress, which every peer's API allow-list
names, so they are created before any cluster exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from pulumi_gcp import compute

from components.common import fleet_tags, protected
from components.config import FleetSpec, GcpCluster
from components.naming import cluster_names
from components.netcalc import NAT_MAX_PORTS_PER_VM, NAT_MIN_PORTS_PER_VM, gcp_nat_address_count, host_cidrs

# components/clusters/gke.py reads the surge from here (explicit re-export).
from components.netcalc import NODE_POOL_MAX_SURGE as NODE_POOL_MAX_SURGE


def egress_address_count(cluster: GcpCluster) -> int:
    """Static NAT addresses of the cluster (components.netcalc.gcp_nat_address_count)."""
    return gcp_nat_address_count([p.max_size for p in cluster.node_pools], len(cluster.zones))


@dataclass(frozen=True)
class GcpNetworkArgs:
    spec: FleetSpec
    cluster: GcpCluster


class GcpNetwork(pulumi.ComponentResource):
    """Custom-mode VPC, subnetwork with pod/Service ranges, Cloud Router and NAT."""

    #: Static egress addresses as /32 CIDRs (created before any cluster).
    egress_cidrs: pulumi.Output[list[str]]
    #: The explicit provider for the cluster's project and region; the cluster uses it too.
    provider: gcp.Provider
    network_self_link: pulumi.Output[str]
    subnetwork_self_link: pulumi.Output[str]
    #: Secondary range names of the subnetwork (the cluster's ip_allocation_policy).
    pods_range_name: str
    services_range_name: str
    #: Cloud NAT: private nodes pull non-Google images through it.
    nat: compute.RouterNat
    egress_addresses: list[compute.Address]

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:network:Gcp", name, None, opts)
        c = args.cluster
        # The fleet's settings with this cluster's protection (its names and tags are the fleet's).
        meta = args.spec.meta_of(c)
        names = cluster_names(meta.name, c.name)
        labels = fleet_tags(meta)
        physical = names.physical

        # default_labels tag what we forget; labels are also set on each
        # resource so guardrails reading a resource's own labels see them.
        self.provider = gcp.Provider(
            f"{name}-gcp",
            project=c.project,
            region=c.region,
            default_labels=labels,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        keep = protected(meta, child)

        # Custom mode: an auto-mode VPC creates a /20 in every region, which
        # overlaps the fleet's planned ranges and cannot be undone.
        network = compute.Network(
            f"{name}-vpc",
            name=physical,
            project=c.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"meshfleet {meta.name}: network of cluster {c.name}",
            opts=keep,
        )

        self.pods_range_name = f"{physical}-pods"
        self.services_range_name = f"{physical}-services"
        subnet = compute.Subnetwork(
            f"{name}-nodes",
            name=f"{physical}-nodes",
            project=c.project,
            region=c.region,
            network=network.self_link,
            ip_cidr_range=c.network.node_cidr,
            secondary_ip_ranges=[
                {"range_name": self.pods_range_name, "ip_cidr_range": c.network.pod_cidr},
                {"range_name": self.services_range_name, "ip_cidr_range": c.network.service_cidr},
            ],
            # Private nodes reach Google APIs (Artifact Registry, logging)
            # without the NAT.
            private_ip_google_access=True,
            stack_type="IPV4_ONLY",
            opts=keep,
        )

        self.egress_addresses = [
            compute.Address(
                f"{name}-egress-{i}",
                name=f"{physical}-egress-{i}",
                project=c.project,
                region=c.region,
                address_type="EXTERNAL",
                network_tier="PREMIUM",
                description=f"meshfleet {meta.name}: Cloud NAT egress of cluster {c.name}",
                labels=labels,
                # In every peer's allow-list: losing one cuts the mesh.
                opts=keep,
            )
            for i in range(egress_address_count(c))
        ]

        router = compute.Router(
            f"{name}-router",
            name=f"{physical}-router",
            project=c.project,
            region=c.region,
            network=network.self_link,
            description=f"meshfleet {meta.name}: Cloud NAT of cluster {c.name}",
            opts=keep,
        )
        self.nat = compute.RouterNat(
            f"{name}-nat",
            name=f"{physical}-nat",
            project=c.project,
            region=c.region,
            router=router.name,
            # Only our reserved addresses: AUTO_ONLY would pick (and change)
            # ephemeral addresses no peer's allow-list knows.
            nat_ip_allocate_option="MANUAL_ONLY",
            nat_ips=[a.self_link for a in self.egress_addresses],
            # Primary and secondary ranges: pods egress through the NAT too.
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            enable_dynamic_port_allocation=True,
            # Endpoint-independent mapping cannot be combined with dynamic
            # allocation; with it, both port bounds must be powers of two.
            enable_endpoint_independent_mapping=False,
            min_ports_per_vm=NAT_MIN_PORTS_PER_VM,
            max_ports_per_vm=NAT_MAX_PORTS_PER_VM,
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=keep,
        )

        self.network_self_link = network.self_link
        self.subnetwork_self_link = subnet.self_link
        self.egress_cidrs = pulumi.Output.all(*[a.address for a in self.egress_addresses]).apply(host_cidrs)
        self.register_outputs(
            {
                "egressCidrs": self.egress_cidrs,
                "networkSelfLink": self.network_self_link,
                "subnetworkSelfLink": self.subnetwork_self_link,
            }
        )
