"""Istio across the fleet: per-cluster install, pairwise credentials, ambient, canary revisions.

Each fleet is planned once per module (fixtures); tests read the recorded
registrations. Manifests are checked against the upstream CRDs and chart
defaults in ../shared when it exists; golden files pin the local stack's
rendered manifests (regenerate with UPDATE_GOLDEN=1).
"""

from __future__ import annotations

import base64
import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.config import ConfigError, load_fleet
from ops.plan import Plan, Recorded, manifests, write_plan
from tests.helpers import ROOT, SHARED, fleet_of, inputs, plan_fleet, plan_stack, require_shared

NS = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
ISTIO_GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
K8S_GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
REPO = "https://istio-release.storage.googleapis.com/charts"
VALIDATOR = SHARED / "tools" / "k8s_validate.py"
GOLDEN = ROOT / "tests" / "golden" / "istio"
#: Published chart name -> the validator's short name.
CHART_DIR = {"base": "base", "istiod": "istiod", "gateway": "gateway", "cni": "istio-cni", "ztunnel": "ztunnel"}


# --------------------------------------------------------------------------
# Fleets


def existing_fleet(n: int, **mesh: Any) -> dict[str, Any]:
    """`n` existing clusters cloned from the local stack's first one."""
    fleet = fleet_of("local")
    template = fleet["clusters"][0]
    fleet["clusters"] = []
    for i in range(n):
        c = copy.deepcopy(template)
        c["name"] = f"site-{chr(ord('a') + i)}"
        c["context"] = f"kind-{c['name']}"
        c["apiEndpoint"] = f"https://172.18.0.{10 + i}:6443"
        c["egressCidrs"] = [f"172.18.0.{10 + i}/32"]
        c["network"] = {
            "nodeCidr": f"172.18.0.{10 + i}/32",
            "podCidr": f"10.{130 + 2 * i}.0.0/16",
            "serviceCidr": f"10.{131 + 2 * i}.0.0/16",
        }
        fleet["clusters"].append(c)
    fleet["mesh"] = {**fleet.get("mesh", {}), **mesh}
    return fleet


@pytest.fixture(scope="module")
def local() -> Plan:
    return plan_fleet(fleet_of("local"), stack="local")


@pytest.fixture(scope="module")
def four() -> Plan:
    return plan_fleet(existing_fleet(4))


@pytest.fixture(scope="module")
def ambient() -> Plan:
    return plan_fleet(existing_fleet(3, mode="ambient"))


@pytest.fixture(scope="module")
def upgrade() -> dict[str, Plan]:
    """The canary procedure's three configs and the start, on two clusters."""
    steps: dict[str, dict[str, Any]] = {
        "start": {"version": "1.30.3"},
        "bump": {"version": "1.31.0", "revisions": ["1.30.3", "1.31.0"], "stableRevision": "1.30.3"},
        "move": {"version": "1.31.0", "revisions": ["1.30.3", "1.31.0"], "stableRevision": "1.31.0"},
        "done": {"version": "1.31.0"},
    }
    return {step: plan_fleet(existing_fleet(2, **mesh)) for step, mesh in steps.items()}


# --------------------------------------------------------------------------
# Helpers


def in_cluster(plan: Plan, type_: str, cluster: str) -> list[Recorded]:
    """Resources of a type registered against a cluster's provider."""
    return [r for r in plan.by_type(type_) if plan.cluster_of(r) == cluster]


def one(plan: Plan, type_: str, cluster: str, k8s_name: str) -> Recorded:
    found = [r for r in in_cluster(plan, type_, cluster) if k8s_name_of(r) == k8s_name]
    assert len(found) == 1, f"{type_} {k8s_name} in {cluster}: {[r.urn for r in found]}"
    return found[0]


def k8s_name_of(r: Recorded) -> str:
    body = inputs(r)
    return str(body.get("name") if r.type == RELEASE else body["metadata"]["name"])


def release(plan: Plan, cluster: str, name: str) -> Recorded:
    return one(plan, RELEASE, cluster, name)


def values(r: Recorded) -> dict[str, Any]:
    return inputs(r)["values"]


def deps(r: Recorded) -> set[str]:
    return {urn.split("::")[-1] for urn in r.dependencies}


def clusters(plan: Plan) -> list[str]:
    return [c.name for c in plan.spec.clusters]


