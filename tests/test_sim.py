"""The simulated cloud: ids seeded per stack, one address pool per stack.

Two parts: the dev and prod plans share no simulated egress address,
subnet id or key id (they name clusters alike: `aws-use1`, `azure-weu`,
`gcp-euw1`), and the allocator of ops/sim/pools.py gives two stacks
disjoint addresses by construction, whatever the number of stacks, clusters
and resources, and whatever the order registrations arrive in.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.plan import Plan
from ops.sim import SimContext, aws, azure, gcp, k8s
from ops.sim.pools import (
    OWNER_BLOCKS,
    SCRATCH,
    STACK_BLOCKS,
    AddressPools,
    cluster_blocks,
    home_block,
    stack_blocks,
)
from ops.stackconfig import project_stacks
from tests.helpers import ROOT, inputs, plan_stack

#: Every pool a simulator allocates public addresses from.
POOLS = (aws.EIP_POOL, azure.PUBLIC_IP_POOL, gcp.EGRESS_POOL, gcp.ENDPOINT_POOL, k8s.LOAD_BALANCER_POOL)
#: The project's stacks, as the test reads the directory (sorted by name).
PROJECT = ("dev", "local", "prod", "staging")


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {stack: plan_stack(stack) for stack in ("dev", "prod")}


# --------------------------------------------------------------------------
# What the plans hold


def _public_addresses(plan: Plan) -> set[str]:
    """The static public addresses the clouds answered (NAT egress, AWS gateway EIPs).

    Each cluster's exported egress addresses are among them."""
    exported = {
        str(ipaddress.IPv4Network(cidr).network_address)
        for name, value in plan.outputs.items()
        if isinstance(value, dict)
        for cidr in value.get("egressCidrs", [])
    }
    answered = {
        str(state[key])
        for (typ, _), state in plan.state.items()
        for t, key in (
            ("aws:ec2/eip:Eip", "publicIp"),
            ("azure-native:network:PublicIPAddress", "ipAddress"),
            ("gcp:compute/address:Address", "address"),
        )
        if typ == t
    }
    assert exported <= answered, exported - answered
    return answered


def _subnet_ids(plan: Plan) -> set[str]:
    ids: set[str] = set()
    for r in plan.resources:
        i = inputs(r)
        if r.type == "aws:eks/cluster:Cluster":
            ids |= set(i["vpcConfig"]["subnetIds"])
        elif r.type == "aws:eks/nodeGroup:NodeGroup":
            ids |= set(i["subnetIds"])
        elif r.type in ("aws:ec2/natGateway:NatGateway", "aws:ec2/routeTableAssociation:RouteTableAssociation"):
            ids.add(i["subnetId"])
        elif r.type == "azure-native:containerservice:AgentPool":
            ids.add(i["vnetSubnetID"])
        elif r.type == "gcp:container/cluster:Cluster":
            ids.add(i["subnetwork"])
    return ids


def _key_ids(plan: Plan) -> set[str]:
    ids: set[str] = set()
    for r in plan.resources:
        i = inputs(r)
        if r.type == "aws:eks/cluster:Cluster":
            ids.add(i["encryptionConfig"]["provider"]["keyArn"])
        elif r.type == "aws:kms/alias:Alias":
            ids.add(i["targetKeyId"])
        elif r.type == "azure-native:containerservice:ManagedCluster":
            ids.add(i["securityProfile"]["azureKeyVaultKms"]["keyId"])
        elif r.type == "gcp:container/cluster:Cluster":
            ids.add(i["databaseEncryption"]["keyName"])
    return ids


def test_the_project_stacks_are_the_stack_files() -> None:
    assert tuple(project_stacks(ROOT)) == PROJECT


@pytest.mark.parametrize(
    ("collect", "per_stack"),
    [
        # dev: 3 egress + 3 gateway EIPs, 1 Azure and 1 GCP egress address; prod: twice that.
        (_public_addresses, {"dev": 8, "prod": 16}),
        # dev: 3 private + 3 public AWS subnets, 1 AKS node subnet, 1 GKE subnetwork.
        (_subnet_ids, {"dev": 8, "prod": 16}),
        # dev: the KMS key's id and ARN, the Key Vault key version, the Cloud KMS key.
        (_key_ids, {"dev": 4, "prod": 8}),
    ],
    ids=["public addresses", "subnet ids", "key ids"],
)
def test_dev_and_prod_share_no_simulated_value(plans: dict[str, Plan], collect: Any, per_stack: dict[str, int]) -> None:
    found = {stack: collect(plan) for stack, plan in plans.items()}
    assert {stack: len(values) for stack, values in found.items()} == per_stack
    assert not found["dev"] & found["prod"], sorted(found["dev"] & found["prod"])


