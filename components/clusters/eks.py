"""Eks cluster. (STUB: issue 3 fills this in.)"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import AwsCluster, FleetSpec
from components.handle import ClusterHandle
from components.networks.aws import AwsNetwork


@dataclass(frozen=True)
class EksClusterArgs:
    spec: FleetSpec
    cluster: AwsCluster
    network: AwsNetwork
    #: CIDRs allowed to reach the API server (components.access.allow_list).
    api_allow_list: pulumi.Output[list[str]]
    #: Ports the mesh's admission webhooks listen on (GKE firewall).
    webhook_ports: list[int]


class EksCluster(pulumi.ComponentResource):
    handle: ClusterHandle

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:cluster:Eks", name, None, opts)
        raise NotImplementedError("EksCluster")
