"""Whole-fleet properties across clouds: allow-lists, independence, providers, secrets."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests.helpers import PlanChange, existing_fleet, fleet_of, inputs, plan_fleet, plan_stack

RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"

EGRESS_TYPES = {
    "aws:ec2/eip:Eip",
    "azure-native:network:PublicIPAddress",
    "gcp:compute/address:Address",
}


@pytest.fixture(scope="module")
def dev():
    return plan_stack("dev")


def api_allow_list(plan, cluster: str) -> list[str]:
    """The allow-list a cluster's API server was given, whatever the cloud."""
    spec = plan.spec.cluster(cluster)
    if spec.cloud == "aws":
        (c,) = [r for r in plan.by_type("aws:eks/cluster:Cluster") if r.name.startswith(cluster)]
        return sorted(inputs(c)["vpcConfig"]["publicAccessCidrs"])
    if spec.cloud == "azure":
        (c,) = [r for r in plan.by_type("azure-native:containerservice:ManagedCluster") if r.name.startswith(cluster)]
        return sorted(inputs(c)["apiServerAccessProfile"]["authorizedIPRanges"])
    (c,) = [r for r in plan.by_type("gcp:container/cluster:Cluster") if r.name.startswith(cluster)]
    return sorted(b["cidrBlock"] for b in inputs(c)["masterAuthorizedNetworksConfig"]["cidrBlocks"])


def test_each_allow_list_is_operators_ci_peers_and_own_egress(dev):
    outputs = dev.to_json(show_secrets=True)["outputs"]
    egress = {c.name: outputs[c.name]["egressCidrs"] for c in dev.spec.clusters}
    assert all(egress.values())
    static = ["198.51.100.0/28", "192.0.2.64/27"]
    for cluster in egress:
        expected = sorted({*static, *(cidr for cidrs in egress.values() for cidr in cidrs)})
        assert api_allow_list(dev, cluster) == expected, cluster
    # Every cluster's egress is distinct: a peer is never confused with another.
    flat = [c for cidrs in egress.values() for c in cidrs]
    assert len(flat) == len(set(flat))


def owner(plan, urn: str) -> str | None:
    return plan.owner_of(next(r for r in plan.resources if r.urn == urn))


def test_clusters_depend_on_each_other_only_through_egress_and_mesh_credentials(dev):
    by_urn = {r.urn: r for r in dev.resources}
    for r in dev.resources:
        mine = owner(dev, r.urn)
        if mine is None:
            continue
        for dep in r.dependencies:
            theirs = owner(dev, dep)
            if theirs is None or theirs == mine:
                continue
            dep_r = by_urn[dep]
            # A remote secret in A carries B's endpoint, CA and reader token:
            # the one place a cluster reads another cluster's outputs.
            credential = r.type == "kubernetes:core/v1:Secret" and r.name == f"{mine}-reads-{theirs}-remote-secret"
            assert dep_r.type in EGRESS_TYPES or credential, f"{r.urn} depends on {dep}"


def test_every_cloud_resource_names_its_provider(dev):
    for r in dev.resources:
        if r.custom and r.type.split(":")[0] in {"aws", "azure-native", "gcp", "kubernetes"}:
            assert r.provider, f"{r.urn} uses a default provider"


def test_kubeconfig_outputs_are_secret(dev):
    outputs = dev.to_json(show_secrets=False)["outputs"]
    kubeconfigs = {k: v for k, v in outputs.items() if k.endswith("-kubeconfig")}
    assert sorted(kubeconfigs) == [f"{c.name}-kubeconfig" for c in sorted(dev.spec.clusters, key=lambda c: c.name)]
    assert set(kubeconfigs.values()) == {"[secret]"}
    for provider in dev.by_type("pulumi:providers:kubernetes"):
        assert provider.contract(show_secrets=False)["inputs"].get("kubeconfig") == "[secret]", provider.urn


def test_every_kubernetes_provider_applies_server_side_and_adopts_existing_objects(dev):
    """Adopting Helm-owned tag objects (docs/istio.md) and pre-installed CRDs needs the pre-4.29 upsert."""
    providers = dev.by_type("pulumi:providers:kubernetes")
    assert len(providers) == len(dev.spec.clusters)
    for provider in providers:
        assert provider.inputs["enableServerSideApply"] == "true", provider.name
        assert provider.inputs["upsertExistingObjects"] == "true", provider.name


def test_every_kubernetes_provider_updates_secrets_and_config_maps_in_place(dev):
    """pulumi-kubernetes otherwise replaces a Secret or ConfigMap whose data changes, deleting a named one
    before creating it again: a rotated cacerts or remote secret would be gone for a moment."""
    for provider in dev.by_type("pulumi:providers:kubernetes"):
        assert provider.inputs["enableSecretMutable"] == "true", provider.name
        assert provider.inputs["enableConfigMapMutable"] == "true", provider.name


