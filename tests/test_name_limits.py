"""Kubernetes name and label limits at their boundaries (63 allowed, 64 rejected).

Each derived name has a case of its own: a cluster name where exactly that
name crosses 63 characters and nothing else does, so a dropped check cannot
hide behind another one. Valid boundaries plan; invalid ones stop with the
clean config error (path, message, fix; exit 2 from the CLI, no traceback).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_fleet
from components.naming import eks_pool_name_max, node_group_prefix, zone_suffix
from ops import cli
from ops.plan import Plan
from tests.helpers import existing_fleet, fleet_of, inputs, only_clusters, plan_fleet, stack_config

SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"


def name_of(length: int, stem: str = "edge-") -> str:
    """A DNS-label cluster name of exactly `length` characters."""
    name = stem + "x" * (length - len(stem))
    assert len(name) == length
    return name


C43, C44, C45, C55, C56 = (name_of(n) for n in (43, 44, 45, 55, 56))
OWNER_63 = "team-" + "o" * 58
#: "<fleet> root root-2026", the generated root's common name, is then 64: X.509's limit.
FLEET_49 = "fleet-" + "f" * 43


def problems(fleet: dict[str, Any]) -> list[tuple[str, str]]:
    defaults = stack_config("local").value("defaults")
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults, fleet)
    return [(p.path, p.message) for p in err.value.problems]


def remote(cluster: str, length: int) -> tuple[str, str]:
    return (
        "clusters[0].name",
        f"derived remote secret name 'istio-remote-secret-{cluster}' has {length} characters; at most 63 are allowed",
    )


def reader(cluster: str, length: int) -> tuple[str, str]:
    return (
        "clusters[0].name",
        f"derived reader token secret name 'istio-reader-token-{cluster}' has {length} characters; "
        "at most 63 are allowed",
    )


def network(cluster: str, length: int) -> tuple[str, str]:
    return (
        "clusters[0].name",
        f"derived mesh network '{cluster}-network' has {length} characters; at most 63 are allowed",
    )


# (id, cluster name, exactly the problems expected)
TOO_LONG = [
    # istio-remote-secret-<44> is 64; istio-reader-token-<44> is 63 and passes.
    ("remote-secret-64", C44, [remote(C44, 64)]),
    # Both secret names over; the network label (53) is fine.
    ("reader-token-64", C45, [reader(C45, 64), remote(C45, 65)]),
    # <55>-network is 63, the longest network label allowed.
    ("network-label-63", C55, [reader(C55, 74), remote(C55, 75)]),
    ("network-label-64", C56, [network(C56, 64), reader(C56, 75), remote(C56, 76)]),
]


@pytest.mark.parametrize(("cluster", "expected"), [c[1:] for c in TOO_LONG], ids=[c[0] for c in TOO_LONG])
def test_each_derived_name_over_63_is_its_own_problem(cluster: str, expected: list[tuple[str, str]]) -> None:
    assert problems(existing_fleet([cluster, "peer"])) == sorted(expected)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("owner", "o" * 64, f"{'o' * 64!r} is not a DNS label"),
        ("name", "f" * 64, f"{'f' * 64!r} is not a DNS label"),
    ],
    ids=["owner-64", "fleet-name-64"],
)
def test_64_character_fleet_labels_are_rejected(path: str, value: str, message: str) -> None:
    fleet = existing_fleet(["east", "west"])
    fleet["fleet"][path] = value
    assert problems(fleet) == [(f"fleet.{path}", message)]


@pytest.mark.parametrize(
    ("fleet_name", "root", "length"),
    [("fleet-" + "f" * 44, "root-2026", 65), ("f" * 63, "root-2026", 78), ("f" * 57, "rr", 65)],
    ids=["fleet-50", "fleet-63", "fleet-57-short-root"],
)
def test_root_common_name_over_64_is_rejected(fleet_name: str, root: str, length: int) -> None:
    """X.509 caps a subject common name at 64 characters; the plan used to crash on a longer one."""
    fleet = existing_fleet(["east", "west"])
    fleet["fleet"]["name"] = fleet_name
    fleet["trust"] = {"roots": [{"name": root}]}
    cn = f"{fleet_name} root {root}"
    assert problems(fleet) == [
        (
            "trust.roots[0].name",
            f"derived root CA common name {cn!r} has {length} characters; X.509 allows at most 64",
        )
    ]


POOL_LABELS = [
    ("value-64", {"team": "v" * 64}, "label value 'vvvv", "has 64 characters; Kubernetes allows 0-63"),
    ("key-name-64", {"k" * 64: "v"}, "label key 'kkkk", "has 64 characters; Kubernetes allows 1-63"),
    ("value-bad-char", {"team": "a b"}, "label value 'a b' has 3 characters", "starting and ending"),
    ("prefix-not-dns", {"Example.COM/team": "a"}, "label key 'Example.COM/team': the prefix", "DNS subdomain"),
]


@pytest.mark.parametrize(("labels", "start", "part"), [c[1:] for c in POOL_LABELS], ids=[c[0] for c in POOL_LABELS])
@pytest.mark.parametrize("index", [0, 1, 2], ids=["eks", "aks", "gke"])
def test_node_pool_labels_beyond_kubernetes_limits_are_rejected(
    index: int, labels: dict[str, str], start: str, part: str
) -> None:
    fleet = fleet_of("dev")
    fleet["clusters"][index]["nodePools"][0]["labels"] = labels
    found = problems(fleet)
    assert len(found) == 1, found
    path, message = found[0]
    assert path == f"clusters[{index}].nodePools[0].labels"
    assert message.startswith(start) and part in message, message


@pytest.mark.parametrize(("length", "valid"), [(34, True), (35, False)])
def test_eks_pool_names_leave_room_for_the_zone_and_the_node_group_suffix(length: int, valid: bool) -> None:
    # A node group per zone, named `<pool>-<zone>-` (us-east-1a: `a`) plus the provider's 26 characters;
    # EKS takes at most 63.
    fleet = fleet_of("dev")
    fleet["clusters"][0]["nodePools"][0]["name"] = "p" * length
    if valid:
        spec = load_fleet(stack_config("local").value("defaults"), fleet)
        assert spec.clusters[0].node_pools[0].name == "p" * length
        assert len(node_group_prefix("p" * length, zone_suffix("us-east-1", "us-east-1a"))) + 26 == 63
    else:
        assert problems(fleet) == [
            (
                "clusters[0].nodePools[0].name",
                f"{'p' * length!r} is not a valid EKS node pool name: 1-34 letters, digits, '-' and '_', starting "
                "with a letter or digit (it has a node group per zone, named `<pool>-<zone>-` plus 26 characters, "
                "at most 63)",
            )
        ]


def test_zone_suffixes_tell_zones_apart_within_their_region() -> None:
    assert [zone_suffix("us-east-1", z) for z in ("us-east-1a", "us-east-1f")] == ["a", "f"]
    assert eks_pool_name_max("us-east-1", ["us-east-1a", "us-east-1b"]) == 34


def test_node_pool_labels_at_the_limits_are_valid() -> None:
    fleet = fleet_of("dev")
    fleet["clusters"][2]["nodePools"][0]["labels"] = {
        "k" * 63: "v" * 63,
        "example.com/team": "",
        "node.example.com/tier_1": "A.b-c_D",
    }
    defaults = stack_config("local").value("defaults")
    spec = load_fleet(defaults, fleet)
    assert dict(spec.clusters[2].node_pools[0].labels) == {
        "k" * 63: "v" * 63,
        "example.com/team": "",
        "node.example.com/tier_1": "A.b-c_D",
    }


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (lambda f: f["clusters"][0].update(name=C44), "clusters[0].name", remote(C44, 64)[1]),
        (lambda f: f["clusters"][0].update(name=C56), "clusters[0].name", network(C56, 64)[1]),
        (lambda f: f["fleet"].update(owner="o" * 64), "fleet.owner", "is not a DNS label"),
        (lambda f: f["fleet"].update(name="f" * 50), "trust.roots[0].name", "has 65 characters; X.509 allows"),
    ],
    ids=["remote-secret-64", "network-label-64", "owner-64", "root-common-name-65"],
)
def test_cli_stops_cleanly_on_a_name_over_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture, mutate: Any, path: str, message: str
) -> None:
    fleet = existing_fleet(["east", "west"])
    mutate(fleet)
    stack = tmp_path / "Pulumi.long.yaml"
    stack.write_text(yaml.safe_dump({"config": {"meshfleet:fleet": fleet}}))
    assert cli.main(["plan", "--config", str(stack)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: " in err and message in err and "fix: " in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------
# The longest valid names plan


@pytest.fixture(scope="module")
def longest() -> Plan:
    """A 43-character cluster (remote secret name of 63), a 63-character owner, a root common name of 64."""
    fleet = existing_fleet([C43, "peer"])
    fleet["fleet"]["owner"] = OWNER_63
    fleet["fleet"]["name"] = FLEET_49
    return plan_fleet(fleet)


def test_longest_names_plan(longest: Plan) -> None:
    secrets = sorted((longest.cluster_of(r), inputs(r)["metadata"]["name"]) for r in longest.by_type(SECRET))
    # `peer` reads C43 through a 63-character remote secret; C43's token for `peer` is 62.
    assert secrets == sorted(
        [
            (C43, "cacerts"),
            ("peer", "cacerts"),
            (C43, "istio-reader-token-peer"),
            ("peer", f"istio-reader-token-{C43}"),
            (C43, "istio-remote-secret-peer"),
            ("peer", f"istio-remote-secret-{C43}"),
        ]
    )
    assert len(f"istio-remote-secret-{C43}") == 63
    namespaces = {longest.cluster_of(r): inputs(r)["metadata"]["labels"] for r in longest.by_type(NAMESPACE)}
    assert namespaces == {
        C43: {"topology.istio.io/network": f"{C43}-network"},
        "peer": {"topology.istio.io/network": "peer-network"},
    }
    provider = longest.get("pulumi:providers:kubernetes", f"{C43}-k8s")
    assert inputs(provider)["clusterIdentifier"] == f"meshfleet/{FLEET_49}-{C43}"
    root = longest.get("tls:index/selfSignedCert:SelfSignedCert", f"{FLEET_49}-trust-root-2026-cert")
    assert inputs(root)["subject"]["commonName"] == f"{FLEET_49} root root-2026"
    assert len(inputs(root)["subject"]["commonName"]) == 64


def test_63_character_owner_is_every_gcp_label() -> None:
    """GCP label values are limited to 63 characters: the longest owner still plans, on every resource."""
    fleet = only_clusters(fleet_of("dev"), "gcp-euw1")
    fleet["fleet"]["owner"] = OWNER_63
    plan = plan_fleet(fleet)
    labelled = [
        (r.name, inputs(r).get("labels") or inputs(r).get("resourceLabels"))
        for r in plan.resources
        if r.type.startswith("gcp:") and r.custom
    ]
    with_labels = [(name, labels) for name, labels in labelled if labels]
    assert with_labels, "the GKE fleet labels its resources"
    assert {name: labels["owner"] for name, labels in with_labels} == {name: OWNER_63 for name, _ in with_labels}
    cluster = plan.get("gcp:container/cluster:Cluster", "gcp-euw1-cluster")
    assert inputs(cluster)["resourceLabels"]["owner"] == OWNER_63
