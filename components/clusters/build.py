"""What the cloud cluster components (EKS, AKS, GKE) share: their args and what each construction step reads.

Each builds its cluster in named steps, with the same name where the clouds
do the same thing: `_identities`, `_attach_network` (AKS),
`_secrets_encryption`, `_log_destination`, `_control_plane`, `_node_pools`,
`_deployer_access` (not GKE: project IAM already grants it), add-ons (EKS),
`_kubernetes_provider`, then `ClusterBuild.handle`. Each step receives one
`ClusterBuild` explicitly, instead of sharing the locals of one long
constructor or hidden instance state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from components.common import fleet_tags
from components.config import AwsCluster, AzureCluster, FleetMeta, FleetSpec, GcpCluster
from components.handle import ClusterHandle
from components.naming import ClusterNames, cluster_names


class CloudNetwork(Protocol):
    """A cluster's network component: its cloud provider serves the cluster's children too."""

    @property
    def provider(self) -> pulumi.ProviderResource: ...

    @property
    def egress_cidrs(self) -> pulumi.Output[list[str]]: ...


@dataclass(frozen=True)
class KubernetesAccess:
    """How the deployer reaches a new cluster: its Kubernetes provider, kubeconfig and API server CA."""

    provider: k8s.Provider
    #: Secret.
    kubeconfig: pulumi.Output[str]
    #: PEM (not base64).
    ca_pem: pulumi.Output[str]


ClusterT = TypeVar("ClusterT", bound=AwsCluster | AzureCluster | GcpCluster)
NetworkT = TypeVar("NetworkT", bound=CloudNetwork)


@dataclass(frozen=True)
class CloudClusterArgs(Generic[ClusterT, NetworkT]):
    """Inputs of a cloud cluster component (EksClusterArgs, AksClusterArgs, GkeClusterArgs)."""

    spec: FleetSpec
    cluster: ClusterT
    network: NetworkT
    #: CIDRs allowed to reach the API server (components.access.allow_list).
    api_allow_list: pulumi.Output[list[str]]
    #: Ports the mesh's admission webhooks listen on (GKE firewall).
    webhook_ports: list[int]


@dataclass(frozen=True)
class ClusterBuild(Generic[ClusterT, NetworkT]):
    """One cluster component under construction."""

    #: The component's Pulumi name; every child's name derives from it.
    name: str
    spec: FleetSpec
    cluster: ClusterT
    #: The cluster's network component (created first, outside the cluster).
    network: NetworkT
    names: ClusterNames
    #: Tags (AWS, Azure) or labels (GCP) of every taggable child.
    tags: dict[str, str]
    #: Options of every child: parent the component, provider the network's cloud provider.
    child: pulumi.ResourceOptions

    @classmethod
    def of(
        cls, component: pulumi.Resource, name: str, args: CloudClusterArgs[ClusterT, NetworkT]
    ) -> ClusterBuild[ClusterT, NetworkT]:
        spec, cluster, network = args.spec, args.cluster, args.network
        meta = spec.fleet
        return cls(
            name=name,
            spec=spec,
            cluster=cluster,
            network=network,
            names=cluster_names(meta.name, cluster.name),
            tags=fleet_tags(meta),
            child=pulumi.ResourceOptions(parent=component, provider=network.provider),
        )

    @property
    def meta(self) -> FleetMeta:
        """The fleet's settings with this cluster's protection (FleetSpec.meta_of)."""
        return self.spec.meta_of(self.cluster)

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """The children's options with `kwargs` (depends_on, timeouts, ...) merged in."""
        return pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(**kwargs))

    def invoke_opts(self) -> pulumi.InvokeOutputOptions:
        """Options of a lookup (invoke) made on the component's behalf."""
        return pulumi.InvokeOutputOptions(parent=self.child.parent, provider=self.child.provider)

    def handle(
        self,
        access: KubernetesAccess,
        api_endpoint: pulumi.Output[str],
        ready: list[pulumi.Resource],
        *,
        load_balancer_annotations: dict[str, pulumi.Input[str]] | None = None,
        platform: str | None = None,
        storage_class: str | None = None,
    ) -> ClusterHandle:
        """The cluster's handle: what the rest of the fleet may know of it."""
        return ClusterHandle.of(
            self.spec,
            self.cluster,
            provider=access.provider,
            api_endpoint=api_endpoint,
            ca_pem=access.ca_pem,
            kubeconfig=access.kubeconfig,
            egress_cidrs=self.network.egress_cidrs,
            ready=ready,
            load_balancer_annotations=load_balancer_annotations,
            platform=platform,
            storage_class=storage_class,
        )