def test_changing_the_deployers_keeps_every_cluster_identifier(dev):
    fleet = fleet_of("dev")
    fleet["fleet"]["deployers"]["aws"]["roleArn"] = "arn:aws:iam::111111111111:role/other-deployer"
    fleet["fleet"]["deployers"]["azure"]["kubeloginMode"] = "workloadidentity"
    changed = plan_fleet(fleet, stack="dev")
    before = {p.name: p.inputs for p in dev.by_type("pulumi:providers:kubernetes")}
    after = {p.name: p.inputs for p in changed.by_type("pulumi:providers:kubernetes")}
    assert sorted(before) == sorted(after)
    for name in before:
        assert before[name]["clusterIdentifier"] == after[name]["clusterIdentifier"], name
    # The kubeconfigs did change (the providers are updated, not replaced).
    assert json.dumps(before, sort_keys=True) != json.dumps(after, sort_keys=True)


def test_dev_plan_is_deterministic(dev):
    again = plan_stack("dev")
    assert json.dumps(again.to_json(True), sort_keys=True) == json.dumps(dev.to_json(True), sort_keys=True)


def test_every_taggable_cloud_resource_carries_the_fleet_tags(dev):
    from policies.guardrails.rules import missing_fleet_tags

    violations = [v for r in dev.resources if r.custom for v in missing_fleet_tags(r.type, inputs(r))]
    assert violations == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_resource_graph_per_cluster_matches_golden(stack, dev):
    """Exact resource types and counts per cluster (tests/golden/tree-<stack>.txt; UPDATE_GOLDEN=1 to accept)."""
    import os

    from ops.plan import render_tree
    from tests.helpers import ROOT

    plan = dev if stack == "dev" else plan_stack(stack)
    tree = render_tree(plan) + "\n"
    golden = ROOT / "tests" / "golden" / f"tree-{stack}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(tree)
    assert golden.read_text() == tree


def test_dev_plan_files_are_byte_identical(dev, tmp_path):
    from ops.plan import write_plan

    a = write_plan(dev, tmp_path / "a", show_secrets=True)
    b = write_plan(plan_stack("dev"), tmp_path / "b", show_secrets=True)
    assert [p.relative_to(tmp_path / "a") for p in a] == [p.relative_to(tmp_path / "b") for p in b]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa


def test_root_rotation_touches_only_trust_material_on_every_cloud(dev):
    """Each rotation phase on the dev fleet: no cloud resource, cluster or node pool changes. Phases 1 and 3
    change the root bundle, which istiod reads only at start: its release changes only the bundle digest on
    its pods (a rolling restart). Phase 2 re-signs the intermediates, which istiod reloads in place."""
    new_root = {"name": "root-2027", "source": "generated", "algorithm": "ECDSA-P256", "validityHours": 87600}

    def phase(roots: list[dict], signing: str | None = None):
        fleet = fleet_of("dev")
        old_root = {"name": "root-2026", "source": "generated", "algorithm": "ECDSA-P256", "validityHours": 87600}
        fleet["trust"] = {"roots": [old_root if r == "old" else new_root for r in roots]}
        if signing:
            fleet["trust"]["signingRoot"] = signing
        return plan_fleet(fleet, stack="dev")

    plans = [dev, phase(["old", "new"]), phase(["old", "new"], "root-2027"), phase(["new"])]
    names = sorted(c.name for c in dev.spec.clusters)
    for number, (before, after) in enumerate(itertools.pairwise(plans), start=1):
        change = PlanChange(before, after, keep=lambda r: not r.type.startswith(("tls:", "pulumi:providers:tls")))
        assert change.added == [] and change.removed == set()
        changed = change.changed()
        if number == 2:
            # The new root signs: each cluster's intermediate and chain, nothing else.
            cacerts = (".stringData.ca-cert.pem", ".stringData.cert-chain.pem")
            expected = {(f"{c}-istio-cacerts", cacerts) for c in names}
        else:
            # The bundle gains, then loses, a root; istiod's pods carry its digest.
            expected = {(f"{c}-istio-cacerts", (".stringData.root-cert.pem",)) for c in names}
            digest = ".values.podAnnotations.meshfleet.io/trust-bundle-sha256"
            expected |= {(f"{c}-istiod-1-30-3", (digest,)) for c in names}
        assert changed == expected, number


def test_dev_plan_json_has_every_contract_field(dev):
    from tests.test_plan import CONTRACT_FIELDS

    doc = dev.to_json(show_secrets=False)
    assert set(doc) == {"project", "stack", "resources", "outputs"}
    assert len(doc["resources"]) == len(dev.resources) > 100
    for r in doc["resources"]:
        assert set(r) >= CONTRACT_FIELDS, r["urn"]


