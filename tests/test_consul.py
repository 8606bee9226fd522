"""Consul: config rules, chart values rendered with the vendored chart, per-pair peering, Vault mode.

Each fleet is planned once per module (fixtures); tests read the recorded
resources, render the recorded Helm releases with the real `consul` chart
(../shared/tools/helm_render.py) and compare the chosen manifests with golden
files (regenerate with UPDATE_GOLDEN=1).
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_fleet
from ops.diff import refused
from ops.plan import Plan, Recorded, is_secret, manifests, run_plan, write_plan
from ops.stackconfig import read_stack_config
from tests.charts import CHARTS, render_release, require_renderer
from tests.helpers import (
    ROOT,
    PlanChange,
    assert_golden_dir,
    existing_fleet,
    fleet_of,
    inputs,
    meshfleet_process,
    only_clusters,
    plan_fleet,
    stack_config,
    validate_plan_upstream,
)

GOLDEN = ROOT / "tests" / "golden" / "consul"
EXAMPLE = ROOT / "examples" / "Pulumi.consul.yaml"
CONSUL_CHART = CHARTS / "consul" / "2.0.3" / "consul"

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
MESH = "kubernetes:consul.hashicorp.com/v1alpha1:Mesh"
ACCEPTOR = "kubernetes:consul.hashicorp.com/v1alpha1:PeeringAcceptor"
DIALER = "kubernetes:consul.hashicorp.com/v1alpha1:PeeringDialer"
SIGNED = "tls:index/locallySignedCert:LocallySignedCert"
ROOT_CERT = "tls:index/selfSignedCert:SelfSignedCert"

VAULT = {
    "address": "https://vault.example.com:8200",
    "egressCidrs": ["203.0.113.16/28"],
    "injector": {"repository": "https://helm.releases.hashicorp.com", "chart": "vault", "version": "0.31.0"},
}


def consul_mesh(mesh_id: str, **extra: Any) -> dict[str, Any]:
    """A whole Consul mesh block (it replaces the project default's Istio mesh)."""
    return {
        "kind": "consul",
        "meshId": mesh_id,
        "version": "2.0.3",
        "repository": "https://helm.releases.hashicorp.com",
        **extra,
    }


def consul_fleet(names: list[str], **extra: Any) -> dict[str, Any]:
    fleet = existing_fleet(names)
    fleet["mesh"] = consul_mesh("local", **extra)
    return fleet


def example_fleet() -> dict[str, Any]:
    doc = yaml.safe_load(EXAMPLE.read_text())
    return copy.deepcopy(doc["config"]["meshfleet:fleet"])


def of_cluster(plan: Plan, type_: str, cluster: str) -> list[Recorded]:
    return [r for r in plan.by_type(type_) if plan.cluster_of(r) == cluster]


def clusters(plan: Plan) -> list[str]:
    return [c.name for c in plan.spec.clusters]


def consul_release(plan: Plan, cluster: str) -> dict[str, Any]:
    [release] = [r for r in of_cluster(plan, RELEASE, cluster) if inputs(r)["chart"] == "consul"]
    return inputs(release)


@pytest.fixture(scope="module")
def dev() -> Plan:
    return run_plan(ROOT, read_stack_config(ROOT, "consul-example", EXAMPLE))


@pytest.fixture(scope="module")
def prod() -> Plan:
    fleet = fleet_of("prod")
    fleet["mesh"] = consul_mesh("acme-prod")
    return plan_fleet(fleet, stack="prod")


@pytest.fixture(scope="module")
def vault_dev() -> Plan:
    fleet = example_fleet()
    fleet["mesh"] = {**fleet["mesh"], "ca": "vault", "vault": VAULT}
    return plan_fleet(fleet, stack="dev")


@pytest.fixture(scope="module")
def vault_prod() -> Plan:
    # One cluster per cloud: what Vault mode adds is per cluster, and the module stays quick.
    fleet = only_clusters(fleet_of("prod"), "aws-use1", "azure-weu", "gcp-euw1")
    fleet["mesh"] = consul_mesh("acme-prod", ca="vault", vault=VAULT)
    return plan_fleet(fleet, stack="prod")


@pytest.fixture(scope="module")
def three() -> Plan:
    return plan_fleet(consul_fleet(["east", "west", "north"]))


@pytest.fixture(scope="module")
def four() -> Plan:
    return plan_fleet(consul_fleet(["east", "west", "north", "south"]))


# --------------------------------------------------------------------------
# Config


def problems_of(fleet: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_fleet(stack_config("local").value("defaults"), fleet)
    return [p.render() for p in err.value.problems]


def prod_fleet(**mesh: Any) -> dict[str, Any]:
    fleet = fleet_of("prod")
    fleet["mesh"] = consul_mesh("acme-prod", **mesh)
    return fleet


@pytest.mark.parametrize("servers", [1, 2, 4])
def test_production_refuses_one_or_an_even_server_count(servers: int) -> None:
    [problem] = problems_of(prod_fleet(serverReplicas=servers))
    assert "mesh.serverReplicas" in problem
    assert f"{servers} Consul servers per datacenter" in problem
    assert "set mesh.serverReplicas: 3" in problem


def test_dev_defaults_to_one_server_and_prod_to_three(dev: Plan, prod: Plan) -> None:
    for c in clusters(dev):
        assert consul_release(dev, c)["values"]["server"]["replicas"] == 1
    for c in clusters(prod):
        values = consul_release(prod, c)["values"]["server"]
        assert (values["replicas"], values["bootstrapExpect"]) == (3, 3)


@pytest.mark.parametrize("setting", ["acls", "tlsVerify", "httpsOnly", "gossipEncryption"])
def test_production_refuses_turning_security_off(setting: str) -> None:
    [problem] = problems_of(prod_fleet(security={setting: False}))
    assert f"mesh.security.{setting}" in problem and "cannot be turned off on a production stack" in problem


def test_dev_may_turn_acls_off_and_the_chart_follows() -> None:
    fleet = consul_fleet(["east", "west"], security={"acls": False})
    spec = load_fleet(stack_config("local").value("defaults"), fleet)
    from components.mesh.consul import consul_values

    assert consul_values(spec, "east", None, protected=False)["global"]["acls"] == {"manageSystemACLs": False}


def test_authorization_rules_need_acls() -> None:
    """Without ACLs Consul's intentions default to allow: an allow-only rule would refuse nobody."""
    fleet = consul_fleet(["east", "west"], security={"acls": False})
    fleet["policies"] = {
        "rules": {
            "cart-from-frontend": {
                "kind": "authorization",
                "service": {"namespace": "shop", "name": "cart"},
                "allow": [{"from": [{"namespace": "shop", "serviceAccount": "frontend"}]}],
            }
        }
    }
    [problem] = problems_of(fleet)
    assert problem.startswith("policies.rules.cart-from-frontend: rule 'cart-from-frontend' allows only its callers")
    assert "with mesh.security.acls off Consul's intentions default to allow" in problem
    assert "turn ACLs on (remove mesh.security.acls: false), or remove the rule" in problem
    fleet["mesh"]["security"] = {"acls": True}
    load_fleet(stack_config("local").value("defaults"), fleet)  # accepted with ACLs on


def test_one_service_name_in_two_namespaces_is_refused() -> None:
    """Consul CE names a service without its namespace: shop/api and payments/api would be one."""
    fleet = consul_fleet(["east", "west"])
    api = {"kind": "visibility", "scope": "local"}
    fleet["policies"] = {
        "rules": {
            "api-shop": {**api, "service": {"namespace": "shop", "name": "api"}},
            "api-payments": {**api, "service": {"namespace": "payments", "name": "api"}},
        }
    }
    [problem] = problems_of(fleet)
    assert problem.startswith(
        "policies.rules.api-shop: shop/api and payments/api (rule 'api-payments') are one service to Consul"
    )
    assert "rename one of the two services (and its service account)" in problem


def test_datacenter_rules() -> None:
    dup = consul_fleet(["east", "west"], datacenters={"west": "east"})
    assert any("mesh.datacenters.west" in p and "datacenter 'east' is used by both" in p for p in problems_of(dup))
    unknown = consul_fleet(["east", "west"], datacenters={"south": "dc-south"})
    assert any("mesh.datacenters.south" in p and "allowed values: east, west" in p for p in problems_of(unknown))
    bad = consul_fleet(["east", "west"], datacenters={"east": "dc_east"})
    assert any("mesh.datacenters.east" in p and "is not a DNS label" in p for p in problems_of(bad))
    long = consul_fleet(["east", "west"], datacenters={"east": "d" * 50})
    assert any("peering token secret name" in p and "the limit is 63" in p for p in problems_of(long))


def test_ca_choice_rules() -> None:
    assert any("mesh.vault" in p and "ca: vault needs" in p for p in problems_of(consul_fleet(["a", "b"], ca="vault")))
    stray = consul_fleet(["a", "b"], vault=VAULT)
    assert any("mesh.vault" in p and "mesh.ca is consul" in p for p in problems_of(stray))


def test_consul_fleet_lifts_the_api_allow_list_ceiling() -> None:
    """35 operator CIDRs on the dev fleet: over EKS's 40 with Istio (peers' egress), within it with Consul."""
    fleet = fleet_of("dev")
    fleet["fleet"]["apiAccess"]["operatorCidrs"] = [f"198.51.100.{i}/32" for i in range(35)]
    with pytest.raises(ConfigError) as err:
        load_fleet(stack_config("dev").value("defaults"), fleet)
    assert any("the API allow-list would hold" in p.render() for p in err.value.problems)
    fleet["mesh"] = consul_mesh("acme-dev")
    fleet["policies"] = {"sets": {"storefront-consul": 1}}
    load_fleet(stack_config("dev").value("defaults"), fleet)


# --------------------------------------------------------------------------
# Per cluster


@pytest.mark.parametrize("fixture", ["dev", "prod", "three"])
def test_every_cluster_gets_namespace_release_and_mesh(fixture: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    for c in clusters(plan):
        releases = [inputs(r) for r in of_cluster(plan, RELEASE, c) if inputs(r)["chart"] == "consul"]
        assert [(r["name"], r["namespace"], r["version"]) for r in releases] == [("consul", "consul", "2.0.3")]
        [mesh] = of_cluster(plan, MESH, c)
        body = inputs(mesh)
        # Created only once Consul has it: tokens generated before would name the servers, not the gateways.
        assert body["metadata"] == {
            "name": "mesh",
            "namespace": "consul",
            "annotations": {"pulumi.com/waitFor": "condition=Synced", "pulumi.com/timeoutSeconds": "900"},
        }
        assert body["spec"] == {"peering": {"peerThroughMeshGateways": True}}
        [release] = [r for r in of_cluster(plan, RELEASE, c) if inputs(r)["chart"] == "consul"]
        assert release.urn in mesh.dependencies


def test_chart_values_built_in_ca(dev: Plan) -> None:
    expected_storage = {"aws-use1": "gp3", "azure-weu": "managed-csi", "gcp-euw1": "standard-rwo"}
    for c in clusters(dev):
        values = consul_release(dev, c)["values"]
        assert values["global"]["datacenter"] == c
        assert values["global"]["tls"] == {"enabled": True, "verify": True, "httpsOnly": True}
        assert values["global"]["acls"] == {"manageSystemACLs": True}
        assert values["global"]["gossipEncryption"] == {"autoGenerate": True}
        assert values["global"]["peering"] == {"enabled": True}
        assert values["global"]["crds"] == {"enableTcpRoute": False}
        inject = dict(values["connectInject"])
        injector = {"matchLabels": {"app": "consul", "component": "connect-injector", "release": "consul"}}
        assert yaml.safe_load(inject.pop("affinity")) == {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {"labelSelector": injector, "topologyKey": "topology.kubernetes.io/zone"},
                    },
                    {
                        "weight": 50,
                        "podAffinityTerm": {"labelSelector": injector, "topologyKey": "kubernetes.io/hostname"},
                    },
                ]
            }
        }
        assert inject == {
            "enabled": True,
            "replicas": 2,
            "disruptionBudget": {"maxUnavailable": 1},
            "apiGateway": {"manageExternalCRDs": False},
        }
        assert values["server"]["storageClass"] == expected_storage[c]
        gateway = values["meshGateway"]
        assert (gateway["enabled"], gateway["replicas"], gateway["service"]["type"]) == (True, 2, "LoadBalancer")
        assert "secretsBackend" not in values["global"]


