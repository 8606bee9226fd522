"""Gcp network of one cluster. (STUB: issue 3 fills this in.)"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import GcpCluster, FleetSpec


@dataclass(frozen=True)
class GcpNetworkArgs:
    spec: FleetSpec
    cluster: GcpCluster


class GcpNetwork(pulumi.ComponentResource):
    #: Static egress addresses (created before any cluster).
    egress_cidrs: pulumi.Output[list[str]]

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:network:Gcp", name, None, opts)
        raise NotImplementedError("GcpNetwork")