def test_adding_a_cluster_updates_only_peers_allow_lists_and_gateway_ranges(dev):
    """Day 2: adding gcp-euw1 to a fleet of aws-use1 and azure-weu. The existing clusters change in place
    only where the new peer is admitted (API allow-lists, east-west gateway source ranges); everything
    else that appears is the new cluster's own or a pair that includes it."""
    from tests.helpers import only_clusters

    before = plan_fleet(only_clusters(fleet_of("dev"), "aws-use1", "azure-weu"), stack="dev")
    change = PlanChange(before, dev)
    assert change.removed == set(), "nothing is deleted"
    assert change.changed() == {
        ("aws-use1-cluster", (".vpcConfig.publicAccessCidrs",)),
        ("azure-weu-aks", (".apiServerAccessProfile.authorizedIPRanges",)),
        ("aws-use1-istio-eastwestgateway", (".values.service.loadBalancerSourceRanges",)),
        ("azure-weu-istio-eastwestgateway", (".values.service.loadBalancerSourceRanges",)),
        # The guard records the fleet's clusters and their versions.
        ("acme-dev-mesh-switch", (".clusters",)),
    }
    for u in change.new.keys() - change.old.keys():
        r = change.new[u]
        assert dev.owner_of(r) == "gcp-euw1" or "gcp-euw1" in r.name, r.urn


def test_a_kubernetes_minor_bump_updates_clusters_and_pools_in_place(dev):
    """Day 2: one minor up on every cloud (EKS with its per-minor pins). Only version fields change, on
    the same URNs: no node pool or cluster gets a new name or any other input, so nothing is replaced."""
    fleet = fleet_of("dev")
    for i, version in ((0, "1.34"), (1, "1.36"), (2, "1.36")):
        fleet["clusters"][i]["kubernetesVersion"] = version
    fleet["addons"] = {"eks": {"kubeProxy": "v1.34.3-eksbuild.2", "clusterAutoscalerImage": "v1.34.2"}}
    change = PlanChange(dev, plan_fleet(fleet, stack="dev"))
    assert change.added == [] and change.removed == set()
    assert change.changed() == {
        ("aws-use1-cluster", (".version",)),
        *((f"aws-use1-nodes-system-us-east-1{z}", (".version",)) for z in "abc"),
        ("aws-use1-addon-kube-proxy", (".addonVersion",)),
        ("aws-use1-cluster-autoscaler", (".values.image.tag",)),
        ("azure-weu-aks", (".agentPoolProfiles[0].orchestratorVersion", ".kubernetesVersion")),
        ("azure-weu-pool-workload", (".orchestratorVersion",)),
        ("gcp-euw1-cluster", (".minMasterVersion",)),
        (
            "acme-dev-mesh-switch",
            (".kubernetesVersions.aws-use1", ".kubernetesVersions.azure-weu"),  # GKE's is a floor: not judged
        ),
    }


#: The kube-proxy add-on build EKS lists for Kubernetes 1.34 (EKS user guide, "Manage kube-proxy").
KUBE_PROXY_134 = "v1.34.1-eksbuild.2"


def _eks_minor_moved(name: str, zones: str) -> set[tuple[str, tuple[str, ...]]]:
    """What moving one EKS cluster a minor changes: version fields on the same URNs, its kube-proxy add-on
    and its autoscaler's image; nothing of another cluster."""
    return {
        (f"{name}-cluster", (".version",)),
        *((f"{name}-nodes-system-{zone}", (".version",)) for zone in zones.split()),
        (f"{name}-addon-kube-proxy", (".addonVersion",)),
        (f"{name}-cluster-autoscaler", (".values.image.tag",)),
        ("acme-prod-mesh-switch", (f".kubernetesVersions.{name}",)),
    }


