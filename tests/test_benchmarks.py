"""The benchmarks' own pieces (benchmarks/): generated fleets per mesh and the deploy simulation.

Nothing here is timed: `make bench` measures; these tests check what it
measures is what RESULTS.md says (the fleets validate and run the named
mesh; the duration table and the simulator give hand-computed answers).
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from benchmarks import deploy
from benchmarks.fleets import MESHES, mixed_fleet
from components.config import ConsulMeshSpec, LinkerdMeshSpec, load_fleet
from tests.helpers import stack_config

MIN = 60.0


@pytest.fixture(scope="module")
def defaults() -> dict:
    return stack_config("prod").value("defaults")


@pytest.mark.parametrize("mesh", MESHES)
@pytest.mark.parametrize("n", [3, 10, 25, 50])
def test_every_mesh_gets_the_same_valid_fleet_shape(defaults: dict, mesh: str, n: int) -> None:
    spec = load_fleet(defaults, mixed_fleet(n, mesh))
    istio = load_fleet(defaults, mixed_fleet(n, "sidecar"))
    # Same clusters, clouds and ranges as the Istio rows: only the mesh differs.
    assert [(c.name, c.cloud) for c in spec.clusters] == [(c.name, c.cloud) for c in istio.clusters]
    assert len(spec.clusters) == n
    expected_kind = "istio" if mesh in ("sidecar", "ambient") else mesh
    assert spec.mesh.kind == expected_kind
    assert spec.mesh.mesh_id == "acme-prod"


def test_fleet_clouds_follow_the_eks_ceiling(defaults: dict) -> None:
    # 10 clusters: round robin aws, azure, gcp, existing -> 3, 3, 2, 2 (EKS fits: 2 + 3*3 + 7 <= 40).
    assert Counter(c.cloud for c in load_fleet(defaults, mixed_fleet(10, "consul")).clusters) == {
        "aws": 3,
        "azure": 3,
        "gcp": 2,
        "existing": 2,
    }
    # 50 clusters: 2 + 50 > 40, no EKS cluster fits; the others take its turns.
    assert "aws" not in {c.cloud for c in load_fleet(defaults, mixed_fleet(50, "linkerd")).clusters}


def test_consul_runs_the_builtin_ca_with_production_servers(defaults: dict) -> None:
    mesh = load_fleet(defaults, mixed_fleet(3, "consul")).mesh
    assert isinstance(mesh, ConsulMeshSpec)
    assert mesh.ca == "consul"
    assert mesh.vault is None
    assert mesh.server_replicas is None  # the example's dev-sized 1 is not carried over: prod's default (3)
    assert mesh.datacenters == {}


def test_linkerd_takes_the_example_stacks_pinned_version(defaults: dict) -> None:
    mesh = load_fleet(defaults, mixed_fleet(3, "linkerd")).mesh
    assert isinstance(mesh, LinkerdMeshSpec)
    assert mesh.version == "2026.6.3"
    assert mesh.repository == "https://helm.linkerd.io/edge"


def test_unknown_mesh_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown benchmark mesh 'cilium': expected one of sidecar, ambient"):
        mixed_fleet(3, "cilium")


# --------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    ("type_", "inputs", "seconds"),
    [
        ("kubernetes:helm.sh/v3:Release", {"chart": "consul"}, 3 * MIN),
        ("kubernetes:helm.sh/v3:Release", {"chart": "linkerd-crds"}, 12.0),
        ("kubernetes:helm.sh/v3:Release", {"chart": "linkerd-control-plane"}, 2 * MIN),
        ("kubernetes:helm.sh/v3:Release", {"chart": "linkerd-multicluster"}, 2 * MIN),
        ("kubernetes:helm.sh/v3:Release", {"chart": "istiod"}, 2 * MIN),
        ("kubernetes:helm.sh/v3:Release", None, 2 * MIN),
        ("kubernetes:consul.hashicorp.com/v1alpha1:PeeringAcceptor", {}, 10.0),
        ("kubernetes:consul.hashicorp.com/v1alpha1:PeeringDialer", {}, 10.0),
        ("kubernetes:multicluster.linkerd.io/v1alpha3:Link", {}, 2.0),
        ("kubernetes:core/v1:Secret", {"chart": "consul"}, 2.0),  # only a Release is timed by its chart
        # Ambient's east-west Gateway: `up` waits for its load balancer; a waypoint is an object.
        ("kubernetes:gateway.networking.k8s.io/v1:Gateway", {"spec": {"gatewayClassName": "istio-east-west"}}, 2 * MIN),
        ("kubernetes:gateway.networking.k8s.io/v1:Gateway", {"spec": {"gatewayClassName": "istio-waypoint"}}, 2.0),
        ("kubernetes:gateway.networking.k8s.io/v1:Gateway", None, 2.0),
        ("aws:eks/cluster:Cluster", {}, 15 * MIN),
        ("pulumi:providers:kubernetes", {}, 0.0),
    ],
)
def test_duration_table(type_: str, inputs: dict | None, seconds: float) -> None:
    assert deploy.duration(type_, inputs) == pytest.approx(seconds)


def _graph(steps: dict[str, tuple[float, set[str], str | None]]) -> deploy.Graph:
    return deploy.Graph(
        list(steps),
        {u: d for u, (d, _, _) in steps.items()},
        {u: needs for u, (_, needs, _) in steps.items()},
        {u: owner for u, (_, _, owner) in steps.items()},
    )


def test_simulation_bound_and_sequential_on_a_two_cluster_graph() -> None:
    # Fleet-wide root (1 s); cluster a: 10 s then 5 s; cluster b: 20 s; pairwise step (3 s) after both.
    graph = _graph(
        {
            "root": (1.0, set(), None),
            "a1": (10.0, {"root"}, "a"),
            "a2": (5.0, {"a1"}, "a"),
            "b1": (20.0, {"root"}, "b"),
            "pair": (3.0, {"a2", "b1"}, "a"),
        }
    )
    pairs = {"pair"}
    assert deploy.simulate(graph, None) == 24.0  # 1 + 20 (b) + 3
    assert deploy.simulate(graph, 1) == 39.0  # everything one after another
    assert deploy.lower_bound(graph, pairs, None) == 24.0  # b's chain 21 + the pair after it
    assert deploy.lower_bound(graph, pairs, 1) == 39.0  # total work / 1
    assert deploy.sequential(graph, pairs, None) == 1.0 + 15.0 + 20.0 + 3.0


def test_lower_bound_counts_a_pairwise_chain_after_its_cluster() -> None:
    # Consul's pairwise step is a chain: acceptor (in a) -> copied token -> dialer (in b).
    graph = _graph(
        {
            "root": (1.0, set(), None),
            "a1": (30.0, {"root"}, "a"),
            "b1": (20.0, {"root"}, "b"),
            "acceptor": (5.0, {"a1"}, "a"),
            "token": (0.0, {"acceptor"}, "b"),
            "dialer": (5.0, {"token", "b1"}, "b"),
        }
    )
    pairs = {"acceptor", "token", "dialer"}
    assert deploy.simulate(graph, None) == 41.0  # 1 + 30 + 5 + 0 + 5
    assert deploy.lower_bound(graph, pairs, None) == 41.0  # a's chain, then the whole pairwise chain


def _late_chain() -> deploy.Graph:
    """A long chain ("late", "after") that becomes ready only after "gate"; e1 and e2 are ready at once."""
    return _graph(
        {
            "gate": (1.0, set(), None),
            "late": (5.0, {"gate"}, "a"),
            "after": (20.0, {"late"}, "a"),
            "e1": (10.0, set(), "b"),
            "e2": (10.0, set(), "b"),
        }
    )


def test_a_full_engine_serves_ready_steps_first_come_first_served() -> None:
    # Two workers. "late" is registered early but ready only after "gate".
    graph = _late_chain()
    # gate 0-1 and e1 0-10; at 1 the queue holds e2 (ready since 0) before late (since 1): e2 1-11,
    # late 10-15, after 15-35. Served in program order instead, late would start at 1 and finish by 26.
    assert deploy.simulate(graph, 2) == 35.0
    assert deploy.simulate(graph, None) == 26.0


def test_the_deploy_workflow_parallelism_is_read_from_the_workflow(tmp_path) -> None:
    from benchmarks.run import DEPLOY_WORKFLOW

    # The real workflow: an environment may override it, the default is what the benchmarks simulate.
    assert deploy.workflow_parallelism(DEPLOY_WORKFLOW) == 64

    def workflow(parallel: str | None) -> object:
        step = {"uses": "pulumi/actions@v7", "with": {"command": "up", "stack-name": "dev"}}
        if parallel is not None:
            step["with"]["parallel"] = parallel
        path = tmp_path / "deploy.yml"
        path.write_text(yaml.safe_dump({"jobs": {"up": {"steps": [{"uses": "actions/checkout@v5"}, step]}}}))
        return path

    assert deploy.workflow_parallelism(workflow("32")) == 32
    assert deploy.workflow_parallelism(workflow("${{ vars.MESHFLEET_PARALLEL || 48 }}")) == 48
    with pytest.raises(ValueError, match="sets no numeric `parallel` default"):
        deploy.workflow_parallelism(workflow(None))
    with pytest.raises(ValueError, match="sets no numeric `parallel` default"):
        deploy.workflow_parallelism(workflow("${{ vars.MESHFLEET_PARALLEL }}"))


def test_critical_path_first_serves_the_longest_remaining_chain() -> None:
    # Served by what is left behind each step, "late" (25 s behind it) goes before e2 (10 s) at 1,
    # "after" before e2 at 6, and e2 takes the second worker at 10.
    graph = _late_chain()
    assert deploy.remaining_path(graph) == {"gate": 26.0, "late": 25.0, "after": 20.0, "e1": 10.0, "e2": 10.0}
    assert deploy.simulate(graph, 2, critical_path_first=True) == 26.0
    assert deploy.simulate(graph, 2) == 35.0  # the engine's order, unchanged
    # Ties by chain keep the queue: e2, ready since 0, still goes before late, ready at 1.
    assert deploy.simulate(graph, 2, ties_by_chain=True) == 35.0
    assert deploy.simulate(graph, None, critical_path_first=True) == deploy.simulate(graph, None) == 26.0


def test_ties_by_chain_reorders_only_steps_ready_at_the_same_moment() -> None:
    # Two workers; a1, a2 and b are ready at once, registered in that order; c (10 s) waits on b.
    graph = _graph(
        {
            "a1": (1.0, set(), "a"),
            "a2": (1.0, set(), "a"),
            "b": (1.0, set(), "b"),
            "c": (10.0, {"b"}, "b"),
        }
    )
    assert deploy.simulate(graph, 2) == 12.0  # a1, a2 at 0; b at 1; c 2-12
    assert deploy.simulate(graph, 2, ties_by_chain=True) == 11.0  # b (11 s behind it) and a1 at 0; c 1-11
    assert deploy.simulate(graph, 2, critical_path_first=True) == 11.0


def test_the_floor_replays_a_fleet_with_several_eks_clusters(tmp_path) -> None:
    """The benchmark's own program and floor points on a 10-cluster fleet whose three EKS clusters ask for
    18 Elastic IPs: the floor registers the plan's resources and draws the plan's addresses."""
    import json

    from benchmarks.floor import floor_program, run_replay
    from benchmarks.run import point
    from tests.helpers import plan_fleet

    modules = tmp_path / "modules.json"
    modules.write_text(json.dumps({"modules": []}))
    out = tmp_path / "10-sidecar"
    program = point("program", [str(modules), str(out), "10", "sidecar"])
    assert point("floor", [str(modules), str(out)])["resources"] == program["resources"]
    assert point("typed", [str(modules), str(out)])["resources"] == program["resources"]
    doc = json.loads((out / "plan.json").read_text())
    graph = json.loads((out / "graph.json").read_text())
    run = run_replay(floor_program(doc), doc, graph["cluster_names"])
    plan = plan_fleet(mixed_fleet(10, "sidecar"))
    eip = "aws:ec2/eip:Eip"
    planned = {name: state["publicIp"] for (type_, name), state in plan.state.items() if type_ == eip}
    replayed = {name: state["publicIp"] for (type_, name), state in run.context.state.items() if type_ == eip}
    # Each cluster's block hands out the same addresses; the floor registers in its own order within it.
    assert len(planned) == 18 and set(replayed.values()) == set(planned.values())


@pytest.mark.parametrize("mesh", ["sidecar", "ambient", "linkerd", "consul"])
def test_the_typed_replay_registers_the_plans_resources_through_typed_classes(tmp_path, mesh: str) -> None:
    """The typed replay of a 4-cluster fleet (every cloud) records exactly the plan's resources, types,
    parents and inputs (a project component's inputs are not replayed, as in the floor), and builds
    every cloud and Kubernetes resource from the SDKs' own classes."""
    import json

    import pulumi_aws

    from benchmarks.floor import _typed_class, run_replay, typed_replay_program
    from ops.plan import write_plan
    from tests.helpers import plan_fleet

    plan = plan_fleet(mixed_fleet(4, mesh))
    write_plan(plan, tmp_path, show_secrets=True)
    doc = json.loads((tmp_path / "plan.json").read_text())
    run = run_replay(typed_replay_program(doc), doc, [c.name for c in plan.spec.clusters])
    want = {r["urn"]: r for r in doc["resources"]}
    assert run.monitor.recorded.keys() == want.keys()
    differing = sorted(
        u
        for u, r in run.monitor.recorded.items()
        if (r.contract(True)["inputs"], r.parent) != (want[u]["inputs"], want[u]["parent"])
    )
    assert differing == [u for u in sorted(want) if want[u]["type"] == "meshfleet:index:Fleet"]
    assert _typed_class("aws:eks/cluster:Cluster") is pulumi_aws.eks.Cluster
    assert _typed_class("pulumi:providers:aws") is pulumi_aws.Provider
    untyped = {r["type"] for r in doc["resources"] if r["custom"] and _typed_class(r["type"]) is None}
    # Only the deploy guard (a dynamic resource and its provider) has no typed class in an SDK.
    assert untyped == {"pulumi-python:dynamic/meshfleet:MeshSwitchGuard", "pulumi:providers:pulumi-python"}


def test_the_typed_replay_refuses_an_input_its_class_does_not_take() -> None:
    from benchmarks.floor import typed_replay_program

    urn = "urn:pulumi:s::meshfleet::aws:ec2/vpc:Vpc::v"
    record = {
        "urn": urn,
        "type": "aws:ec2/vpc:Vpc",
        "name": "v",
        "custom": True,
        "parent": "",
        "provider": "",
        "dependencies": [],
        "protect": False,
        "retainOnDelete": False,
        "ignoreChanges": [],
        "customTimeouts": None,
        "inputs": {"cidrBlock": "10.0.0.0/16", "flavour": "x"},
    }
    with pytest.raises(ValueError, match=r"aws:ec2/vpc:Vpc: no constructor keyword for recorded input\(s\) flavour"):
        typed_replay_program({"resources": [record]})()
