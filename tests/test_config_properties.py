"""Property tests: any config either validates or fails with clean problems; valid fleets plan."""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, load_fleet
from components.config.offline import TODAY_ENV
from components.config.rules.networks import overlapping_pairs
from tests.helpers import existing_fleet, fleet_of, plan_fleet, stack_config

DEFAULTS = stack_config("local").value("defaults")


@pytest.fixture(autouse=True)
def _support_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kubernetes support windows judged on 2026-03-01, when 1.32-1.35 were in standard support on EKS,
    AKS and GKE alike (components/config/data/*.yaml), so generated versions stay valid as time passes."""
    monkeypatch.setenv(TODAY_ENV, "2026-03-01")


BASES = {name: fleet_of(name) for name in ("local", "dev", "prod")}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.text(max_size=12)
    | st.sampled_from(["10.0.0.0/8", "aws", "1.30.3", "latest"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a nested dict/list."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def mutated_fleets(draw: st.DrawFn) -> dict[str, Any]:
    """A real stack's fleet with a few values replaced (or copied from elsewhere), keys dropped or added."""
    fleet = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 3))):
        candidates = paths(fleet)
        path = draw(st.sampled_from(candidates))
        parent: Any = fleet
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "drop", "add", "copy"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "copy":
            # The same field's value elsewhere in the document: plausible on its own, often a
            # collision (a peer's CIDR, a second cluster's name) that only a cross-field rule rejects.
            same_field = [p for p in candidates if p[-1] == path[-1] and p != path]
            strings = [p for p in same_field or candidates if isinstance(_at(fleet, p), str)]
            if strings:
                parent[path[-1]] = _at(fleet, draw(st.sampled_from(strings)))
        elif action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return fleet


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fleets())
def test_any_config_validates_or_fails_cleanly(fleet):
    try:
        spec = load_fleet(DEFAULTS, fleet)
    except ConfigError as err:
        assert err.problems
        for problem in err.problems:
            assert problem.path and problem.message and problem.fix
        assert "Traceback" not in err.render()
    else:
        assert_promises_hold(spec)


def assert_promises_hold(spec: Any) -> None:
    """What every accepted config promises, checked here without the rules' own code.

    A mutation that breaks one of these (a replaced CIDR, a swapped name, a
    dropped deployer) must have been rejected: accepting it is a dropped rule.
    """
    names = [c.name for c in spec.clusters]
    assert len(set(names)) == len(names), names
    for name in names:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
        # The longest in-cluster name derived from a cluster name: a 63-character Secret name.
        assert len("istio-remote-secret-" + name) <= 63, name
    ranges = [
        (c.name, ipaddress.ip_network(cidr))
        for c in spec.clusters
        for cidr in (c.network.node_cidr, c.network.pod_cidr, c.network.service_cidr)
    ]
    for i, (a, na) in enumerate(ranges):
        for b, nb in ranges[i + 1 :]:
            assert not na.overlaps(nb), f"{a} {na} overlaps {b} {nb}"
    for c in spec.clusters:
        for pool in getattr(c, "node_pools", []):
            assert pool.min_size <= pool.max_size, (c.name, pool.name)
        if c.cloud in ("aws", "azure", "gcp"):
            assert getattr(spec.fleet.deployers, c.cloud) is not None, c.name
    assert len(spec.trust.roots) in (1, 2)
    assert len({r.name for r in spec.trust.roots}) == len(spec.trust.roots)
    if spec.trust.signing_root is not None:
        assert spec.trust.signing_root in {r.name for r in spec.trust.roots}


@st.composite
def existing_fleets(draw: st.DrawFn) -> dict[str, Any]:
    """Valid fleets of 1-4 existing clusters with distinct names and disjoint ranges."""
    count = draw(st.integers(1, 4))
    names = draw(
        st.lists(st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True), min_size=count, max_size=count, unique=True)
    )
    mode = draw(st.sampled_from(["sidecar", "ambient"]))
    return existing_fleet(names, mode)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing_fleets())
def test_valid_generated_fleets_plan(fleet):
    plan = plan_fleet(fleet)
    providers = plan.by_type("pulumi:providers:kubernetes")
    assert sorted(p.name for p in providers) == sorted(f"{c['name']}-k8s" for c in fleet["clusters"])
    assert set(plan.cluster_of_provider.values()) == {c["name"] for c in fleet["clusters"]}


# --------------------------------------------------------------------------
# Valid cloud fleets (EKS, AKS, GKE) always plan

#: Instance types / VM sizes / machine types each cloud offers in the stacks' regions.
MACHINE_TYPES = {
    "aws": ["m6i.large", "m6i.xlarge", "c6i.xlarge", "r6i.large"],
    "azure": ["Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5"],
    "gcp": ["e2-standard-4", "e2-standard-8", "n2-standard-4"],
}

#: Node pool names valid per cloud (config/rules/names.py `_pool_name_problems`), kept short.
POOL_NAMES = {
    "aws": st.from_regex(r"[a-zA-Z0-9][-a-zA-Z0-9_]{0,15}", fullmatch=True),
    "azure": st.from_regex(r"[a-z][a-z0-9]{0,11}", fullmatch=True),
    "gcp": st.from_regex(r"[a-z]([-a-z0-9]{0,14}[a-z0-9])?", fullmatch=True),
}

#: Cluster names valid everywhere: a DNS label starting with a letter (GKE), short
#: enough that `<fleet>-<cluster>` stays within GKE's 40 characters.
CLUSTER_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,7}(-[a-z0-9]{1,5}){0,2}", fullmatch=True)

#: Allowed prefix lengths per (cloud, range), all within the documented limits:
#: EKS VPC /16-/20 (config/rules/networks.py fix text; AWS VPCs are /16-/28), EKS service /12-/24,
#: GKE pod secondary range /9-/21, AKS service CIDR smaller than /12. AKS and GKE pod ranges also
#: hold a /24 per node the generated pools can reach (AKS 3 x (12 + 4 surge) = 48 nodes: /18; GKE
#: 3 pools x 3 zones x 12 + 3 surge = 111 nodes: /17).
PREFIXES = {
    ("aws", "nodeCidr"): (16, 20),
    ("aws", "podCidr"): (14, 20),
    ("aws", "serviceCidr"): (16, 24),
    ("azure", "nodeCidr"): (16, 24),
    ("azure", "podCidr"): (14, 18),
    ("azure", "serviceCidr"): (16, 24),
    ("gcp", "nodeCidr"): (16, 24),
    ("gcp", "podCidr"): (14, 17),
    ("gcp", "serviceCidr"): (16, 24),
}


#: Root key algorithms; RSA-3072 one time in four, since the simulator derives RSA keys
#: deterministically in pure Python (seconds per plan) and the test must stay bounded.
ALGORITHMS = st.sampled_from(["ECDSA-P256", "ECDSA-P384", "ECDSA-P256", "RSA-3072"])


def _subnet_of(draw: st.DrawFn, block: ipaddress.IPv4Network, low: int, high: int) -> ipaddress.IPv4Network:
    """A subnet of `block` with a drawn prefix length in [low, high] at a drawn position."""
    prefix = draw(st.integers(max(low, block.prefixlen), high))
    index = draw(st.integers(0, 2 ** (prefix - block.prefixlen) - 1))
    return ipaddress.IPv4Network((int(block.network_address) + index * 2 ** (32 - prefix), prefix))


def _version(draw: st.DrawFn, cloud: str, eks_minor: int) -> str:
    """A pinned Kubernetes version in the format the cloud takes (config/rules/versions.py `_VERSION_RULES`)."""
    if cloud == "aws":
        return f"1.{eks_minor}"  # EKS: major.minor only; one minor for every EKS cluster (the fleet's own add-on pins)
    minor = draw(st.integers(32, 35))
    if not draw(st.booleans()):
        return f"1.{minor}"
    patch = draw(st.integers(0, 9))
    return f"1.{minor}.{patch}" if cloud == "azure" else f"1.{minor}.{patch}-gke.{draw(st.integers(1000, 2400))}"


def _node_pools(draw: st.DrawFn, cloud: str) -> list[dict[str, Any]]:
    names = draw(st.lists(POOL_NAMES[cloud], min_size=1, max_size=3, unique=True))
    pools = []
    for i, name in enumerate(names):
        # The first AKS pool is the system pool, which never scales to zero; an EKS cluster keeps a node
        # for coredns and the autoscaler.
        low = draw(st.integers(1 if cloud in ("azure", "aws") and i == 0 else 0, 4))
        # An EKS pool has a node group per zone (up to three here), each with room for a node.
        high = draw(st.integers(max(low, 3 if cloud == "aws" else 1), low + 8))
        pool: dict[str, Any] = {
            "name": name,
            "machineType": draw(st.sampled_from(MACHINE_TYPES[cloud])),
            "minSize": low,
            "maxSize": high,
        }
        if draw(st.booleans()):
            pool["diskSizeGb"] = draw(st.sampled_from([20, 64, 128, 512]))
        if draw(st.booleans()):
            pool["labels"] = {"meshfleet.io/workload": draw(st.sampled_from(["general", "mesh", "batch"]))}
        pools.append(pool)
    return pools


@st.composite
def cloud_fleets(draw: st.DrawFn) -> dict[str, Any]:
    """Valid fleets of 1-4 EKS/AKS/GKE clusters varied from the dev or prod stack.

    Clusters are copies of the base stack's clusters (repeats allowed, in any
    order) with new names, zones, node pools, versions and disjoint ranges:
    every node, pod and service range gets its own /14 block of 10.0.0.0/8
    (EKS service ranges: their own /16 of 172.20.0.0/14, private and outside
    the VPC), every GKE control plane its own /28 of 172.16.0.0/16, and every
    AKS DNS service IP a usable address inside its service range.
    """
    fleet = copy.deepcopy(BASES[draw(st.sampled_from(["dev", "prod"]))])
    templates = fleet["clusters"]
    picks = draw(st.lists(st.integers(0, len(templates) - 1), min_size=1, max_size=4))
    kept = [t["name"] for t in templates]
    names = draw(st.lists(st.sampled_from(kept) | CLUSTER_NAMES, min_size=len(picks), max_size=len(picks), unique=True))
    blocks = draw(st.lists(st.integers(0, 63), min_size=3 * len(picks), max_size=3 * len(picks), unique=True))
    eks_services = draw(st.lists(st.integers(20, 23), min_size=len(picks), max_size=len(picks), unique=True))
    control_planes = draw(st.lists(st.integers(0, 4095), min_size=len(picks), max_size=len(picks), unique=True))
    eks_minor = draw(st.integers(32, 35))

    clusters = []
    for i, (pick, name) in enumerate(zip(picks, names, strict=True)):
        c = copy.deepcopy(templates[pick])
        cloud = c["cloud"]
        c["name"] = name
        # Zones: any non-empty subset of the region's zones in any order; EKS needs two.
        c["zones"] = draw(st.permutations(c["zones"]))[: draw(st.integers(2 if cloud == "aws" else 1, 3))]
        c["kubernetesVersion"] = _version(draw, cloud, eks_minor)
        if cloud == "azure" and c["kubernetesVersion"].count(".") == 2:
            c["upgradeChannel"] = "none"  # a pinned patch: the `patch` channel would move it
        c["nodePools"] = _node_pools(draw, cloud)
        network: dict[str, Any] = {}
        for j, key in enumerate(("nodeCidr", "podCidr", "serviceCidr")):
            block = ipaddress.IPv4Network(f"10.{4 * blocks[3 * i + j]}.0.0/14")
            if cloud == "aws" and key == "serviceCidr" and draw(st.booleans()):
                block = ipaddress.IPv4Network(f"172.{eks_services[i]}.0.0/16")
            network[key] = str(_subnet_of(draw, block, *PREFIXES[cloud, key]))
        if cloud == "azure" and draw(st.booleans()):
            svc = ipaddress.IPv4Network(network["serviceCidr"])
            network["dnsServiceIp"] = str(svc.network_address + draw(st.integers(2, min(svc.num_addresses - 2, 254))))
        if cloud == "gcp":
            network["controlPlaneCidr"] = str(
                ipaddress.IPv4Network((int(ipaddress.IPv4Address("172.16.0.0")) + 16 * control_planes[i], 28))
            )
            c["releaseChannel"] = draw(st.sampled_from(["RAPID", "REGULAR", "STABLE", "EXTENDED"]))
        c["network"] = network
        clusters.append(c)
    fleet["clusters"] = clusters

    meta = fleet["fleet"]
    meta["protect"] = draw(st.booleans())
    meta["environment"] = draw(st.sampled_from(["dev", "staging", "production"]))
    meta["apiAccess"]["operatorCidrs"] = draw(
        st.lists(st.sampled_from(["198.51.100.0/28", "203.0.113.0/24"]), max_size=2, unique=True)
    )

    mesh = fleet["mesh"]
    mesh["mode"] = draw(st.sampled_from(["sidecar", "ambient"]))
    if draw(st.booleans()):
        mesh["revisions"] = ["1.29.4", DEFAULTS["mesh"]["version"]]
        mesh["stableRevision"] = draw(st.sampled_from(mesh["revisions"]))

    roots = draw(
        st.lists(st.sampled_from(["root-2026", "root-2027", "fleet-root"]), min_size=1, max_size=2, unique=True)
    )
    fleet["trust"] = {
        "roots": [
            {
                "name": root,
                "source": "generated",
                "algorithm": draw(ALGORITHMS),
                "validityHours": draw(st.sampled_from([17520, 43800, 87600])),
            }
            for root in roots
        ],
    }
    if draw(st.booleans()):
        fleet["trust"]["signingRoot"] = draw(st.sampled_from(roots))

    if any(c["cloud"] == "aws" for c in clusters):
        # The autoscaler is released per Kubernetes minor; kube-proxy follows the cluster's minor too.
        fleet["addons"] = {
            "eks": {
                **DEFAULTS["addons"]["eks"],
                "clusterAutoscalerImage": f"v1.{eks_minor}.0",
                "kubeProxy": f"v1.{eks_minor}.0-eksbuild.1",
            }
        }
    return fleet


#: Per cloud: the cluster's resource type and name, and its node pools' (`{cluster}`, `{pool}`).
CLUSTER_RESOURCES = {
    "aws": ("aws:eks/cluster:Cluster", "{cluster}-cluster"),
    "azure": ("azure-native:containerservice:ManagedCluster", "{cluster}-aks"),
    "gcp": ("gcp:container/cluster:Cluster", "{cluster}-cluster"),
}
POOL_RESOURCES = {
    "aws": ("aws:eks/nodeGroup:NodeGroup", "{cluster}-nodes-{pool}-{zone}"),
    "azure": ("azure-native:containerservice:AgentPool", "{cluster}-pool-{pool}"),
    "gcp": ("gcp:container/nodePool:NodePool", "{cluster}-pool-{pool}"),
}


def remote_secret_names(plan: Any) -> set[str]:
    return {
        r.name
        for r in plan.by_type("kubernetes:core/v1:Secret")
        if "-reads-" in r.name and r.name.endswith("-remote-secret")
    }


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cloud_fleets())
def test_valid_generated_cloud_fleets_plan(fleet):
    spec = load_fleet(DEFAULTS, fleet)  # a rejection here is a generator bug
    names = [c["name"] for c in fleet["clusters"]]
    assert [c.name for c in spec.clusters] == names

    plan = plan_fleet(fleet)

    providers = plan.by_type("pulumi:providers:kubernetes")
    assert sorted(p.name for p in providers) == sorted(f"{n}-k8s" for n in names)
    assert set(plan.cluster_of_provider.values()) == set(names)
    for cloud, (type_, pattern) in CLUSTER_RESOURCES.items():
        found = plan.by_type(type_)
        expected = [pattern.format(cluster=c["name"]) for c in fleet["clusters"] if c["cloud"] == cloud]
        assert sorted(r.name for r in found) == sorted(expected)
        assert all(r.protect is fleet["fleet"]["protect"] for r in found)
    for cloud, (type_, pattern) in POOL_RESOURCES.items():
        expected = [
            pattern.format(cluster=c["name"], pool=pool["name"], zone=zone)
            for c in fleet["clusters"]
            if c["cloud"] == cloud
            # The first AKS pool is the system pool, declared inside the managed cluster.
            for pool in (c["nodePools"][1:] if cloud == "azure" else c["nodePools"])
            # EKS: a node group per zone.
            for zone in (c["zones"] if cloud == "aws" else [None])
        ]
        assert sorted(r.name for r in plan.by_type(type_)) == sorted(expected)

    secrets = remote_secret_names(plan)
    assert len(secrets) == len(names) * (len(names) - 1)
    assert secrets == {f"{a}-reads-{b}-remote-secret" for a in names for b in names if a != b}


def _range_problem(fleet: dict[str, Any], path: str) -> Any:
    try:
        load_fleet(DEFAULTS, fleet)
    except ConfigError as err:
        # Only this rule's problem: a generated range may also overlap another cluster's.
        return next((p for p in err.problems if p.path == path and "nodes" in p.message), None)
    return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.sampled_from([1, 2]),  # dev: azure-weu, gcp-euw1
    field=st.sampled_from(["nodeCidr", "podCidr"]),
    max_sizes=st.lists(st.integers(1, 400), min_size=1, max_size=3),
)
def test_range_fix_is_the_smallest_range_that_holds_the_pools(index, field, max_sizes):
    """Whatever the pools' maxima, a range too small names the prefix that fits, and that prefix is the tightest."""
    fleet = copy.deepcopy(BASES["dev"])
    cluster = fleet["clusters"][index]
    cluster["nodePools"] = [
        {**cluster["nodePools"][0], "name": f"pool{j}", "minSize": 1, "maxSize": size}
        for j, size in enumerate(max_sizes)
    ]
    path = f"clusters[{index}].network.{field}"
    base = "10.200.0.0" if field == "nodeCidr" else "10.0.0.0"
    cluster["network"][field] = f"{base}/30"  # holds no pool at all
    problem = _range_problem(fleet, path)
    assert problem is not None
    fitting = int(re.search(r"of /(\d+) or a shorter prefix", problem.fix).group(1))  # type: ignore[union-attr]
    cluster["network"][field] = f"{base}/{fitting}"
    assert _range_problem(fleet, path) is None
    cluster["network"][field] = str(ipaddress.IPv4Network(f"{base}/{fitting + 1}"))
    assert _range_problem(fleet, path) is not None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**12 - 1), st.integers(8, 24)), max_size=30))
def test_overlap_sweep_finds_exactly_the_overlapping_pairs(blocks):
    """The sorted sweep behind the overlap rule agrees with comparing every pair (nested, equal and disjoint)."""
    nets = [ipaddress.IPv4Network((10 << 24 | start << 12, prefix), strict=False) for start, prefix in blocks]
    every_pair = [(a, b) for a in range(len(nets)) for b in range(a + 1, len(nets)) if nets[a].overlaps(nets[b])]
    assert overlapping_pairs(nets) == every_pair