def test_an_eks_minor_upgrade_moves_one_cluster_per_update():
    """Day 2: prod's two EKS clusters move 1.33 -> 1.34 one at a time. First aws-usw2, with the 1.34 pins
    listed in `addons.eks.otherMinors`: only its own version fields, kube-proxy add-on and autoscaler image
    change, and aws-use1 keeps the fleet's 1.33 pins. Then aws-use1, with the fleet's pins moved to 1.34
    and the entry dropped: only aws-use1 changes, and aws-usw2's pins stay as they were."""
    prod = plan_stack("prod")
    fleet = fleet_of("prod")
    assert [(c["name"], c["kubernetesVersion"]) for c in fleet["clusters"][:2]] == [
        ("aws-use1", "1.33"),
        ("aws-usw2", "1.33"),
    ]
    pins_134 = {"kubeProxy": KUBE_PROXY_134, "clusterAutoscalerImage": "v1.34.2"}
    fleet["clusters"][1]["kubernetesVersion"] = "1.34"
    fleet["addons"] = {"eks": {"otherMinors": [pins_134]}}
    first = plan_fleet(fleet, stack="prod")
    change = PlanChange(prod, first)
    assert change.added == [] and change.removed == set()
    assert change.changed() == _eks_minor_moved("aws-usw2", "us-west-2a us-west-2b us-west-2c")
    addon = "aws:eks/addon:Addon"
    assert inputs(first.get(addon, "aws-usw2-addon-kube-proxy"))["addonVersion"] == KUBE_PROXY_134
    assert inputs(first.get(addon, "aws-use1-addon-kube-proxy"))["addonVersion"] == "v1.33.5-eksbuild.2"

    fleet["clusters"][0]["kubernetesVersion"] = "1.34"
    fleet["addons"] = {"eks": {**pins_134, "otherMinors": []}}
    second = PlanChange(first, plan_fleet(fleet, stack="prod"))
    assert second.added == [] and second.removed == set()
    assert second.changed() == _eks_minor_moved("aws-use1", "us-east-1a us-east-1b us-east-1c")


def test_a_maintenance_window_adds_schedules_and_changes_no_cluster_but_gke_in_place(dev):
    """Day 2: setting `fleet.maintenanceWindow`, then moving it. AKS gets its two planned-maintenance
    configurations (new resources, nothing else in Azure changes); GKE's cluster gains its policy in
    place. Moving the window later changes only those schedules, on the same URNs."""
    fleet = fleet_of("dev")
    fleet["fleet"]["maintenanceWindow"] = {"day": "Saturday", "startTime": "22:00", "durationHours": 12}
    windowed = plan_fleet(fleet, stack="dev")
    change = PlanChange(dev, windowed)
    assert change.removed == set()
    assert change.added == [
        ("azure-native:containerservice:MaintenanceConfiguration", "azure-weu-maintenance-auto-upgrade"),
        ("azure-native:containerservice:MaintenanceConfiguration", "azure-weu-maintenance-node-os"),
    ]
    assert change.changed(whole_records=True) == {("gcp-euw1-cluster", (".maintenancePolicy",))}

    fleet["fleet"]["maintenanceWindow"] = {"day": "Sunday", "startTime": "01:30", "durationHours": 24}
    moved = PlanChange(windowed, plan_fleet(fleet, stack="dev"))
    assert moved.added == [] and moved.removed == set()
    assert {name for name, _ in moved.changed()} == {
        "azure-weu-maintenance-auto-upgrade",
        "azure-weu-maintenance-node-os",
        "gcp-euw1-cluster",
    }


#: Where each type carries the fleet tags (a tag change must touch nothing else).
TAG_PATHS = {
    ".tags",
    ".labels",
    ".resourceLabels",
    ".nodeConfig.resourceLabels",
    ".defaultTags",
    ".defaultLabels",
    ".values.defaultTags",
}


def test_an_owner_change_only_retags_on_the_same_urns(dev):
    """Day 2: a new `fleet.owner` changes tag and label properties only (updated in place), and the inline AKS
    system pool's tags. Nothing whose tags are fixed at creation changes: the EKS launch template's instance
    tags and the gp3 class's volume tags are the identity tags only, so no node rolls and no class is re-created."""
    fleet = fleet_of("dev")
    fleet["fleet"]["owner"] = "platform-team"
    change = PlanChange(dev, plan_fleet(fleet, stack="dev"))
    assert change.added == [] and change.removed == set()
    changed = change.inputs_changed()
    assert len(changed) > 50
    for u, paths in changed.items():
        r = change.new[u]
        if r.type == "azure-native:containerservice:ManagedCluster":
            # The inline system pool (a list entry) changes only its tags too.
            assert paths == [".agentPoolProfiles[0].tags.owner", ".tags.owner"], u
        else:
            assert {p.rsplit(".owner", 1)[0] for p in paths} <= TAG_PATHS, (u, paths)
    assert not [u for u in changed if change.new[u].type == "kubernetes:storage.k8s.io/v1:StorageClass"]


def test_a_new_operator_network_changes_only_the_api_allow_lists(dev):
    """Day 2: one more `apiAccess.operatorCidrs` entry updates each cluster's API allow-list in place, nothing else."""
    fleet = fleet_of("dev")
    fleet["fleet"]["apiAccess"]["operatorCidrs"] = [*fleet["fleet"]["apiAccess"]["operatorCidrs"], "203.0.113.0/28"]
    widened = plan_fleet(fleet, stack="dev")
    change = PlanChange(dev, widened)
    assert change.added == [] and change.removed == set()
    assert change.changed(whole_records=True) == {
        ("aws-use1-cluster", (".vpcConfig.publicAccessCidrs",)),
        ("azure-weu-aks", (".apiServerAccessProfile.authorizedIPRanges",)),
        ("gcp-euw1-cluster", (".masterAuthorizedNetworksConfig.cidrBlocks",)),
    }
    for r in widened.resources:
        if r.name in {"aws-use1-cluster", "azure-weu-aks", "gcp-euw1-cluster"}:
            assert "203.0.113.0/28" in str(r.inputs), r.name


