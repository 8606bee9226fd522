"""The plan's dependency graph: which waits join clusters.

Clusters must not wait for each other except for two cheap things (README,
"Architecture"): every cluster's static egress addresses (they feed every
peer's API allow-list and gateway source ranges) and the pairwise mesh
credentials. `cross_cluster_waits` lists every other edge from one
cluster's resources to another's: a slow EKS create would delay an
unrelated cluster's install through it.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.naming import pair_stems
from ops.plan import Plan, Recorded

#: Static egress addresses: the one per-cluster output peers may wait for.
EGRESS_TYPES = frozenset(
    {
        "aws:ec2/eip:Eip",
        "azure-native:network:PublicIPAddress",
        "gcp:compute/address:Address",
    }
)


def pairwise_urns(plan: Plan) -> set[str]:
    """Resources of the pairwise step: everything named from a pair's stem (`naming.pair_stems`).

    Istio's reader tokens and remote secrets, Linkerd's links, credentials
    and remote-access tokens, Consul's peering acceptors, dialers and copied
    tokens: each mesh names them from the pair, so the name says it.
    """
    names = [c.name for c in plan.spec.clusters]
    stems = tuple(f"{stem}-" for a in names for b in names if a != b for stem in pair_stems(a, b))
    return {r.urn for r in plan.resources if r.name.startswith(stems)}


@dataclass(frozen=True)
class Wait:
    """`resource` (of cluster `owner`) waits for `dependency` (of cluster `other`)."""

    resource: Recorded
    owner: str
    dependency: Recorded
    other: str

    def __str__(self) -> str:
        return f"{self.resource.urn} ({self.owner}) waits for {self.dependency.urn} ({self.other})"


def cross_cluster_waits(plan: Plan) -> list[Wait]:
    """Edges (dependencies and providers) from one cluster's resources to another cluster's
    that are neither an egress address nor part of the pairwise step."""
    by_urn = {r.urn: r for r in plan.resources}
    pairwise = pairwise_urns(plan)
    owner = {r.urn: plan.owner_of(r) for r in plan.resources}
    found = []
    for r in plan.resources:
        mine = owner[r.urn]
        if mine is None or r.urn in pairwise:
            continue
        for urn in {*r.dependencies, r.provider_urn} - {""}:
            theirs = owner.get(urn)
            dep = by_urn.get(urn)
            if dep is None or theirs is None or theirs == mine:
                continue
            if dep.type in EGRESS_TYPES:
                continue
            found.append(Wait(r, mine, dep, theirs))
    return found
