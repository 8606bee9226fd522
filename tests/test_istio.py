"""Istio across the fleet: per-cluster install, pairwise credentials, ambient, canary revisions.

Each fleet is planned once per module (fixtures); tests read the recorded
registrations. Manifests are checked against the upstream CRDs and chart
defaults in ../shared when it exists; golden files pin the local stack's
rendered manifests (regenerate with UPDATE_GOLDEN=1).
"""

from __future__ import annotations

import base64
import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.config import ConfigError, load_fleet
from components.mesh.switch import GUARD_TYPE
from ops.plan import Plan, Recorded, manifests
from tests.charts import charts_available, render_release, require_renderer
from tests.helpers import (
    ROOT,
    PlanChange,
    assert_golden_dir,
    fleet_of,
    inputs,
    plan_fleet,
    plan_stack,
    validate_objects,
    validate_plan_upstream,
)

NS = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
ISTIO_GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
K8S_GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
WEBHOOK = "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration"
SERVICE = "kubernetes:core/v1:Service"
REPO = "https://istio-release.storage.googleapis.com/charts"
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


def guard_name(plan: Plan) -> str:
    """The mesh switch guard's name (components/mesh/switch.py): it records the installed revisions."""
    [guard] = [r.name for r in plan.resources if r.type == GUARD_TYPE]
    return guard


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
        # The revision tag: Pulumi's own objects, not any release's.
        assert [k8s_name_of(r) for r in in_cluster(plan, WEBHOOK, c)] == ["istio-revision-tag-default"]
        assert [k8s_name_of(r) for r in in_cluster(plan, SERVICE, c)] == ["istiod-revision-tag-default"]
        # cacerts + one reader token per peer + one remote secret per peer.
        assert len(in_cluster(plan, SECRET, c)) == 1 + 2 * (n - 1)
        tag = [*in_cluster(plan, WEBHOOK, c), *in_cluster(plan, SERVICE, c)]
        for r in [*in_cluster(plan, RELEASE, c), *in_cluster(plan, SECRET, c), *in_cluster(plan, NS, c), *tag]:
            assert r.parent.split("::")[-2].endswith("meshfleet:mesh:Istio"), r.urn


def test_namespace_carries_the_network_label(four: Plan) -> None:
    for c in clusters(four):
        ns = inputs(one(four, NS, c, "istio-system"))
        assert ns["metadata"]["labels"] == {"topology.istio.io/network": f"{c}-network"}


def test_ambient_namespace_admits_its_privileged_node_agents(ambient: Plan) -> None:
    """istio-cni and ztunnel run privileged: a cluster enforcing `baseline` by default would refuse them."""
    for c in clusters(ambient):
        ns = inputs(one(ambient, NS, c, "istio-system"))
        assert ns["metadata"]["labels"] == {
            "topology.istio.io/network": f"{c}-network",
            "pod-security.kubernetes.io/enforce": "privileged",
        }


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
        spread = [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "istiod", "istio.io/rev": "1-30-3"}},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
        bundle = inputs(one(four, SECRET, c, "cacerts"))["stringData"]["root-cert.pem"]
        assert values(r) == {
            "revision": "1-30-3",
            # A digest of the root bundle istiod mounts: a new bundle rolls istiod.
            "podAnnotations": {"meshfleet.io/trust-bundle-sha256": hashlib.sha256(bundle.encode()).hexdigest()},
            # No istiod release renders a revision tag.
            "revisionTags": [],
            "autoscaleMin": 2,
            "topologySpreadConstraints": spread,
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
        assert v["autoscaling"] == {"enabled": True, "minReplicas": 2, "maxReplicas": 5}
        assert v["podDisruptionBudget"] == {"minAvailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"}
        assert [t["topologyKey"] for t in v["topologySpreadConstraints"]] == [
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        ]
        # No load balancer drain on existing clusters: a 10 s wait for endpoint removal, then Envoy's drain.
        assert v["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
        assert v["terminationGracePeriodSeconds"] == 40
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
        tag = {f"{c}-istio-revision-tag-default", f"{c}-istio-revision-tag-default-service"}
        assert {ns, cacerts, base} | tag <= deps(istiod)
        assert ns in deps(one(four, WEBHOOK, c, "istio-revision-tag-default"))
        assert ns in deps(one(four, SERVICE, c, "istiod-revision-tag-default"))
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
        gw = one(ambient, K8S_GATEWAY, c, "istio-ambient-eastwest")
        body = inputs(gw)
        assert body["metadata"]["labels"] == {"topology.istio.io/network": f"{c}-network"}
        # `up` waits until istiod has programmed it, its Service with an address (as Helm's wait does
        # for the sidecar-mode gateway), or fails after the gateway timeout.
        assert body["metadata"]["annotations"] == {
            "pulumi.com/waitFor": "condition=Programmed",
            "pulumi.com/timeoutSeconds": "900",
        }
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
                "parametersRef": {"group": "", "kind": "ConfigMap", "name": "istio-ambient-eastwest-options"},
                # An explicit map, even empty: istiod copies the Gateway's own annotations (the two above)
                # onto its Service and pods only when the infrastructure names none.
                "annotations": {},
            },
        }
        crds = [r for r in ambient.by_type(CONFIG_FILE) if ambient.cluster_of(r) == c]
        assert len(crds) == 1
        assert crds[0].name in deps(gw), "the east-west Gateway waits for the Gateway API CRDs"
        assert f"{c}-istiod-1-30-3" in deps(gw)
        assert f"{c}-istio-ambient-eastwest-options" in deps(gw), "the parameters ConfigMap exists first"
        assert [k8s_name_of(r) for r in in_cluster(ambient, CONFIG_MAP, c)] == ["istio-ambient-eastwest-options"]