def test_a_new_node_pool_on_every_cloud_only_adds_its_own_resources(dev):
    """Day 2: one more pool per cluster creates that pool (and, on EKS, its launch template); nothing that runs
    changes."""
    fleet = fleet_of("dev")
    for cluster in fleet["clusters"]:
        cluster["nodePools"].append({**cluster["nodePools"][0], "name": "batch"})
    change = PlanChange(dev, plan_fleet(fleet, stack="dev"))
    assert change.removed == set()
    assert change.changed() == set()
    assert change.added == [
        ("aws:ec2/launchTemplate:LaunchTemplate", "aws-use1-nodes-batch-template"),
        *(("aws:eks/nodeGroup:NodeGroup", f"aws-use1-nodes-batch-us-east-1{z}") for z in "abc"),
        ("azure-native:containerservice:AgentPool", "azure-weu-pool-batch"),
        ("gcp:container/nodePool:NodePool", "gcp-euw1-pool-batch"),
    ]


# --------------------------------------------------------------------------
# Existing clusters: the gateway's load balancer


METALLB = {"metallb.io/address-pool": "public", "metallb.io/loadBalancerIPs": "192.0.2.10"}


def _gateway_fleet(mesh: str) -> dict[str, Any]:
    from tests.test_consul import consul_fleet
    from tests.test_linkerd import with_linkerd

    if mesh == "consul":
        fleet = consul_fleet(["east", "west"])
    else:
        fleet = existing_fleet(["east", "west"], mode="ambient" if mesh == "ambient" else "sidecar")
        fleet = with_linkerd(fleet) if mesh == "linkerd" else fleet
    fleet["clusters"][0]["loadBalancerAnnotations"] = dict(METALLB)
    return fleet


@pytest.mark.parametrize(
    ("mesh", "release"),
    [("sidecar", "istio-eastwestgateway"), ("linkerd", "linkerd-multicluster"), ("consul", "consul")],
)
def test_an_existing_clusters_gateway_service_carries_its_load_balancer_annotations(mesh: str, release: str) -> None:
    """On-prem load balancers (MetalLB, kube-vip) pick a pool or pin an address by Service annotation:
    the real chart puts them on the gateway's Service, on that cluster only."""
    from tests.charts import render_release, require_renderer

    require_renderer()
    plan = plan_fleet(_gateway_fleet(mesh))
    for cluster, expected in (("east", METALLB), ("west", {})):
        [r] = [r for r in plan.resources if r.type == RELEASE and r.name == f"{cluster}-{release}"]
        services = [
            o for o in render_release(inputs(r)) if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"
        ]
        ours = [{k: v for k, v in (o["metadata"].get("annotations") or {}).items() if k in METALLB} for o in services]
        assert ours == [expected], (mesh, cluster)


def test_an_existing_clusters_ambient_gateway_carries_its_load_balancer_annotations() -> None:
    """Ambient's east-west Gateway: istiod copies spec.infrastructure.annotations onto the Service it generates.
    A cluster without any gets an empty map, not none: istiod would copy the Gateway's own annotations then."""
    plan = plan_fleet(_gateway_fleet("ambient"))
    for cluster, expected in (("east", METALLB), ("west", {})):
        [gateway] = [
            r for r in plan.resources if r.type == K8S_GATEWAY and r.name == f"{cluster}-istio-ambient-eastwest-gateway"
        ]
        assert inputs(gateway)["spec"]["infrastructure"].get("annotations") == expected