def test_existing_cluster_names_the_servers_storage_class() -> None:
    """A cluster without a default StorageClass (many kubeadm installs) leaves the servers' claims, and the
    servers, Pending; `storageClass` names one. Unset, the claims take the cluster's default."""
    fleet = consul_fleet(["east", "west"])
    fleet["clusters"][0]["storageClass"] = "local-path"
    plan = plan_fleet(fleet)
    assert consul_release(plan, "east")["values"]["server"]["storageClass"] == "local-path"
    assert consul_release(plan, "west")["values"]["server"]["storageClass"] is None
    claims = _objects(_rendered(plan, "east"), "StatefulSet", "consul-server")["spec"]["volumeClaimTemplates"]
    assert [c["spec"]["storageClassName"] for c in claims] == ["local-path"]
    claims = _objects(_rendered(plan, "west"), "StatefulSet", "consul-server")["spec"]["volumeClaimTemplates"]
    assert ["storageClassName" in c["spec"] for c in claims] == [False]
    # Kubernetes refuses the change on a deployed StatefulSet: `meshfleet diff` marks it.
    change = PlanChange(plan_fleet(consul_fleet(["east", "west"])), plan)
    [(urn, paths)] = change.inputs_changed().items()
    assert urn.endswith("::east-consul") and paths == [".values.server.storageClass"]
    assert refused({"type": RELEASE, "inputs": {"chart": "consul"}}, paths) == paths


