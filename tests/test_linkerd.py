"""Linkerd across the fleet: config, per-cluster install, per-pair links, the mesh switch guard.

Each fleet is planned once per module (fixtures); tests read the recorded
registrations. Objects are checked against the upstream CRDs and chart
defaults, and every Linkerd release is rendered with the vendored 2026.6.3
charts (../shared; skipped with the reason when missing). Golden files pin
the local stack's Linkerd manifests (regenerate with UPDATE_GOLDEN=1).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from components.config import ConfigError, LinkerdMeshSpec, load_fleet
from components.mesh import linkerd as lk
from components.mesh.switch import GUARD_TYPE, check_previous, decide, deployed_kind
from ops import cli
from ops.diagram import build_graph
from ops.plan import Plan, Recorded, manifests, run_plan, write_plan
from ops.planfile import read_plan_doc
from ops.stackconfig import read_stack_config
from tests.charts import render_release
from tests.helpers import (
    ROOT,
    SHARED,
    PlanChange,
    assert_golden_dir,
    fleet_of,
    inputs,
    only_clusters,
    plan_fleet,
    plan_stack,
    validate_plan_upstream,
)

NS = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
SERVICE = "kubernetes:core/v1:Service"
RELEASE = "kubernetes:helm.sh/v3:Release"
LINK = "kubernetes:multicluster.linkerd.io/v1alpha3:Link"
REPO = "https://helm.linkerd.io/edge"
CHART_VERSION = "2026.6.3"
CHARTS = SHARED / "upstream" / "charts"
GOLDEN = ROOT / "tests" / "golden" / "linkerd"
EXAMPLE = ROOT / "examples" / "Pulumi.linkerd.yaml"
LINKERD_MESH = {"kind": "linkerd", "version": CHART_VERSION, "repository": REPO}


# --------------------------------------------------------------------------
# Fleets


def with_linkerd(fleet: dict[str, Any], **mesh: Any) -> dict[str, Any]:
    out = copy.deepcopy(fleet)
    out["mesh"] = {"meshId": out["mesh"]["meshId"], **LINKERD_MESH, **mesh}
    if "storefront" in out.get("policies", {}).get("sets", {}):
        # dev's reference set uses what only Istio expresses; its Linkerd twin uses what Linkerd does.
        out["policies"] = {"sets": {"storefront-linkerd": 1}}
    return out


@pytest.fixture(scope="module")
def dev() -> Plan:
    """The dev stack switched to Linkerd, the migration named."""
    return plan_fleet(with_linkerd(fleet_of("dev"), migrateFrom="istio"), stack="dev")


@pytest.fixture(scope="module")
def dev_istio() -> Plan:
    return plan_stack("dev")


@pytest.fixture(scope="module")
def prod() -> Plan:
    return plan_fleet(with_linkerd(fleet_of("prod")), stack="prod")


@pytest.fixture(scope="module")
def local() -> Plan:
    return plan_fleet(with_linkerd(fleet_of("local")), stack="local")


@pytest.fixture(scope="module")
def rotation() -> dict[str, Plan]:
    """Root rotation phases 1 (bundle = both, old root signs) and 2 (new root signs) on the local fleet."""
    roots = [{"name": "root-2026"}, {"name": "root-2027"}]
    phases = {"1": {"roots": roots}, "2": {"roots": roots, "signingRoot": "root-2027"}}
    out = {}
    for phase, trust in phases.items():
        fleet = with_linkerd(fleet_of("local"))
        fleet["trust"] = trust
        out[phase] = plan_fleet(fleet, stack="local")
    return out


# --------------------------------------------------------------------------
# Helpers


def clusters(plan: Plan) -> list[str]:
    return [c.name for c in plan.spec.clusters]


def in_cluster(plan: Plan, type_: str, cluster: str) -> list[Recorded]:
    return [r for r in plan.by_type(type_) if plan.cluster_of(r) == cluster]


def k8s_name_of(r: Recorded) -> str:
    body = inputs(r)
    return str(body.get("name") if r.type == RELEASE else body["metadata"]["name"])


def one(plan: Plan, type_: str, cluster: str, name: str, namespace: str | None = None) -> Recorded:
    found = [
        r
        for r in in_cluster(plan, type_, cluster)
        if k8s_name_of(r) == name
        and (namespace is None or r.type == RELEASE or inputs(r)["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"{type_} {namespace}/{name} in {cluster}: {[r.urn for r in found]}"
    return found[0]


def values(plan: Plan, cluster: str, release: str) -> dict[str, Any]:
    return inputs(one(plan, RELEASE, cluster, release))["values"]


def deps(r: Recorded) -> set[str]:
    return {urn.split("::")[-1] for urn in r.dependencies}


def pairs(plan: Plan) -> list[tuple[str, str]]:
    return [(a, b) for a in clusters(plan) for b in clusters(plan) if a != b]


def gateway_ip(plan: Plan, cluster: str) -> str:
    """The address the simulated cloud gave the gateway Service read back in `cluster`."""
    status = plan.state[(SERVICE, f"{cluster}-linkerd-gateway")]["status"]
    return str(status["loadBalancer"]["ingress"][0]["ip"])


def render(r: Recorded, include_crds: bool = False, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The objects a recorded Linkerd release installs, rendered with the vendored chart."""
    body = inputs(r)
    return render_release(body if values is None else {**body, "values": values}, include_crds=include_crds)


def objects(rendered: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered if o["kind"] == kind}


# --------------------------------------------------------------------------
# Config


def problems(fleet: dict[str, Any]) -> list[str]:
    try:
        load_fleet(read_stack_config(ROOT, "dev").value("defaults"), fleet)
    except ConfigError as err:
        return [p.render() for p in err.problems]
    return []


