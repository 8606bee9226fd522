"""Aks cluster. (STUB: issue 3 fills this in.)"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import AzureCluster, FleetSpec
from components.handle import ClusterHandle
from components.networks.azure import AzureNetwork


@dataclass(frozen=True)
class AksClusterArgs:
    spec: FleetSpec
    cluster: AzureCluster
    network: AzureNetwork
    #: CIDRs allowed to reach the API server (components.access.allow_list).
    api_allow_list: pulumi.Output[list[str]]
    #: Ports the mesh's admission webhooks listen on (GKE firewall).
    webhook_ports: list[int]


class AksCluster(pulumi.ComponentResource):
    handle: ClusterHandle

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:cluster:Aks", name, None, opts)
        raise NotImplementedError("AksCluster")