def test_ambient_eastwest_service_admits_only_the_peers(ambient: Plan) -> None:
    for c in clusters(ambient):
        r = one(ambient, CONFIG_MAP, c, "istio-ambient-eastwest-options")
        body = inputs(r)
        # parametersRef is resolved in the Gateway's own namespace.
        assert body["metadata"]["namespace"] == "istio-system"
        # istiod accepts only deployment/service/serviceAccount/
        # horizontalPodAutoscaler/podDisruptionBudget keys.
        assert sorted(body["data"]) == ["deployment", "horizontalPodAutoscaler", "podDisruptionBudget", "service"]
        overlay = yaml.safe_load(body["data"]["service"])
        peers = sorted(cidr for p in clusters(ambient) if p != c for cidr in egress(ambient, p))
        assert overlay == {"spec": {"loadBalancerSourceRanges": peers}}
        assert peers and egress(ambient, c)[0] not in peers
        assert r.provider_urn.endswith(f"::{c}-k8s")


def test_ambient_eastwest_on_eks_keeps_the_nlb_annotations(dev_ambient: Plan) -> None:
    for c in dev_ambient.spec.clusters:
        infra = inputs(one(dev_ambient, K8S_GATEWAY, c.name, "istio-ambient-eastwest"))["spec"]["infrastructure"]
        assert infra["parametersRef"] == {"group": "", "kind": "ConfigMap", "name": "istio-ambient-eastwest-options"}
        annotations = infra.get("annotations", {})
        if c.cloud == "aws":
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"].startswith("eipalloc-")
        else:
            assert annotations == {}
        overlay = yaml.safe_load(
            inputs(one(dev_ambient, CONFIG_MAP, c.name, "istio-ambient-eastwest-options"))["data"]["service"]
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
        assert istiod["env"] == {"AMBIENT_ENABLE_MULTI_NETWORK": "true", "AMBIENT_ENABLE_BAGGAGE": "true"}
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
        base = inputs(release(upgrade["bump"], c, "istio-base"))
        assert base["version"] == "1.31.0" and base["values"] == {"defaultRevision": "1-30-3"}
        # The tag still points at the running revision.
        hook = inputs(one(upgrade["bump"], WEBHOOK, c, "istio-revision-tag-default"))
        assert {w["clientConfig"]["service"]["name"] for w in hook["webhooks"]} == {"istiod-1-30-3"}
    changed = {u for u in start if start[u].inputs != bump[u].inputs}
    assert {bump[u].name for u in changed} == {guard_name(upgrade["bump"])} | {
        f"{c}-istio-base" for c in clusters(upgrade["bump"])
    }
    added = {bump[u].name for u in set(bump) - set(start)}
    assert added == {f"{c}-istiod-1-31-0" for c in clusters(upgrade["bump"])}


def test_moving_the_tag_changes_only_what_follows_the_stable_revision(upgrade: dict[str, Plan]) -> None:
    bump, move = by_urn(upgrade["bump"]), by_urn(upgrade["move"])
    assert set(bump) == set(move), "same URNs: nothing created, deleted or renamed"
    changed = {move[u].name: (bump[u], move[u]) for u in bump if bump[u].inputs != move[u].inputs}
    names = clusters(upgrade["move"])
    # And the switch guard, which records the stable revision (state only: no cloud call).
    assert set(changed) == {guard_name(upgrade["move"])} | {
        f"{c}-{x}"
        for c in names
        for x in (
            "istio-base",
            "istio-eastwestgateway",
            "istio-revision-tag-default",
            "istio-revision-tag-default-service",
        )
    }
    assert inputs(changed[guard_name(upgrade["move"])][1])["istioStable"] == "1.31.0"
    for c in names:
        # Neither istiod release changes: no tag moves between releases.
        for rev in ("1-30-3", "1-31-0"):
            r = release(upgrade["move"], c, f"istiod-{rev}")
            assert values(r)["revisionTags"] == [] and r.inputs == bump[r.urn].inputs
        assert values(changed[f"{c}-istio-base"][1]) == {"defaultRevision": "1-31-0"}
        gw_before, gw_after = changed[f"{c}-istio-eastwestgateway"]
        assert values(gw_after)["revision"] == "1-31-0" and inputs(gw_after)["version"] == "1.31.0"
        assert {**values(gw_after), "revision": "1-30-3"} == values(gw_before)


def test_tag_objects_move_in_place(upgrade: dict[str, Plan]) -> None:
    """Only the revision inside the tag objects changes: the same objects, updated."""
    bump, move = upgrade["bump"], upgrade["move"]
    for c in clusters(move):
        for type_, name in ((WEBHOOK, "istio-revision-tag-default"), (SERVICE, "istiod-revision-tag-default")):
            before, after = one(bump, type_, c, name), one(move, type_, c, name)
            assert before.urn == after.urn
            b, a = inputs(before), inputs(after)
            # Same name, namespace, annotations: an update, never a replacement.
            assert {k: v for k, v in b["metadata"].items() if k != "labels"} == {
                k: v for k, v in a["metadata"].items() if k != "labels"
            }
            assert b["metadata"]["labels"]["istio.io/rev"] == "1-30-3"
            assert a["metadata"]["labels"] == {**b["metadata"]["labels"], "istio.io/rev": "1-31-0"}
            text = yaml.safe_dump({k: v for k, v in b.items() if k != "metadata"})
            assert yaml.safe_load(text.replace("1-30-3", "1-31-0")) == {k: v for k, v in a.items() if k != "metadata"}
        hook = one(move, WEBHOOK, c, "istio-revision-tag-default")
        # istiod owns caBundle: never set, and its changes are ignored.
        assert all("caBundle" not in w["clientConfig"] for w in inputs(hook)["webhooks"])
        assert hook.ignore_changes == ["webhooks[*].clientConfig.caBundle"]
        # Adoption of tag objects an istiod release rendered before: kept by
        # Helm, taken over by Pulumi's server-side apply.
        adopt = {"helm.sh/resource-policy": "keep", "pulumi.com/patchForce": "true"}
        assert inputs(hook)["metadata"]["annotations"] == adopt
        svc = inputs(one(move, SERVICE, c, "istiod-revision-tag-default"))
        # The Service precedes istiod's pods on a first install: no wait for endpoints.
        assert svc["metadata"]["annotations"] == {**adopt, "pulumi.com/skipAwait": "true"}


def test_removing_the_old_revision_removes_only_it(upgrade: dict[str, Plan]) -> None:
    move, done = by_urn(upgrade["move"]), by_urn(upgrade["done"])
    assert {move[u].name for u in set(move) - set(done)} == {f"{c}-istiod-1-30-3" for c in clusters(upgrade["done"])}
    changed = {done[u].name for u in done if done[u].inputs != move[u].inputs}
    assert changed == {guard_name(upgrade["done"])}  # it records the installed versions
    assert inputs(upgrade["done"].get(GUARD_TYPE, guard_name(upgrade["done"])))["istioVersions"] == ["1.31.0"]


# --------------------------------------------------------------------------
# Manifests: upstream schemas and golden files


def _validate(plan: Plan, tmp: Path) -> None:
    # Cluster add-ons (autoscaler, LB controller) have no upstream defaults here.
    validate_plan_upstream(
        plan,
        tmp,
        lambda release: (
            f"istio/{CHART_DIR[release['chart']]}" if release["repository"] == plan.spec.mesh.repository else None
        ),
    )


@pytest.mark.parametrize("fixture", ["local", "ambient", "dev", "dev_ambient"])
def test_manifests_validate_upstream(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    _validate(request.getfixturevalue(fixture), tmp_path)


def test_golden_manifests(local: Plan) -> None:
    rendered = {
        rel: text
        for rel, text in manifests(local).items()
        if rel.split("/", 1)[1].startswith(
            (
                "helm/",
                "namespace-",
                "secret-",
                "gateway-",
                "configmap-istio-system-",
                "mutatingwebhookconfiguration-",
                "service-istio-system-",
            )
        )
    }
    # What the real chart renders for the east-west gateway release
    # (`<cluster>/rendered/<release>.yaml`), when the renderer is here.
    charts = charts_available()
    for r in istio_releases(local) if charts else []:
        if inputs(r)["chart"] == "gateway":
            text = yaml.safe_dump_all(render_release(inputs(r)), sort_keys=True)
            rendered[f"{local.cluster_of(r)}/rendered/{k8s_name_of(r)}.yaml"] = text
    assert_golden_dir(GOLDEN, rendered, keep=lambda rel: charts or "rendered" not in rel.parts)


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


def _cni_host_paths(plan: Plan, cluster: str) -> dict[str, str]:
    """hostPath volumes of the istio-cni node agent, as the real chart renders the plan's release."""
    (agent,) = [o for o in rendered(release(plan, cluster, "istio-cni")) if o["kind"] == "DaemonSet"]
    return {v["name"]: v["hostPath"]["path"] for v in agent["spec"]["template"]["spec"]["volumes"] if "hostPath" in v}


def test_existing_platform_moves_the_cni_paths_where_the_kubelet_reads_them() -> None:
    """k3s keeps its CNI config and plugins under /var/lib/rancher: an agent writing /etc/cni/net.d
    there captures nothing. The stack names the distribution; the chart's own profile picks the paths."""
    require_renderer()
    fleet = existing_fleet(2, mode="ambient")
    fleet["clusters"][0]["platform"] = "k3s"
    plan = plan_fleet(fleet)
    k3s, upstream = (c["name"] for c in fleet["clusters"])
    assert values(release(plan, k3s, "istio-cni"))["platform"] == "k3s"
    assert values(release(plan, k3s, "ztunnel"))["platform"] == "k3s"
    assert "platform" not in values(release(plan, upstream, "istio-cni"))
    paths = _cni_host_paths(plan, k3s)
    assert (paths["cni-net-dir"], paths["cni-bin-dir"]) == (
        "/var/lib/rancher/k3s/agent/etc/cni/net.d",
        "/var/lib/rancher/k3s/data/cni",
    )
    paths = _cni_host_paths(plan, upstream)
    assert (paths["cni-net-dir"], paths["cni-bin-dir"]) == ("/etc/cni/net.d", "/opt/cni/bin")
    # Day 2, naming the distribution of a deployed cluster: its two node agents update in place, nothing else.
    change = PlanChange(plan_fleet(existing_fleet(2, mode="ambient")), plan)
    assert (change.added, change.removed) == ([], set())
    assert change.changed(whole_records=True) == {
        (f"{k3s}-istio-cni", (".values.platform",)),
        (f"{k3s}-ztunnel", (".values.platform",)),
    }


def test_existing_platform_outside_the_charts_profiles_is_refused() -> None:
    defaults = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]["defaults"]["value"]
    fleet = existing_fleet(2, mode="ambient")
    fleet["clusters"][1]["platform"] = "openshift"
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults, fleet)
    (problem,) = err.value.problems
    assert problem.path == "clusters[1].platform"
    assert (
        "'openshift' is not allowed; allowed values: 'gke', 'k3d', 'k3s', 'microk8s' or 'minikube'" in problem.render()
    )
    assert problem.fix.startswith("use one of the allowed values, or leave platform out on kind, kubeadm")
    assert "OpenShift is not offered" in problem.fix


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