def test_storage_class_must_be_an_object_name() -> None:
    fleet = consul_fleet(["east", "west"])
    fleet["clusters"][1]["storageClass"] = "Fast_SSD"
    with pytest.raises(ConfigError) as err:
        load_fleet(stack_config("local").value("defaults"), fleet)
    (problem,) = err.value.problems
    assert problem.path == "clusters[1].storageClass"
    assert problem.render() == (
        "clusters[1].storageClass: 'Fast_SSD' is not a Kubernetes object name\n"
        "    fix: use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
    )


def _rendered(plan: Plan, cluster: str) -> list[dict[str, Any]]:
    require_renderer()
    release = next(r for r in of_cluster(plan, RELEASE, cluster) if inputs(r)["chart"] == "consul")
    return render_release(inputs(release))


def _objects(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [obj] = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def test_one_unprotected_cluster_lets_its_server_volumes_go_alone() -> None:
    """`clusters[].protect: false` on one cluster of a protected fleet: its Consul servers' volume claims
    go with their release, the others' stay (each cluster's own protection, through its handle)."""
    fleet = only_clusters(fleet_of("prod"), "aws-use1", "azure-weu")
    fleet["mesh"] = consul_mesh("acme-prod")
    next(c for c in fleet["clusters"] if c["name"] == "azure-weu")["protect"] = False
    plan = plan_fleet(fleet, stack="prod")
    kept = {
        c: consul_release(plan, c)["values"]["server"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"]
        for c in clusters(plan)
    }
    assert kept == {"aws-use1": "Retain", "azure-weu": "Delete"}


@pytest.mark.parametrize("fixture", ["three", "prod", "vault_dev", "vault_prod"])
def test_rendered_chart(fixture: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    servers = plan.spec.mesh.servers_for(plan.spec.fleet.environment)  # type: ignore[union-attr]
    for c in clusters(plan):
        objs = _rendered(plan, c)
        server = _objects(objs, "StatefulSet", "consul-server")
        assert server["spec"]["replicas"] == servers
        # Volumes go with the release only where nothing is protected (the dev fleets).
        assert server["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": {"three": "Delete", "vault_dev": "Delete", "prod": "Retain", "vault_prod": "Retain"}[
                fixture
            ],
            "whenScaled": "Retain",
        }
        # Over zones as well as nodes: one zone's loss leaves a Raft quorum.
        server_labels = server["spec"]["template"]["metadata"]["labels"]
        server_spread = server["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert server_spread[0]["topologyKey"] == "topology.kubernetes.io/zone"
        assert all(t["labelSelector"]["matchLabels"].items() <= server_labels.items() for t in server_spread)
        # Servers' budget: one at a time (odd counts keep the quorum); none for a lone server, whose
        # chart budget of 0 would block every node drain and protect nothing.
        server_pdbs = [
            o for o in objs if o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "consul-server"
        ]
        if servers == 1:
            assert server_pdbs == []
        else:
            [server_pdb] = server_pdbs
            assert server_pdb["spec"]["maxUnavailable"] == 1
            assert server_pdb["spec"]["selector"]["matchLabels"].items() <= server_labels.items()
        assert _objects(objs, "Deployment", "consul-mesh-gateway")["spec"]["replicas"] == 2
        service = _objects(objs, "Service", "consul-mesh-gateway")
        assert service["spec"]["type"] == "LoadBalancer"
        assert service["spec"]["loadBalancerSourceRanges"], "an empty source range admits everyone"
        # The connect injector: two pods behind a budget that lets one go (its pod webhook fails closed,
        # so one pod would stop pod creation on every restart; the chart's budget for 1 or 2 is 0, which
        # blocks every node drain), and no TCPRoute v1alpha2 watch, which the fleet's standard-channel
        # Gateway API CRDs no longer serve (the injector would never start).
        injector = _objects(objs, "Deployment", "consul-connect-injector")
        assert injector["spec"]["replicas"] == 2
        assert _objects(objs, "PodDisruptionBudget", "consul-connect-injector")["spec"]["maxUnavailable"] == 1
        [container] = [x for x in injector["spec"]["template"]["spec"]["containers"] if x["name"] == "sidecar-injector"]
        assert not [a for a in container["command"] if "tcp-route" in a]
        # Its two pods apart (zones, then nodes; preferred, so one node still runs both): one lost node
        # must not take every injector, and with them pod creation in every covered namespace.
        apart = injector["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        terms = apart["preferredDuringSchedulingIgnoredDuringExecution"]
        assert [(t["weight"], t["podAffinityTerm"]["topologyKey"]) for t in terms] == [
            (100, "topology.kubernetes.io/zone"),
            (50, "kubernetes.io/hostname"),
        ]
        injector_labels = injector["spec"]["template"]["metadata"]["labels"]
        assert all(
            t["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= injector_labels.items() for t in terms
        )
        # The mesh gateway spreads over zones, then nodes; its PDB (meshfleet's, the chart has none)
        # selects exactly its pods.
        gateway = _objects(objs, "Deployment", "consul-mesh-gateway")
        labels = gateway["spec"]["template"]["metadata"]["labels"]
        spread = gateway["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert [t["topologyKey"] for t in spread] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        assert all(t["labelSelector"]["matchLabels"].items() <= labels.items() for t in spread)
        pdb = inputs(plan.get("kubernetes:policy/v1:PodDisruptionBudget", f"{c}-consul-mesh-gateway-pdb"))
        assert pdb["metadata"] == {"name": "consul-mesh-gateway", "namespace": "consul"}
        assert pdb["spec"]["minAvailable"] == 1 and pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert not [
            o for o in objs if o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "consul-mesh-gateway"
        ]
        # The fleet owns Gateway API CRDs: the chart renders none, nor any object of that group.
        assert not [o for o in objs if o["apiVersion"].startswith("gateway.networking.k8s.io")]
        assert not [
            o
            for o in objs
            if o["kind"] == "CustomResourceDefinition" and o["spec"]["group"] == "gateway.networking.k8s.io"
        ]


def test_mesh_gateway_admits_exactly_the_peers_egress(three: Plan) -> None:
    egress = {c.name: c.egress_cidrs for c in three.spec.clusters}  # type: ignore[union-attr]
    for c in clusters(three):
        service = _objects(_rendered(three, c), "Service", "consul-mesh-gateway")
        peers = sorted(cidr for name, cidrs in egress.items() if name != c for cidr in cidrs)
        assert sorted(service["spec"]["loadBalancerSourceRanges"]) == peers
        assert "annotations" not in service["metadata"] or not service["metadata"]["annotations"]


def test_eks_mesh_gateway_keeps_the_nlb_annotations(dev: Plan) -> None:
    service = _objects(_rendered(dev, "aws-use1"), "Service", "consul-mesh-gateway")
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"].startswith("eipalloc-")
    # Peers' egress: Azure's NAT address and GCP's Cloud NAT addresses, not EKS's own.
    ranges = service["spec"]["loadBalancerSourceRanges"]
    own = inputs(dev.get("aws:eks/cluster:Cluster", "aws-use1-cluster"))
    assert ranges and not set(ranges) & set(own["vpcConfig"]["publicAccessCidrs"]) - {"198.51.100.0/28"}


def test_eks_mesh_gateway_pods_wait_for_their_load_balancer_targets(dev: Plan) -> None:
    """The consul namespace asks the AWS Load Balancer Controller for its readiness gate on EKS only: a
    rollout keeps the old mesh gateway pods until the new ones' targets are healthy."""
    labels = {
        c: inputs(one)["metadata"].get("labels", {})
        for c in ("aws-use1", "azure-weu", "gcp-euw1")
        for one in of_cluster(dev, "kubernetes:core/v1:Namespace", c)
        if inputs(one)["metadata"]["name"] == "consul"
    }
    assert labels == {
        "aws-use1": {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"},
        "azure-weu": {},
        "gcp-euw1": {},
    }


def test_one_cluster_fleet_keeps_the_mesh_gateway_inside() -> None:
    plan = plan_fleet(consul_fleet(["solo"]))
    values = consul_release(plan, "solo")["values"]["meshGateway"]
    assert values["service"]["type"] == "ClusterIP" and "additionalSpec" not in values["service"]
    assert plan.by_type(ACCEPTOR) == [] and plan.by_type(DIALER) == []


# --------------------------------------------------------------------------
# Per pair


def _pairs(plan: Plan) -> dict[frozenset[str], tuple[str, str]]:
    """Unordered pair -> (acceptor cluster, dialer cluster), read from the objects' placement."""
    dc = {plan.spec.mesh.datacenter_of(c): c for c in clusters(plan)}  # type: ignore[union-attr]
    accepted: dict[frozenset[str], str] = {}
    for r in plan.by_type(ACCEPTOR):
        here = plan.cluster_of(r)
        assert here is not None
        peer = dc[inputs(r)["metadata"]["name"]]
        key = frozenset({here, peer})
        assert key not in accepted, f"two acceptors for {sorted(key)}"
        accepted[key] = here
    dialed: dict[frozenset[str], str] = {}
    for r in plan.by_type(DIALER):
        here = plan.cluster_of(r)
        assert here is not None
        key = frozenset({here, dc[inputs(r)["metadata"]["name"]]})
        assert key not in dialed, f"two dialers for {sorted(key)}"
        dialed[key] = here
    assert set(accepted) == set(dialed)
    return {k: (accepted[k], dialed[k]) for k in accepted}


@pytest.mark.parametrize(("fixture", "n"), [("three", 3), ("four", 4), ("dev", 3)])
def test_one_peering_per_unordered_pair(fixture: str, n: int, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(fixture)
    pairs = _pairs(plan)
    assert len(plan.by_type(ACCEPTOR)) == len(plan.by_type(DIALER)) == n * (n - 1) // 2
    assert set(pairs) == {frozenset(p) for p in combinations(clusters(plan), 2)}
    for acceptor, dialer in pairs.values():
        assert acceptor != dialer


def test_acceptor_choice_is_stable_when_a_cluster_is_added(three: Plan, four: Plan) -> None:
    before, after = _pairs(three), _pairs(four)
    assert set(before) < set(after)
    assert {k: after[k] for k in before} == before
    # Removing one keeps the others too.
    after_removal = _pairs(plan_fleet(consul_fleet(["west", "north", "south"])))
    assert {k: after[k] for k in after_removal} == after_removal


def test_peering_objects_and_order(four: Plan) -> None:
    by_urn = {r.urn: r for r in four.resources}
    meshes = {four.cluster_of(r): r.urn for r in four.by_type(MESH)}
    for acceptor in four.by_type(ACCEPTOR):
        body = inputs(acceptor)
        assert body["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Synced"
        secret = body["spec"]["peer"]["secret"]
        assert secret == {
            "name": f"consul-peering-token-{body['metadata']['name']}",
            "key": "data",
            "backend": "kubernetes",
        }
        assert meshes[four.cluster_of(acceptor)] in acceptor.dependencies
    for dialer in four.by_type(DIALER):
        here = four.cluster_of(dialer)
        body = inputs(dialer)
        secret = body["spec"]["peer"]["secret"]
        [copy_urn] = [
            u
            for u in dialer.dependencies
            if by_urn[u].type == SECRET and inputs(by_urn[u])["metadata"]["name"] == secret["name"]
        ]
        assert four.cluster_of(by_urn[copy_urn]) == here
        assert meshes[here] in dialer.dependencies


def test_tokens_are_secret_end_to_end(four: Plan, tmp_path: Path) -> None:
    reads = [r for r in four.by_type(SECRET) if r.read]
    assert len(reads) == len(four.by_type(ACCEPTOR))
    copies = [
        r for r in four.by_type(SECRET) if not r.read and inputs(r)["metadata"]["name"].startswith("consul-peering")
    ]
    assert len(copies) == len(reads)
    for copy_ in copies:
        assert is_secret(copy_.inputs["data"]), "the copied token must be a Pulumi secret"
        token = base64.b64decode(inputs(copy_)["data"]["data"]).decode()
        decoded = json.loads(base64.b64decode(token))
        assert decoded["ServerAddresses"] and decoded["EstablishmentSecret"]
    # Each copy holds exactly the token the controller wrote in the acceptor's cluster.
    written = sorted(four.state[(SECRET, r.name)]["data"]["data"] for r in reads)
    assert sorted(inputs(c)["data"]["data"] for c in copies) == written
    write_plan(four, tmp_path)
    text = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert not any(token in text for token in written)


def test_consul_peers_names_every_other_datacenter() -> None:
    from components.mesh.consul import consul_peers

    fleet = consul_fleet(["east", "west", "north"], datacenters={"north": "dc-north"})
    spec = load_fleet(stack_config("local").value("defaults"), fleet)
    assert consul_peers(spec, "east") == ["dc-north", "west"]
    assert consul_peers(spec, "north") == ["east", "west"]


# --------------------------------------------------------------------------
# API allow-lists


def egress_eips(plan: Plan) -> set[str]:
    """The EKS cluster's own egress (NAT) addresses; the gateway EIPs are not egress."""
    return {f"{s['publicIp']}/32" for (t, n), s in plan.state.items() if t == "aws:ec2/eip:Eip" and "-egress-" in n}


def test_api_allow_lists_admit_no_peers(dev: Plan, vault_dev: Plan) -> None:
    api = dev.spec.fleet.api_access
    static = {*api.operator_cidrs, *api.ci_runner_cidrs}
    eks = set(inputs(dev.get("aws:eks/cluster:Cluster", "aws-use1-cluster"))["vpcConfig"]["publicAccessCidrs"])
    eips = egress_eips(dev)
    assert eks == static | eips
    vault_eks = set(
        inputs(vault_dev.get("aws:eks/cluster:Cluster", "aws-use1-cluster"))["vpcConfig"]["publicAccessCidrs"]
    )
    vault_eips = egress_eips(vault_dev)
    assert vault_eks == static | vault_eips | {"203.0.113.16/28"}


# --------------------------------------------------------------------------
# Vault mode


def test_vault_mode_values(vault_dev: Plan) -> None:
    for c in clusters(vault_dev):
        values = consul_release(vault_dev, c)["values"]
        backend = values["global"]["secretsBackend"]["vault"]
        assert backend["enabled"] is True
        assert backend["connectCA"]["rootPKIPath"] == f"consul-{c}-connect-root/"
        assert backend["connectCA"]["authMethodPath"] == f"kubernetes-consul-{c}"
        assert values["global"]["tls"]["caCert"] == {"secretName": f"consul-{c}-tls/cert/ca"}
        assert values["global"]["gossipEncryption"] == {"secretName": f"consul-{c}-kv/data/gossip", "secretKey": "key"}
        assert "autoGenerate" not in values["global"]["gossipEncryption"]
        [injector] = [inputs(r) for r in of_cluster(vault_dev, RELEASE, c) if inputs(r)["chart"] == "vault"]
        assert injector["values"]["server"] == {"enabled": False}
        assert injector["values"]["injector"]["enabled"] is True
        consul = next(r for r in of_cluster(vault_dev, RELEASE, c) if inputs(r)["chart"] == "consul")
        injector_urn = next(r.urn for r in of_cluster(vault_dev, RELEASE, c) if inputs(r)["chart"] == "vault")
        assert injector_urn in consul.dependencies


def test_vault_intermediate_verifies_to_the_fleet_root(vault_dev: Plan, tmp_path: Path) -> None:
    """What Pulumi signs for Vault chains to the fleet root. What Vault issues at run time cannot be checked offline."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    [root] = [s for (t, _), s in vault_dev.state.items() if t == ROOT_CERT]
    root_file = tmp_path / "root.pem"
    root_file.write_text(root["certPem"])
    for c in clusters(vault_dev):
        signed = vault_dev.state[(SIGNED, f"{c}-vault-connect-cert")]
        csr = vault_dev.state[
            (
                "vault:pkiSecret/secretBackendIntermediateCertRequest:SecretBackendIntermediateCertRequest",
                f"{c}-vault-connect-csr",
            )
        ]
        assert signed["certRequestPem"] == csr["csr"], "Pulumi signs the CSR Vault generated"
        cert_file = tmp_path / f"{c}.pem"
        cert_file.write_text(signed["certPem"])
        run = subprocess.run(
            ["openssl", "verify", "-CAfile", str(root_file), str(cert_file)], capture_output=True, text=True
        )
        assert run.returncode == 0 and run.stdout.strip().endswith("OK"), run.stdout + run.stderr
    # The fleet root's key never enters Vault: no Vault resource carries a private key.
    for r in vault_dev.resources:
        if r.type.startswith("vault:"):
            assert "PRIVATE KEY" not in json.dumps(inputs(r)), r.urn


def test_vault_mode_secrets_stay_secret(vault_dev: Plan, tmp_path: Path) -> None:
    """Gossip key, ACL bootstrap token and the token reviewer's JWT: secret inputs, absent from the written plan."""
    values: list[str] = []
    for r in vault_dev.resources:
        if r.type == "vault:kv/secretV2:SecretV2":
            assert is_secret(r.inputs["dataJson"]), r.urn
            values += list(json.loads(inputs(r)["dataJson"]).values())
        if r.type == "vault:kubernetes/authBackendConfig:AuthBackendConfig":
            assert is_secret(r.inputs["tokenReviewerJwt"]), r.urn
            values.append(inputs(r)["tokenReviewerJwt"])
    assert len(values) == 3 * len(vault_dev.spec.clusters) and all(values)
    write_plan(vault_dev, tmp_path)
    text = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert not [v for v in values if v in text]


# --------------------------------------------------------------------------
# Manifests: upstream schemas, the vendored chart, golden files


def _validate(plan: Plan, tmp: Path) -> None:
    # Cluster add-ons and Vault's injector chart are not vendored here.
    _, checked = validate_plan_upstream(
        plan, tmp, lambda release: str(CONSUL_CHART) if release["chart"] == "consul" else None
    )
    assert checked == len(plan.spec.clusters)


@pytest.mark.parametrize("fixture", ["dev", "prod", "vault_dev", "vault_prod"])
def test_manifests_validate_upstream(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    _validate(request.getfixturevalue(fixture), tmp_path)


def test_golden_manifests(three: Plan) -> None:
    rendered = {
        rel: text
        for rel, text in manifests(three).items()
        if rel.split("/", 1)[1].startswith(("helm/", "namespace-", "mesh-", "peering", "secret-consul-"))
    }
    assert_golden_dir(GOLDEN, rendered)


def test_example_stack_plans_with_the_cli(tmp_path: Path) -> None:
    run = meshfleet_process("plan", "--config", str(EXAMPLE), "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "manifests" / "aws-use1" / "helm" / "consul.yaml").exists()


# --------------------------------------------------------------------------
# Switching mesh


MESH_TYPES = (
    "kubernetes:",
    "meshfleet:mesh:",
    "vault:",
    # Linkerd's webhook CA and serving certificates, and their provider
    "tls:",
    "pulumi:providers:tls",
    "random:",
    "pulumi:providers:vault",
    "pulumi:providers:random",
)


@pytest.mark.parametrize("deployed", ["istio", "linkerd"])
def test_switching_dev_to_consul_changes_only_mesh_resources(deployed: str) -> None:
    from tests.test_linkerd import with_linkerd

    before = fleet_of("dev") if deployed == "istio" else with_linkerd(fleet_of("dev"))
    istio = plan_fleet(before, stack="dev")
    fleet = fleet_of("dev")
    fleet["mesh"] = consul_mesh("acme-dev", migrateFrom=deployed)
    fleet["policies"] = {"sets": {"storefront-consul": 1}}
    consul = plan_fleet(fleet, stack="dev")

    def non_mesh(plan: Plan) -> dict[str, Recorded]:
        # In-cluster objects of the mesh (releases, CRs, Secrets) and its components; not the
        # clusters' add-ons, which share the `kubernetes:` types but keep their names.
        mesh_names = (
            "-istio",
            "-consul",
            "-linkerd",
            "-peers-",
            "-reads-",
            "-links-",
            "istio-",
            "consul-",
            "linkerd-",
            "-policies",
        )
        return {
            r.urn: r
            for r in plan.resources
            if not (r.type.startswith(MESH_TYPES) and any(m in r.name for m in mesh_names))
            and not r.type.startswith("meshfleet:mesh:")
        }

    # The EKS gateway's Elastic IPs are the gateway's own: the new one's come up beside the old one's.
    def gateway_eips(plan: Plan) -> set[str]:
        return {r.name for r in plan.resources if r.type == "aws:ec2/eip:Eip" and "-network-gateway-" in r.name}

    old_slot = "istio-sidecar" if deployed == "istio" else "linkerd"
    zones = ("us-east-1a", "us-east-1b", "us-east-1c")
    assert gateway_eips(istio) == {f"aws-use1-network-gateway-{old_slot}-{z}" for z in zones}
    assert gateway_eips(consul) == {f"aws-use1-network-gateway-consul-{z}" for z in zones}
    a = {u: r for u, r in non_mesh(istio).items() if r.name not in gateway_eips(istio)}
    b = {u: r for u, r in non_mesh(consul).items() if r.name not in gateway_eips(consul)}
    assert set(a) == set(b)
    changed = {u: (a[u], b[u]) for u in a if a[u].inputs != b[u].inputs}
    allowed = {
        # GKE's webhook firewall opens Consul's port instead of the deployed mesh's.
        "gcp:compute/firewall:Firewall": {"allows"},
        # API allow-lists: Consul fleets admit no peers (peering goes through mesh gateways).
        "aws:eks/cluster:Cluster": {"vpcConfig"},
        "gcp:container/cluster:Cluster": {"masterAuthorizedNetworksConfig"},
        "azure-native:containerservice:ManagedCluster": {"apiServerAccessProfile"},
        # The switch guard records the new kind, the migration that allowed it and what only
        # Istio has (its versions and trust domain aliases): never the clusters, their versions
        # or the trust domain. The Fleet component's facts (read by the guardrails) name the mesh.
        "pulumi-python:dynamic/meshfleet:MeshSwitchGuard": {
            "kind",
            "migrateFrom",
            "istioVersions",
            "istioStable",
            "trustDomainAliases",
        },
        "meshfleet:index:Fleet": {"facts"},
    }
    for urn, (old, new) in changed.items():
        keys = {k for k in set(old.inputs) | set(new.inputs) if old.inputs.get(k) != new.inputs.get(k)}
        assert old.type in allowed and keys <= allowed[old.type], f"{urn} changed {sorted(keys)}"


def test_vault_mode_plans_give_identical_bytes(vault_dev: Plan) -> None:
    """Same config, same bytes in Vault mode too: the simulated Vault CSR is signed deterministically
    (RFC 6979), as the tls simulator signs."""
    fleet = example_fleet()
    fleet["mesh"] = {**fleet["mesh"], "ca": "vault", "vault": VAULT}
    again = plan_fleet(fleet, stack="dev")
    assert json.dumps(again.to_json(show_secrets=True), sort_keys=True) == json.dumps(
        vault_dev.to_json(show_secrets=True), sort_keys=True
    )
