"""Azure network of one cluster: resource group, VNet, node subnet and the NAT egress.

The NAT gateway's static public IPs are the cluster's egress: every peer's
API allow-list and gateway source ranges include them, and AKS nodes reach
their own (public) API server through them too. They are created before any
cluster, so no cluster waits for another's control plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azure_native.network as network
import pulumi_azure_native.resources as resources

from components.common import fleet_tags, protected, without_api_version_aliases
from components.config import AzureCluster, FleetSpec
from components.naming import cluster_names
from components.netcalc import AZURE_EGRESS_ADDRESSES, host_cidrs


@dataclass(frozen=True)
class AzureNetworkArgs:
    spec: FleetSpec
    cluster: AzureCluster


class AzureNetwork(pulumi.ComponentResource):
    """Resource group, VNet, node subnet and a NAT gateway with static public IPs."""

    #: Static egress addresses as /32 CIDRs (created before any cluster).
    egress_cidrs: pulumi.Output[list[str]]
    #: Explicit provider for the cluster's subscription and region; the cluster uses it too.
    provider: azure_native.Provider
    resource_group: resources.ResourceGroup
    resource_group_name: pulumi.Output[str]
    vnet: network.VirtualNetwork
    subnet: network.Subnet
    subnet_id: pulumi.Output[str]
    nat_gateway: network.NatGateway
    public_ips: list[network.PublicIPAddress]

    def __init__(self, name: str, args: AzureNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:network:Azure", name, None, without_api_version_aliases(opts))
        c = args.cluster
        # The fleet's settings with this cluster's protection (its names and tags are the fleet's).
        meta = args.spec.meta_of(c)
        names = cluster_names(meta.name, c.name)
        tags = fleet_tags(meta)

        self.provider = azure_native.Provider(
            f"{name}-azure",
            subscription_id=c.subscription_id,
            location=c.region,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        keep = protected(meta, child)

        self.resource_group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=f"rg-{names.physical}",
            location=c.region,
            tags=tags,
            opts=keep,
        )
        self.resource_group_name = self.resource_group.name
        rg = self.resource_group.name

        self.public_ips = [
            network.PublicIPAddress(
                f"{name}-egress-{i}",
                public_ip_address_name=f"pip-{names.physical}-egress-{i}",
                resource_group_name=rg,
                location=c.region,
                sku={
                    "name": network.PublicIPAddressSkuName.STANDARD,
                    "tier": network.PublicIPAddressSkuTier.REGIONAL,
                },
                public_ip_allocation_method=network.IPAllocationMethod.STATIC,
                public_ip_address_version=network.IPVersion.I_PV4,
                # Zone-redundant: the address survives a zone outage, so peers'
                # allow-lists never need to change.
                zones=list(c.zones),
                tags=tags,
                opts=keep,
            )
            for i in range(1, AZURE_EGRESS_ADDRESSES + 1)
        ]

        # A Standard NAT gateway is a zonal resource that cannot span zones;
        # leaving `zones` unset lets Azure place it ("no zone") while it still
        # serves every zone's nodes through the zone-redundant addresses.
        self.nat_gateway = network.NatGateway(
            f"{name}-nat",
            nat_gateway_name=f"ng-{names.physical}",
            resource_group_name=rg,
            location=c.region,
            sku={"name": network.NatGatewaySkuName.STANDARD},
            idle_timeout_in_minutes=4,
            public_ip_addresses=[{"id": ip.id} for ip in self.public_ips],
            tags=tags,
            opts=keep,
        )

        # The subnet is its own resource, not inline in the VNet: azure-native
        # keeps separately declared subnets when it updates the VNet, and the
        # cluster's role assignment needs the subnet's own id.
        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=f"vnet-{names.physical}",
            resource_group_name=rg,
            location=c.region,
            address_space={"address_prefixes": [c.network.node_cidr]},
            tags=tags,
            opts=keep,
        )
        # CNI overlay: pods take addresses from podCidr, not the VNet, so the
        # node subnet can span the whole node range.
        self.subnet = network.Subnet(
            f"{name}-nodes",
            subnet_name="nodes",
            resource_group_name=rg,
            virtual_network_name=self.vnet.name,
            address_prefix=c.network.node_cidr,
            nat_gateway={"id": self.nat_gateway.id},
            # Egress only through the NAT gateway (static, allow-listed
            # addresses), never Azure's implicit default outbound access.
            default_outbound_access=False,
            opts=keep,
        )
        self.subnet_id = self.subnet.id

        self.egress_cidrs = pulumi.Output.all(*[ip.ip_address for ip in self.public_ips]).apply(host_cidrs)
        self.register_outputs(
            {
                "resourceGroupName": self.resource_group_name,
                "subnetId": self.subnet_id,
                "egressCidrs": self.egress_cidrs,
            }
        )
