"""Where simulated public addresses come from: one block per stack, one sub-block per cluster.

Each simulated cloud draws its public addresses (Elastic IPs, Azure public
IPs, GCP addresses, GKE endpoints, load balancers) from a pool of its own.
A pool is carved into `STACK_BLOCKS` equal blocks, and each block into
`OWNER_BLOCKS` sub-blocks:

- the block of a project stack (a `Pulumi.<stack>.yaml` file) comes from
  its name: a hash picks its home block among the first `SCRATCH`; where
  two project stacks share a home, the one earlier in (home, name) order
  keeps it and the other takes the next free block. Two stacks of a project
  therefore never share an address (by construction). Adding a stack moves
  no other stack's addresses unless the new name's home block is taken
  (about one new name in sixteen for a project of four), and removing one
  moves only a stack that had stepped aside for it. A stack with no file there (a test's, a
  `--config` file not named after a project stack) takes the last block,
  `SCRATCH`, which no project stack can have.
- inside a stack's block, sub-block 0 is fleet-wide and each cluster's
  comes from its name the same way (a hash picks a home among the other
  sub-blocks; a cluster earlier in (home, name) order keeps a shared home).
  Not from its place in the config: removing or reordering clusters would
  then move the later clusters' addresses, which no cloud does, and `meshfleet
  diff` would show their allow-lists and gateways change. A resource belongs
  to the cluster whose name prefixes its Pulumi name (`<cluster>-...`,
  components.naming.ClusterNames.child).
- inside a sub-block, addresses are handed out sequentially, one per
  resource (the same resource asked twice gets the same address). The
  counter is per (pool, cluster): registrations of different clusters may
  interleave in any order without changing anyone's address, and one
  cluster's addresses of one pool are created by one component in one loop,
  so they register in that loop's order.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections.abc import Iterable
from pathlib import Path

from components.config import ConfigError
from ops.stackconfig import StackConfig, project_stacks, spec_of

#: Blocks per pool: at most STACK_BLOCKS - 1 project stacks, plus SCRATCH. Each of
#: a /16 pool's sub-blocks then holds 14 addresses: a cluster asks a pool for at
#: most 12 (an EKS cluster's NAT and gateway EIPs, two per zone, up to six zones).
STACK_BLOCKS = 64
SCRATCH = STACK_BLOCKS - 1
#: Sub-blocks per stack block: fleet-wide, then at most OWNER_BLOCKS - 1 clusters.
OWNER_BLOCKS = 64
FLEET_WIDE = 0


def home_block(name: str, blocks: int = SCRATCH) -> int:
    """The block a name (a stack's, a cluster's) points at, one of the first `blocks` (a stable hash, not
    Python's `hash`)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % blocks


def claim_blocks(names: Iterable[str], blocks: int) -> dict[str, int]:
    """Each name's block among `blocks`: its home block, or the next free one after those earlier in
    (home, name) order."""
    taken: dict[int, str] = {}
    claimed: dict[str, int] = {}
    for name in sorted(set(names), key=lambda s: (home_block(s, blocks), s)):
        block = home_block(name, blocks)
        while block in taken:
            block = (block + 1) % blocks
        taken[block] = name
        claimed[name] = block
    return claimed


def stack_blocks(stacks: Iterable[str]) -> dict[str, int]:
    """Each project stack's block: its home block, or the next free one after those earlier in (home, name)."""
    return claim_blocks(stacks, SCRATCH)


def cluster_blocks(clusters: Iterable[str]) -> dict[str, int]:
    """Each cluster's sub-block of its stack's block: from its name, never 0 (fleet-wide)."""
    return {c: block + 1 for c, block in claim_blocks(clusters, OWNER_BLOCKS - 1).items()}


def carve(pool: str, index: int, parts: int) -> ipaddress.IPv4Network:
    """The `index`-th of `parts` equal blocks of `pool` (`parts` a power of two)."""
    net = ipaddress.IPv4Network(pool)
    bits = parts.bit_length() - 1
    if parts != 1 << bits or net.prefixlen + bits > 32:
        raise ValueError(f"cannot carve {pool} into {parts} blocks")
    if not 0 <= index < parts:
        raise ValueError(f"block {index} of {parts} does not exist")
    size = net.num_addresses >> bits
    return ipaddress.IPv4Network((int(net.network_address) + index * size, net.prefixlen + bits))


class AddressPools:
    """Sequential, per-stack, per-cluster address allocation (see the module docstring)."""

    def __init__(self, stack: str, stacks: Iterable[str] = (), clusters: Iterable[str] = ()):
        self.stack = stack
        self.stacks = tuple(sorted(set(stacks)))
        self.clusters = tuple(clusters)
        if len(self.stacks) > SCRATCH:
            raise ValueError(
                f"the simulated cloud has address blocks for {SCRATCH} stacks; the project has "
                f"{len(self.stacks)}: raise STACK_BLOCKS in ops/sim/pools.py"
            )
        if len(self.clusters) >= OWNER_BLOCKS:
            raise ValueError(
                f"the simulated cloud has address blocks for {OWNER_BLOCKS - 1} clusters per stack; stack "
                f"{stack} has {len(self.clusters)}: raise OWNER_BLOCKS in ops/sim/pools.py"
            )
        self.stack_block = stack_blocks(self.stacks).get(stack, SCRATCH)
        # Longest names first: cluster `aws-use1` must win over a cluster `aws`.
        self._by_prefix = sorted(cluster_blocks(self.clusters).items(), key=lambda p: -len(p[0]))
        self._issued: dict[tuple[str, int], dict[str, str]] = {}
        self._lock = threading.Lock()

    def owner(self, name: str) -> int:
        """Sub-block of the resource named `name`: its cluster's, else fleet-wide."""
        for cluster, block in self._by_prefix:
            if name == cluster or name.startswith(cluster + "-"):
                return block
        return FLEET_WIDE

    def block(self, pool: str, owner: int) -> ipaddress.IPv4Network:
        """The sub-block of `pool` that this stack's `owner` draws from."""
        return carve(str(carve(pool, self.stack_block, STACK_BLOCKS)), owner, OWNER_BLOCKS)

    def allocate(self, pool: str, typ: str, name: str) -> str:
        """The address of resource (`typ`, `name`) in `pool`: the next free one of its sub-block."""
        owner = self.owner(name)
        block = self.block(pool, owner)
        with self._lock:
            issued = self._issued.setdefault((pool, owner), {})
            identity = f"{typ}::{name}"
            if identity not in issued:
                # Skip the block's first and last address: they read as network/broadcast.
                if len(issued) >= block.num_addresses - 2:
                    raise RuntimeError(
                        f"simulated address block {block} of pool {pool} (stack {self.stack}) is exhausted"
                    )
                issued[identity] = str(block.network_address + 1 + len(issued))
            return issued[identity]


def stack_pools(project_dir: Path, config: StackConfig, clusters: list[str] | None = None) -> AddressPools:
    """The address pools of the stack `config` describes, among its project's stacks.

    `clusters`: the stack's cluster names when the caller has validated the
    config already (the offline plan does), so it is not validated twice.
    """
    if clusters is None:
        try:
            clusters = [c.name for c in spec_of(config).clusters]
        except ConfigError:
            # The program itself stops on a bad config before any address is asked for.
            clusters = []
    return AddressPools(config.stack, project_stacks(project_dir), clusters)
