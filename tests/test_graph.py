"""The graph properties that keep the deploy critical path short (not timed).

No resource of one cluster waits for another cluster's resources except its
static egress addresses and the pairwise step; the pairwise step of (A, B)
touches A and B only.
"""

from __future__ import annotations

import dataclasses

import pytest

from components.naming import pair_names, pair_stems
from ops.graph import EGRESS_TYPES, cross_cluster_waits, pairwise_urns
from ops.plan import Plan
from tests.helpers import fleet_of, plan_fleet


@pytest.fixture(scope="module", params=["sidecar", "ambient"])
def prod_plan(request) -> Plan:
    fleet = fleet_of("prod")
    fleet["mesh"]["mode"] = request.param
    return plan_fleet(fleet, stack="prod")


def test_clusters_wait_for_peers_only_through_egress_and_the_pairwise_step(prod_plan):
    assert [str(w) for w in cross_cluster_waits(prod_plan)] == []


@pytest.mark.parametrize("kind", ["linkerd", "consul"])
def test_other_meshes_join_clusters_only_through_their_pairwise_step(kind):
    """Linkerd's links and credentials, Consul's peerings: the only waits besides egress addresses."""
    from tests.test_consul import consul_mesh
    from tests.test_linkerd import with_linkerd

    prod = fleet_of("prod")
    fleet = with_linkerd(prod) if kind == "linkerd" else {**prod, "mesh": consul_mesh("acme-prod")}
    plan = plan_fleet(fleet, stack="prod")
    assert pairwise_urns(plan), "the fleet has pairwise resources"
    assert [str(w) for w in cross_cluster_waits(plan)] == []


def test_peers_egress_addresses_are_the_one_cross_cluster_wait(prod_plan):
    """Every cluster's API allow-list waits for every peer's egress addresses, and for nothing else of theirs."""
    by_urn = {r.urn: r for r in prod_plan.resources}
    names = [c.name for c in prod_plan.spec.clusters]
    pairwise = pairwise_urns(prod_plan)
    clouds = {c.name: c.cloud for c in prod_plan.spec.clusters}
    control_planes = {
        "aws": "aws:eks/cluster:Cluster",
        "azure": "azure-native:containerservice:ManagedCluster",
        "gcp": "gcp:container/cluster:Cluster",
    }
    for name in names:
        cluster = next(r for r in prod_plan.by_type(control_planes[clouds[name]]) if prod_plan.owner_of(r) == name)
        peers_waited = {
            prod_plan.owner_of(by_urn[d]) for d in cluster.dependencies if by_urn[d].type in EGRESS_TYPES
        } - {name}
        assert peers_waited == set(names) - {name}, cluster.urn
    for r in prod_plan.resources:
        if r.urn in pairwise:
            continue
        for d in r.dependencies:
            other = prod_plan.owner_of(by_urn[d])
            if other not in (None, prod_plan.owner_of(r)):
                assert by_urn[d].type in EGRESS_TYPES, f"{r.urn} waits for {d}"


def test_pairwise_step_touches_only_its_two_clusters(prod_plan):
    by_urn = {r.urn: r for r in prod_plan.resources}
    names = [c.name for c in prod_plan.spec.clusters]
    pairwise = pairwise_urns(prod_plan)
    # Istio: a reader token in B and a remote secret in A per ordered pair.
    assert len(pairwise) == 2 * len(names) * (len(names) - 1)
    for a in names:
        for b in names:
            if a == b:
                continue
            stem = pair_names(a, b).stem
            assert stem in pair_stems(a, b)
            for r in prod_plan.resources:
                if r.name.startswith(stem + "-"):
                    owners = {prod_plan.owner_of(by_urn[d]) for d in r.dependencies} | {prod_plan.owner_of(r)}
                    assert owners <= {a, b, None}, f"{r.urn} waits for {owners - {a, b, None}}"


def test_a_false_wait_between_clusters_is_reported(prod_plan):
    """The check finds the edge a careless `depends_on=[other_cluster]` would add."""
    eks = next(r for r in prod_plan.by_type("aws:eks/cluster:Cluster") if prod_plan.owner_of(r) == "aws-use1")
    istiod = next(
        r
        for r in prod_plan.by_type("kubernetes:helm.sh/v3:Release")
        if prod_plan.cluster_of(r) == "gcp-euw1" and "istiod" in r.name
    )
    broken = dataclasses.replace(istiod, dependencies=[*istiod.dependencies, eks.urn])
    plan = dataclasses.replace(prod_plan, resources=[broken if r.urn == istiod.urn else r for r in prod_plan.resources])
    waits = cross_cluster_waits(plan)
    assert [(w.resource.urn, w.owner, w.dependency.urn, w.other) for w in waits] == [
        (istiod.urn, "gcp-euw1", eks.urn, "aws-use1")
    ]