def test_an_nlb_of_target_type_ip_keeps_the_users_target_group_attributes() -> None:
    """EKS gets a 60 s deregistration delay; an existing cluster running the AWS Load Balancer Controller
    keeps its own target-group attributes, and its own delay is the drain time pods must cover."""
    from components.handle import AWS_LBC_READINESS_GATE, AWS_LBC_TARGET_GROUP_ATTRIBUTES, _load_balancer_facts

    ip = {"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}
    eks = _load_balancer_facts(dict(ip))
    assert (
        eks["load_balancer_annotations"][AWS_LBC_TARGET_GROUP_ATTRIBUTES] == "deregistration_delay.timeout_seconds=60"
    )
    assert (eks["load_balancer_drain_seconds"], eks["load_balancer_namespace_labels"]) == (60, AWS_LBC_READINESS_GATE)
    mine = _load_balancer_facts({**ip, AWS_LBC_TARGET_GROUP_ATTRIBUTES: "preserve_client_ip.enabled=true"})
    assert mine["load_balancer_annotations"][AWS_LBC_TARGET_GROUP_ATTRIBUTES] == (
        "preserve_client_ip.enabled=true,deregistration_delay.timeout_seconds=60"
    )
    quick = _load_balancer_facts(
        {
            **ip,
            AWS_LBC_TARGET_GROUP_ATTRIBUTES: "deregistration_delay.timeout_seconds=30, preserve_client_ip.enabled=true",
        }
    )
    assert quick["load_balancer_annotations"][AWS_LBC_TARGET_GROUP_ATTRIBUTES] == (
        "deregistration_delay.timeout_seconds=30,preserve_client_ip.enabled=true"
    )
    assert quick["load_balancer_drain_seconds"] == 30
    assert _load_balancer_facts({"metallb.io/address-pool": "public"}) == {
        "load_balancer_annotations": {"metallb.io/address-pool": "public"}
    }


@pytest.mark.parametrize(
    ("mesh", "namespace"),
    [("sidecar", "istio-system"), ("linkerd", "linkerd-multicluster"), ("consul", "consul")],
)
def test_every_mesh_asks_the_load_balancer_controller_for_its_readiness_gate(mesh: str, namespace: str) -> None:
    """An existing cluster whose gateway Service gets IP targets from the AWS Load Balancer Controller: the
    gateway's namespace carries the controller's readiness gate label, whatever the mesh (from the handle)."""
    from components.handle import AWS_LBC_READINESS_GATE

    fleet = _gateway_fleet(mesh)
    fleet["clusters"][0]["loadBalancerAnnotations"] = {
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"
    }
    plan = plan_fleet(fleet)
    labels = {
        c: r.inputs["metadata"].get("labels", {})
        for r in plan.by_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == namespace
        for c in [r.name.split("-", 1)[0]]
    }
    assert sorted(labels) == ["east", "west"]
    assert AWS_LBC_READINESS_GATE.items() <= labels["east"].items()
    assert not AWS_LBC_READINESS_GATE.keys() & labels["west"].keys()


def test_consul_renders_an_annotation_value_as_written() -> None:
    """The Consul chart pastes its Service annotations through `tpl`: a `{{` in a value stays text."""
    from tests.charts import render_release, require_renderer

    require_renderer()
    fleet = _gateway_fleet("consul")
    fleet["clusters"][0]["loadBalancerAnnotations"] = {"example.com/note": "{{ .Release.Name }} stays"}
    plan = plan_fleet(fleet)
    [r] = [r for r in plan.resources if r.type == RELEASE and r.name == "east-consul"]
    [service] = [
        o for o in render_release(inputs(r)) if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"
    ]
    assert service["metadata"]["annotations"]["example.com/note"] == "{{ .Release.Name }} stays"


def test_dropping_a_deployed_cluster_is_refused_unless_named(dev, tmp_path):
    """A cluster dropped from the config (or renamed: a new name is a new cluster) is deleted with its
    network, nodes and workloads. The guard refuses it, in preview, up and `plan --previous`, unless
    fleet.removeClusters names it; the peers then stop admitting it and nothing else changes."""
    from components.config import ConfigError, load_fleet
    from components.mesh.switch import _GuardProvider, check_previous, guard_inputs
    from ops.stackconfig import read_stack_config
    from tests.helpers import ROOT, only_clusters

    def load_spec(fleet):
        return load_fleet(read_stack_config(ROOT, "dev").value("defaults"), fleet)

    deployed = dev.to_json(show_secrets=False)
    fleet = only_clusters(fleet_of("dev"), "aws-use1", "azure-weu")
    with pytest.raises(ConfigError) as err:
        check_previous(deployed, load_spec(fleet))
    (problem,) = err.value.problems
    assert (problem.path, problem.message, problem.fix) == (
        "clusters",
        "the config drops the deployed cluster(s) gcp-euw1: the update would delete each of them with its network, "
        "nodes and everything running in it, and its peers stop admitting it",
        "to remove them, list them in fleet.removeClusters: [gcp-euw1] for this one update (README, 'Removing a "
        "cluster'); to keep them, put them back in clusters under their deployed names",
    )
    fleet["fleet"]["removeClusters"] = ["gcp-euw1"]
    named = load_spec(fleet)
    assert check_previous(deployed, named).allowed
    # In preview and up: the engine hands the guard's recorded inputs to its check.
    provider = _GuardProvider()
    before = guard_inputs(dev.spec)
    renamed = {**before, "clusters": ["aws-use1", "azure-weu", "gcp-euw2"]}
    (failure,) = provider.check(before, renamed).failures
    assert failure.property == "clusters"
    assert failure.reason.startswith(
        "the config drops the deployed cluster(s) gcp-euw1 (new in the config: gcp-euw2; a renamed cluster is a "
        "new one)"
    )
    assert provider.check(before, guard_inputs(named)).failures == []
    assert provider.check({"kind": "istio"}, renamed).failures == []  # a guard that kept no clusters judges none
    # The removal itself: the peers stop admitting it, the guard records it; nothing else of theirs changes.
    change = PlanChange(dev, plan_fleet(fleet, stack="dev"))
    assert change.added == []
    for u in change.removed:  # its own resources, its pairs' credentials and its intermediate CA
        assert dev.owner_of(change.old[u]) == "gcp-euw1" or "gcp-euw1" in change.old[u].name, u
    assert change.changed() == {
        ("aws-use1-cluster", (".vpcConfig.publicAccessCidrs",)),
        ("azure-weu-aks", (".apiServerAccessProfile.authorizedIPRanges",)),
        ("aws-use1-istio-eastwestgateway", (".values.service.loadBalancerSourceRanges",)),
        ("azure-weu-istio-eastwestgateway", (".values.service.loadBalancerSourceRanges",)),
        ("acme-dev-mesh-switch", (".clusters", ".removeClusters")),
    }


def test_a_protected_cluster_is_unprotected_alone_then_removed():
    """On a protected stack, dropping a cluster would update its peers, then stop at its protected deletes:
    the guard refuses it until the cluster's own `protect: false` is deployed, which touches only that
    cluster's protection (Pulumi's and the cloud's)."""
    from components.mesh.switch import _GuardProvider, guard_inputs
    from tests.helpers import only_clusters

    prod = plan_stack("prod")
    deployed = guard_inputs(prod.spec)
    assert deployed["protectedClusters"] == sorted(c.name for c in prod.spec.clusters)
    kept = [c.name for c in prod.spec.clusters if c.name != "gcp-use4"]
    fleet = only_clusters(fleet_of("prod"), *kept)
    fleet["fleet"]["removeClusters"] = ["gcp-use4"]
    dropped = {**deployed, "clusters": sorted(kept), "protectedClusters": sorted(kept), "removeClusters": ["gcp-use4"]}
    (failure,) = _GuardProvider().check(deployed, dropped).failures
    assert failure.reason == (
        "the deployed cluster(s) gcp-use4 are protected: their protected resources and the cloud's deletion "
        "protection stop the update at their deletion, after their peers stopped admitting them, which leaves "
        "them running but cut off. fix: first set protect: false on gcp-use4 in clusters, in an update of its "
        "own; then remove them (README, 'Removing a cluster')"
    )
    # Step 1: only gcp-use4's protection changes (and the guard records it).
    unprotect = fleet_of("prod")
    next(c for c in unprotect["clusters"] if c["name"] == "gcp-use4")["protect"] = False
    step1 = plan_fleet(unprotect, stack="prod")
    change = PlanChange(prod, step1)
    assert change.added == [] and change.removed == set()
    assert change.changed() == {
        ("gcp-use4-cluster", (".deletionProtection",)),
        ("acme-prod-mesh-switch", (".protectedClusters",)),
    }
    rewired = {r["name"] for r, _ in change.diff.rewired}
    assert rewired and all(name.startswith("gcp-use4-") for name in rewired), rewired
    for r in step1.resources:
        owner = step1.owner_of(r)
        assert not (owner == "gcp-use4" and r.protect), r.urn
    # Step 2: the removal the guard now allows.
    assert _GuardProvider().check(guard_inputs(step1.spec), dropped).failures == []


@pytest.mark.parametrize(
    ("before", "after", "message", "fix"),
    [
        (
            "1.33",
            "1.35",
            "aws-use1 runs Kubernetes 1.33; 1.35 skips a minor: its control plane upgrades one minor at a time, so "
            "the cluster update would fail",
            "upgrade to 1.34 first, deploy, then go on one minor at a time",
        ),
        (
            "1.33.5-gke.1200",
            "1.32",
            "aws-use1 runs Kubernetes 1.33; 1.32 is a downgrade, which no managed control plane does",
            "set its kubernetesVersion back to 1.33 or later",
        ),
    ],
)
def test_a_skipped_or_reversed_kubernetes_minor_is_refused(before, after, message, fix):
    from components.mesh.switch import decide_versions

    refused = decide_versions({"kubernetesVersions": {"aws-use1": before}}, {"kubernetesVersions": {"aws-use1": after}})
    assert (refused.allowed, refused.message, refused.fix) == (False, message, fix)
    for ok in ("1.33", "1.34", "1.34.2", "1.34.1-gke.100"):
        assert decide_versions({"kubernetesVersions": {"aws-use1": "1.33"}}, {"kubernetesVersions": {"aws-use1": ok}})
    assert decide_versions({}, {"kubernetesVersions": {"aws-use1": "1.40"}}).allowed  # nothing recorded yet


def test_plan_previous_refuses_a_skipped_minor_and_an_unaliased_trust_domain(dev):
    """Against the deployed plan: the guard's recorded versions and trust domain."""
    from components.config import ConfigError, load_fleet
    from components.mesh.switch import check_previous
    from ops.stackconfig import read_stack_config
    from tests.helpers import ROOT

    deployed = dev.to_json(show_secrets=False)
    defaults = read_stack_config(ROOT, "dev").value("defaults")
    aks = next(c for c in dev.spec.clusters if c.cloud == "azure")
    major, minor = aks.kubernetes_version.split(".")[:2]
    fleet = fleet_of("dev")
    next(c for c in fleet["clusters"] if c["name"] == aks.name)["kubernetesVersion"] = f"{major}.{int(minor) + 2}"
    with pytest.raises(ConfigError) as err:
        check_previous(deployed, load_fleet(defaults, fleet))
    assert [(p.path, p.message.split(";")[0]) for p in err.value.problems] == [
        ("clusters[].kubernetesVersion", f"{aks.name} runs Kubernetes {major}.{minor}")
    ]
    fleet = fleet_of("dev")
    old = dev.spec.mesh.trust_domain
    fleet["mesh"]["trustDomain"] = "acme.example"
    with pytest.raises(ConfigError) as err:
        check_previous(deployed, load_fleet(defaults, fleet))
    (problem,) = err.value.problems
    assert (problem.path, problem.fix) == (
        "mesh.trustDomain",
        f"keep the old domain accepted: mesh.trustDomainAliases: [{old}] for at least one workload certificate "
        "lifetime, then remove it",
    )
    fleet["mesh"]["trustDomainAliases"] = [old]
    assert check_previous(deployed, load_fleet(defaults, fleet)).allowed


def test_linkerd_refuses_any_trust_domain_change_and_consul_is_not_judged():
    from components.mesh.switch import decide_trust_domain

    linkerd = decide_trust_domain(
        {"kind": "linkerd", "trustDomain": "cluster.local"}, {"kind": "linkerd", "trustDomain": "acme.example"}
    )
    assert (linkerd.allowed, linkerd.fix) == (False, "keep mesh.trustDomain: cluster.local")
    assert decide_trust_domain(
        {"kind": "consul", "trustDomain": "cluster.local"}, {"kind": "consul", "trustDomain": "acme.example"}
    ).allowed


def test_the_guard_provider_judges_versions_and_trust_domain_in_check():
    """What preview and up run: the engine hands the recorded inputs to the guard's check."""
    from components.mesh.switch import _GuardProvider

    olds = {"kind": "istio", "trustDomain": "cluster.local", "kubernetesVersions": {"aws-use1": "1.33"}}
    news = {"kind": "istio", "trustDomain": "acme.example", "kubernetesVersions": {"aws-use1": "1.35"}}
    failures = _GuardProvider().check(olds, news).failures
    assert [(f.property, f.reason.split(":")[0]) for f in failures] == [
        ("kubernetesVersions", "aws-use1 runs Kubernetes 1.33; 1.35 skips a minor"),
        ("trustDomain", "mesh.trustDomain changes from cluster.local to acme.example without an alias"),
    ]


def test_removing_a_middle_cluster_or_reordering_moves_no_other_clusters_addresses(dev):
    """Simulated addresses come from a cluster's name, not its place in the config, so the diff shows what a
    cloud would do: removing the middle cluster changes only what admitted it, and reordering nothing."""
    from tests.helpers import only_clusters

    fleet = only_clusters(fleet_of("dev"), "aws-use1", "gcp-euw1")
    fleet["fleet"]["removeClusters"] = ["azure-weu"]
    assert PlanChange(dev, plan_fleet(fleet, stack="dev")).changed() == {
        ("aws-use1-cluster", (".vpcConfig.publicAccessCidrs",)),
        ("gcp-euw1-cluster", (".masterAuthorizedNetworksConfig.cidrBlocks",)),
        ("aws-use1-istio-eastwestgateway", (".values.service.loadBalancerSourceRanges",)),
        ("gcp-euw1-istio-eastwestgateway", (".values.service.loadBalancerSourceRanges",)),
        ("acme-dev-mesh-switch", (".clusters", ".kubernetesVersions.azure-weu", ".removeClusters")),
    }
    reordered = fleet_of("dev")
    reordered["clusters"].reverse()
    assert PlanChange(dev, plan_fleet(reordered, stack="dev")).changed(whole_records=True) == set()