def test_same_cluster_name_gets_different_ids_per_stack(plans: dict[str, Plan]) -> None:
    """aws-use1 exists in both stacks: its simulated ids and the CA of its API server differ."""
    for key in (
        ("aws:ec2/vpc:Vpc", "aws-use1-network-vpc"),
        ("aws:kms/key:Key", "aws-use1-secrets-key"),
        ("aws:eks/cluster:Cluster", "aws-use1-cluster"),
    ):
        dev, prod = (plans[s].state[key] for s in ("dev", "prod"))
        assert dev["arn"] != prod["arn"], key
    dev_ca, prod_ca = (plans[s].state[("aws:eks/cluster:Cluster", "aws-use1-cluster")] for s in ("dev", "prod"))
    assert dev_ca["certificateAuthority"] != prod_ca["certificateAuthority"]


def test_each_stack_draws_its_egress_from_its_own_block(plans: dict[str, Plan]) -> None:
    """64 blocks per pool, the stack's name picks one (dev 4, prod 40)."""
    assert {stack: stack_blocks(PROJECT)[stack] for stack in plans} == {"dev": 4, "prod": 40}
    for stack, plan in plans.items():
        index = stack_blocks(PROJECT)[stack]
        blocks = [list(ipaddress.IPv4Network(pool).subnets(prefixlen_diff=6))[index] for pool in POOLS]
        for address in _public_addresses(plan):
            assert any(ipaddress.IPv4Address(address) in block for block in blocks), (stack, address)


# --------------------------------------------------------------------------
# The allocator

CLUSTER = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)


@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    """Project stacks, and per cluster (the same names in every stack) the resources it asks addresses for."""
    stacks = draw(st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=2, max_size=SCRATCH, unique=True))
    clusters = draw(st.lists(CLUSTER, min_size=1, max_size=6, unique=True))
    resources = {c: [f"{c}-addr-{i}" for i in range(draw(st.integers(1, 8)))] for c in clusters}
    return stacks, resources


def _allocate_all(pools: AddressPools, resources: dict[str, list[str]], pool: str) -> dict[str, str]:
    return {name: pools.allocate(pool, "test:index:Address", name) for names in resources.values() for name in names}


@settings(max_examples=60, deadline=None)
@given(fleets(), st.sampled_from(POOLS))
def test_stacks_never_share_an_address(fleet: tuple[list[str], dict[str, list[str]]], pool: str) -> None:
    stacks, resources = fleet
    by_stack = {
        stack: _allocate_all(AddressPools(stack, stacks, list(resources)), resources, pool)
        for stack in [*stacks, "not-a-project-stack"]
    }
    net = ipaddress.IPv4Network(pool)
    for stack, addresses in by_stack.items():
        assert len(set(addresses.values())) == len(addresses), f"{stack} reuses an address"
        assert all(ipaddress.IPv4Address(a) in net for a in addresses.values())
    for a, b in itertools.combinations(by_stack, 2):
        assert not set(by_stack[a].values()) & set(by_stack[b].values()), (a, b)


@settings(max_examples=40, deadline=None)
@given(fleets(), st.randoms(use_true_random=False))
def test_addresses_do_not_depend_on_how_clusters_interleave(
    fleet: tuple[list[str], dict[str, list[str]]], rnd: random.Random
) -> None:
    """Registrations of different clusters may arrive in any interleaving."""
    stacks, resources = fleet
    expected = _allocate_all(AddressPools(stacks[0], stacks, list(resources)), resources, aws.EIP_POOL)
    queues = {c: list(names) for c, names in resources.items()}
    pools = AddressPools(stacks[0], stacks, list(resources))
    got: dict[str, str] = {}
    while any(queues.values()):
        cluster = rnd.choice([c for c, q in queues.items() if q])
        name = queues[cluster].pop(0)
        got[name] = pools.allocate(aws.EIP_POOL, "test:index:Address", name)
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), min_size=1, max_size=20, unique=True))
def test_a_new_stack_moves_no_other_stack_unless_its_home_block_is_taken(names: list[str]) -> None:
    """Adding, removing or renaming a stack leaves every other stack's addresses where they were (a pull
    request that adds a stack shows no change to the others), but for a new name whose home is taken."""
    *existing, new = names
    before, after = stack_blocks(existing), stack_blocks(names)
    assert len(set(after.values())) == len(after) and all(0 <= b < SCRATCH for b in after.values())
    if home_block(new) not in before.values():
        assert {s: after[s] for s in existing} == before
        assert after[new] == home_block(new)


