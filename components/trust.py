"""Fleet trust: one root CA per fleet, one intermediate CA per cluster. (STUB: issue 4 fills this in.)"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.config import FleetSpec


@dataclass(frozen=True)
class ClusterCa:
    """What a mesh installer needs to plug a cluster into the fleet's trust chain."""

    cluster: str
    #: The cluster's intermediate CA certificate (PEM).
    cert_pem: pulumi.Output[str]
    #: Its private key (PEM, secret).
    key_pem: pulumi.Output[str]
    #: Intermediate followed by its signing root (PEM), e.g. Istio `cert-chain.pem`.
    chain_pem: pulumi.Output[str]
    #: Every root workloads must trust (one, or two during a rotation).
    bundle_pem: pulumi.Output[str]
    #: Resources an installer should depend on.
    resources: list[pulumi.Resource] = field(default_factory=list)


@dataclass(frozen=True)
class TrustArgs:
    spec: FleetSpec
    clusters: list[str]


class FleetTrust(pulumi.ComponentResource):
    def __init__(self, name: str, args: TrustArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:trust:FleetTrust", name, None, opts)
        empty = pulumi.Output.from_input("")
        self._cas = {c: ClusterCa(c, empty, pulumi.Output.secret(""), empty, empty) for c in args.clusters}
        self.register_outputs({})

    def for_cluster(self, cluster: str) -> ClusterCa:
        return self._cas[cluster]
