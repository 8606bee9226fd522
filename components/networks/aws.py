"""The AWS network of one EKS cluster: its account's provider, VPC, subnets, NAT and static addresses.

Created before any cluster: the NAT gateways' Elastic IPs are the cluster's
egress, which every API allow-list of the fleet (this cluster's included)
admits. The east-west gateway's Elastic IPs live here too, so the mesh's
public addresses survive a cluster re-create and are known before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.common import fleet_tags, protected
from components.config import AwsCluster, FleetSpec, IstioMeshSpec
from components.naming import cluster_names
from components.netcalc import host_cidrs, subnet_layout


def gateway_slot(spec: FleetSpec) -> str:
    """Whose gateway the static gateway addresses are for: the mesh kind, and Istio's mode.

    Each kind, and each Istio mode, runs its cross-cluster gateway behind a Service of its own,
    and a switch brings the new one up beside the old (the old goes at the end of the update).
    An Elastic IP serves one load balancer at a time, so each gets its own addresses: shared,
    the new gateway's load balancer would wait for the old one's, and a Helm release waiting
    for its Service's address would time out and roll back the switch.
    """
    mesh = spec.mesh
    return f"{mesh.kind}-{mesh.mode}" if isinstance(mesh, IstioMeshSpec) else mesh.kind


@dataclass(frozen=True)
class AwsNetworkArgs:
    spec: FleetSpec
    cluster: AwsCluster


class AwsNetwork(pulumi.ComponentResource):
    """VPC, subnets, NAT with static egress and the east-west gateway's static addresses."""

    #: The cluster's account and region; every AWS resource of the cluster uses it.
    provider: aws.Provider
    vpc_id: pulumi.Output[str]
    #: Private subnet ids in zone order (nodes, control-plane ENIs).
    private_subnet_ids: pulumi.Output[list[str]]
    #: The same by zone name (each zone's node groups).
    private_subnets: dict[str, pulumi.Output[str]]
    #: Public subnet ids in zone order (NAT, internet-facing NLBs).
    public_subnet_ids: pulumi.Output[list[str]]
    #: Static egress addresses (created before any cluster), as /32 CIDRs.
    egress_cidrs: pulumi.Output[list[str]]
    #: Elastic IP allocation ids for the east-west gateway NLB, one per public subnet, zone order.
    gateway_allocation_ids: pulumi.Output[list[str]]
    #: The same addresses, as IPs.
    gateway_addresses: pulumi.Output[list[str]]
    #: What nodes need before they boot: private routes through the NAT gateways.
    egress_ready: list[pulumi.Resource]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:network:Aws", name, None, opts)
        c = args.cluster
        # The fleet's settings with this cluster's protection (its names and tags are the fleet's).
        meta = args.spec.meta_of(c)
        physical = cluster_names(meta.name, c.name).physical
        tags = fleet_tags(meta)
        layout = subnet_layout(c.network.node_cidr, list(c.zones))

        # allowed_account_ids makes a wrong ambient credential fail before any
        # call instead of building the cluster in someone else's account.
        self.provider = aws.Provider(
            f"{name}-provider",
            region=c.region,
            allowed_account_ids=[c.account_id],
            default_tags={"tags": tags},
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        keep = protected(meta, child)
        slot = gateway_slot(args.spec)

        def gateway_opts(zone: str) -> pulumi.ResourceOptions:
            """Addresses named before they were per gateway (`<network>-gateway-<zone>`) are the deployed
            gateway's, since a stack runs the kind it deployed unless `mesh.migrateFrom` says otherwise:
            adopted, except in a switch, where they stay the old gateway's until it is deleted. (An Istio
            mode switch has no such marker: the first update with per-gateway addresses must not be one.)"""
            if args.spec.mesh.migrate_from is not None:
                return child
            return pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"{name}-gateway-{zone}")])
            )

        def named(suffix: str, extra: dict[str, str] | None = None) -> dict[str, str]:
            return {**tags, "Name": f"{physical}-{suffix}", **(extra or {})}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=c.network.node_cidr,
            # EKS nodes register by private DNS name; both flags are required.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=named("vpc"),
            opts=keep,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=named("igw"), opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=named("public"),
            opts=child,
        )

        # The Load Balancer Controller picks subnets by these role tags; the
        # cluster tag keeps other clusters' controllers off them.
        cluster_tag = {f"kubernetes.io/cluster/{physical}": "shared"}
        self.private_subnets = {}
        public_ids: list[pulumi.Output[str]] = []
        egress_ips: list[pulumi.Output[str]] = []
        gateway_ids: list[pulumi.Output[str]] = []
        gateway_ips: list[pulumi.Output[str]] = []
        self.egress_ready = []
        for z in layout:
            public = aws.ec2.Subnet(
                f"{name}-public-{z.zone}",
                vpc_id=vpc.id,
                cidr_block=z.public,
                availability_zone=z.zone,
                # Nothing but NAT and NLBs lives here; no instance gets a public IP.
                map_public_ip_on_launch=False,
                tags=named(f"public-{z.zone}", {"kubernetes.io/role/elb": "1", **cluster_tag}),
                opts=keep,
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{z.zone}",
                vpc_id=vpc.id,
                cidr_block=z.private,
                availability_zone=z.zone,
                tags=named(f"private-{z.zone}", {"kubernetes.io/role/internal-elb": "1", **cluster_tag}),
                opts=keep,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{z.zone}", subnet_id=public.id, route_table_id=public_rt.id, opts=child
            )
            # One NAT per zone: a zone outage must not cut the others' egress,
            # and no cross-zone data charges.
            egress_eip = aws.ec2.Eip(
                f"{name}-egress-{z.zone}",
                domain="vpc",
                tags=named(f"egress-{z.zone}"),
                opts=keep,
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{z.zone}",
                allocation_id=egress_eip.allocation_id,
                subnet_id=public.id,
                connectivity_type="public",
                tags=named(f"nat-{z.zone}"),
                # A NAT gateway needs the internet gateway attached first.
                opts=protected(meta, pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[igw])),
            )
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{z.zone}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags=named(f"private-{z.zone}"),
                opts=child,
            )
            self.egress_ready.append(
                aws.ec2.RouteTableAssociation(
                    f"{name}-private-{z.zone}", subnet_id=private.id, route_table_id=private_rt.id, opts=child
                )
            )
            # Static addresses for the east-west gateway NLB (one per public
            # subnet: the controller needs exactly one allocation per subnet),
            # per gateway (gateway_slot). Not protected, unlike the egress
            # addresses that allow-lists hold: a switch deletes the old
            # gateway's, and peers learn a gateway's address from the program.
            gateway_eip = aws.ec2.Eip(
                f"{name}-gateway-{slot}-{z.zone}",
                domain="vpc",
                tags=named(f"gateway-{slot}-{z.zone}"),
                opts=gateway_opts(z.zone),
            )
            self.private_subnets[z.zone] = private.id
            public_ids.append(public.id)
            egress_ips.append(egress_eip.public_ip)
            gateway_ids.append(gateway_eip.allocation_id)
            gateway_ips.append(gateway_eip.public_ip)

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*self.private_subnets.values()).apply(list)
        self.public_subnet_ids = pulumi.Output.all(*public_ids).apply(list)
        self.egress_cidrs = pulumi.Output.all(*egress_ips).apply(host_cidrs)
        self.gateway_allocation_ids = pulumi.Output.all(*gateway_ids).apply(list)
        self.gateway_addresses = pulumi.Output.all(*gateway_ips).apply(list)
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "egressCidrs": self.egress_cidrs,
                "gatewayAddresses": self.gateway_addresses,
            }
        )
