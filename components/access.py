"""Who may reach a cluster: the one function behind every allow-list.

API servers and east-west gateways admit the same peers: the egress
addresses of the other clusters (mesh control planes read each other's API
servers; gateways carry cross-cluster traffic). API servers additionally
admit the operators, the CI runners and the cluster's own egress (AKS, whose
nodes reach their own public API through the NAT). Egress addresses exist
before any cluster, so no cluster waits for another's control plane.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.config import ConsulMeshSpec, FleetSpec
from components.netcalc import host_cidrs


def allow_list(
    spec: FleetSpec,
    cluster: str,
    egress: Mapping[str, pulumi.Output[list[str]]],
    *,
    for_api: bool,
) -> pulumi.Output[list[str]]:
    """Sorted, de-duplicated CIDRs allowed to reach `cluster`.

    `for_api=True`: the API server allow-list (operators + CI runners +
    peers' egress + own egress; a Consul fleet: operators + CI runners + own
    egress + Vault's egress in Vault mode). `for_api=False`: a gateway's
    `loadBalancerSourceRanges` (peers' egress only).
    """
    static: list[str] = []
    if for_api:
        static = [*spec.fleet.api_access.operator_cidrs, *spec.fleet.api_access.ci_runner_cidrs]
    if not for_api:
        sources = [egress[name] for name in sorted(egress) if name != cluster]
    elif isinstance(spec.mesh, ConsulMeshSpec):
        # Consul peers through mesh gateways: no control plane reads another
        # cluster's API, so peers' egress stays out (and the allow-list no
        # longer grows with the fleet). Vault's Kubernetes auth calls every
        # cluster's TokenReview API in Vault mode.
        sources = [egress[cluster]]
        if spec.mesh.ca == "vault" and spec.mesh.vault is not None:
            static += spec.mesh.vault.egress_cidrs
    else:
        sources = [egress[name] for name in sorted(egress)]

    def combine(lists: list[list[str]]) -> list[str]:
        return sorted({c for group in ([static], lists) for cidrs in group for c in host_cidrs(cidrs)})

    return pulumi.Output.all(*sources).apply(lambda lists: combine(list(lists)))
