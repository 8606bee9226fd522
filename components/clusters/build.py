"""What every construction step of a cloud cluster component reads.

EKS, AKS and GKE build their clusters in the same named steps
(`_secrets_encryption`, `_control_plane`, `_node_pools`, `_deployer_access`,
`_kubernetes_provider`, `_handle`, ...). Each step receives one `ClusterBuild`
explicitly, instead of sharing locals of one long constructor or hidden
instance state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import pulumi

from components.common import fleet_tags
from components.config import AwsCluster, AzureCluster, FleetMeta, FleetSpec, GcpCluster
from components.naming import ClusterNames, cluster_names


class CloudNetwork(Protocol):
    """A cluster's network component: its cloud provider serves the cluster's children too."""

    @property
    def provider(self) -> pulumi.ProviderResource: ...


ClusterT = TypeVar("ClusterT", bound=AwsCluster | AzureCluster | GcpCluster)
NetworkT = TypeVar("NetworkT", bound=CloudNetwork)


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
        cls, component: pulumi.Resource, name: str, spec: FleetSpec, cluster: ClusterT, network: NetworkT
    ) -> ClusterBuild[ClusterT, NetworkT]:
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
        return self.spec.fleet

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """The children's options with `kwargs` (depends_on, timeouts, ...) merged in."""
        return pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(**kwargs))

    def invoke_opts(self) -> pulumi.InvokeOutputOptions:
        """Options of a lookup (invoke) made on the component's behalf."""
        return pulumi.InvokeOutputOptions(parent=self.child.parent, provider=self.child.provider)
