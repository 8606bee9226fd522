"""The deploy critical path: a simulated `pulumi up` over a plan's recorded graph.

Every custom resource (and remote component) is a step that can start once
its dependencies and its provider are created, and takes the time of its
type in DURATIONS (one table, sources below). Steps run under a parallelism
limit as Pulumi's engine runs them: the program sends a registration once
the resources it depends on are created, the engine hands it to a pool of
`parallelism` workers through one queue, and a registration that finds
every worker busy waits behind those that arrived before it. So ready steps
start first come, first served (by the time they became ready; at the same
time, in the program's order) while fewer than `parallelism` are running.
For comparison only, `simulate` also runs two hypothetical variants: the
same queue with simultaneous steps taken longest-remaining-chain first (a
registration order that favours the long chains), and an engine that
always serves the longest remaining chain first (what the graph allows;
no `pulumi up` does).

DURATIONS, typical create times (minutes) and where they come from:
- EKS control plane ~15: AWS EKS user guide, "Create an Amazon EKS cluster"
  (creation takes 10-15 minutes); terraform-aws-eks issues report 10-15.
- AKS managed cluster ~6: Azure AKS quickstarts ("a few minutes", 5-10 in
  practice); node pools created inline with the system pool.
- GKE regional cluster ~5: Google Cloud GKE docs (regional clusters take
  several minutes; 5-8 observed).
- Node pools / managed node groups / agent pools ~4: the same guides
  (node group creation 3-5 minutes).
- NAT gateways: AWS ~2 (NAT gateway becomes available in 1-2 minutes),
  Azure ~1, Cloud NAT / router ~1.
- Helm releases ~2 (charts that wait for a load-balanced gateway or a
  webhook rollout; `helm install --wait`) ; EKS add-ons ~1.
- Helm releases by chart (CHART_DURATIONS; the engine waits for a release
  until its workloads are ready):
  - `consul` ~3: one release runs the server StatefulSet (3 replicas in
    production, each binding a persistent volume, then a Raft leader
    election before the servers report ready) and the mesh gateway, a
    LoadBalancer Service the cloud provisions (~1-2 min on each cloud, as
    the other load-balanced gateways here); Consul's Helm install guide
    (developer.hashicorp.com/consul/docs/k8s/installation) waits for both.
    The middle of the 2-4 minutes such an install takes.
  - `linkerd-crds` ~0.2: CustomResourceDefinitions only, no workload to
    wait for; established by the API server in seconds.
  - `linkerd-control-plane`, `linkerd-multicluster` (the gateway's
    LoadBalancer Service): the Helm default above, ~2.
- Gateway API Gateways of class `istio-east-west` (ambient's east-west
  gateway) ~2: `up` waits for its Programmed condition, which istiod sets
  once the generated LoadBalancer Service has its address: the same cloud
  load balancer as the sidecar-mode gateway release. Other Gateways
  (waypoints, ClusterIP) are Kubernetes objects.
- Consul peering (consul.hashicorp.com/v1alpha1): PeeringAcceptor and
  PeeringDialer ~10 s each. The provider applies a custom resource without
  waiting on its status (pulumi-kubernetes awaits only built-in kinds);
  the acceptor's token Secret, which the pair's copied token reads, is
  written by the Consul controller within seconds (Consul's cluster
  peering on Kubernetes guide), so the pairwise step stays small.
- Linkerd's Links and credentials Secrets are Kubernetes objects (2 s).
- Everything else is small: other cloud API objects 10 s, Kubernetes
  objects 2 s, providers, tls and local resources 0.
The figures are those of issue 12 and the providers' documentation; they
set the scale, the ratios below do not depend on them much.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MIN = 60.0

#: Seconds per resource type (exact tokens), then per prefix, then the default.
DURATIONS: dict[str, float] = {
    "aws:eks/cluster:Cluster": 15 * MIN,
    "azure-native:containerservice:ManagedCluster": 6 * MIN,
    "gcp:container/cluster:Cluster": 5 * MIN,
    "aws:eks/nodeGroup:NodeGroup": 4 * MIN,
    "azure-native:containerservice:AgentPool": 4 * MIN,
    "gcp:container/nodePool:NodePool": 4 * MIN,
    "aws:ec2/natGateway:NatGateway": 2 * MIN,
    "azure-native:network:NatGateway": 1 * MIN,
    "gcp:compute/routerNat:RouterNat": 1 * MIN,
    "gcp:compute/router:Router": 0.5 * MIN,
    "kubernetes:helm.sh/v3:Release": 2 * MIN,
    "aws:eks/addon:Addon": 1 * MIN,
    "kubernetes:consul.hashicorp.com/v1alpha1:PeeringAcceptor": 10.0,
    "kubernetes:consul.hashicorp.com/v1alpha1:PeeringDialer": 10.0,
}
RELEASE = "kubernetes:helm.sh/v3:Release"
#: Seconds per Helm release of these charts (inputs.chart), instead of the Release type's.
CHART_DURATIONS: dict[str, float] = {
    "consul": 3 * MIN,
    "linkerd-crds": 0.2 * MIN,
}
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
#: Seconds per Gateway of these classes (inputs.spec.gatewayClassName), instead of a Kubernetes object's.
GATEWAY_CLASS_DURATIONS: dict[str, float] = {"istio-east-west": 2 * MIN}
PREFIX_DURATIONS: tuple[tuple[str, float], ...] = (
    ("pulumi:providers:", 0.0),
    ("tls:", 0.0),
    ("kubernetes:", 2.0),
    ("aws:", 10.0),
    ("azure-native:", 10.0),
    ("gcp:", 10.0),
)


def duration(type_: str, inputs: dict[str, Any] | None = None) -> float:
    """Seconds to create one resource of `type_` (a Helm release by its chart, a Gateway by its class,
    from its `inputs`)."""
    chart = (inputs or {}).get("chart") if type_ == RELEASE else None
    if isinstance(chart, str) and chart in CHART_DURATIONS:
        return CHART_DURATIONS[chart]
    spec = (inputs or {}).get("spec") if type_ == GATEWAY else None
    gateway_class = spec.get("gatewayClassName") if isinstance(spec, dict) else None
    if isinstance(gateway_class, str) and gateway_class in GATEWAY_CLASS_DURATIONS:
        return GATEWAY_CLASS_DURATIONS[gateway_class]
    if type_ in DURATIONS:
        return DURATIONS[type_]
    return next((d for prefix, d in PREFIX_DURATIONS if type_.startswith(prefix)), 0.0)


@dataclass
class Graph:
    """The steps of a deployment: URN -> (duration, the URNs it waits for), in registration order."""

    order: list[str]
    duration: dict[str, float]
    needs: dict[str, set[str]]
    owner: dict[str, str | None]

    def subgraph(self, keep: Iterable[str]) -> Graph:
        kept = set(keep)
        return Graph(
            [u for u in self.order if u in kept],
            {u: self.duration[u] for u in kept},
            {u: self.needs[u] & kept for u in kept},
            {u: self.owner[u] for u in kept},
        )


def graph_of(plan_json: dict[str, Any], owner_of: dict[str, str | None], registered: list[str]) -> Graph:
    """Steps from plan.json: custom resources and remote components (local components take no time).

    A step waits for its dependencies and its provider; `owner_of` maps each
    URN to its cluster (None for fleet-wide resources), as Plan.owner_of;
    `registered` is the program's registration order (Plan.registration_order:
    the order it constructs resources in, the same in every run), the order
    in which the engine starts steps that become ready together.
    """
    steps = [r for r in plan_json["resources"] if r["custom"] or not r["type"].startswith("meshfleet:")]
    urns = {r["urn"] for r in steps}
    needs: dict[str, set[str]] = {}
    for r in steps:
        provider = r["provider"].rsplit("::", 1)[0] if r["provider"] else ""
        needs[r["urn"]] = {u for u in (*r["dependencies"], provider) if u in urns}
    return Graph(
        _topological([r["urn"] for r in steps], needs, {u: i for i, u in enumerate(registered)}),
        {r["urn"]: duration(r["type"], r["inputs"]) for r in steps},
        needs,
        {r["urn"]: owner_of.get(r["urn"]) for r in steps},
    )


def _topological(urns: list[str], needs: dict[str, set[str]], rank: dict[str, int]) -> list[str]:
    """Kahn's order, ties by registration (a step registers only after its dependencies)."""
    waiting = {u: len(needs[u]) for u in urns}
    dependents: dict[str, list[str]] = {u: [] for u in urns}
    for u in urns:
        for d in needs[u]:
            dependents[d].append(u)
    ready = [(rank.get(u, len(rank)), u) for u in urns if waiting[u] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, u = heapq.heappop(ready)
        order.append(u)
        for v in dependents[u]:
            waiting[v] -= 1
            if waiting[v] == 0:
                heapq.heappush(ready, (rank.get(v, len(rank)), v))
    if len(order) != len(urns):
        raise ValueError("the recorded graph has a cycle")
    return order


#: The step of deploy.yml that runs `pulumi up`, and the default in its `parallel` input
#: (`${{ vars.MESHFLEET_PARALLEL || 64 }}`, or a plain number).
_UP_ACTION = "pulumi/actions@"
_PARALLEL_DEFAULT = re.compile(r"^(?:\$\{\{.*\|\|\s*)?(\d+)(?:\s*\}\})?$")


def workflow_parallelism(workflow: Path) -> int:
    """The parallelism the deploy workflow runs `pulumi up` with (its `parallel` input's default)."""
    doc = yaml.safe_load(workflow.read_text())
    for job in doc.get("jobs", {}).values():
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith(_UP_ACTION) and step.get("with", {}).get("command") == "up":
                match = _PARALLEL_DEFAULT.match(str(step["with"].get("parallel", "")).strip())
                if match is None:
                    raise ValueError(f"{workflow}: the `pulumi up` step sets no numeric `parallel` default")
                return int(match.group(1))
    raise ValueError(f"{workflow}: no {_UP_ACTION} step runs `up`")


def _dependents(graph: Graph) -> dict[str, list[str]]:
    dependents: dict[str, list[str]] = {u: [] for u in graph.order}
    for u in graph.order:
        for d in graph.needs[u]:
            dependents[d].append(u)
    return dependents


def remaining_path(graph: Graph) -> dict[str, float]:
    """Each step's own duration plus the longest chain of steps that wait on it."""
    dependents = _dependents(graph)
    tail: dict[str, float] = {}
    for u in reversed(graph.order):  # dependents come later in a topological order
        tail[u] = graph.duration[u] + max((tail[v] for v in dependents[u]), default=0.0)
    return tail


def simulate(
    graph: Graph, parallelism: int | None, *, critical_path_first: bool = False, ties_by_chain: bool = False
) -> float:
    """Wall clock of deploying `graph` with at most `parallelism` steps at once (None: unlimited).

    As the engine runs it, ready steps start first come, first served, and
    steps ready at the same moment in the program's registration order.
    Two hypothetical variants measure what is whose:
    - `ties_by_chain` keeps the engine's queue but breaks those ties by the
      longest chain left behind each step: how a program would register
      to favour its longest chains;
    - `critical_path_first`, an engine that always starts the ready step
      with the longest chain behind it (highest level first, the classic
      list-scheduling priority): not what `pulumi up` does, but what the
      graph itself allows.
    """
    program = {u: i for i, u in enumerate(graph.order)}
    tail = remaining_path(graph) if critical_path_first or ties_by_chain else {}
    waiting = {u: len(graph.needs[u]) for u in graph.order}
    dependents = _dependents(graph)

    def key(u: str, at: float) -> tuple[float, float, int, str]:
        if critical_path_first:
            return (-tail[u], 0.0, program[u], u)
        # The engine's queue: the time the step became ready, then the tie-break.
        return (at, -tail[u] if ties_by_chain else 0.0, program[u], u)

    ready = [key(u, 0.0) for u in graph.order if waiting[u] == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now = 0.0
    while ready or running:
        while ready and (parallelism is None or len(running) < parallelism):
            u = heapq.heappop(ready)[-1]
            heapq.heappush(running, (now + graph.duration[u], u))
        now, done = heapq.heappop(running)
        for v in dependents[done]:
            waiting[v] -= 1
            if waiting[v] == 0:
                heapq.heappush(ready, key(v, now))
    return now


def longest_path(graph: Graph) -> float:
    finish: dict[str, float] = {}
    for u in graph.order:  # a topological order
        finish[u] = graph.duration[u] + max((finish[d] for d in graph.needs[u]), default=0.0)
    return max(finish.values(), default=0.0)


def lower_bound(graph: Graph, pair_urns: set[str], parallelism: int | None) -> float:
    """max(slowest cluster's own chain + the pairwise tail after it, total work / parallelism).

    A cluster's own chain is the longest path through its resources and the
    fleet-wide ones; the pairwise resources that wait on it (directly or
    through other pairwise resources) come after, each as soon as what it
    needs of this cluster's chain is done.
    """
    clusters = {o for o in graph.owner.values() if o is not None}
    chains = []
    for c in clusters:
        keep = {u for u in graph.order if graph.owner[u] in (c, None) and u not in pair_urns}
        # The pairwise tail: every pairwise step that waits, directly or through other pairwise
        # steps (Consul: acceptor, then the copied token, then the dialer), on this cluster.
        for u in graph.order:  # topological: a step's pairwise dependencies come first
            if u in pair_urns and graph.needs[u] & keep:
                keep.add(u)
        chains.append(longest_path(graph.subgraph(keep)))
    work = sum(graph.duration.values())
    bound = max(chains, default=0.0)
    return max(bound, work / parallelism) if parallelism else bound


def sequential(graph: Graph, pair_urns: set[str], parallelism: int | None) -> float:
    """Clusters deployed one after another (fleet-wide first, pairwise last), each under `parallelism`."""
    clusters = sorted({o for o in graph.owner.values() if o is not None})
    phases = [[u for u in graph.order if graph.owner[u] is None and u not in pair_urns]]
    phases += [[u for u in graph.order if graph.owner[u] == c and u not in pair_urns] for c in clusters]
    phases.append([u for u in graph.order if u in pair_urns])
    return sum(simulate(graph.subgraph(p), parallelism) for p in phases if p)
