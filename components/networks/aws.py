"""Aws network of one cluster. (STUB: issue 3 fills this in.)"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import AwsCluster, FleetSpec


@dataclass(frozen=True)
class AwsNetworkArgs:
    spec: FleetSpec
    cluster: AwsCluster


class AwsNetwork(pulumi.ComponentResource):
    #: Static egress addresses (created before any cluster).
    egress_cidrs: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:network:Aws", name, None, opts)
        raise NotImplementedError("AwsNetwork")
