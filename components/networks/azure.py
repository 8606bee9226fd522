"""Azure network of one cluster. (STUB: issue 3 fills this in.)"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import AzureCluster, FleetSpec


@dataclass(frozen=True)
class AzureNetworkArgs:
    spec: FleetSpec
    cluster: AzureCluster


class AzureNetwork(pulumi.ComponentResource):
    #: Static egress addresses (created before any cluster).
    egress_cidrs: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AzureNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:network:Azure", name, None, opts)
        raise NotImplementedError("AzureNetwork")