def test_linkerd_spec_defaults_and_chart_pins() -> None:
    fleet = with_linkerd(fleet_of("dev"), charts={"linkerdCrds": "2026.7.1"})
    spec = load_fleet(read_stack_config(ROOT, "dev").value("defaults"), fleet)
    mesh = spec.mesh
    assert isinstance(mesh, LinkerdMeshSpec)
    assert mesh.chart_version("linkerd-crds") == "2026.7.1"
    assert mesh.chart_version("linkerd-control-plane") == CHART_VERSION
    assert mesh.chart_version("linkerd-multicluster") == CHART_VERSION
    assert mesh.export_modes_of("aws-use1") == ["gateway"]
    assert mesh.migrate_from is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f["clusters"][0].update(kubernetesVersion="1.30"), "clusters[0].kubernetesVersion: 1.30 is older"),
        (lambda f: f["mesh"].update(version="edge-26.6.3"), "mesh.version: 'edge-26.6.3' is not a Linkerd edge chart"),
        (lambda f: f["mesh"].update(charts={"linkerdMulticluster": "2.20.0"}), "mesh.charts.linkerdMulticluster"),
        (
            lambda f: f.update(trust={"roots": [{"name": "r", "algorithm": "RSA-3072"}]}),
            "trust.roots: Linkerd requires ECDSA P-256 identity issuers",
        ),
        (
            lambda f: f.update(trust={"roots": [{"name": "a"}, {"name": "b", "algorithm": "ECDSA-P384"}]}),
            "trust.roots[1].algorithm: ECDSA-P384 is not a trust anchor `linkerd check` accepts",
        ),
        (
            lambda f: f["mesh"].update(exportModes=["gateway", "remote-discovery"]),
            "mesh.exportModes: aws-use1 exports remote-discovery, which sends peers' traffic straight to its pod IPs",
        ),
        (
            lambda f: f["mesh"].update(clusters={"azure-weu": {"podNetworkRoutableTo": ["aws-use1"]}}),
            "mesh.clusters.azure-weu.podNetworkRoutableTo: AKS clusters run Azure CNI overlay",
        ),
        (lambda f: f["mesh"].update(clusters={"nowhere": {}}), "mesh.clusters.nowhere: 'nowhere' is not a cluster"),
        (lambda f: f["mesh"].update(migrateFrom="linkerd"), "mesh.migrateFrom: 'linkerd' is the mesh kind itself"),
        (lambda f: f["mesh"].update(mode="ambient"), "mesh.mode: ambient mode is Istio only"),
        (lambda f: f["mesh"].update(exportModes=["pod-to-pod"]), "mesh.exportModes[0]"),
    ],
)
def test_bad_linkerd_config_names_path_and_fix(change: Any, expected: str) -> None:
    fleet = with_linkerd(fleet_of("dev"))
    change(fleet)
    found = problems(fleet)
    assert any(expected in p for p in found), found
    assert all("fix: " in p for p in found), found


def test_pod_to_pod_export_needs_both_sides_declared() -> None:
    """Two EKS clusters with a VPC peering: remote-discovery is allowed once both declare it."""
    fleet = with_linkerd(fleet_of("prod"))
    fleet["clusters"] = fleet["clusters"][:2]
    one_side = {"aws-use1": {"exportModes": ["remote-discovery"], "podNetworkRoutableTo": ["aws-usw2"]}}
    fleet["mesh"]["clusters"] = one_side
    found = problems(fleet)
    assert any("mesh.clusters.aws-use1.exportModes" in p and "aws-usw2" in p for p in found), found
    fleet["mesh"]["clusters"] = {**one_side, "aws-usw2": {"podNetworkRoutableTo": ["aws-use1"]}}
    assert problems(fleet) == []


def test_every_trust_anchor_is_p256_even_one_that_signs_no_issuer() -> None:
    """`linkerd check` fails on an RSA-3072 anchor (it takes RSA 2048/4096 only), signing or not."""
    fleet = with_linkerd(fleet_of("dev"))
    fleet["trust"] = {"roots": [{"name": "old", "algorithm": "RSA-3072"}, {"name": "new"}], "signingRoot": "new"}
    [problem] = problems(fleet)
    assert problem.startswith("trust.roots[0].algorithm: RSA-3072 is not a trust anchor `linkerd check` accepts")
    assert "allowed value: ECDSA-P256" in problem and "rotate to an ECDSA-P256 root first" in problem


# --------------------------------------------------------------------------
# Per cluster


