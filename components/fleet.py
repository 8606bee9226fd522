"""The fleet: networks -> clusters -> trust -> mesh -> policies.

Order matters only where data flows: every cluster's egress addresses are
created first (they feed every API allow-list), then clusters in parallel,
then the per-cluster trust material, then the mesh. No cluster waits for
another cluster's control plane.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pulumi

from components.access import allow_list
from components.clusters.aks import AksCluster, AksClusterArgs
from components.clusters.eks import EksCluster, EksClusterArgs
from components.clusters.existing import ExistingClusterArgs, ExistingClusterConnection
from components.clusters.gke import GkeCluster, GkeClusterArgs
from components.config import AwsCluster, AzureCluster, ExistingCluster, FleetSpec, GcpCluster
from components.gateway_api import GatewayApiCrds, GatewayApiCrdsArgs
from components.handle import ClusterHandle
from components.mesh import MeshArgs, MeshInstaller, admission_webhook_ports
from components.mesh.consul import ConsulMesh
from components.mesh.istio import IstioMesh
from components.mesh.linkerd import LinkerdMesh, issuer_dns_names
from components.mesh.switch import MeshSwitchGuard, python_provider
from components.naming import cluster_names
from components.networks.aws import AwsNetwork, AwsNetworkArgs
from components.networks.azure import AzureNetwork, AzureNetworkArgs
from components.networks.gcp import GcpNetwork, GcpNetworkArgs
from components.policy.apply import ClusterPolicies, ClusterPoliciesArgs
from components.trust import FleetTrust, TrustArgs

Network = AwsNetwork | AzureNetwork | GcpNetwork

#: The installer of each mesh kind (components.config.INSTALLABLE_MESHES).
MESH_INSTALLERS: dict[str, Callable[[str, MeshArgs, pulumi.ResourceOptions], MeshInstaller]] = {
    "istio": IstioMesh,
    "linkerd": LinkerdMesh,
    "consul": ConsulMesh,
}


class Fleet(pulumi.ComponentResource):
    """Every cluster of a stack, their trust chain and the mesh across them."""

    clusters: dict[str, ClusterHandle]
    trust: FleetTrust

    def __init__(self, name: str, spec: FleetSpec, opts: pulumi.ResourceOptions | None = None):
        # The stack facts the guardrails read (policies/guardrails/rules.py, `Graph.facts`):
        # a CrossGuard policy sees resources, not stack config, so the environment,
        # the protection setting and the mesh are the Fleet's inputs and, for the
        # stack policies (which the engine gives each resource's outputs), its
        # outputs too (register_outputs below).
        facts = {"environment": spec.fleet.environment, "protect": spec.fleet.protect, "mesh": spec.mesh.kind}
        super().__init__("meshfleet:index:Fleet", name, {"facts": facts}, opts)
        child = pulumi.ResourceOptions(parent=self)

        networks: dict[str, Network] = {}
        egress: dict[str, pulumi.Output[list[str]]] = {}
        for c in spec.clusters:
            net_name = cluster_names(spec.fleet.name, c.name).child("network")
            if isinstance(c, AwsCluster):
                networks[c.name] = AwsNetwork(net_name, AwsNetworkArgs(spec, c), child)
            elif isinstance(c, AzureCluster):
                networks[c.name] = AzureNetwork(net_name, AzureNetworkArgs(spec, c), child)
            elif isinstance(c, GcpCluster):
                networks[c.name] = GcpNetwork(net_name, GcpNetworkArgs(spec, c), child)
            if isinstance(c, ExistingCluster):
                egress[c.name] = pulumi.Output.from_input(list(c.egress_cidrs))
            else:
                egress[c.name] = networks[c.name].egress_cidrs

        ports = admission_webhook_ports(spec.mesh.kind)
        self.clusters = {}
        for c in spec.clusters:
            api = allow_list(spec, c.name, egress, for_api=True)
            net = networks.get(c.name)
            if isinstance(c, AwsCluster) and isinstance(net, AwsNetwork):
                handle = EksCluster(c.name, EksClusterArgs(spec, c, net, api, ports), child).handle
            elif isinstance(c, AzureCluster) and isinstance(net, AzureNetwork):
                handle = AksCluster(c.name, AksClusterArgs(spec, c, net, api, ports), child).handle
            elif isinstance(c, GcpCluster) and isinstance(net, GcpNetwork):
                handle = GkeCluster(c.name, GkeClusterArgs(spec, c, net, api, ports), child).handle
            elif isinstance(c, ExistingCluster):
                handle = ExistingClusterConnection(c.name, ExistingClusterArgs(spec, c), child).handle
            else:  # pragma: no cover - the config union is closed
                raise TypeError(f"no component for cloud {c.cloud}")
            self.clusters[c.name] = handle

        gateway_api = {
            cluster: GatewayApiCrds(
                handle.names.child("gateway-api"),
                GatewayApiCrdsArgs(handle, spec.addons.gateway_api),
                child,
            )
            for cluster, handle in self.clusters.items()
        }

        # Every intermediate carries the name Linkerd's tooling gives its issuer
        # (identity.linkerd.<trust domain>), whatever the mesh: a SAN on a CA
        # certificate constrains nothing (Linkerd verifies the chain to its
        # anchors, not the name), so a mesh switch re-issues no intermediate.
        dns_names = issuer_dns_names(spec)
        self.trust = FleetTrust(f"{name}-trust", TrustArgs(spec, list(self.clusters), dns_names), child)

        # Keeps the deployed mesh kind (and Istio's revisions); every mesh resource
        # waits for its check, which refuses an unnamed mesh switch and a stable
        # revision not installed yet (components/mesh/switch.py).
        guard = MeshSwitchGuard(
            f"{name}-mesh-switch",
            spec,
            pulumi.ResourceOptions(parent=self, provider=python_provider(f"{name}-dynamic", self)),
        )
        mesh_args = MeshArgs(
            spec=spec,
            clusters=[
                dataclasses.replace(h, ready=[*h.ready, guard], api_ready=[*h.api_ready, guard])
                for h in self.clusters.values()
            ],
            trust=self.trust,
            gateway_api=gateway_api,
            source_ranges={c: allow_list(spec, c, egress, for_api=False) for c in self.clusters},
        )
        # Config validation admits only meshes this release installs (INSTALLABLE_MESHES).
        mesh = MESH_INSTALLERS[spec.mesh.kind](f"{name}-{spec.mesh.kind}", mesh_args, child)

        # Shared policies, per cluster through its provider, once that
        # cluster's mesh CRDs and policy webhook exist (never after gateways).
        for cluster, handle in self.clusters.items():
            ClusterPolicies(
                handle.names.child("policies"),
                ClusterPoliciesArgs(spec, handle, [*mesh.policy_ready[cluster], gateway_api[cluster]]),
                child,
            )

        self.register_outputs({"clusters": sorted(self.clusters), "facts": facts})
