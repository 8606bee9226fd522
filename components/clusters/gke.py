"""Gke cluster. (STUB: issue 3 fills this in.)"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import GcpCluster, FleetSpec
from components.handle import ClusterHandle
from components.networks.gcp import GcpNetwork


@dataclass(frozen=True)
class GkeClusterArgs:
    spec: FleetSpec
    cluster: GcpCluster
    network: GcpNetwork
    #: CIDRs allowed to reach the API server (components.access.allow_list).
    api_allow_list: pulumi.Output[list[str]]
    #: Ports the mesh's admission webhooks listen on (GKE firewall).
    webhook_ports: list[int]


class GkeCluster(pulumi.ComponentResource):
    handle: ClusterHandle

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:cluster:Gke", name, None, opts)
        raise NotImplementedError("GkeCluster")