@pytest.mark.parametrize("fixture", ["dev", "prod"])
def test_every_cluster_gets_the_linkerd_resource_set(fixture: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    n = len(clusters(plan))
    for c in clusters(plan):
        assert sorted(k8s_name_of(r) for r in in_cluster(plan, NS, c)) == ["linkerd", "linkerd-multicluster"]
        linkerd_releases = [r for r in in_cluster(plan, RELEASE, c) if inputs(r)["repositoryOpts"]["repo"] == REPO]
        assert sorted(k8s_name_of(r) for r in linkerd_releases) == [
            "linkerd-control-plane",
            "linkerd-crds",
            "linkerd-multicluster",
        ]
        for r in linkerd_releases:
            body = inputs(r)
            assert (body["chart"], body["version"]) == (body["name"], CHART_VERSION)
            assert body["atomic"] is True and body["cleanupOnFail"] is True and body["maxHistory"] == 10
        # Issuer + three webhook serving certificates + one token per reading peer + two credential
        # copies per linked peer.
        assert len(in_cluster(plan, SECRET, c)) == 1 + 3 + 3 * (n - 1)
        assert len(in_cluster(plan, LINK, c)) == n - 1
        gateway = in_cluster(plan, SERVICE, c)
        assert [(r.read, k8s_name_of(r) if not r.read else r.name) for r in gateway] == [(True, f"{c}-linkerd-gateway")]
        for r in [
            *linkerd_releases,
            *in_cluster(plan, SECRET, c),
            *in_cluster(plan, NS, c),
            *in_cluster(plan, LINK, c),
        ]:
            assert r.parent.split("::")[-2].endswith("meshfleet:mesh:Linkerd"), r.urn
    assert plan.by_type("kubernetes:networking.istio.io/v1:Gateway") == []


def test_namespaces_carry_the_cli_labels(dev: Plan) -> None:
    """What the charts' namespace templates render on the CLI path (cniEnabled false -> privileged)."""
    for c in clusters(dev):
        control = inputs(one(dev, NS, c, "linkerd"))["metadata"]
        assert control == {
            "name": "linkerd",
            "annotations": {"linkerd.io/inject": "disabled"},
            "labels": {
                "linkerd.io/is-control-plane": "true",
                "config.linkerd.io/admission-webhooks": "disabled",
                "linkerd.io/control-plane-ns": "linkerd",
                "pod-security.kubernetes.io/enforce": "privileged",
            },
        }
        extension = inputs(one(dev, NS, c, "linkerd-multicluster"))["metadata"]
        labels = {"linkerd.io/extension": "multicluster", "pod-security.kubernetes.io/enforce": "privileged"}
        if c == "aws-use1":
            labels["elbv2.k8s.aws/pod-readiness-gate-inject"] = "enabled"
        assert extension == {"name": "linkerd-multicluster", "labels": labels}


def fleet_roots(plan: Plan) -> list[Recorded]:
    """The fleet's root certificates (the trust component's), not the clusters' webhook CAs."""
    return [r for r in plan.by_type("tls:index/selfSignedCert:SelfSignedCert") if "meshfleet:mesh:" not in r.urn]


def test_identity_issuer_is_the_intermediate_and_verifies_to_the_root(dev: Plan, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    roots = fleet_roots(dev)
    assert len(roots) == 1
    root_pem = dev.state[("tls:index/selfSignedCert:SelfSignedCert", roots[0].name)]["certPem"]
    (tmp_path / "root.pem").write_text(root_pem)
    for c in clusters(dev):
        r = one(dev, SECRET, c, "linkerd-identity-issuer", "linkerd")
        body = inputs(r)
        assert body["type"] == "kubernetes.io/tls"
        assert sorted(body["stringData"]) == ["ca.crt", "tls.crt", "tls.key"]
        assert inputs(r, show_secrets=False)["stringData"] == "[secret]"
        assert body["stringData"]["ca.crt"] == root_pem
        issuer = tmp_path / f"{c}.pem"
        issuer.write_text(body["stringData"]["tls.crt"])
        run = subprocess.run(
            ["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"), str(issuer)], capture_output=True, text=True
        )
        assert run.returncode == 0 and run.stdout.strip().endswith(": OK"), run.stdout + run.stderr
        cert = x509.load_pem_x509_certificate(body["stringData"]["tls.crt"].encode())
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        # Linkerd verifies its issuer by this name, and accepts only P-256 issuers.
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["identity.linkerd.cluster.local"]
        public = cert.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
        # The control plane only gets the anchors; the key never enters Helm values.
        cp = values(dev, c, "linkerd-control-plane")
        assert cp["identity"] == {"issuer": {"scheme": "kubernetes.io/tls"}}
        assert "BEGIN EC PRIVATE KEY" not in json.dumps(cp) and "PRIVATE KEY" not in json.dumps(cp)


def test_control_plane_values(dev: Plan, prod: Plan) -> None:
    [root] = fleet_roots(dev)
    root_pem = dev.state[(root.type, root.name)]["certPem"]
    for c in clusters(dev):
        webhook_ca = dev.state[("tls:index/selfSignedCert:SelfSignedCert", f"{c}-linkerd-webhook-ca")]["certPem"]
        assert values(dev, c, "linkerd-control-plane") == {
            "identityTrustAnchorsPEM": root_pem,
            "identityTrustDomain": "cluster.local",
            "clusterDomain": "cluster.local",
            "identity": {"issuer": {"scheme": "kubernetes.io/tls"}},
            # A digest of the anchors: a new bundle rolls the control plane.
            "podAnnotations": {"meshfleet.io/trust-bundle-sha256": hashlib.sha256(root_pem.encode()).hexdigest()},
            # The fleet's mesh-mtls: strict policy, which Linkerd expresses as an install value.
            "proxy": {"defaultInboundPolicy": "all-authenticated"},
            # Webhook serving certificates from Pulumi's Secrets, verified against the cluster's webhook CA.
            "proxyInjector": {"externalSecret": True, "caBundle": webhook_ca},
            "profileValidator": {"externalSecret": True, "caBundle": webhook_ca},
            "policyValidator": {"externalSecret": True, "caBundle": webhook_ca},
        }
    ha = yaml.safe_load((CHARTS / "linkerd" / CHART_VERSION / "linkerd-control-plane" / "values-ha.yaml").read_text())
    for c in clusters(prod):
        cp = values(prod, c, "linkerd-control-plane")
        # Production: what the chart's HA values file sets, as it sets it, but the keys no
        # template reads (controllerResources, highAvailability).
        for key, value in ha.items():
            if key in ("controllerResources", "highAvailability"):
                assert key not in cp
            elif key == "proxy":
                # The HA proxy settings plus the fleet's mesh-mtls: strict policy.
                assert cp[key] == {**value, "defaultInboundPolicy": "all-authenticated"}, key
            else:
                assert cp[key] == value, key
        assert cp["identity"] == {"issuer": {"scheme": "kubernetes.io/tls"}}


def test_a_new_bundle_rolls_the_control_plane_and_a_new_issuer_does_not(local: Plan, rotation: dict[str, Plan]) -> None:
    """The identity controller reads its anchors only at start: phase 1's new bundle changes the control
    plane's pod annotation (a rolling restart); phase 2 re-signs the issuer, which it reloads in place."""

    def digests(plan: Plan) -> dict[str, str]:
        return {
            c: values(plan, c, "linkerd-control-plane")["podAnnotations"]["meshfleet.io/trust-bundle-sha256"]
            for c in clusters(plan)
        }

    before, phase1, phase2 = digests(local), digests(rotation["1"]), digests(rotation["2"])
    assert all(before[c] != phase1[c] for c in before)
    assert phase2 == phase1
    for c in clusters(local):
        [pod] = [
            o["spec"]["template"]["metadata"]["annotations"]
            for o in render(one(rotation["1"], RELEASE, c, "linkerd-control-plane"))
            if o["kind"] == "Deployment" and o["metadata"]["name"] == "linkerd-identity"
        ]
        assert pod["meshfleet.io/trust-bundle-sha256"] == phase1[c]


@pytest.mark.parametrize("phase", ["1", "2"])
def test_both_roots_are_trust_anchors_during_a_rotation(rotation: dict[str, Plan], phase: str) -> None:
    plan = rotation[phase]
    roots = {r.name.rsplit("-", 1)[0]: plan.state[(r.type, r.name)]["certPem"] for r in fleet_roots(plan)}
    assert len(roots) == 2
    signing = "root-2026" if phase == "1" else "root-2027"
    for c in clusters(plan):
        anchors = values(plan, c, "linkerd-control-plane")["identityTrustAnchorsPEM"]
        assert [x.subject for x in x509.load_pem_x509_certificates(anchors.encode())] == [
            x509.load_pem_x509_certificate(pem.encode()).subject for pem in roots.values()
        ]
        issuer = inputs(one(plan, SECRET, c, "linkerd-identity-issuer", "linkerd"))["stringData"]
        signer = next(pem for name, pem in roots.items() if name.endswith(signing))
        x509.load_pem_x509_certificate(issuer["tls.crt"].encode()).verify_directly_issued_by(
            x509.load_pem_x509_certificate(signer.encode())
        )


def test_crds_chart_installs_no_gateway_api_crds(dev: Plan) -> None:
    for c in clusters(dev):
        assert values(dev, c, "linkerd-crds") == {
            "installGatewayAPI": False,
            "enableHttpRoutes": False,
            "enableTlsRoutes": False,
            "enableTcpRoutes": False,
        }
    r = one(dev, RELEASE, "aws-use1", "linkerd-crds")
    crds = {o["metadata"]["name"] for o in render(r) if o["kind"] == "CustomResourceDefinition"}
    assert crds and not [n for n in crds if n.endswith("gateway.networking.k8s.io")]
    assert "links.multicluster.linkerd.io" not in crds  # the multicluster chart owns the Link CRD
    # The per-kind switches win over installGatewayAPI: rendered with it on, still none.
    forced_values = {**values(dev, "aws-use1", "linkerd-crds"), "installGatewayAPI": True}
    forced = {o["metadata"]["name"] for o in render(r, values=forced_values) if o["kind"] == "CustomResourceDefinition"}
    assert forced == crds
    # ... and without them the chart would install them: what the explicit switches prevent.
    loose = {o["metadata"]["name"] for o in render(r, values={"installGatewayAPI": True})}
    assert {f"{k}.gateway.networking.k8s.io" for k in ("httproutes", "grpcroutes", "tlsroutes", "tcproutes")} <= loose


def test_control_plane_renders_with_the_external_issuer(dev: Plan) -> None:
    rendered = render(one(dev, RELEASE, "gcp-euw1", "linkerd-control-plane"))
    assert "linkerd-identity-issuer" not in objects(rendered, "Secret"), "the chart must not render the issuer"
    anchors = objects(rendered, "ConfigMap")["linkerd-identity-trust-roots"]["data"]["ca-bundle.crt"]
    assert anchors.strip() == values(dev, "gcp-euw1", "linkerd-control-plane")["identityTrustAnchorsPEM"].strip()
    identity = objects(rendered, "Deployment")["linkerd-identity"]
    args = identity["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "-identity-scheme=kubernetes.io/tls" in args


# --------------------------------------------------------------------------
# Multicluster release (list values field by field, then rendered)


def test_multicluster_values_field_by_field(dev: Plan, dev_istio: Plan) -> None:
    for c in clusters(dev):
        v = values(dev, c, "linkerd-multicluster")
        peers = [p for p in clusters(dev) if p != c]
        assert v["linkerdNamespace"] == "linkerd" and v["identityTrustDomain"] == "cluster.local"
        assert v["remoteMirrorServiceAccount"] is True
        assert len(v["remoteMirrorServiceAccountName"]) == len(peers)
        for i, peer in enumerate(peers):
            assert v["remoteMirrorServiceAccountName"][i] == f"linkerd-remote-access-{peer}"
        assert len(v["controllers"]) == len(peers)
        for i, peer in enumerate(peers):
            assert v["controllers"][i] == {"link": {"ref": {"name": peer}}}
        gw = v["gateway"]
        assert (gw["enabled"], gw["name"], gw["port"], gw["serviceType"]) == (
            True,
            "linkerd-gateway",
            4143,
            "LoadBalancer",
        )
        assert gw["probe"] == {"path": "/ready", "port": 4191, "seconds": 3}
        # The same allow-list as Istio's east-west gateway of the same cluster: peers' egress only.
        istio_gw = inputs(one(dev_istio, RELEASE, c, "istio-eastwestgateway"))["values"]["service"]
        assert gw["loadBalancerSourceRanges"] == istio_gw["loadBalancerSourceRanges"]
        # The same annotations, but each gateway's own static addresses (EKS: they serve one NLB at a time).
        eip = "service.beta.kubernetes.io/aws-load-balancer-eip-allocations"
        assert {k: v for k, v in gw["serviceAnnotations"].items() if k != eip} == {
            k: v for k, v in istio_gw["annotations"].items() if k != eip
        }
        assert (eip in gw["serviceAnnotations"]) == (eip in istio_gw["annotations"]) == (c == "aws-use1")
        if c == "aws-use1":
            assert set(gw["serviceAnnotations"][eip].split(",")).isdisjoint(istio_gw["annotations"][eip].split(","))
        assert len(gw["loadBalancerSourceRanges"]) >= len(peers)
    eks = values(dev, "aws-use1", "linkerd-multicluster")["gateway"]["serviceAnnotations"]
    assert eks["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
    assert eks["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"].count("eipalloc-") == 3
    assert values(dev, "gcp-euw1", "linkerd-multicluster")["gateway"]["serviceAnnotations"] == {}


def test_prod_multicluster_is_ha(prod: Plan) -> None:
    for c in clusters(prod):
        v = values(prod, c, "linkerd-multicluster")
        assert v["gateway"]["replicas"] == 3 and v["enablePodAntiAffinity"] is True
        assert [e["link"]["ref"]["name"] for e in v["controllers"]] == [p for p in clusters(prod) if p != c]


@pytest.mark.parametrize(("fixture", "replicas"), [("dev", 2), ("prod", 3)])
def test_every_gateway_has_replicas_one_per_node_and_a_budget(
    fixture: str, replicas: int, request: pytest.FixtureRequest
) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    for c in clusters(plan):
        rendered = render(one(plan, RELEASE, c, "linkerd-multicluster"))
        [gateway] = [o for o in rendered if o["kind"] == "Deployment" and o["metadata"]["name"] == "linkerd-gateway"]
        assert gateway["spec"]["replicas"] == replicas
        labels = gateway["spec"]["template"]["metadata"]["labels"]
        anti = gateway["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        [required] = anti["requiredDuringSchedulingIgnoredDuringExecution"]
        assert required["topologyKey"] == "kubernetes.io/hostname"
        [pdb] = [
            o for o in rendered if o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "linkerd-gateway"
        ]
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_gateway_pods_keep_serving_through_the_load_balancer_drain(dev: Plan) -> None:
    """The proxy is a plain sidecar that sleeps before exiting, longer than the NLB drains (EKS: 60 s)."""
    drains = {"aws-use1": 60, "azure-weu": 0, "gcp-euw1": 0}
    assert sorted(drains) == clusters(dev)
    for c, drain in drains.items():
        rendered = render(one(dev, RELEASE, c, "linkerd-multicluster"))
        [gateway] = [o for o in rendered if o["kind"] == "Deployment" and o["metadata"]["name"] == "linkerd-gateway"]
        pod = gateway["spec"]["template"]
        annotations = pod["metadata"]["annotations"]
        # The injector's names (linkerd2 pkg/k8s/labels.go at edge-26.6.3).
        assert annotations["config.linkerd.io/proxy-enable-native-sidecar"] == "false"
        wait = int(annotations["config.alpha.linkerd.io/proxy-wait-before-exit-seconds"])
        assert wait == drain + 10, c
        assert pod["spec"]["terminationGracePeriodSeconds"] == wait + 30, c


@pytest.mark.parametrize("cluster", ["aws-use1", "azure-weu", "gcp-euw1"])
def test_multicluster_renders_gateway_accounts_and_controllers(dev: Plan, cluster: str) -> None:
    v = values(dev, cluster, "linkerd-multicluster")
    rendered = render(one(dev, RELEASE, cluster, "linkerd-multicluster"))
    peers = [p for p in clusters(dev) if p != cluster]
    services = objects(rendered, "Service")
    gw = services["linkerd-gateway"]
    assert gw["spec"]["type"] == "LoadBalancer"
    assert gw["spec"]["ports"] == [
        {"name": "mc-gateway", "port": 4143, "protocol": "TCP"},
        {"name": "mc-probe", "port": 4191, "protocol": "TCP"},
    ]
    assert gw["spec"]["loadBalancerSourceRanges"] == v["gateway"]["loadBalancerSourceRanges"]
    assert gw["metadata"]["annotations"]["mirror.linkerd.io/gateway-identity"] == (
        "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local"
    )
    for key, value in v["gateway"]["serviceAnnotations"].items():
        assert gw["metadata"]["annotations"][key] == value
    accounts = objects(rendered, "ServiceAccount")
    bindings = objects(rendered, "ClusterRoleBinding")
    for peer in peers:
        account = f"linkerd-remote-access-{peer}"
        assert accounts[account]["metadata"]["namespace"] == "linkerd-multicluster"
        assert bindings[account]["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": "linkerd-multicluster"}
        ]
        controller = objects(rendered, "Deployment")[f"controller-{peer}"]
        args = controller["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[-1] == peer and f"-probe-service=probe-{peer}" in args
        assert services[f"probe-{peer}"]["spec"]["ports"] == [{"name": "mc-probe", "port": 4191, "protocol": "TCP"}]
        role = objects(rendered, "Role")[f"controller-read-remote-creds-{peer}"]
        assert role["rules"][0]["resourceNames"] == [f"cluster-credentials-{peer}"]
    assert sorted(n for n in objects(rendered, "Deployment") if n.startswith("controller-")) == sorted(
        f"controller-{p}" for p in peers
    )


# --------------------------------------------------------------------------
# Per ordered pair


@pytest.mark.parametrize("fixture", ["dev", "prod"])
def test_links_and_credentials_for_every_ordered_pair(fixture: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    n = len(clusters(plan))
    assert len(plan.by_type(LINK)) == n * (n - 1)
    mirror = [r for r in plan.by_type(SECRET) if inputs(r).get("type") == "mirror.linkerd.io/remote-kubeconfig"]
    assert len(mirror) == 2 * n * (n - 1)
    for a, b in pairs(plan):
        link = inputs(one(plan, LINK, a, b, "linkerd-multicluster"))
        assert link["metadata"]["annotations"] == {"linkerd.io/created-by": "meshfleet"}
        assert link["spec"] == {
            "targetClusterName": b,
            "targetClusterDomain": "cluster.local",
            "targetClusterLinkerdNamespace": "linkerd",
            "clusterCredentialsSecret": f"cluster-credentials-{b}",
            "gatewayAddress": gateway_ip(plan, b),
            "gatewayPort": "4143",
            "gatewayIdentity": "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
            "probeSpec": {"path": "/ready", "port": "4191", "period": "3s"},
            "selector": {"matchLabels": {"mirror.linkerd.io/exported": "true"}},
        }
        token = inputs(one(plan, SECRET, b, f"linkerd-remote-access-token-{a}", "linkerd-multicluster"))
        assert token["type"] == "kubernetes.io/service-account-token"
        assert token["metadata"]["annotations"] == {"kubernetes.io/service-account.name": f"linkerd-remote-access-{a}"}
        extension = one(plan, SECRET, a, f"cluster-credentials-{b}", "linkerd-multicluster")
        destination = one(plan, SECRET, a, f"cluster-credentials-{b}", "linkerd")
        ext, dst = inputs(extension), inputs(destination)
        assert ext["type"] == dst["type"] == "mirror.linkerd.io/remote-kubeconfig"
        assert "labels" not in ext["metadata"] and "annotations" not in ext["metadata"]
        assert dst["metadata"]["labels"] == {"multicluster.linkerd.io/cluster-name": b}
        assert dst["metadata"]["annotations"] == {
            "multicluster.linkerd.io/trust-domain": "cluster.local",
            "multicluster.linkerd.io/cluster-domain": "cluster.local",
        }
        assert list(ext["stringData"]) == list(dst["stringData"]) == ["kubeconfig"]
        assert ext["stringData"] == dst["stringData"]
        assert inputs(extension, show_secrets=False)["stringData"] == "[secret]"
        assert inputs(destination, show_secrets=False)["stringData"] == "[secret]"


def test_kubeconfig_carries_the_peer_token_and_the_istio_endpoint(dev: Plan, dev_istio: Plan) -> None:
    for a, b in pairs(dev):
        kubeconfig = yaml.safe_load(
            inputs(one(dev, SECRET, a, f"cluster-credentials-{b}", "linkerd-multicluster"))["stringData"]["kubeconfig"]
        )
        token_state = dev.state[(SECRET, f"{a}-links-{b}-remote-access-token")]
        expected_token = base64.b64decode(token_state["data"]["token"]).decode()
        assert kubeconfig["users"] == [{"name": b, "user": {"token": expected_token}}]
        claims = json.loads(base64.urlsafe_b64decode(expected_token.split(".")[1] + "=="))
        assert claims["sub"] == f"system:serviceaccount:linkerd-multicluster:linkerd-remote-access-{a}"
        # Same server and CA as the Istio remote secret for the same pair: one kubeconfig builder.
        istio = yaml.safe_load(
            inputs(one(dev_istio, SECRET, a, f"istio-remote-secret-{b}", "istio-system"))["stringData"][b]
        )
        assert kubeconfig["clusters"] == istio["clusters"]
        assert kubeconfig["contexts"] == istio["contexts"] and kubeconfig["current-context"] == b


def test_dependency_order(dev: Plan) -> None:
    guard = "acme-dev-mesh-switch"
    for c in clusters(dev):
        crds = one(dev, RELEASE, c, "linkerd-crds")
        cp = one(dev, RELEASE, c, "linkerd-control-plane")
        mc = one(dev, RELEASE, c, "linkerd-multicluster")
        assert {f"{c}-linkerd-crds", f"{c}-linkerd-identity-issuer", guard} <= deps(cp)
        assert {f"{c}-linkerd-control-plane", guard} <= deps(mc)
        assert guard in deps(crds)
        assert f"{c}-linkerd-multicluster" in deps(dev.get(SERVICE, f"{c}-linkerd-gateway"))
    for a, b in pairs(dev):
        stem = f"{a}-links-{b}"
        assert f"{b}-linkerd-multicluster" in deps(dev.get(SECRET, f"{stem}-remote-access-token"))
        link = deps(dev.get(LINK, f"{stem}-link"))
        assert {f"{a}-linkerd-multicluster", f"{stem}-credentials"} <= link
        # Nothing of B's but its gateway address; never the other clusters' releases.
        assert not {d for d in link if d.endswith("-linkerd-multicluster")} - {f"{a}-linkerd-multicluster"}


def test_pure_link_spec_without_gateway_mode() -> None:
    fleet = with_linkerd(fleet_of("prod"))
    fleet["clusters"] = fleet["clusters"][:2]
    fleet["mesh"]["clusters"] = {
        "aws-use1": {"exportModes": ["remote-discovery", "federated"], "podNetworkRoutableTo": ["aws-usw2"]},
        "aws-usw2": {"podNetworkRoutableTo": ["aws-use1"]},
    }
    spec = load_fleet(read_stack_config(ROOT, "prod").value("defaults"), fleet)
    assert isinstance(spec.mesh, LinkerdMeshSpec)
    assert lk.link_spec(spec.mesh, "aws-use1", None) == {
        "targetClusterName": "aws-use1",
        "targetClusterDomain": "cluster.local",
        "targetClusterLinkerdNamespace": "linkerd",
        "clusterCredentialsSecret": "cluster-credentials-aws-use1",
        "remoteDiscoverySelector": {"matchLabels": {"mirror.linkerd.io/exported": "remote-discovery"}},
        "federatedServiceSelector": {"matchLabels": {"mirror.linkerd.io/federated": "member"}},
    }
    assert lk.controller_entry(spec.mesh, "aws-use1") == {
        "link": {"ref": {"name": "aws-use1"}},
        "gateway": {"enabled": False},
    }
    assert lk.controller_entry(spec.mesh, "aws-usw2") == {"link": {"ref": {"name": "aws-usw2"}}}
    with pytest.raises(ValueError, match="aws-usw2 has no load-balancer address"):
        lk.link_spec(spec.mesh, "aws-usw2", "")


def test_gateway_address_joins_ips_and_hostnames_like_link_gen() -> None:
    assert lk.gateway_address({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "nlb.example"}]}}) == (
        "1.2.3.4,nlb.example"
    )
    assert lk.gateway_address({}) == ""


# --------------------------------------------------------------------------
# Upstream schemas, renders, golden files, the example


def _validate(plan: Plan, tmp: Path) -> None:
    valid, checked = validate_plan_upstream(
        plan, tmp, lambda release: f"linkerd/{release['chart']}" if release["repository"] == REPO else None
    )
    n = len(clusters(plan))
    assert valid >= n * (n - 1), "every Link is checked against the v1alpha3 CRD"
    assert checked == 3 * n


@pytest.mark.parametrize("fixture", ["dev", "prod"])
def test_manifests_validate_upstream(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    _validate(request.getfixturevalue(fixture), tmp_path)


def test_production_heartbeat_runs_with_the_ha_resources(prod: Plan) -> None:
    """values-ha.yaml's heartbeatResources reach the CronJob (the chart reads them, its defaults omit them)."""
    for c in clusters(prod):
        [cron] = [o for o in render(one(prod, RELEASE, c, "linkerd-control-plane")) if o["kind"] == "CronJob"]
        [container] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["resources"] == {"limits": {"memory": "250Mi"}, "requests": {"cpu": "100m", "memory": "50Mi"}}


@pytest.mark.parametrize("fixture", ["dev", "prod"])
def test_every_linkerd_release_renders_with_the_vendored_chart(fixture: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    for c in clusters(plan):
        for name in ("linkerd-crds", "linkerd-control-plane", "linkerd-multicluster"):
            assert render(one(plan, RELEASE, c, name)), f"{c}/{name} rendered nothing"


def test_golden_manifests(local: Plan) -> None:
    rendered = {
        rel: text
        for rel, text in manifests(local).items()
        if rel.split("/", 1)[1].startswith(("helm/", "namespace-", "secret-", "link-"))
    }
    assert_golden_dir(GOLDEN, rendered)


def test_example_stack_plans(capsys: pytest.CaptureFixture[str]) -> None:
    config = read_stack_config(ROOT, "example", EXAMPLE)
    plan = run_plan(ROOT, config)
    assert plan.spec.mesh.kind == "linkerd"
    assert len(plan.by_type(LINK)) == 6
    assert len(plan.by_type(GUARD_TYPE)) == 1


# --------------------------------------------------------------------------
# Switching mesh


@pytest.mark.parametrize(
    ("deployed", "kind", "migrate_from", "allowed"),
    [
        (None, "linkerd", None, True),
        ("istio", "istio", None, True),
        ("istio", "linkerd", None, False),
        ("istio", "linkerd", "istio", True),
        ("istio", "linkerd", "consul", False),
        ("linkerd", "istio", None, False),
        ("linkerd", "linkerd", "istio", True),
    ],
)
def test_switch_decision(deployed: str | None, kind: str, migrate_from: str | None, allowed: bool) -> None:
    decision = decide(deployed, kind, migrate_from)
    assert decision.allowed is allowed
    if not allowed:
        assert f"from the deployed {deployed} to {kind}" in decision.message
        assert "deletes" in decision.message and "CRDs" in decision.message
        assert f"mesh.migrateFrom: {deployed}" in decision.fix
    if deployed == kind and migrate_from:
        assert "remove mesh.migrateFrom" in decision.fix


def test_switching_dev_changes_only_mesh_resources(dev: Plan, dev_istio: Plan) -> None:
    change = PlanChange(dev_istio, dev)
    before, after = change.old, change.new
    changed = {(after[u].type, after[u].name) for u in change.inputs_changed()}
    assert changed == {
        # The guard records the new kind, and the Fleet component's facts (read by the guardrails) name it.
        (GUARD_TYPE, "acme-dev-mesh-switch"),
        ("meshfleet:index:Fleet", "acme-dev"),
        # GKE: the control-plane-to-nodes webhook firewall follows the mesh's ports.
        ("gcp:compute/firewall:Firewall", "gcp-euw1-webhooks"),
    }
    firewall = inputs(dev.get("gcp:compute/firewall:Firewall", "gcp-euw1-webhooks"))
    assert firewall["allows"] == [{"ports": ["8443", "9443"], "protocol": "tcp"}]
    # Every resource that appears or disappears belongs to a mesh, or is a policy object compiled for it,
    # but the EKS gateway's Elastic IPs: the new gateway's come up beside the old one's, which go with it.
    # (the mesh's own certificates too: Linkerd's webhook CA and serving certificates, and their provider)
    mesh_types = ("meshfleet:mesh:", "meshfleet:policy:", "kubernetes:", "tls:", "pulumi:providers:tls")
    mesh_parents = ("meshfleet:mesh:", "meshfleet:policy:")
    eips = {"aws:ec2/eip:Eip"}
    for urn in set(before) ^ set(after):
        r = before.get(urn) or after[urn]
        if r.type in eips:
            continue
        assert r.type.startswith(mesh_types) and any(p in r.urn for p in mesh_parents), urn
    zones = ("us-east-1a", "us-east-1b", "us-east-1c")
    assert {after[u].name for u in set(after) - set(before) if after[u].type in eips} == {
        f"aws-use1-network-gateway-linkerd-{z}" for z in zones
    }
    assert {before[u].name for u in set(before) - set(after) if before[u].type in eips} == {
        f"aws-use1-network-gateway-istio-sidecar-{z}" for z in zones
    }
    for r in dev.resources:
        if r.type.startswith(("tls:index/privateKey", "tls:index/selfSignedCert")) and "meshfleet:mesh:" not in r.urn:
            assert before[r.urn].inputs == r.inputs


def test_plan_previous_refuses_an_unnamed_switch(
    dev_istio: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_plan(dev_istio, tmp_path / "before")
    assert deployed_kind(read_plan_doc(tmp_path / "before")) == "istio"
    # The new config under the deployed stack's file name: it plans as that stack (README, "Switching mesh").
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"meshfleet:fleet": with_linkerd(fleet_of("dev"))}}))
    code = cli.main(["plan", "--config", str(stack_file), "--previous", str(tmp_path / "before")])
    err = capsys.readouterr().err
    assert code == 2
    assert "mesh.kind: mesh.kind changes from the deployed istio to linkerd" in err
    assert "deletes namespace istio-system" in err and "fix: to migrate, set mesh.migrateFrom: istio" in err
    assert "Traceback" not in err
    # With the migration named, the same check passes (the plan itself is the `dev` fixture).
    named = load_fleet(
        read_stack_config(ROOT, "dev").value("defaults"), with_linkerd(fleet_of("dev"), migrateFrom="istio")
    )
    assert check_previous(read_plan_doc(tmp_path / "before" / "plan.json"), named).allowed


def test_previous_must_be_a_plan_of_the_stack_planned(
    dev_istio: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The guard judges a change against its own stack's deployment: another stack's plan (or one plan for
    several stacks) would judge it against the wrong deployed mesh."""
    write_plan(dev_istio, tmp_path / "before")
    other = tmp_path / "Pulumi.switch.yaml"
    other.write_text(yaml.safe_dump({"config": {"meshfleet:fleet": with_linkerd(fleet_of("dev"))}}))
    assert cli.main(["plan", "--config", str(other), "--previous", str(tmp_path / "before")]) == 2
    assert capsys.readouterr().err == (
        f"meshfleet: --previous {tmp_path / 'before'} is a plan of stack 'dev', this plan is of stack 'switch': "
        "the guard judges a change against its own stack's deployment\n"
        "    fix: pass a plan of stack 'switch', or plan stack 'dev' (`--stack NAME`, or a `--config` file named "
        "Pulumi.NAME.yaml)\n"
    )
    assert cli.main(["plan", "--all", "--previous", str(tmp_path / "before")]) == 2
    assert capsys.readouterr().err == (
        "meshfleet: --previous is one plan of one stack; this run plans 4 stacks\n"
        f"    fix: plan the stack {tmp_path / 'before'} was written for on its own: "
        f"`meshfleet plan --stack NAME --previous {tmp_path / 'before'}`\n"
    )


def test_previous_without_a_plan_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["plan", "--stack", "dev", "--previous", str(tmp_path)])
    assert code == 2
    assert f"--previous: {tmp_path}/plan.json does not exist; write one with `meshfleet plan" in capsys.readouterr().err


def test_diagram_draws_every_link(dev: Plan) -> None:
    graph = build_graph(dev.to_json())
    edges = sorted((e.source, e.target) for e in graph.edges_of_kind("linkerd-link"))
    assert edges == sorted((f"cluster:{a}", f"cluster:{b}") for a, b in pairs(dev))


def test_single_cluster_exposes_no_gateway_and_links_nothing() -> None:
    plan = plan_fleet(with_linkerd(only_clusters(fleet_of("local"), "kind-east")), stack="local")
    v = values(plan, "kind-east", "linkerd-multicluster")
    assert v["gateway"]["enabled"] is False
    assert (v["controllers"], v["remoteMirrorServiceAccountName"]) == ([], [])
    assert plan.by_type(LINK) == [] and plan.by_type(SERVICE) == []
    rendered = render(one(plan, RELEASE, "kind-east", "linkerd-multicluster"))
    assert "linkerd-gateway" not in objects(rendered, "Service")


def test_guard_provider_decides_in_check_from_the_old_state() -> None:
    """What the engine calls in preview and up: olds = the guard's inputs of the last successful deploy."""
    from components.mesh.switch import _GuardProvider

    provider = _GuardProvider()
    refused = provider.check({"kind": "istio"}, {"kind": "linkerd"})
    assert [f.property for f in refused.failures] == ["kind"]
    assert "deletes namespace istio-system" in refused.failures[0].reason
    assert "fix: to migrate, set mesh.migrateFrom: istio" in refused.failures[0].reason
    assert provider.check({"kind": "istio"}, {"kind": "linkerd", "migrateFrom": "istio"}).failures == []
    assert provider.check({}, {"kind": "linkerd"}).failures == []  # first deploy: nothing recorded
    created = provider.create({"kind": "linkerd", "migrateFrom": "istio"})
    assert (created.id, created.outs) == (
        "mesh-switch-guard",
        {
            "kind": "linkerd",
            "migrateFrom": "istio",
            "istioVersions": None,
            "istioStable": None,
            "clusters": None,
            "protectedClusters": None,
            "removeClusters": None,
            "kubernetesVersions": None,
            "trustDomain": None,
            "trustDomainAliases": None,
        },
    )
    assert provider.diff("mesh-switch-guard", {"kind": "istio"}, {"kind": "linkerd"}).changes is True
    assert provider.diff("mesh-switch-guard", {"kind": "linkerd"}, {"kind": "linkerd"}).changes is False


def test_crds_and_namespaces_go_in_before_the_nodes_the_control_plane_after(dev: Plan) -> None:
    pools = {
        "aws:eks/nodeGroup:NodeGroup",
        "gcp:container/nodePool:NodePool",
        "azure-native:containerservice:AgentPool",
    }
    by = {r.urn: r for r in dev.resources}
    for c in clusters(dev):
        early = [one(dev, RELEASE, c, "linkerd-crds"), one(dev, SECRET, c, "linkerd-identity-issuer")]
        early += [r for r in dev.by_type("kubernetes:core/v1:Namespace") if r.name.startswith(f"{c}-linkerd")]
        assert len(early) == 4
        for r in early:
            assert not [u for u in r.dependencies if by[u].type in pools], r.urn
        control_plane = one(dev, RELEASE, c, "linkerd-control-plane")
        if dev.spec.cluster(c).cloud != "existing":
            assert [u for u in control_plane.dependencies if by[u].type in pools], control_plane.urn


def test_webhook_certificates_are_pulumis_and_stay_put_across_upgrades(local: Plan, rotation: dict[str, Plan]) -> None:
    """The chart would mint new webhook certificates at every render, so any upgrade of the release would swap
    them under running pods (the API server failing closed meanwhile). Here: Pulumi's Secrets, a serving
    certificate per webhook for its Service name, verified by the cluster's webhook CA (the caBundle), and a
    render that gives the same objects twice, with no Secret of its own."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from tests.charts import require_renderer

    require_renderer()
    for c in clusters(local):
        ca_pem = local.state[("tls:index/selfSignedCert:SelfSignedCert", f"{c}-linkerd-webhook-ca")]["certPem"]
        ca = x509.load_pem_x509_certificate(ca_pem.encode())
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        for service in ("linkerd-proxy-injector", "linkerd-sp-validator", "linkerd-policy-validator"):
            secret = inputs(one(local, SECRET, c, f"{service}-k8s-tls", "linkerd"))
            assert secret["type"] == "kubernetes.io/tls" and sorted(secret["stringData"]) == ["tls.crt", "tls.key"]
            # Adopted where the chart wrote it before, and kept when the release stops rendering it.
            assert secret["metadata"]["annotations"] == {
                "helm.sh/resource-policy": "keep",
                "pulumi.com/patchForce": "true",
            }
            # PKCS#8: the policy validator (Rust, kubert) reads no SEC1 "EC PRIVATE KEY".
            assert secret["stringData"]["tls.key"].startswith("-----BEGIN PRIVATE KEY-----\n")
            cert = x509.load_pem_x509_certificate(secret["stringData"]["tls.crt"].encode())
            host = f"{service}.linkerd.svc"
            assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
                x509.DNSName
            ) == [host]
            assert (
                ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            )
            assert cert.issuer == ca.subject
            ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        cp = one(local, RELEASE, c, "linkerd-control-plane", "linkerd")
        first, second = render(cp), render(cp)
        assert first == second, "the same objects at every render"
        assert not [o for o in first if o["kind"] == "Secret" and o["metadata"]["name"].endswith("-k8s-tls")]
        hooks = [o for o in first if o["kind"] in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")]
        assert len(hooks) == 3
        for hook in hooks:
            for webhook in hook["webhooks"]:
                assert base64.b64decode(webhook["clientConfig"]["caBundle"]).decode().strip() == ca_pem.strip()
    # A root rotation upgrades the release (new anchors): the webhook certificates and caBundle stay.
    for c in clusters(rotation["1"]):
        bundles = {
            phase: {
                k: values(plan, c, "linkerd-control-plane")[k]["caBundle"] for k in ("proxyInjector", "policyValidator")
            }
            for phase, plan in rotation.items()
        }
        assert bundles["1"] == bundles["2"]
        certs = {
            phase: inputs(one(plan, SECRET, c, "linkerd-proxy-injector-k8s-tls", "linkerd"))["stringData"]["tls.crt"]
            for phase, plan in rotation.items()
        }
        assert certs["1"] == certs["2"]