# --------------------------------------------------------------------------
# Day 2, judged on what the real 1.30.3 charts render (tests/charts.py)

TOKEN_TYPE = "kubernetes.io/service-account-token"
READINESS_GATE = {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}
#: Objects istiod generates for an `istio-east-west` Gateway, named after it
#: (HPA and PDB only when the parameters ConfigMap has their keys).
GENERATED_FOR_GATEWAY = {
    "deployment": "Deployment",
    "service": "Service",
    "serviceAccount": "ServiceAccount",
    "horizontalPodAutoscaler": "HorizontalPodAutoscaler",
    "podDisruptionBudget": "PodDisruptionBudget",
}


def istio_releases(plan: Plan) -> list[Recorded]:
    return [r for r in plan.by_type(RELEASE) if inputs(r)["repositoryOpts"]["repo"] == REPO]


def rendered(r: Recorded) -> list[dict[str, Any]]:
    return render_release(inputs(r))


def key_of(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace", ""), meta["name"])


def managed_objects(plan: Plan, r: Recorded) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of every object resource `r` puts in its cluster."""
    if not r.type.startswith("kubernetes:") or r.type.startswith("pulumi:providers:"):
        return []  # cloud resources
    if r.type == RELEASE:
        # Cluster add-ons (autoscaler, LB controller) are not vendored and not Istio's.
        return [key_of(o) for o in rendered(r)] if inputs(r)["repositoryOpts"]["repo"] == REPO else []
    if r.type == CONFIG_FILE:
        return []  # the Gateway API CRDs, shared by both modes
    body = inputs(r)
    keys = [(r.type.rsplit(":", 1)[-1], body["metadata"].get("namespace", ""), body["metadata"]["name"])]
    if r.type == K8S_GATEWAY and body["spec"]["gatewayClassName"] == "istio-east-west":
        ns, gw = body["metadata"]["namespace"], body["metadata"]["name"]
        ref = body["spec"]["infrastructure"]["parametersRef"]["name"]
        options = inputs(one(plan, CONFIG_MAP, plan.cluster_of(r), ref))["data"]
        keys += [(kind, ns, gw) for key, kind in GENERATED_FOR_GATEWAY.items() if key in options or key == "deployment"]
        keys += [("Service", ns, gw), ("ServiceAccount", ns, gw)]
    return keys


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


@pytest.fixture(scope="module")
def canary() -> Plan:
    """Two revisions side by side, the tag on the older one."""
    return plan_fleet(existing_fleet(2, version="1.31.0", revisions=["1.30.3", "1.31.0"], stableRevision="1.30.3"))


@pytest.mark.parametrize("fixture", ["local", "dev", "dev_ambient", "ambient", "canary"])
def test_rendered_releases_hold_no_tag_and_istiod_survives_drains(fixture: str, request: pytest.FixtureRequest) -> None:
    require_renderer()
    plan: Plan = request.getfixturevalue(fixture)
    for c in clusters(plan):
        tags = []
        for r in [x for x in istio_releases(plan) if plan.cluster_of(x) == c]:
            objs = rendered(r)
            tags += [key_of(o) for o in objs if "revision-tag" in o["metadata"]["name"]]
            if inputs(r)["chart"] != "istiod":
                continue
            rev = values(r)["revision"]
            (hpa,) = by_kind(objs, "HorizontalPodAutoscaler")
            assert hpa["spec"]["minReplicas"] >= 2, r.urn
            (pdb,) = by_kind(objs, "PodDisruptionBudget")
            assert pdb["spec"]["minAvailable"] == 1
            (deployment,) = by_kind(objs, "Deployment")
            pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
            spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
            assert spread[0]["topologyKey"] == "topology.kubernetes.io/zone"
            assert all(t["labelSelector"]["matchLabels"].items() <= pod_labels.items() for t in spread)
            assert pod_labels["istio.io/rev"] == rev
            # The bundle digest lands on istiod's pods, so a new bundle rolls them.
            pod_annotations = deployment["spec"]["template"]["metadata"]["annotations"]
            assert (
                pod_annotations["meshfleet.io/trust-bundle-sha256"]
                == values(r)["podAnnotations"]["meshfleet.io/trust-bundle-sha256"]
            )
        assert tags == [], f"{c}: an istiod release renders tag objects {tags}"
        # Exactly one tag, as Pulumi objects.
        assert len(in_cluster(plan, WEBHOOK, c)) == 1 and len(in_cluster(plan, SERVICE, c)) == 1


def test_tag_objects_are_what_the_chart_renders(canary: Plan) -> None:
    """Built like the istiod chart's revision-tags-* templates, minus Helm's labels, plus keep/patchForce."""
    require_renderer()
    for c in clusters(canary):
        stable = release(canary, c, "istiod-1-30-3")
        body = copy.deepcopy(inputs(stable))
        body["values"]["revisionTags"] = ["default"]
        chart = {key_of(o): o for o in render_release(body)}
        chart_hook = chart[("MutatingWebhookConfiguration", "", "istio-revision-tag-default")]
        chart_svc = chart[("Service", "istio-system", "istiod-revision-tag-default")]
        hook = inputs(one(canary, WEBHOOK, c, "istio-revision-tag-default"))
        svc = inputs(one(canary, SERVICE, c, "istiod-revision-tag-default"))
        assert hook["webhooks"] == chart_hook["webhooks"]
        assert svc["spec"] == chart_svc["spec"]
        assert svc["metadata"]["namespace"] == chart_svc["metadata"]["namespace"]
        for ours, theirs in ((hook, chart_hook), (svc, chart_svc)):
            labels = ours["metadata"]["labels"]
            assert labels.items() <= theirs["metadata"]["labels"].items()
            assert labels["istio.io/tag"] == "default" and labels["istio.io/rev"] == "1-30-3"


@pytest.mark.parametrize("mode", ["sidecar", "ambient"])
def test_dev_tag_move_updates_in_place(mode: str) -> None:
    """Acceptance: move the stable tag between two installed revisions on dev."""
    plans = {}
    for stable in ("1.30.3", "1.31.0"):
        fleet = fleet_of("dev")
        fleet["mesh"].update(mode=mode, version="1.31.0", revisions=["1.30.3", "1.31.0"], stableRevision=stable)
        plans[stable] = plan_fleet(fleet, stack="dev")
    before, after = by_urn(plans["1.30.3"]), by_urn(plans["1.31.0"])
    assert set(before) == set(after), "same URNs: nothing created or deleted"
    changed = {u for u in before if before[u].inputs != after[u].inputs}
    follow = ("istio-base", "istio-revision-tag-default", "istio-revision-tag-default-service")
    follow += ("istio-eastwestgateway",) if mode == "sidecar" else ("ztunnel", "istio-cni")
    assert {after[u].name for u in changed} == {guard_name(plans["1.31.0"])} | {
        f"{c}-{x}" for c in clusters(plans["1.31.0"]) for x in follow
    }
    changed = {u for u in changed if after[u].type != GUARD_TYPE}
    for u in changed:
        b, a = before[u], after[u]
        # Same Kubernetes identity: updated in place, never replaced.
        assert k8s_name_of(b) == k8s_name_of(a)
        assert inputs(b).get("metadata", {}).get("namespace") == inputs(a).get("metadata", {}).get("namespace")
        assert (b.parent, b.provider, b.protect) == (a.parent, a.provider, a.protect)
        if b.type == RELEASE and a.name.endswith("istio-base"):
            assert values(a) == {"defaultRevision": "1-31-0"}
        elif b.type == RELEASE:
            assert (values(b)["revision"], values(a)["revision"]) == ("1-30-3", "1-31-0")


def test_sidecar_to_ambient_switch_shares_no_object(dev: Plan, dev_ambient: Plan) -> None:
    """Acceptance: the two modes' own objects never share a kind/namespace/name in any cluster."""
    require_renderer()
    side, amb = by_urn(dev), by_urn(dev_ambient)
    for c in clusters(dev):
        sidecar_only = {
            k for u in set(side) - set(amb) if dev.cluster_of(side[u]) == c for k in managed_objects(dev, side[u])
        }
        ambient_only = {
            k
            for u in set(amb) - set(side)
            if dev_ambient.cluster_of(amb[u]) == c
            for k in managed_objects(dev_ambient, amb[u])
        }
        assert ("Deployment", "istio-system", "istio-eastwestgateway") in sidecar_only
        assert ("Deployment", "istio-system", "istio-ambient-eastwest") in ambient_only
        assert sidecar_only & ambient_only == set(), c
        # Nor does the new mode create anything the old mode's shared releases render.
        everything_sidecar = {k for r in side.values() if dev.cluster_of(r) == c for k in managed_objects(dev, r)}
        assert ambient_only & everything_sidecar == set(), c


def test_trust_domain_change_keeps_the_former_domain_as_an_alias() -> None:
    """istiod expands principals to the aliases, so callers holding old-domain certificates stay authorized."""
    require_renderer()
    fleet = fleet_of("local")
    fleet["mesh"] = {**fleet["mesh"], "trustDomain": "acme.example", "trustDomainAliases": ["cluster.local"]}
    plan = plan_fleet(fleet, stack="local")
    for c in clusters(plan):
        r = release(plan, c, "istiod-1-30-3")
        assert values(r)["meshConfig"] == {"trustDomain": "acme.example", "trustDomainAliases": ["cluster.local"]}
        [mesh_config] = [o for o in rendered(r) if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "istio-1-30-3"]
        mesh = yaml.safe_load(mesh_config["data"]["mesh"])
        assert (mesh["trustDomain"], mesh["trustDomainAliases"]) == ("acme.example", ["cluster.local"])


def _gateway_pods_outlive_the_drain(pod_spec: dict[str, Any], container: dict[str, Any], drain: int) -> None:
    prestop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert prestop > drain
    assert pod_spec["terminationGracePeriodSeconds"] > prestop


def test_rendered_sidecar_eastwest_gateways_on_every_cloud(dev: Plan) -> None:
    require_renderer()
    for c in dev.spec.clusters:
        objs = rendered(release(dev, c.name, "istio-eastwestgateway"))
        (deployment,) = by_kind(objs, "Deployment")
        pod = deployment["spec"]["template"]
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        (hpa,) = by_kind(objs, "HorizontalPodAutoscaler")
        assert hpa["spec"]["minReplicas"] >= 2
        assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        (pdb,) = by_kind(objs, "PodDisruptionBudget")
        assert pdb["spec"]["minAvailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        zones = [
            t for t in pod["spec"]["topologySpreadConstraints"] if t["topologyKey"] == "topology.kubernetes.io/zone"
        ]
        assert zones and zones[0]["labelSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        (proxy,) = pod["spec"]["containers"]
        drain = 60 if c.cloud == "aws" else 0
        _gateway_pods_outlive_the_drain(pod["spec"], proxy, drain)
        (svc,) = by_kind(objs, "Service")
        assert [(p["name"], p["port"]) for p in svc["spec"]["ports"]] == [("status-port", 15021), ("tls", 15443)]
        peers = sorted(cidr for p in dev.spec.clusters if p.name != c.name for cidr in egress_of(dev, p.name))
        assert sorted(svc["spec"]["loadBalancerSourceRanges"]) == peers
        assert svc["metadata"]["labels"]["topology.istio.io/network"] == f"{c.name}-network"
        # The internet-facing gateway's account may read nothing in istio-system (cacerts, remote secrets).
        assert by_kind(objs, "Role") == [] and by_kind(objs, "RoleBinding") == []
        assert {o["kind"] for o in objs} == {
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
        }
        ns = inputs(one(dev, NS, c.name, "istio-system"))["metadata"]["labels"]
        if c.cloud == "aws":
            assert ns.items() >= READINESS_GATE.items()
            assert svc["metadata"]["annotations"][
                "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
            ] == ("deregistration_delay.timeout_seconds=60")
        else:
            assert ns == {"topology.istio.io/network": f"{c.name}-network"}


def test_ambient_eastwest_gateways_on_every_cloud(dev_ambient: Plan) -> None:
    for c in dev_ambient.spec.clusters:
        data = inputs(one(dev_ambient, CONFIG_MAP, c.name, "istio-ambient-eastwest-options"))["data"]
        hpa = yaml.safe_load(data["horizontalPodAutoscaler"])
        assert hpa["spec"]["minReplicas"] >= 2
        assert yaml.safe_load(data["podDisruptionBudget"])["spec"]["minAvailable"] == 1
        pod = yaml.safe_load(data["deployment"])["spec"]["template"]["spec"]
        (proxy,) = pod["containers"]
        assert proxy["name"] == "istio-proxy"  # merged by name into istiod's container
        _gateway_pods_outlive_the_drain(pod, proxy, 60 if c.cloud == "aws" else 0)
        assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == {
            "gateway.networking.k8s.io/gateway-name": "istio-ambient-eastwest"
        }
        ns = inputs(one(dev_ambient, NS, c.name, "istio-system"))["metadata"]["labels"]
        assert (ns.items() >= READINESS_GATE.items()) == (c.cloud == "aws")


def egress_of(plan: Plan, name: str) -> list[str]:
    """A cluster's egress CIDRs as the stack outputs report them (simulated cloud addresses)."""
    return [str(x) for x in plan.outputs[name]["egressCidrs"]]


def test_rendered_objects_validate_upstream(canary: Plan, tmp_path: Path) -> None:
    """Rendered objects against the upstream schemas (only CRD-backed kinds have one).

    The 1.30.3 charts render only core kinds for these values (none has an
    upstream schema: the validator counts them unchecked), so this guards
    against a value that makes a chart render a custom resource; the
    plan's own custom resources are validated by test_manifests_validate_upstream.
    One fixture: validating is the slow part, and every chart is in it.
    """
    require_renderer()
    plan = canary
    files = []
    for r in istio_releases(plan):
        path = tmp_path / f"{plan.cluster_of(r)}-{k8s_name_of(r)}.yaml"
        path.write_text(yaml.safe_dump_all(rendered(r), sort_keys=True))
        files.append(str(path))
    _, invalid, _ = validate_objects(files)
    assert invalid == 0


@pytest.fixture(scope="module")
def rotation() -> dict[int, Plan]:
    return {g: plan_fleet(existing_fleet(3, peerCredentialGeneration=g)) for g in (1, 2)}


def test_peer_credential_rotation_replaces_only_tokens(rotation: dict[int, Plan]) -> None:
    """Acceptance: from two plans, a rotation replaces only token Secrets and updates only remote secrets."""
    old, new = by_urn(rotation[1]), by_urn(rotation[2])
    assert set(old) == set(new), "same URNs: tokens are replaced under their URN (create before delete)"
    changed = {u for u in old if old[u].inputs != new[u].inputs}
    names = clusters(rotation[2])
    pairs = [(a, b) for a in names for b in names if a != b]
    assert {new[u].name for u in changed} == {
        f"{a}-reads-{b}-{x}" for a, b in pairs for x in ("reader-token", "remote-secret")
    }
    for u in changed:
        b, a = inputs(old[u]), inputs(new[u])
        if a.get("type") == TOKEN_TYPE:
            # A new name: the provider replaces the Secret, creating the new one first.
            assert b["metadata"]["name"] + "-g2" == a["metadata"]["name"]
            assert {**b, "metadata": {**b["metadata"], "name": a["metadata"]["name"]}} == a
            assert new[u].dependencies == old[u].dependencies
        else:
            # Same object, new kubeconfig: an update in place.
            assert a["metadata"] == b["metadata"]
            assert a["stringData"] != b["stringData"]
    for a, b in pairs:
        token = one(rotation[2], SECRET, b, f"istio-reader-token-{a}-g2")
        kubeconfig = yaml.safe_load(inputs(one(rotation[2], SECRET, a, f"istio-remote-secret-{b}"))["stringData"][b])
        jwt = kubeconfig["users"][0]["user"]["token"]
        claims = yaml.safe_load(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
        assert claims["kubernetes.io/serviceaccount/secret.name"] == f"istio-reader-token-{a}-g2"
        # The remote secret's data comes from the new token: Pulumi updates it
        # only after the new token exists, and deletes the old one last.
        assert token.urn in one(rotation[2], SECRET, a, f"istio-remote-secret-{b}").dependencies


def test_objects_without_pods_wait_for_the_api_and_workloads_for_the_nodes(dev: Plan) -> None:
    """istio-base (CRDs, a service account), the namespace and cacerts go in while the nodes come up."""
    guard = "acme-dev-mesh-switch"
    nodes = {
        "aws-use1": [("aws:eks/nodeGroup:NodeGroup", f"aws-use1-nodes-system-us-east-1{z}") for z in "abc"],
        "gcp-euw1": [("gcp:container/nodePool:NodePool", "gcp-euw1-pool-general")],
        "azure-weu": [("azure-native:containerservice:AgentPool", "azure-weu-pool-workload")],
    }
    for c, named in nodes.items():
        pools = {dev.get(node_type, node_name).urn for node_type, node_name in named}
        base, istiod = release(dev, c, "istio-base"), release(dev, c, "istiod-1-30-3")
        namespace = dev.get("kubernetes:core/v1:Namespace", f"{c}-istio-namespace")
        cacerts = one(dev, SECRET, c, "cacerts")
        for early in (base, namespace, cacerts):
            assert not pools & set(early.dependencies), early.urn
            assert guard in deps(early)  # still after the mesh-switch check
            assert early.provider_urn == base.provider_urn  # and after the deployer's access, through the provider
        assert pools <= set(istiod.dependencies)
        assert f"{c}-istio-base" in deps(istiod)
    lb_controller = dev.get("kubernetes:helm.sh/v3:Release", "aws-use1-lb-controller").urn
    assert lb_controller not in release(dev, "aws-use1", "istio-base").dependencies
    assert lb_controller in release(dev, "aws-use1", "istiod-1-30-3").dependencies


def test_a_stable_revision_must_be_installed_before_the_tag_moves_to_it(upgrade: dict[str, Plan]) -> None:
    """The switch guard keeps the installed versions: a plain version bump (or a rollback past the canary's
    first step) would point the injection webhook (failurePolicy Fail), gateways and ztunnel at an istiod that
    comes up only later in the update. The canary's steps pass; the shortcut is refused, offline and in up."""
    from components.config import ConfigError
    from components.mesh.switch import _GuardProvider, check_previous, guard_inputs

    def step(before: str, after: str) -> None:
        check_previous(upgrade[before].to_json(show_secrets=False), upgrade[after].spec)

    for before, after in (("start", "bump"), ("bump", "move"), ("move", "done"), ("done", "done")):
        step(before, after)
    for before, after in (("start", "done"), ("done", "start")):
        with pytest.raises(ConfigError) as err:
            step(before, after)
        [problem] = err.value.problems
        assert problem.path == "mesh.stableRevision"
    # The message and fix of the plain bump, as `meshfleet plan --previous` and the guard print them.
    with pytest.raises(ConfigError) as err:
        step("start", "done")
    [problem] = err.value.problems
    assert problem.message == (
        "mesh.stableRevision 1.31.0 is not installed yet (installed: 1.30.3): the revision tag, the gateways and "
        "ztunnel would follow it at once, and pod creation in injected namespaces fails (the injection webhook's "
        "failurePolicy is Fail) until istiod 1.31.0 comes up later in the update"
    )
    assert problem.fix == (
        "install 1.31.0 beside the running revision first (mesh.revisions: [1.30.3, 1.31.0], "
        "mesh.stableRevision: 1.30.3), then move mesh.stableRevision to 1.31.0 in the next update "
        "(docs/istio.md, 'Canary upgrade')"
    )
    # Inside preview and up: the engine hands the guard's check the last successful deploy's inputs.
    provider = _GuardProvider()
    start, done = guard_inputs(upgrade["start"].spec), guard_inputs(upgrade["done"].spec)
    [failure] = provider.check(start, done).failures
    assert failure.property == "istioStable" and failure.reason.startswith("mesh.stableRevision 1.31.0 is not")
    assert provider.check({}, done).failures == []  # nothing recorded yet (a first deploy)
    assert provider.check({"kind": "istio"}, done).failures == []  # a guard from before it kept revisions
    # Switching from another mesh installs a fresh Istio: nothing to keep running.
    assert provider.check({"kind": "linkerd", "istioVersions": None}, {**done, "migrateFrom": "linkerd"}).failures == []


def test_with_revisions_side_by_side_the_tag_waits_for_the_stable_istiod(upgrade: dict[str, Plan]) -> None:
    """Injection fails closed: moving the tag to the new revision waits for its istiod, even when the update
    that added that revision failed and this one installs it. With one revision the istiods wait for the
    tag instead (adopting tag objects an older istiod release rendered, before its upgrade drops them)."""
    tag_names = ("istio-revision-tag-default", "istio-revision-tag-default-service")
    for step, stable in (("bump", "1-30-3"), ("move", "1-31-0")):
        plan = upgrade[step]
        for c in clusters(plan):
            tag = [plan.get(t, f"{c}-{n}") for t, n in zip((WEBHOOK, SERVICE), tag_names, strict=True)]
            for obj in tag:
                assert f"{c}-istiod-{stable}" in deps(obj), (step, obj.name)
            for rev in ("1-30-3", "1-31-0"):
                assert not {f"{c}-{n}" for n in tag_names} & deps(release(plan, c, f"istiod-{rev}")), (step, rev)
    for step in ("start", "done"):
        plan = upgrade[step]
        for c in clusters(plan):
            [rev] = [r.name.removeprefix(f"{c}-istiod-") for r in plan.resources if r.name.startswith(f"{c}-istiod-")]
            assert {f"{c}-{n}" for n in tag_names} <= deps(release(plan, c, f"istiod-{rev}")), step
