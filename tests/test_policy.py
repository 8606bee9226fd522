"""Shared policies reach every cluster: the default strict mTLS takes effect everywhere."""

from __future__ import annotations

import pytest

from components.config import load_fleet
from components.policy import compile_cluster, installer_values
from components.policy.linkerd import compile_linkerd
from components.policy.model import MtlsRule, Target
from ops.plan import Plan, manifests
from tests.helpers import ROOT, fleet_of, inputs, plan_fleet, plan_stack, stack_config

STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
PEER_AUTH = "kubernetes:security.istio.io/v1:PeerAuthentication"


def _defaults() -> dict:
    return stack_config("dev").values["meshfleet:defaults"]


@pytest.mark.parametrize("stack", STACKS)
def test_default_strict_mtls_takes_effect_on_every_cluster_of_every_stack(stack: str):
    plan: Plan = plan_stack(stack)
    clusters = [c.name for c in plan.spec.clusters]
    mesh_wide = {}
    for r in plan.by_type(PEER_AUTH):
        body = inputs(r)
        if body["metadata"]["namespace"] == "istio-system":
            mesh_wide[plan.cluster_of(r)] = body
    assert sorted(mesh_wide) == sorted(clusters)
    for body in mesh_wide.values():
        assert body["spec"] == {"mtls": {"mode": "STRICT"}}
        assert "selector" not in body["spec"]
        assert body["metadata"]["name"] == "mesh-mtls"


def test_peer_authentication_waits_for_the_crds_and_the_validating_istiod():
    plan = plan_stack("local")
    for r in plan.by_type(PEER_AUTH):
        cluster = plan.cluster_of(r)
        deps = {d.rsplit("::", 1)[1] for d in r.dependencies}
        assert {f"{cluster}-istio-base", f"{cluster}-istiod-1-30-3"} <= deps
        assert not any("eastwest" in d or "gateway" in d.split("-gateway-api")[0] for d in deps)


def test_linkerd_strict_mtls_is_the_control_planes_default_inbound_policy():
    # The compiler is pure: tested without the Linkerd installer.
    out = compile_linkerd({"mesh-mtls": MtlsRule(kind="mtls")}, Target("linkerd", "east", ("west",)))
    assert out.values == {"proxy": {"defaultInboundPolicy": "all-authenticated"}}
    assert out.value_rules == {"mesh-mtls"}
    assert out.objects() == []


def test_istio_installer_values_carry_no_policy_for_mtls():
    spec = load_fleet(_defaults(), fleet_of("local"))
    assert installer_values(spec, "kind-east") == {}
    assert [o["kind"] for o in compile_cluster(spec, "kind-east").objects()] == ["PeerAuthentication"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_declared_rule_yields_an_object_or_an_installer_value_on_every_cluster(stack: str):
    spec = load_fleet(_defaults(), fleet_of(stack))
    assert spec.policies.rules
    for cluster in spec.clusters:
        out = compile_cluster(spec, cluster.name)
        assert out.rules_of_objects() | out.value_rules == set(spec.policies.rules), cluster.name


def test_dev_policy_objects_wait_for_policy_ready_and_never_for_gateways():
    plan = plan_stack("dev")
    children = [r for r in plan.resources if "$meshfleet:policy:ClusterPolicies::" in r.parent]
    assert len(children) == 3 * 15  # 15 objects per cluster (golden: tests/golden/policy/istio-sidecar)
    for r in children:
        cluster = plan.cluster_of(r)
        deps = {d.rsplit("::", 1)[1] for d in r.dependencies}
        assert {f"{cluster}-istio-base", f"{cluster}-istiod-1-30-3", f"{cluster}-gateway-api-standard"} <= deps
        assert not any("eastwest" in d for d in deps), r.urn


def test_dev_istiod_values_carry_the_visibility_rules():
    plan = plan_stack("dev")
    for r in plan.by_type("kubernetes:helm.sh/v3:Release"):
        body = inputs(r)
        if body["chart"] != "istiod":
            continue
        settings = body["values"]["meshConfig"]["serviceSettings"]
        assert settings == [
            {
                "settings": {"clusterLocal": False},
                "hosts": ["catalog.shop.svc.cluster.local", "payments.payments.svc.cluster.local"],
            },
            {"settings": {"clusterLocal": True}, "hosts": ["cart.shop.svc.cluster.local"]},
        ]
        assert body["values"]["meshConfig"]["trustDomain"] == "cluster.local"


def test_ambient_dev_plan_applies_waypoints_and_patches_only_labels_on_services():
    fleet = fleet_of("dev")
    fleet["mesh"]["mode"] = "ambient"
    plan = plan_fleet(fleet)
    clusters = sorted(c.name for c in plan.spec.clusters)
    waypoints = [
        r
        for r in plan.by_type("kubernetes:gateway.networking.k8s.io/v1:Gateway")
        if inputs(r)["spec"]["gatewayClassName"] == "istio-waypoint"
    ]
    assert sorted((plan.cluster_of(r), inputs(r)["metadata"]["namespace"]) for r in waypoints) == sorted(
        (c, ns) for c in clusters for ns in ("payments", "shop")
    )
    for r in waypoints:
        assert any(d.endswith(f"{plan.cluster_of(r)}-gateway-api-standard") for d in r.dependencies)
    patches = plan.by_type("kubernetes:core/v1:ServicePatch")
    assert sorted((plan.cluster_of(r), inputs(r)["metadata"]["name"]) for r in patches) == sorted(
        (c, s) for c in clusters for s in ("catalog", "payments")
    )
    for r in patches:
        meta = inputs(r)["metadata"]
        assert meta["labels"] == {"istio.io/global": "true"}
        assert "spec" not in inputs(r)
    # Written apart, marked: `kubectl apply -f manifests/<cluster>/` must not create an app's Service.
    files = manifests(plan)
    for r in patches:
        meta, cluster = inputs(r)["metadata"], plan.cluster_of(r)
        name = f"service-{meta['namespace']}-{meta['name']}.yaml"
        assert f"{cluster}/{name}" not in files
        assert files[f"{cluster}/patches/{name}"].startswith(
            "# Server-side apply patch (kubernetes:core/v1:ServicePatch): meshfleet manages only these fields "
            "of an object it does not own.\napiVersion: v1\nkind: Service\nmetadata:\n"
        )
    assert {rel.split("/")[1] for rel in files if "/patches/" in rel} == {"patches"}
    assert sum("/patches/" in rel for rel in files) == len(patches)
