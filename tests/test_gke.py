"""GKE: the network, cluster, node pools, KMS key, firewall rule and Kubernetes provider of one GCP cluster."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from components.clusters.gke import maintenance_policy, node_account_id
from components.config import GcpCluster, MaintenanceWindow, NodePool
from components.networks.gcp import NODE_POOL_MAX_SURGE, egress_address_count
from ops.plan import Plan, Recorded, render_value
from ops.sim import unwrap
from tests.helpers import fleet_of, inputs, of_type, only_clusters, plan_fleet

CLUSTER = "gcp-euw1"
PHYSICAL = "acme-dev-gcp-euw1"
PROJECT = "acme-dev-mesh"
REGION = "europe-west1"
CONTROL_PLANE = "172.16.0.32/28"
TAGS = {"fleet": "acme-dev", "environment": "dev", "owner": "platform", "managed-by": "meshfleet"}

#: Every Google Cloud resource of one dev cluster, exactly.
EXPECTED_TYPES = {
    "pulumi:providers:gcp": 1,
    "gcp:compute/network:Network": 1,
    "gcp:compute/subnetwork:Subnetwork": 1,
    "gcp:compute/address:Address": 1,
    "gcp:compute/router:Router": 1,
    "gcp:compute/routerNat:RouterNat": 1,
    "gcp:compute/firewall:Firewall": 1,
    "gcp:kms/keyRing:KeyRing": 1,
    "gcp:kms/cryptoKey:CryptoKey": 1,
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": 1,
    "gcp:serviceaccount/account:Account": 1,
    "gcp:projects/iAMMember:IAMMember": 2,
    "gcp:container/cluster:Cluster": 1,
    "gcp:container/nodePool:NodePool": 1,
}
#: What the stack's protection setting must cover.
PROTECTED = {
    ("gcp:compute/network:Network", "gcp-euw1-network-vpc"),
    ("gcp:compute/subnetwork:Subnetwork", "gcp-euw1-network-nodes"),
    ("gcp:compute/address:Address", "gcp-euw1-network-egress-0"),
    ("gcp:compute/router:Router", "gcp-euw1-network-router"),
    ("gcp:compute/routerNat:RouterNat", "gcp-euw1-network-nat"),
    ("gcp:kms/keyRing:KeyRing", "gcp-euw1-keyring"),
    ("gcp:kms/cryptoKey:CryptoKey", "gcp-euw1-secrets-key"),
    ("gcp:container/cluster:Cluster", "gcp-euw1-cluster"),
}


def _gcp_only() -> dict[str, Any]:
    return only_clusters(fleet_of("dev"), CLUSTER)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_fleet(_gcp_only())


@pytest.fixture(scope="module")
def protected_plan() -> Plan:
    """Protection on, and a different deploying service account."""
    fleet = _gcp_only()
    fleet["fleet"]["protect"] = True
    fleet["fleet"]["deployers"]["gcp"]["serviceAccount"] = "other-deployer@acme-dev-mesh.iam.gserviceaccount.com"
    return plan_fleet(fleet)


def one(plan: Plan, type_: str) -> Recorded:
    found = of_type(plan, type_, CLUSTER)
    assert len(found) == 1, [r.urn for r in found]
    return found[0]


def urn(plan: Plan, type_: str) -> str:
    return one(plan, type_).urn


def test_exact_resource_types_and_counts(plan: Plan) -> None:
    counts = Counter(r.type for r in plan.resources if r.type.startswith(("gcp:", "pulumi:providers:gcp")))
    assert dict(counts) == EXPECTED_TYPES


def test_names_are_derived_and_deterministic(plan: Plan) -> None:
    physical = {
        (r.type, r.name): inputs(r).get("name")
        for r in plan.resources
        if r.type.startswith("gcp:") and not r.read and "IAMMember" not in r.type
    }
    assert physical == {
        ("gcp:compute/network:Network", "gcp-euw1-network-vpc"): PHYSICAL,
        ("gcp:compute/subnetwork:Subnetwork", "gcp-euw1-network-nodes"): f"{PHYSICAL}-nodes",
        ("gcp:compute/address:Address", "gcp-euw1-network-egress-0"): f"{PHYSICAL}-egress-0",
        ("gcp:compute/router:Router", "gcp-euw1-network-router"): f"{PHYSICAL}-router",
        ("gcp:compute/routerNat:RouterNat", "gcp-euw1-network-nat"): f"{PHYSICAL}-nat",
        ("gcp:compute/firewall:Firewall", "gcp-euw1-webhooks"): f"{PHYSICAL}-cp-webhooks",
        ("gcp:kms/keyRing:KeyRing", "gcp-euw1-keyring"): PHYSICAL,
        ("gcp:kms/cryptoKey:CryptoKey", "gcp-euw1-secrets-key"): f"{PHYSICAL}-secrets",
        ("gcp:serviceaccount/account:Account", "gcp-euw1-node-sa"): None,
        ("gcp:container/cluster:Cluster", "gcp-euw1-cluster"): PHYSICAL,
        ("gcp:container/nodePool:NodePool", "gcp-euw1-pool-general"): "general",
    }
    assert inputs(one(plan, "gcp:serviceaccount/account:Account"))["accountId"] == f"{PHYSICAL}-nodes"


def test_every_gcp_resource_uses_the_explicit_provider(plan: Plan) -> None:
    provider = one(plan, "pulumi:providers:gcp")
    assert inputs(provider)["project"] == PROJECT
    assert inputs(provider)["region"] == REGION
    assert json.loads(inputs(provider)["defaultLabels"]) == TAGS
    for r in plan.resources:
        if r.type.startswith("gcp:"):
            assert r.provider_urn == provider.urn, r.urn


def test_labels_on_every_taggable_resource(plan: Plan) -> None:
    assert inputs(one(plan, "gcp:compute/address:Address"))["labels"] == TAGS
    assert inputs(one(plan, "gcp:kms/cryptoKey:CryptoKey"))["labels"] == TAGS
    assert inputs(one(plan, "gcp:container/cluster:Cluster"))["resourceLabels"] == TAGS
    assert inputs(one(plan, "gcp:container/nodePool:NodePool"))["nodeConfig"]["resourceLabels"] == TAGS


def test_network_is_custom_mode_with_pod_and_service_ranges(plan: Plan) -> None:
    assert inputs(one(plan, "gcp:compute/network:Network"))["autoCreateSubnetworks"] is False
    subnet = inputs(one(plan, "gcp:compute/subnetwork:Subnetwork"))
    assert subnet["ipCidrRange"] == "10.30.0.0/20"
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["secondaryIpRanges"] == [
        {"rangeName": f"{PHYSICAL}-pods", "ipCidrRange": "10.32.0.0/14"},
        {"rangeName": f"{PHYSICAL}-services", "ipCidrRange": "10.36.0.0/20"},
    ]


def test_cloud_nat_uses_only_the_reserved_addresses(plan: Plan) -> None:
    address = one(plan, "gcp:compute/address:Address")
    assert inputs(address)["addressType"] == "EXTERNAL"
    # Regional, Premium tier: what Cloud NAT takes as NAT IPs.
    assert inputs(address)["region"] == REGION
    assert inputs(address)["networkTier"] == "PREMIUM"
    nat = inputs(one(plan, "gcp:compute/routerNat:RouterNat"))
    assert nat["natIpAllocateOption"] == "MANUAL_ONLY"
    assert nat["natIps"] == [
        f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/regions/{REGION}/addresses/{PHYSICAL}-egress-0"
    ]
    assert nat["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"
    assert nat["router"] == f"{PHYSICAL}-router"
    assert nat["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}
    # Dynamic port allocation: powers of two, and no endpoint-independent mapping.
    assert nat["enableDynamicPortAllocation"] is True
    assert nat["enableEndpointIndependentMapping"] is False
    assert (nat["minPortsPerVm"], nat["maxPortsPerVm"]) == (256, 4096)
    assert address.urn in one(plan, "gcp:compute/routerNat:RouterNat").dependencies


def test_egress_is_the_reserved_address_and_in_the_api_allow_list(plan: Plan) -> None:
    egress = plan.outputs[CLUSTER]["egressCidrs"]
    assert len(egress) == 1 and egress[0].endswith("/32") and egress[0].startswith("34.")
    mans = inputs(one(plan, "gcp:container/cluster:Cluster"))["masterAuthorizedNetworksConfig"]
    # Exactly the allow-list: operators, CI runners, and (alone in this fleet) its own egress.
    assert [b["cidrBlock"] for b in mans["cidrBlocks"]] == sorted(["198.51.100.0/28", "192.0.2.64/27", *egress])
    assert mans["gcpPublicCidrsAccessEnabled"] is False
    # The allow-list guards the public endpoint only; the VPC keeps the internal one.
    assert mans["privateEndpointEnforcementEnabled"] is False


def test_private_nodes_and_control_plane_range(plan: Plan) -> None:
    cluster = inputs(one(plan, "gcp:container/cluster:Cluster"))
    assert cluster["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": False,
        "masterIpv4CidrBlock": CONTROL_PLANE,
        "masterGlobalAccessConfig": {"enabled": True},
    }
    assert cluster["location"] == REGION
    assert cluster["nodeLocations"] == ["europe-west1-b", "europe-west1-c", "europe-west1-d"]
    assert cluster["networkingMode"] == "VPC_NATIVE"
    assert cluster["ipAllocationPolicy"]["clusterSecondaryRangeName"] == f"{PHYSICAL}-pods"
    assert cluster["ipAllocationPolicy"]["servicesSecondaryRangeName"] == f"{PHYSICAL}-services"
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["initialNodeCount"] == 1


def test_control_plane_is_psc_based_with_an_endpoint_subnet_of_the_configured_range(plan: Plan) -> None:
    """Current GKE: no VPC peering; the given /28 becomes GKE's endpoint subnet in our VPC."""
    state = unwrap(plan.state[("gcp:container/cluster:Cluster", "gcp-euw1-cluster")])
    private = state["privateClusterConfig"]
    assert private["masterIpv4CidrBlock"] == CONTROL_PLANE
    assert private["peeringName"] == ""
    assert private["privateEndpoint"] == "172.16.0.34"
    assert private["privateEndpointSubnetwork"].startswith(f"projects/{PROJECT}/regions/{REGION}/subnetworks/gke-")
    assert private["privateEndpointSubnetwork"].endswith("-pe-subnet")
    # The webhook rule's source is that same range.
    assert inputs(one(plan, "gcp:compute/firewall:Firewall"))["sourceRanges"] == [CONTROL_PLANE]