def test_sequential_inside_the_clusters_block() -> None:
    """Stack `b` of (a, b, c) takes its home block, 7 of 64; cluster `east` its name's sub-block, 5 of 64."""
    assert stack_blocks(["c", "a", "b"]) == {"a": 25, "b": 7, "c": 38} == {s: home_block(s) for s in "abc"}
    assert cluster_blocks(["east", "west"]) == {"east": 5, "west": 14}
    pools = AddressPools("b", ["c", "a", "b"], ["east", "west"])
    # 198.19.0.0/16 -> /22 blocks; block 7 = 198.19.28.0/22 -> /28 sub-blocks; sub-block 5 = 198.19.28.80/28.
    assert [pools.allocate(aws.EIP_POOL, "t", f"east-{i}") for i in range(3)] == [
        "198.19.28.81",
        "198.19.28.82",
        "198.19.28.83",
    ]
    assert pools.allocate(aws.EIP_POOL, "t", "west-0") == "198.19.28.225"
    assert pools.allocate(aws.EIP_POOL, "t", "fleet-thing") == "198.19.28.1"
    # Asked again, the same resource keeps its address.
    assert pools.allocate(aws.EIP_POOL, "t", "east-1") == "198.19.28.82"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), min_size=2, max_size=40, unique=True))
def test_removing_or_reordering_clusters_moves_no_other_cluster(names: list[str]) -> None:
    """A cluster's addresses come from its name, not its place in the config: dropping one cluster or
    reversing the list leaves every other cluster where it was (as on a cloud), unless it had stepped
    aside for the removed one (a shared home block)."""
    blocks = cluster_blocks(names)
    assert sorted(blocks.values()) == sorted(set(blocks.values())) and 0 not in blocks.values()
    assert cluster_blocks(list(reversed(names))) == blocks
    _removed, *kept = names
    after = cluster_blocks(kept)
    for name in kept:
        if home_block(name, OWNER_BLOCKS - 1) + 1 == blocks[name]:  # at its home: nothing can move it
            assert after[name] == blocks[name], name


def test_longest_cluster_name_owns_a_resource() -> None:
    pools = AddressPools("a", ["a"], ["aws", "aws-use1"])
    blocks = cluster_blocks(["aws", "aws-use1"])
    assert pools.owner("aws-use1-egress") == blocks["aws-use1"]
    assert pools.owner("aws-egress") == blocks["aws"]
    assert pools.owner("awsx-egress") == 0


def test_a_stack_without_a_file_takes_the_scratch_block() -> None:
    assert AddressPools("test", PROJECT).stack_block == SCRATCH == STACK_BLOCKS - 1
    assert [AddressPools(s, PROJECT).stack_block for s in PROJECT] == [4, 34, 40, 49]
    # A context built without pools (unit tests) never lands in a project stack's block.
    assert SimContext(project="p", stack="dev").allocate(aws.EIP_POOL, "t", "x") == "198.19.252.1"


def test_exhausted_block_is_a_clear_error() -> None:
    pools = AddressPools("a", ["a"], [])
    # /16 -> /22 -> /28: 14 usable addresses per sub-block; stack `a` takes block 25.
    for i in range(14):
        pools.allocate(aws.EIP_POOL, "t", f"r{i}")
    with pytest.raises(
        RuntimeError, match=r"block 198\.19\.100\.0/28 of pool 198\.19\.0\.0/16 \(stack a\) is exhausted"
    ):
        pools.allocate(aws.EIP_POOL, "t", "one-more")


def test_too_many_stacks_or_clusters_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="address blocks for 63 stacks; the project has 64"):
        AddressPools("s0", [f"s{i}" for i in range(64)])
    with pytest.raises(ValueError, match="63 clusters per stack; stack s has 64"):
        AddressPools("s", ["s"], [f"c{i}" for i in range(OWNER_BLOCKS)])