def egress(plan: Plan, name: str) -> list[str]:
    return [f"{c.egress_cidrs[0]}" for c in plan.spec.clusters if c.name == name]  # type: ignore[union-attr]


# --------------------------------------------------------------------------
# Per cluster (sidecar)


@pytest.mark.parametrize("fixture", ["local", "four"])
def test_every_cluster_gets_the_sidecar_resource_set(fixture: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    n = len(clusters(plan))
    for c in clusters(plan):
        assert [k8s_name_of(r) for r in in_cluster(plan, NS, c)] == ["istio-system"]
        assert sorted(k8s_name_of(r) for r in in_cluster(plan, RELEASE, c)) == [
            "istio-base",
            "istio-eastwestgateway",
            "istiod-1-30-3",
        ]
        assert [k8s_name_of(r) for r in in_cluster(plan, ISTIO_GATEWAY, c)] == ["cross-network-gateway"]
        assert in_cluster(plan, K8S_GATEWAY, c) == []
        # cacerts + one reader token per peer + one remote secret per peer.
        assert len(in_cluster(plan, SECRET, c)) == 1 + 2 * (n - 1)
        for r in [*in_cluster(plan, RELEASE, c), *in_cluster(plan, SECRET, c), *in_cluster(plan, NS, c)]:
            assert r.parent.split("::")[-2].endswith("meshfleet:mesh:Istio"), r.urn


def test_namespace_carries_the_network_label(four: Plan) -> None:
    for c in clusters(four):
        ns = inputs(one(four, NS, c, "istio-system"))
        assert ns["metadata"]["labels"] == {"topology.istio.io/network": f"{c}-network"}


def test_cacerts_has_the_four_plugin_keys_as_a_secret(four: Plan) -> None:
    for c in clusters(four):
        r = one(four, SECRET, c, "cacerts")
        body = inputs(r)
        assert body["metadata"]["namespace"] == "istio-system"
        assert sorted(body["stringData"]) == ["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"]
        assert inputs(r, show_secrets=False)["stringData"] == "[secret]"


def test_cacerts_chain_verifies_to_the_fleet_root(local: Plan) -> None:
    for c in clusters(local):
        data = inputs(one(local, SECRET, c, "cacerts"))["stringData"]
        cert = x509.load_pem_x509_certificate(data["ca-cert.pem"].encode())
        chain = x509.load_pem_x509_certificates(data["cert-chain.pem"].encode())
        roots = x509.load_pem_x509_certificates(data["root-cert.pem"].encode())
        key = serialization.load_pem_private_key(data["ca-key.pem"].encode(), password=None)
        assert chain[0] == cert, "cert-chain.pem starts with the intermediate"
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
        issuer = next(r for r in roots if r.subject == cert.issuer)
        cert.verify_directly_issued_by(issuer)
        assert chain[-1] in roots, "the chain ends at a root of the bundle"
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_istiod_values(four: Plan) -> None:
    for c in clusters(four):
        r = release(four, c, "istiod-1-30-3")
        body = inputs(r)
        assert (body["chart"], body["version"], body["namespace"]) == ("istiod", "1.30.3", "istio-system")
        assert body["repositoryOpts"] == {"repo": REPO}
        assert body["atomic"] is True and body["cleanupOnFail"] is True
        assert (body["timeout"], body["maxHistory"]) == (300, 10)
        assert values(r) == {
            "revision": "1-30-3",
            "revisionTags": ["default"],
            "global": {"meshID": "local-mesh", "multiCluster": {"clusterName": c}, "network": f"{c}-network"},
            "meshConfig": {"trustDomain": "cluster.local"},
        }
        assert r.provider_urn.endswith(f"::{c}-k8s")


#: Release -> Helm wait timeout (s): the control plane waits for a Deployment,
#: the gateway for its cloud load balancer, the node agents for every node.
RELEASE_TIMEOUTS = {
    "istio-base": 300,
    "istiod-1-30-3": 300,
    "istio-eastwestgateway": 900,
    "istio-cni": 1800,
    "ztunnel": 1800,
}


@pytest.mark.parametrize("fixture", ["four", "ambient"])
def test_release_failure_handling(fixture: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    for c in clusters(plan):
        found = in_cluster(plan, RELEASE, c)
        assert found
        for r in found:
            body = inputs(r)
            # atomic: a failed install/upgrade is rolled back (and needs Helm's
            # wait, so no skipAwait); cleanupOnFail removes the new objects.
            assert body["atomic"] is True and body["cleanupOnFail"] is True, r.urn
            assert "skipAwait" not in body and "waitForJobs" not in body, r.urn
            assert body["timeout"] == RELEASE_TIMEOUTS[body["name"]], r.urn
            assert body["maxHistory"] == 10, r.urn
            assert body["repositoryOpts"] == {"repo": REPO}
            assert r.provider_urn.endswith(f"::{c}-k8s")


def test_base_points_the_default_validator_at_the_stable_revision(four: Plan) -> None:
    for c in clusters(four):
        body = inputs(release(four, c, "istio-base"))
        assert (body["chart"], body["version"]) == ("base", "1.30.3")
        assert body["values"] == {"defaultRevision": "1-30-3"}


def test_eastwest_gateway_exposes_only_what_multi_primary_needs(four: Plan) -> None:
    for c in clusters(four):
        r = release(four, c, "istio-eastwestgateway")
        body = inputs(r)
        assert (body["chart"], body["version"]) == ("gateway", "1.30.3")
        v = values(r)
        # networkGateway would force 15012/15017 open; its effects are set explicitly.
        assert "networkGateway" not in v
        assert v["labels"] == {
            "istio": "eastwestgateway",
            "app": "istio-eastwestgateway",
            "topology.istio.io/network": f"{c}-network",
        }
        assert v["env"] == {"ISTIO_META_REQUESTED_NETWORK_VIEW": f"{c}-network"}
        assert v["revision"] == "1-30-3"
        svc = v["service"]
        assert svc["type"] == "LoadBalancer"
        assert [(p["name"], p["port"], p["targetPort"]) for p in svc["ports"]] == [
            ("status-port", 15021, 15021),
            ("tls", 15443, 15443),
        ]
        peers = sorted(cidr for p in clusters(four) if p != c for cidr in egress(four, p))
        assert svc["loadBalancerSourceRanges"] == peers
        assert svc["annotations"] == {}


def test_cross_network_gateway(four: Plan) -> None:
    for c in clusters(four):
        body = inputs(one(four, ISTIO_GATEWAY, c, "cross-network-gateway"))
        assert body["metadata"]["namespace"] == "istio-system"
        assert body["spec"] == {
            "selector": {"istio": "eastwestgateway"},
            "servers": [
                {
                    "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                    "tls": {"mode": "AUTO_PASSTHROUGH"},
                    "hosts": ["*.local"],
                }
            ],
        }


# --------------------------------------------------------------------------
# Pairwise credentials


@pytest.mark.parametrize("fixture", ["local", "four", "ambient"])
def test_remote_secrets_for_every_ordered_pair(fixture: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    names = clusters(plan)
    remote = [r for r in plan.by_type(SECRET) if k8s_name_of(r).startswith("istio-remote-secret-")]
    tokens = [r for r in plan.by_type(SECRET) if inputs(r).get("type") == "kubernetes.io/service-account-token"]
    n = len(names)
    assert len(remote) == n * (n - 1)
    assert len(tokens) == n * (n - 1)
    endpoints = {c.name: c.api_endpoint for c in plan.spec.clusters}  # type: ignore[union-attr]
    cas = {c.name: c.ca_data for c in plan.spec.clusters}  # type: ignore[union-attr]
    for a in names:
        for b in names:
            if a == b:
                continue
            token = one(plan, SECRET, b, f"istio-reader-token-{a}")
            tbody = inputs(token)
            assert tbody["type"] == "kubernetes.io/service-account-token"
            assert tbody["metadata"]["annotations"] == {
                "kubernetes.io/service-account.name": "istio-reader-service-account"
            }
            assert tbody["metadata"]["namespace"] == "istio-system"

            secret = one(plan, SECRET, a, f"istio-remote-secret-{b}")
            body = inputs(secret)
            assert body["metadata"]["labels"] == {"istio/multiCluster": "true"}
            assert body["metadata"]["annotations"] == {"networking.istio.io/cluster": b}
            assert body["metadata"]["namespace"] == "istio-system"
            assert list(body["stringData"]) == [b]
            assert inputs(secret, show_secrets=False)["stringData"] == "[secret]"
            kubeconfig = yaml.safe_load(body["stringData"][b])
            assert kubeconfig["current-context"] == b
            assert kubeconfig["contexts"] == [{"name": b, "context": {"cluster": b, "user": b}}]
            cluster = kubeconfig["clusters"][0]
            assert cluster["name"] == b and cluster["cluster"]["server"] == endpoints[b]
            # ca_data in config is base64 PEM already; the kubeconfig carries the same bytes.
            assert cluster["cluster"]["certificate-authority-data"] == cas[b]
            jwt = kubeconfig["users"][0]["user"]["token"]
            claims = yaml.safe_load(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
            assert claims["sub"] == "system:serviceaccount:istio-system:istio-reader-service-account"
            assert claims["kubernetes.io/serviceaccount/secret.name"] == f"istio-reader-token-{a}"


def test_dependency_order(four: Plan) -> None:
    for c in clusters(four):
        ns, cacerts, base = f"{c}-istio-namespace", f"{c}-istio-cacerts", f"{c}-istio-base"
        istiod = release(four, c, "istiod-1-30-3")
        assert {ns, cacerts, base} <= deps(istiod)
        assert f"{c}-istiod-1-30-3" in deps(release(four, c, "istio-eastwestgateway"))
        assert {base, f"{c}-istiod-1-30-3"} <= deps(one(four, ISTIO_GATEWAY, c, "cross-network-gateway"))
        assert ns in deps(one(four, SECRET, c, "cacerts"))
        for peer in clusters(four):
            if peer == c:
                continue
            # The token in c for peer waits for c's base (the service account)
            # and c's stable istiod (its reader ClusterRoleBinding).
            token = one(four, SECRET, c, f"istio-reader-token-{peer}")
            assert {base, f"{c}-istiod-1-30-3"} <= deps(token)
            assert f"{c}-istio-eastwestgateway" not in deps(token)
            # The remote secret in c waits for nothing of c but the namespace.
            remote = one(four, SECRET, c, f"istio-remote-secret-{peer}")
            resources = by_urn(four)
            own = {resources[u].name for u in remote.dependencies if four.cluster_of(resources[u]) == c}
            assert own == {ns}, remote.urn
            assert deps(remote) == {ns, f"{c}-reads-{peer}-reader-token"}


# --------------------------------------------------------------------------
# Ambient


def test_ambient_resource_set(ambient: Plan) -> None:
    for c in clusters(ambient):
        assert sorted(k8s_name_of(r) for r in in_cluster(ambient, RELEASE, c)) == [
            "istio-base",
            "istio-cni",
            "istiod-1-30-3",
            "ztunnel",
        ]
        assert in_cluster(ambient, ISTIO_GATEWAY, c) == []
        gw = one(ambient, K8S_GATEWAY, c, "istio-eastwestgateway")
        body = inputs(gw)
        assert body["metadata"]["labels"] == {"topology.istio.io/network": f"{c}-network"}
        assert body["spec"] == {
            "gatewayClassName": "istio-east-west",
            "listeners": [
                {
                    "name": "mesh",
                    "port": 15008,
                    "protocol": "HBONE",
                    "tls": {"mode": "Terminate", "options": {"gateway.istio.io/tls-terminate-mode": "ISTIO_MUTUAL"}},
                }
            ],
            "infrastructure": {
                "parametersRef": {"group": "", "kind": "ConfigMap", "name": "istio-eastwestgateway-options"},
            },
        }
        crds = [r for r in ambient.by_type(CONFIG_FILE) if ambient.cluster_of(r) == c]
        assert len(crds) == 1
        assert crds[0].name in deps(gw), "the east-west Gateway waits for the Gateway API CRDs"
        assert f"{c}-istiod-1-30-3" in deps(gw)
        assert f"{c}-istio-eastwest-options" in deps(gw), "the parameters ConfigMap exists first"
        assert [k8s_name_of(r) for r in in_cluster(ambient, CONFIG_MAP, c)] == ["istio-eastwestgateway-options"]


def test_ambient_eastwest_service_admits_only_the_peers(ambient: Plan) -> None:
    for c in clusters(ambient):
        r = one(ambient, CONFIG_MAP, c, "istio-eastwestgateway-options")
        body = inputs(r)
        # parametersRef is resolved in the Gateway's own namespace.
        assert body["metadata"]["namespace"] == "istio-system"
        # istiod accepts only deployment/service/serviceAccount/
        # horizontalPodAutoscaler/podDisruptionBudget keys.
        assert list(body["data"]) == ["service"]
        overlay = yaml.safe_load(body["data"]["service"])
        peers = sorted(cidr for p in clusters(ambient) if p != c for cidr in egress(ambient, p))
        assert overlay == {"spec": {"loadBalancerSourceRanges": peers}}
        assert peers and egress(ambient, c)[0] not in peers
        assert r.provider_urn.endswith(f"::{c}-k8s")


def test_ambient_eastwest_on_eks_keeps_the_nlb_annotations(dev_ambient: Plan) -> None:
    for c in dev_ambient.spec.clusters:
        infra = inputs(one(dev_ambient, K8S_GATEWAY, c.name, "istio-eastwestgateway"))["spec"]["infrastructure"]
        assert infra["parametersRef"] == {"group": "", "kind": "ConfigMap", "name": "istio-eastwestgateway-options"}
        annotations = infra.get("annotations", {})
        if c.cloud == "aws":
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"].startswith("eipalloc-")
        else:
            assert annotations == {}
        overlay = yaml.safe_load(
            inputs(one(dev_ambient, CONFIG_MAP, c.name, "istio-eastwestgateway-options"))["data"]["service"]
        )
        # Exactly the peers' egress addresses (the simulated cloud's NAT/EIP outputs), never its own or 0.0.0.0/0.
        outputs = dev_ambient.to_json(show_secrets=True)["outputs"]
        peers = sorted(
            cidr for p in dev_ambient.spec.clusters if p.name != c.name for cidr in outputs[p.name]["egressCidrs"]
        )
        assert len(peers) >= len(dev_ambient.spec.clusters) - 1
        assert overlay == {"spec": {"loadBalancerSourceRanges": peers}}
        assert not set(peers) & {"0.0.0.0/0", *outputs[c.name]["egressCidrs"]}


def test_ambient_values(ambient: Plan) -> None:
    for c in clusters(ambient):
        istiod = values(release(ambient, c, "istiod-1-30-3"))
        assert istiod["profile"] == "ambient"
        assert istiod["env"] == {"AMBIENT_ENABLE_MULTI_NETWORK": "true"}
        assert istiod["global"]["network"] == f"{c}-network"
        assert values(release(ambient, c, "ztunnel")) == {
            "profile": "ambient",
            "revision": "1-30-3",
            "network": f"{c}-network",
            "multiCluster": {"clusterName": c},
        }
        # Existing clusters have no platform; GKE sets `platform: gke` (dev test).
        assert values(release(ambient, c, "istio-cni")) == {"profile": "ambient", "revision": "1-30-3"}
        assert f"{c}-istiod-1-30-3" in deps(release(ambient, c, "ztunnel"))


def test_ambient_with_primary_remote_is_rejected() -> None:
    defaults = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]["defaults"]["value"]
    fleet = existing_fleet(2, mode="ambient", topology="primary-remote")
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults, fleet)
    assert "mesh.topology" in str(err.value)
    assert "ambient multicluster supports only multi-primary" in str(err.value)


# --------------------------------------------------------------------------
# Canary revisions


def by_urn(plan: Plan) -> dict[str, Recorded]:
    return {r.urn: r for r in plan.resources}


def test_version_bump_adds_a_revision_beside_the_first(upgrade: dict[str, Plan]) -> None:
    start, bump = by_urn(upgrade["start"]), by_urn(upgrade["bump"])
    assert set(start) <= set(bump), "nothing is replaced or removed"
    for c in clusters(upgrade["bump"]):
        old, new = release(upgrade["bump"], c, "istiod-1-30-3"), release(upgrade["bump"], c, "istiod-1-31-0")
        assert old.inputs == start[old.urn].inputs, "the running revision is untouched"
        assert values(new)["revision"] == "1-31-0" and values(new)["revisionTags"] == []
        assert inputs(new)["version"] == "1.31.0"
        # The stable release waits for the others, so the tag can move later.
        assert f"{c}-istiod-1-31-0" in deps(old)
        base = inputs(release(upgrade["bump"], c, "istio-base"))
        assert base["version"] == "1.31.0" and base["values"] == {"defaultRevision": "1-30-3"}
    changed = {u for u in start if start[u].inputs != bump[u].inputs}
    assert {bump[u].name for u in changed} == {f"{c}-istio-base" for c in clusters(upgrade["bump"])}
    added = {bump[u].name for u in set(bump) - set(start)}
    assert added == {f"{c}-istiod-1-31-0" for c in clusters(upgrade["bump"])}


def test_moving_the_tag_changes_only_tag_objects(upgrade: dict[str, Plan]) -> None:
    bump, move = by_urn(upgrade["bump"]), by_urn(upgrade["move"])
    assert set(bump) == set(move)
    changed = {move[u].name: (bump[u], move[u]) for u in bump if bump[u].inputs != move[u].inputs}
    names = clusters(upgrade["move"])
    assert set(changed) == {
        f"{c}-{x}" for c in names for x in ("istio-base", "istiod-1-30-3", "istiod-1-31-0", "istio-eastwestgateway")
    }
    for c in names:
        before, after = changed[f"{c}-istiod-1-30-3"]
        assert values(before)["revisionTags"] == ["default"] and values(after)["revisionTags"] == []
        assert {**values(after), "revisionTags": ["default"]} == values(before)
        before, after = changed[f"{c}-istiod-1-31-0"]
        assert values(after)["revisionTags"] == ["default"]
        assert {**values(after), "revisionTags": []} == values(before)
        assert values(changed[f"{c}-istio-base"][1]) == {"defaultRevision": "1-31-0"}
        gw_before, gw_after = changed[f"{c}-istio-eastwestgateway"]
        assert values(gw_after)["revision"] == "1-31-0" and inputs(gw_after)["version"] == "1.31.0"
        assert {**values(gw_after), "revision": "1-30-3"} == values(gw_before)
        # Losing release first: the new stable release now waits for the old one.
        assert f"{c}-istiod-1-30-3" in deps(release(upgrade["move"], c, "istiod-1-31-0"))


def test_removing_the_old_revision_removes_only_it(upgrade: dict[str, Plan]) -> None:
    move, done = by_urn(upgrade["move"]), by_urn(upgrade["done"])
    assert {move[u].name for u in set(move) - set(done)} == {f"{c}-istiod-1-30-3" for c in clusters(upgrade["done"])}
    changed = {u for u in done if done[u].inputs != move[u].inputs}
    assert changed == set()


# --------------------------------------------------------------------------
# Manifests: upstream schemas and golden files


def _validate(plan: Plan, tmp: Path) -> None:
    require_shared(VALIDATOR)  # skips for a developer without ../shared; fails in CI
    write_plan(plan, tmp)
    root = tmp / "manifests"
    objects = sorted(str(p) for p in root.rglob("*.yaml") if "helm" not in p.parts)
    run = subprocess.run([sys.executable, str(VALIDATOR), *objects], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].split(",")[1].strip() == "0 invalid"
    for path in sorted(root.rglob("helm/*.yaml")):
        release_doc = yaml.safe_load(path.read_text())
        if release_doc["repository"] != plan.spec.mesh.repository:
            continue  # cluster add-ons (autoscaler, LB controller): no upstream defaults here
        values_file = tmp / f"{path.parent.parent.name}-{path.stem}.values.yaml"
        values_file.write_text(yaml.safe_dump(release_doc["values"]))
        chart = f"istio/{CHART_DIR[release_doc['chart']]}"
        run = subprocess.run(
            [sys.executable, str(VALIDATOR), "--helm-values", chart, str(values_file)], capture_output=True, text=True
        )
        assert run.returncode == 0, f"{path}: {run.stdout}{run.stderr}"


@pytest.mark.parametrize("fixture", ["local", "ambient", "dev", "dev_ambient"])
def test_manifests_validate_upstream(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    _validate(request.getfixturevalue(fixture), tmp_path)


def test_golden_manifests(local: Plan) -> None:
    rendered = {
        rel: text
        for rel, text in manifests(local).items()
        if rel.split("/", 1)[1].startswith(("helm/", "namespace-", "secret-", "gateway-", "configmap-istio-system-"))
    }
    if os.environ.get("UPDATE_GOLDEN"):
        for old in GOLDEN.rglob("*.yaml"):
            old.unlink()
        for rel, text in rendered.items():
            path = GOLDEN / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    stored = {str(p.relative_to(GOLDEN)): p.read_text() for p in sorted(GOLDEN.rglob("*.yaml"))}
    assert stored, "no golden files: run with UPDATE_GOLDEN=1"
    assert sorted(stored) == sorted(rendered)
    for rel, text in rendered.items():
        assert stored[rel] == text, f"{rel} differs from tests/golden/istio (UPDATE_GOLDEN=1 to accept)"


# --------------------------------------------------------------------------
# Clouds


@pytest.fixture(scope="module")
def dev() -> Plan:
    return plan_stack("dev")


@pytest.fixture(scope="module")
def dev_ambient() -> Plan:
    fleet = fleet_of("dev")
    fleet["mesh"]["mode"] = "ambient"
    return plan_fleet(fleet, stack="dev")


@pytest.fixture(scope="module")
def mixed() -> Plan:
    """Every cloud plus an existing cluster: five clusters, twenty ordered pairs."""
    fleet = fleet_of("dev")
    fleet["clusters"] += fleet_of("local")["clusters"][:2]
    return plan_fleet(fleet)


def test_mixed_five_cluster_fleet(mixed: Plan) -> None:
    names = clusters(mixed)
    assert len(names) == 5
    remote = [r for r in mixed.by_type(SECRET) if k8s_name_of(r).startswith("istio-remote-secret-")]
    assert len(remote) == 20
    for a in names:
        for b in names:
            if a != b:
                one(mixed, SECRET, a, f"istio-remote-secret-{b}")
                one(mixed, SECRET, b, f"istio-reader-token-{a}")
    for c in mixed.spec.clusters:
        gw = values(release(mixed, c.name, "istio-eastwestgateway"))
        annotations = gw["service"]["annotations"]
        if c.cloud == "aws":
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "external"
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"].startswith("eipalloc-")
        else:
            assert not any(k.startswith("service.beta.kubernetes.io/aws") for k in annotations)


def test_eastwest_service_overlay_is_a_service_patch() -> None:
    from components.mesh.istio import eastwest_service_overlay

    assert yaml.safe_load(eastwest_service_overlay(["198.51.100.7/32", "203.0.113.9/32"])) == {
        "spec": {"loadBalancerSourceRanges": ["198.51.100.7/32", "203.0.113.9/32"]}
    }


def test_gke_platform_reaches_cni_and_ztunnel() -> None:
    from types import SimpleNamespace

    from components.mesh.istio import Revision, cni_values, ztunnel_values
    from components.naming import cluster_names

    gke: Any = SimpleNamespace(names=cluster_names("acme", "gcp-euw1"), platform="gke", load_balancer_annotations={})
    rev = Revision(version="1.30.3", name="1-30-3", stable=True)
    assert cni_values(gke, rev) == {"profile": "ambient", "revision": "1-30-3", "platform": "gke"}
    assert ztunnel_values(gke, rev)["platform"] == "gke"
    eks: Any = SimpleNamespace(names=cluster_names("acme", "aws-use1"), platform=None, load_balancer_annotations={})
    # There is no `eks` platform in the charts: an unknown one fails the render.
    assert "platform" not in cni_values(eks, rev) and "platform" not in ztunnel_values(eks, rev)


@pytest.mark.parametrize("mode", ["sidecar", "ambient"])
def test_single_cluster_fleet_exposes_no_east_west_gateway(mode: str) -> None:
    """No peers: no gateway, since an empty loadBalancerSourceRanges would admit anyone."""
    fleet = fleet_of("local")
    fleet["clusters"] = fleet["clusters"][:1]
    fleet["mesh"]["mode"] = mode
    plan = plan_fleet(fleet)
    releases = sorted(k8s_name_of(r) for r in plan.by_type(RELEASE))
    expected = ["istio-base", "istiod-1-30-3"] + (["istio-cni", "ztunnel"] if mode == "ambient" else [])
    assert releases == sorted(expected)
    assert [r for r in plan.resources if r.type.endswith(":Gateway")] == []
    assert [r for r in plan.by_type("kubernetes:core/v1:ConfigMap")] == []