def test_identity_dataplane_channel_and_logging(plan: Plan) -> None:
    cluster = inputs(one(plan, "gcp:container/cluster:Cluster"))
    assert cluster["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    # Dataplane V2 enforces NetworkPolicy itself; the Calico addon must stay off.
    assert "networkPolicy" not in cluster
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    # A floor within the channel: no ignore_changes, no node pool version.
    assert cluster["minMasterVersion"] == "1.35"
    assert "nodeVersion" not in cluster
    assert "version" not in inputs(one(plan, "gcp:container/nodePool:NodePool"))
    assert cluster["loggingConfig"]["enableComponents"] == [
        "SYSTEM_COMPONENTS",
        "APISERVER",
        "CONTROLLER_MANAGER",
        "SCHEDULER",
        "WORKLOADS",
    ]
    # The temporary default pool runs as the node identity, not the default compute SA.
    assert cluster["nodeConfig"]["serviceAccount"] == f"{PHYSICAL}-nodes@{PROJECT}.iam.gserviceaccount.com"


def test_secrets_encrypted_with_the_kms_key_granted_before_the_cluster(plan: Plan) -> None:
    key = one(plan, "gcp:kms/cryptoKey:CryptoKey")
    key_id = f"projects/{PROJECT}/locations/{REGION}/keyRings/{PHYSICAL}/cryptoKeys/{PHYSICAL}-secrets"
    assert inputs(key)["rotationPeriod"] == "7776000s"
    assert inputs(one(plan, "gcp:kms/keyRing:KeyRing"))["location"] == REGION
    cluster = one(plan, "gcp:container/cluster:Cluster")
    assert inputs(cluster)["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": key_id}

    grant = one(plan, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    g = inputs(grant)
    assert g["cryptoKeyId"] == key_id
    assert g["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert g["member"].startswith("serviceAccount:service-")
    assert g["member"].endswith("@container-engine-robot.iam.gserviceaccount.com")
    assert g["member"].split("-", 1)[1].split("@")[0].isdigit()
    assert grant.urn in cluster.dependencies


def test_node_pool_autoscales_without_a_fixed_count(plan: Plan) -> None:
    pool = one(plan, "gcp:container/nodePool:NodePool")
    p = inputs(pool)
    assert p["autoscaling"]["minNodeCount"] == 1
    assert p["autoscaling"]["maxNodeCount"] == 3
    assert p["initialNodeCount"] == 1
    assert "nodeCount" not in p
    assert pool.ignore_changes == ["initialNodeCount"]
    assert p["autoscaling"]["locationPolicy"] == "BALANCED"
    # Per-zone bounds (GKE), never mixed with total limits.
    assert "totalMinNodeCount" not in p["autoscaling"] and "totalMaxNodeCount" not in p["autoscaling"]
    # No node_locations: the pool spans the cluster's zones.
    assert "nodeLocations" not in p
    assert p["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert p["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": NODE_POOL_MAX_SURGE, "maxUnavailable": 0}
    assert p["cluster"] == PHYSICAL and p["location"] == REGION
    node = p["nodeConfig"]
    assert node["machineType"] == "e2-standard-4"
    assert node["diskSizeGb"] == 100
    assert node["diskType"] == "pd-balanced"
    assert node["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert node["serviceAccount"] == f"{PHYSICAL}-nodes@{PROJECT}.iam.gserviceaccount.com"
    assert pool.custom_timeouts == {"create": "30m", "update": "90m", "delete": "45m"}
    # Nodes wait for their roles and the NAT.
    for r in of_type(plan, "gcp:projects/iAMMember:IAMMember", CLUSTER):
        assert r.urn in pool.dependencies
    assert urn(plan, "gcp:compute/routerNat:RouterNat") in pool.dependencies


def test_fourth_generation_pools_boot_from_hyperdisk() -> None:
    """N4 and C4 machines take no Persistent Disk: their pools boot from Hyperdisk Balanced, others keep pd-balanced."""
    fleet = _gcp_only()
    [cluster] = fleet["clusters"]
    base = cluster["nodePools"][0]
    cluster["nodePools"] = [
        {**base, "name": "general", "machineType": "n2-standard-4"},
        {**base, "name": "n4", "machineType": "n4-standard-4"},
        {**base, "name": "c4a", "machineType": "c4a-standard-8"},
    ]
    plan = plan_fleet(fleet)
    disks = {
        inputs(p)["name"]: inputs(p)["nodeConfig"]["diskType"] for p in of_type(plan, "gcp:container/nodePool:NodePool")
    }
    assert disks == {"general": "pd-balanced", "n4": "hyperdisk-balanced", "c4a": "hyperdisk-balanced"}


def test_no_maintenance_window_leaves_gke_its_own_schedule(plan: Plan) -> None:
    assert "maintenancePolicy" not in inputs(one(plan, "gcp:container/cluster:Cluster"))


def test_maintenance_window_is_a_weekly_recurring_window_in_zulu_time() -> None:
    fleet = _gcp_only()
    fleet["fleet"]["maintenanceWindow"] = {"day": "Saturday", "startTime": "22:00", "durationHours": 12}
    cluster = one(plan_fleet(fleet), "gcp:container/cluster:Cluster")
    # 2024-01-06 is the Saturday of the anchor week; the window ends the next morning.
    assert inputs(cluster)["maintenancePolicy"] == {
        "recurringWindow": {
            "startTime": "2024-01-06T22:00:00Z",
            "endTime": "2024-01-07T10:00:00Z",
            "recurrence": "FREQ=WEEKLY;BYDAY=SA",
        }
    }


def test_the_weekday_list_and_the_config_type_name_the_same_days_in_order() -> None:
    from typing import get_args

    from components.config import WEEKDAYS
    from components.config.models import Weekday

    assert get_args(Weekday) == WEEKDAYS


@settings(max_examples=200, deadline=None)
@given(
    day=st.sampled_from(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    hours=st.integers(12, 24),
)
def test_every_window_starts_on_its_day_and_lasts_its_hours(day: str, hour: int, minute: int, hours: int) -> None:
    window = MaintenanceWindow(day=day, start_time=f"{hour:02d}:{minute:02d}", duration_hours=hours)
    recurring = maintenance_policy(window)["maintenance_policy"]["recurring_window"]
    start = datetime.strptime(recurring["start_time"], "%Y-%m-%dT%H:%M:%SZ")
    end = datetime.strptime(recurring["end_time"], "%Y-%m-%dT%H:%M:%SZ")
    assert start.strftime("%A") == day and (start.hour, start.minute) == (hour, minute)
    assert end - start == timedelta(hours=hours)
    assert recurring["recurrence"] == f"FREQ=WEEKLY;BYDAY={day[:2].upper()}"
    # GKE needs 48 hours in any 32 days: 32 days hold at least four weekly windows.
    assert (32 // 7) * hours >= 48


def test_node_service_account_roles(plan: Plan) -> None:
    members = [inputs(r) for r in of_type(plan, "gcp:projects/iAMMember:IAMMember", CLUSTER)]
    # GKE's predefined minimum for node service accounts, plus image pulls.
    assert sorted(m["role"] for m in members) == [
        "roles/artifactregistry.reader",
        "roles/container.defaultNodeServiceAccount",
    ]
    assert {m["member"] for m in members} == {f"serviceAccount:{PHYSICAL}-nodes@{PROJECT}.iam.gserviceaccount.com"}
    assert {m["project"] for m in members} == {PROJECT}


def test_firewall_opens_istio_webhook_from_the_control_plane(plan: Plan) -> None:
    fw = inputs(one(plan, "gcp:compute/firewall:Firewall"))
    assert fw["direction"] == "INGRESS"
    assert fw["sourceRanges"] == [CONTROL_PLANE]
    assert fw["allows"] == [{"protocol": "tcp", "ports": ["15017"]}]
    assert fw["targetServiceAccounts"] == [f"{PHYSICAL}-nodes@{PROJECT}.iam.gserviceaccount.com"]
    # Service-account target only: GCP rejects mixing it with target tags.
    assert "targetTags" not in fw and "sourceTags" not in fw
    assert fw["priority"] == 1000
    assert fw["network"] == f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/{PHYSICAL}"


def test_dev_is_unprotected(plan: Plan) -> None:
    cluster = one(plan, "gcp:container/cluster:Cluster")
    # GKE's provider defaults deletion_protection to true: it must be explicit.
    assert inputs(cluster)["deletionProtection"] is False
    assert not [r.urn for r in plan.resources if r.type.startswith("gcp:") and r.protect]
    assert cluster.custom_timeouts == {"create": "45m", "update": "90m", "delete": "45m"}
    assert cluster.ignore_changes == ["initialNodeCount", "nodeConfig"]


def test_protection_covers_network_nat_addresses_keys_and_cluster(protected_plan: Plan) -> None:
    cluster = one(protected_plan, "gcp:container/cluster:Cluster")
    assert inputs(cluster)["deletionProtection"] is True
    protected = {(r.type, r.name) for r in protected_plan.resources if r.type.startswith("gcp:") and r.protect}
    assert protected == PROTECTED


def _provider(plan: Plan) -> Recorded:
    found = [r for r in plan.by_type("pulumi:providers:kubernetes") if r.name == f"{CLUSTER}-k8s"]
    assert len(found) == 1
    return found[0]


def test_kubeconfig_is_a_secret_using_the_gke_auth_plugin(plan: Plan) -> None:
    provider = _provider(plan)
    assert render_value(provider.inputs, show_secrets=False)["kubeconfig"] == "[secret]"
    assert render_value(plan.outputs, show_secrets=False)[f"{CLUSTER}-kubeconfig"] == "[secret]"
    kubeconfig = json.loads(inputs(provider)["kubeconfig"])
    user = kubeconfig["users"][0]["user"]
    assert user["exec"] == {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "gke-gcloud-auth-plugin",
        "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
        "provideClusterInfo": True,
        "interactiveMode": "Never",
    }
    assert "token" not in user
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    assert server == plan.outputs[CLUSTER]["apiEndpoint"]
    assert server.startswith("https://35.")
    ca = x509.load_pem_x509_certificate(
        base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"])
    )
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject == ca.issuer
    assert inputs(provider)["clusterIdentifier"] == f"meshfleet/{PHYSICAL}"
    assert urn(plan, "gcp:container/cluster:Cluster") in provider.dependencies


def test_deployer_change_keeps_the_provider_identity(plan: Plan, protected_plan: Plan) -> None:
    before, after = inputs(_provider(plan)), inputs(_provider(protected_plan))
    assert after["clusterIdentifier"] == before["clusterIdentifier"] == f"meshfleet/{PHYSICAL}"
    # GKE authorizes the deployer through project IAM: the kubeconfig does not name it.
    assert after["kubeconfig"] == before["kubeconfig"]


def test_in_cluster_installs_wait_for_nodes_and_firewall(plan: Plan) -> None:
    crds = [r for r in plan.by_type("kubernetes:yaml/v2:ConfigFile") if r.name.startswith(CLUSTER)]
    assert len(crds) == 1
    assert urn(plan, "gcp:container/nodePool:NodePool") in crds[0].dependencies
    assert urn(plan, "gcp:compute/firewall:Firewall") in crds[0].dependencies


def _gcp_cluster(pools: list[tuple[int, int]], zones: int = 3) -> GcpCluster:
    return GcpCluster.model_validate(
        {
            "cloud": "gcp",
            "name": "g",
            "project": "acme-dev-mesh",
            "region": REGION,
            "zones": [f"{REGION}-{z}" for z in "bcd"[:zones]],
            "kubernetesVersion": "1.33",
            "network": {
                "nodeCidr": "10.30.0.0/20",
                "podCidr": "10.32.0.0/14",
                "serviceCidr": "10.36.0.0/20",
                "controlPlaneCidr": CONTROL_PLANE,
            },
            "nodePools": [
                NodePool(name=f"p{i}", machine_type="e2-standard-4", min_size=lo, max_size=hi).model_dump(by_alias=True)
                for i, (lo, hi) in enumerate(pools)
            ],
        }
    )


def test_egress_address_count_covers_the_pools_maxima() -> None:
    assert egress_address_count(_gcp_cluster([(1, 3)])) == 1
    # 3 zones x 100 nodes x 256 ports need two addresses of 64512 ports.
    assert egress_address_count(_gcp_cluster([(1, 100)])) == 2
    assert egress_address_count(_gcp_cluster([(0, 1)], zones=1)) == 1
    # One address gives 64512 / 256 = 252 VMs their minimum ports; a pool of
    # 252 per zone plus its surge node needs a second address.
    assert egress_address_count(_gcp_cluster([(0, 252 - NODE_POOL_MAX_SURGE)], zones=1)) == 1
    assert egress_address_count(_gcp_cluster([(0, 252)], zones=1)) == 2


def test_node_account_id_fits_30_characters() -> None:
    assert node_account_id("acme-dev-gcp-euw1") == "acme-dev-gcp-euw1-nodes"
    long = node_account_id("acme-production-platform-gcp-euw1")
    assert len(long) <= 30 and long == node_account_id("acme-production-platform-gcp-euw1")
    assert long != node_account_id("acme-production-platform-gcp-euw2")
