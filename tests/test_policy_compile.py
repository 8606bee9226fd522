"""The compilers: every rule kind on Istio sidecar, Istio ambient, Linkerd and Consul.

The reference set is policies/mesh/storefront/v1.yaml plus the baseline
(15 rules, every kind). Objects are checked against the upstream CRD schemas
(../shared/tools/k8s_validate.py) and against golden files per target
(tests/golden/policy/<target>/; UPDATE_GOLDEN=1 to accept a change).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.policy import COMPILERS
from components.policy.capabilities import PolicyError, refusals
from components.policy.compiled import RULES_ANNOTATION, Compiled
from components.policy.model import TARGETS, PolicyRule, PolicySet, Target, TargetName
from tests.helpers import ROOT, validate_objects

GOLDEN = ROOT / "tests" / "golden" / "policy"
SETS = ROOT / "policies" / "mesh"


def reference_rules() -> dict[str, PolicyRule]:
    rules: dict[str, PolicyRule] = {}
    for path in (SETS / "baseline" / "v1.yaml", SETS / "storefront" / "v1.yaml"):
        rules.update(PolicySet.model_validate(yaml.safe_load(path.read_text())).rules)
    return rules


def target(name: TargetName) -> Target:
    return Target(name=name, cluster="east", peers=("west", "north"), trust_domain="cluster.local")


def compile_for(name: TargetName, rules: dict[str, PolicyRule]) -> Compiled:
    return COMPILERS[name.split("-")[0]](rules, target(name))


#: What the matrix refuses of the reference set, worked out by hand from the README table.
EXPECTED_REFUSALS: dict[TargetName, set[tuple[str, str]]] = {
    "istio-sidecar": set(),
    "istio-ambient": set(),
    "linkerd": {
        ("frontend-from-ingress", "authorization.all-ports"),
        ("frontend-from-ingress", "authorization.remote-identity"),
        ("payments-from-checkout", "authorization.all-ports"),
        ("payments-traffic", "traffic.connection-limits"),
        ("payments-traffic", "traffic.locality-failover"),
    },
    "consul": {
        ("legacy-onboarding", "mtls.permissive"),
        ("payments-mtls", "mtls.namespace-strict"),
        ("storefront-deny", "default-deny"),
        ("cart-from-frontend", "authorization.ports"),
        ("catalog-readers", "authorization.ports"),
        ("cart-traffic", "traffic.per-try-timeout"),
    },
}


def allowed(name: TargetName) -> dict[str, PolicyRule]:
    refused = {rule for rule, _ in EXPECTED_REFUSALS[name]}
    return {k: v for k, v in reference_rules().items() if k not in refused}


def test_reference_set_has_twelve_rules_of_every_kind():
    rules = reference_rules()
    assert len(rules) >= 12
    assert {r.kind for r in rules.values()} == {"mtls", "default-deny", "authorization", "traffic", "visibility"}


@pytest.mark.parametrize("name", TARGETS)
def test_refusals_of_the_reference_set(name: TargetName):
    found = {(r.rule, r.feature) for r in refusals(reference_rules(), target(name))}
    assert found == EXPECTED_REFUSALS[name]
    if found:
        with pytest.raises(PolicyError) as err:
            compile_for(name, reference_rules())
        assert {(r.rule, r.feature) for r in err.value.refusals} == found


@pytest.mark.parametrize("name", TARGETS)
def test_every_allowed_rule_becomes_an_object_or_an_installer_value(name: TargetName):
    rules = allowed(name)
    out = compile_for(name, rules)
    assert out.rules_of_objects() | out.value_rules == set(rules)
    for body in out.objects():
        assert set(body["metadata"]["annotations"][RULES_ANNOTATION].split(",")) <= set(rules)


@pytest.mark.parametrize("name", TARGETS)
def test_compiling_is_deterministic(name: TargetName):
    rules = allowed(name)
    first, second = compile_for(name, rules), compile_for(name, dict(reversed(list(rules.items()))))
    assert yaml.safe_dump(first.objects()) == yaml.safe_dump(second.objects())
    assert first.values == second.values


def _files(out: Compiled) -> dict[str, str]:
    files = {}
    for body in out.objects():
        meta = body["metadata"]
        files[f"{body['kind'].lower()}-{meta.get('namespace', '_cluster')}-{meta['name']}.yaml"] = yaml.safe_dump(
            body, sort_keys=True
        )
    files["installer-values.yaml"] = yaml.safe_dump(out.values, sort_keys=True)
    return files


@pytest.mark.parametrize("name", TARGETS)
def test_objects_validate_against_upstream_crds(name: TargetName, tmp_path: Path):
    out = compile_for(name, allowed(name))
    paths = []
    for rel, text in _files(out).items():
        if rel != "installer-values.yaml":
            (tmp_path / rel).write_text(text)
            paths.append(str(tmp_path / rel))
    valid, invalid, unchecked = validate_objects(paths)
    assert invalid == 0
    # Only the core Namespace/Service patches are outside every CRD.
    patches = [b for b in out.objects() if b["apiVersion"] == "v1"]
    assert unchecked == len(patches)
    assert valid == len(out.objects()) - len(patches)


@pytest.mark.parametrize("name", TARGETS)
def test_golden_objects(name: TargetName):
    rendered = _files(compile_for(name, allowed(name)))
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.mkdir(parents=True, exist_ok=True)
        for old in golden.glob("*.yaml"):
            old.unlink()
        for rel, text in rendered.items():
            (golden / rel).write_text(text)
    stored = {p.name: p.read_text() for p in sorted(golden.glob("*.yaml"))}
    assert sorted(stored) == sorted(rendered), "UPDATE_GOLDEN=1 to accept"
    for rel, text in rendered.items():
        assert stored[rel] == text, f"{name}/{rel} differs (UPDATE_GOLDEN=1 to accept)"


# --------------------------------------------------------------------------
# Key inputs per mesh (beyond the golden files: what each object must say)


def _by(out: Compiled, kind: str, ns: str, name: str) -> dict[str, Any]:
    return next(
        b
        for b in out.objects()
        if b["kind"] == kind and b["metadata"].get("namespace", "") == ns and b["metadata"]["name"] == name
    )


def test_istio_sidecar_key_objects():
    out = compile_for("istio-sidecar", allowed("istio-sidecar"))
    assert _by(out, "PeerAuthentication", "istio-system", "mesh-mtls")["spec"] == {"mtls": {"mode": "STRICT"}}
    assert _by(out, "PeerAuthentication", "legacy", "legacy-onboarding")["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    assert _by(out, "AuthorizationPolicy", "shop", "storefront-deny")["spec"] == {}
    cart = _by(out, "AuthorizationPolicy", "shop", "cart-from-frontend")["spec"]
    assert cart["selector"] == {"matchLabels": {"app": "cart"}}
    assert cart["rules"] == [
        {
            "from": [{"source": {"principals": ["cluster.local/ns/shop/sa/frontend"]}}],
            "to": [{"operation": {"ports": ["8080"], "methods": ["GET", "POST"], "paths": ["/cart/*"]}}],
        }
    ]
    dr = _by(out, "DestinationRule", "payments", "payments-traffic")["spec"]["trafficPolicy"]
    assert dr["outlierDetection"]["consecutive5xxErrors"] == 5
    assert dr["loadBalancer"] == {"localityLbSetting": {"enabled": True}}
    vs = _by(out, "VirtualService", "shop", "cart-traffic")["spec"]
    assert vs["http"][0]["timeout"] == "2s"
    assert vs["http"][0]["retries"] == {"attempts": 3, "retryOn": "5xx", "perTryTimeout": "500ms"}
    assert out.values == {
        "meshConfig": {
            "serviceSettings": [
                {
                    "settings": {"clusterLocal": False},
                    "hosts": sorted(["catalog.shop.svc.cluster.local", "payments.payments.svc.cluster.local"]),
                },
                {"settings": {"clusterLocal": True}, "hosts": ["cart.shop.svc.cluster.local"]},
            ]
        }
    }
    assert not [b for b in out.objects() if b["kind"] == "Gateway"]


def test_istio_ambient_binds_l7_to_waypoints():
    out = compile_for("istio-ambient", allowed("istio-ambient"))
    gateways = sorted(
        (b["metadata"]["namespace"], b["metadata"]["name"]) for b in out.objects() if b["kind"] == "Gateway"
    )
    assert gateways == [("payments", "waypoint"), ("shop", "waypoint")]
    wp = _by(out, "Gateway", "shop", "waypoint")
    assert wp["spec"]["gatewayClassName"] == "istio-waypoint"
    assert wp["spec"]["listeners"] == [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]
    cart = _by(out, "AuthorizationPolicy", "shop", "cart-from-frontend")["spec"]
    assert cart["targetRefs"] == [{"group": "", "kind": "Service", "name": "cart"}] and "selector" not in cart
    # L4 only and no waypoint: ztunnel enforces it through the selector.
    frontend = _by(out, "AuthorizationPolicy", "shop", "frontend-from-ingress")["spec"]
    assert frontend["selector"] == {"matchLabels": {"app": "frontend"}}
    # A default-deny namespace with a waypoint: ztunnel admits the waypoint to the pods of the services
    # that use it, and nothing else; the waypoint itself allows nothing but what a Service-bound rule allows.
    waypoint = ["cluster.local/ns/shop/sa/waypoint"]
    for svc in ("cart", "catalog", "checkout"):
        through = _by(out, "AuthorizationPolicy", "shop", f"storefront-deny-waypoint-{svc}")["spec"]
        assert through == {
            "action": "ALLOW",
            "selector": {"matchLabels": {"app": svc}},
            "rules": [{"from": [{"source": {"principals": waypoint}}]}],
        }
    assert not [
        b
        for b in out.objects()
        if b["kind"] == "AuthorizationPolicy" and b["metadata"]["name"].endswith("waypoint-frontend")
    ]
    at_waypoint = _by(out, "AuthorizationPolicy", "shop", "storefront-deny-at-waypoint")["spec"]
    assert at_waypoint == {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "waypoint"}]
    }
    # checkout has a traffic rule (so a waypoint) and no authorization rule: nothing binds an ALLOW to it,
    # so the waypoint's allow-nothing denies every caller, as a sidecar in the default-deny namespace would.
    assert not [
        b
        for b in out.objects()
        if b["kind"] == "AuthorizationPolicy"
        and {"group": "", "kind": "Service", "name": "checkout"} in b["spec"].get("targetRefs", [])
    ]
    # Global services are the labelled ones.
    assert _by(out, "Service", "shop", "catalog")["metadata"]["labels"] == {"istio.io/global": "true"}


@pytest.mark.parametrize(("ejection", "max_penalty"), [("30s", None), ("1m", None), ("2m", "2m"), ("1h", "1h")])
def test_linkerd_failure_accrual_keeps_its_maximum_penalty_above_the_minimum(ejection: str, max_penalty: str | None):
    """Linkerd drops failure accrual (a log warning) when the minimum penalty exceeds the maximum, 60 s by default."""
    rules = {k: v for k, v in allowed("linkerd").items()}
    catalog = rules["catalog-traffic"]
    breaker = catalog.circuit_breaker.model_copy(update={"base_ejection_time": ejection})  # type: ignore[union-attr]
    rules["catalog-traffic"] = catalog.model_copy(update={"circuit_breaker": breaker})
    annotations = _by(compile_for("linkerd", rules), "Service", "shop", "catalog")["metadata"]["annotations"]
    assert annotations["balancer.linkerd.io/failure-accrual-consecutive-min-penalty"] == ejection
    assert annotations.get("balancer.linkerd.io/failure-accrual-consecutive-max-penalty") == max_penalty


@pytest.mark.parametrize(
    ("modes", "labels"),
    [
        (("gateway",), {"mirror.linkerd.io/exported": "true"}),
        (("gateway", "federated"), {"mirror.linkerd.io/exported": "true", "mirror.linkerd.io/federated": "member"}),
        (
            ("remote-discovery", "federated"),
            {"mirror.linkerd.io/exported": "remote-discovery", "mirror.linkerd.io/federated": "member"},
        ),
        (("remote-discovery",), {"mirror.linkerd.io/exported": "remote-discovery"}),
        (("federated",), {"mirror.linkerd.io/federated": "member"}),
    ],
)
def test_linkerd_global_service_carries_the_label_its_peers_links_select(
    modes: tuple[str, ...], labels: dict[str, str]
) -> None:
    """A Link selects gateway-exported, remote-discovery or federated services by these labels (mesh/linkerd.py)."""
    rules = {k: v for k, v in allowed("linkerd").items() if not k.startswith("frontend-from")}
    linkerd_target = Target(
        name="linkerd", cluster="east", peers=("west",), linkerd_gateway="gateway" in modes, linkerd_export_modes=modes
    )
    out = COMPILERS["linkerd"](rules, linkerd_target)
    assert _by(out, "Service", "shop", "catalog")["metadata"]["labels"] == labels
    assert _by(out, "Service", "shop", "cart")["metadata"]["labels"] == {"mirror.linkerd.io/exported": "false"}


def test_linkerd_key_objects():
    out = compile_for("linkerd", allowed("linkerd"))
    assert out.values == {"proxy": {"defaultInboundPolicy": "all-authenticated"}}
    shop = _by(out, "Namespace", "", "shop")["metadata"]["annotations"]
    assert shop["config.linkerd.io/default-inbound-policy"] == "deny"
    legacy = _by(out, "Namespace", "", "legacy")["metadata"]["annotations"]
    assert legacy["config.linkerd.io/default-inbound-policy"] == "all-unauthenticated"
    assert _by(out, "Server", "shop", "cart-8080")["spec"] == {
        "podSelector": {"matchLabels": {"app": "cart"}},
        "port": 8080,
    }
    route = _by(out, "HTTPRoute", "shop", "cart-from-frontend-0-8080")
    assert route["apiVersion"] == "policy.linkerd.io/v1beta3"
    assert {"path": {"type": "PathPrefix", "value": "/cart/"}, "method": "POST"} in route["spec"]["rules"][0]["matches"]
    ids = _by(out, "MeshTLSAuthentication", "shop", "cart-from-frontend-0")["spec"]["identities"]
    # remoteCallers: gateway authorizes the multicluster gateway explicitly.
    assert ids == [
        "frontend.shop.serviceaccount.identity.linkerd.cluster.local",
        "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
    ]
    ap = _by(out, "AuthorizationPolicy", "shop", "catalog-readers-0-8080")["spec"]
    assert ap["targetRef"] == {"group": "policy.linkerd.io", "kind": "Server", "name": "catalog-8080"}
    timeout = _by(out, "HTTPRoute", "shop", "cart-traffic")["metadata"]["annotations"]
    assert timeout["timeout.linkerd.io/request"] == "2s"
    assert timeout["retry.linkerd.io/limit"] == "3" and timeout["retry.linkerd.io/timeout"] == "500ms"
    catalog = _by(out, "Service", "shop", "catalog")["metadata"]
    assert catalog["annotations"]["balancer.linkerd.io/failure-accrual-consecutive-max-failures"] == "3"
    assert catalog["labels"] == {"mirror.linkerd.io/exported": "true"}
    assert _by(out, "Service", "shop", "cart")["metadata"]["labels"] == {"mirror.linkerd.io/exported": "false"}


def test_consul_key_objects():
    out = compile_for("consul", allowed("consul"))
    assert _by(out, "ProxyDefaults", "consul", "global")["spec"] == {"mutualTLSMode": "strict"}
    exported = [b for b in out.objects() if b["kind"] == "ExportedServices"]
    assert len(exported) == 1 and exported[0]["metadata"]["name"] == "default"
    assert exported[0]["spec"]["services"] == [
        {"name": "catalog", "consumers": [{"peer": "west"}, {"peer": "north"}]},
        {"name": "payments", "consumers": [{"peer": "west"}, {"peer": "north"}]},
    ]
    payments = _by(out, "ServiceIntentions", "payments", "payments")["spec"]
    assert payments["destination"] == {"name": "payments"}
    assert [(s["name"], s.get("peer")) for s in payments["sources"]] == [
        ("checkout", None),
        ("checkout", "north"),
        ("checkout", "west"),
    ]
    assert payments["sources"][0]["permissions"] == [
        {"action": "allow", "http": {"pathExact": "/charge", "methods": ["POST"]}}
    ]
    assert _by(out, "ServiceDefaults", "payments", "payments")["spec"]["protocol"] == "http"
    caller = _by(out, "ServiceDefaults", "shop", "checkout")["spec"]["upstreamConfig"]["overrides"]
    assert caller == [
        {
            "name": "payments",
            "limits": {"maxConnections": 100, "maxPendingRequests": 50},
            "passiveHealthCheck": {"maxFailures": 5, "interval": "10s", "baseEjectionTime": "30s"},
        }
    ]
    resolver = _by(out, "ServiceResolver", "payments", "payments")["spec"]
    assert resolver == {"failover": {"*": {"targets": [{"peer": "west"}, {"peer": "north"}]}}}
    cart = _by(out, "ServiceIntentions", "shop", "cart")["spec"]["sources"]
    assert cart == [{"name": "*", "peer": "north", "action": "deny"}, {"name": "*", "peer": "west", "action": "deny"}]
    assert out.values == {}


def test_consul_exported_services_never_empty():
    rules = {k: v for k, v in allowed("consul").items() if v.kind != "visibility"}
    assert not [b for b in compile_for("consul", rules).objects() if b["kind"] == "ExportedServices"]


#: The sets an example stack of each mesh pins: every kind that mesh supports, nothing refused.
MESH_SETS: list[tuple[str, TargetName, set[str]]] = [
    ("storefront", "istio-sidecar", {"mtls", "default-deny", "authorization", "traffic", "visibility"}),
    ("storefront", "istio-ambient", {"mtls", "default-deny", "authorization", "traffic", "visibility"}),
    ("storefront-linkerd", "linkerd", {"mtls", "default-deny", "authorization", "traffic", "visibility"}),
    # Consul CE has no per-namespace default-deny (capability matrix).
    ("storefront-consul", "consul", {"mtls", "authorization", "traffic", "visibility"}),
]


@pytest.mark.parametrize(("set_name", "name", "kinds"), MESH_SETS)
def test_each_mesh_has_a_set_of_every_kind_it_supports(set_name: str, name: TargetName, kinds: set[str]):
    rules: dict[str, PolicyRule] = {}
    for path in (SETS / "baseline" / "v1.yaml", SETS / set_name / "v1.yaml"):
        rules.update(PolicySet.model_validate(yaml.safe_load(path.read_text())).rules)
    assert {r.kind for r in rules.values()} == kinds
    assert refusals(rules, target(name)) == []
    out = compile_for(name, rules)
    assert out.rules_of_objects() | out.value_rules == set(rules)
