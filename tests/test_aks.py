"""AKS: network, cluster, identities, encryption, logging, access, kubeconfig and protection."""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

import pytest
import yaml
from cryptography import x509

from components.clusters.aks import (
    AKS_RBAC_CLUSTER_ADMIN,
    CONTROL_PLANE_LOGS,
    KEY_VAULT_CRYPTO_USER,
    NETWORK_CONTRIBUTOR,
    default_dns_service_ip,
    deployer_principal_type,
    key_vault_name,
    kubelogin_args,
)
from components.config import AzureDeployer
from ops.plan import Plan, Recorded, is_secret
from tests.helpers import PlanChange, fleet_of, inputs, of_type, only_clusters, plan_fleet

C = "azure-weu"
SUB = "00000000-0000-4000-8000-00000000a2e0"
RG = "rg-acme-dev-azure-weu"
PHYSICAL = "acme-dev-azure-weu"
DEPLOYER = "00000000-0000-4000-8000-000000000001"
NEW_DEPLOYER = "00000000-0000-4000-8000-0000000000ff"
#: Literal, not computed with the code's function: "kv-" + the first 14 characters of PHYSICAL + "-" +
#: sha256("<SUB>/<PHYSICAL>")[:6]. A changed derivation renames the vault (and its key: a new etcd key).
KEY_VAULT = "kv-acme-dev-azure-9322f6"
TAGS = {"fleet": "acme-dev", "environment": "dev", "owner": "platform", "managed-by": "meshfleet"}

EXPECTED_COUNTS = {
    "pulumi:providers:azure-native": 1,
    "azure-native:resources:ResourceGroup": 1,
    "azure-native:network:PublicIPAddress": 1,
    "azure-native:network:NatGateway": 1,
    "azure-native:network:VirtualNetwork": 1,
    "azure-native:network:Subnet": 1,
    "azure-native:managedidentity:UserAssignedIdentity": 1,
    "azure-native:authorization:RoleAssignment": 3,
    "azure-native:keyvault:Vault": 1,
    "azure-native:keyvault:Key": 1,
    "azure-native:operationalinsights:Workspace": 1,
    "azure-native:monitor:DiagnosticSetting": 1,
    "azure-native:containerservice:ManagedCluster": 1,
    "azure-native:containerservice:AgentPool": 1,
}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_fleet(only_clusters(fleet_of("dev"), C))


@pytest.fixture(scope="module")
def changed() -> Plan:
    """Protection on, and a different deployer using workload identity (CI)."""
    fleet = only_clusters(fleet_of("dev"), C)
    fleet["fleet"]["protect"] = True
    fleet["fleet"]["deployers"]["azure"] = {"principalObjectId": NEW_DEPLOYER, "kubeloginMode": "workloadidentity"}
    return plan_fleet(fleet)


def one(plan: Plan, type_: str, name: str) -> Recorded:
    return plan.get(type_, name)


def cluster_of(plan: Plan) -> Recorded:
    return one(plan, "azure-native:containerservice:ManagedCluster", f"{C}-aks")


def role(plan: Plan, suffix: str) -> Recorded:
    return one(plan, "azure-native:authorization:RoleAssignment", f"{C}-{suffix}")


def k8s_provider(plan: Plan) -> Recorded:
    return one(plan, "pulumi:providers:kubernetes", f"{C}-k8s")


def kubeconfig_doc(plan: Plan) -> dict[str, Any]:
    return yaml.safe_load(inputs(k8s_provider(plan))["kubeconfig"])


def azure_resources(plan: Plan) -> list[Recorded]:
    return [r for r in plan.resources if r.type.startswith("azure-native:")]


# --------------------------------------------------------------------------
# Graph shape


def test_exact_resource_types_and_counts(plan: Plan) -> None:
    counts: dict[str, int] = {}
    for r in plan.resources:
        if r.type.startswith(("azure-native:", "pulumi:providers:azure-native")):
            counts[r.type] = counts.get(r.type, 0) + 1
    assert counts == EXPECTED_COUNTS
    assert of_type(plan, "azure-native:authorization:ManagementLockAtResourceGroupLevel") == []


def test_every_azure_resource_uses_the_explicit_subscription_provider(plan: Plan) -> None:
    provider = one(plan, "pulumi:providers:azure-native", f"{C}-network-azure")
    assert inputs(provider)["subscriptionId"] == SUB
    assert inputs(provider)["location"] == "westeurope"
    for r in azure_resources(plan):
        assert r.provider_urn == provider.urn, r.urn


def test_physical_names_are_deterministic(plan: Plan) -> None:
    names = {
        ("azure-native:resources:ResourceGroup", f"{C}-network-rg"): ("resourceGroupName", RG),
        ("azure-native:network:VirtualNetwork", f"{C}-network-vnet"): ("virtualNetworkName", f"vnet-{PHYSICAL}"),
        ("azure-native:network:Subnet", f"{C}-network-nodes"): ("subnetName", "nodes"),
        ("azure-native:network:NatGateway", f"{C}-network-nat"): ("natGatewayName", f"ng-{PHYSICAL}"),
        ("azure-native:network:PublicIPAddress", f"{C}-network-egress-1"): (
            "publicIpAddressName",
            f"pip-{PHYSICAL}-egress-1",
        ),
        ("azure-native:managedidentity:UserAssignedIdentity", f"{C}-identity"): ("resourceName", f"id-{PHYSICAL}"),
        ("azure-native:keyvault:Vault", f"{C}-kv"): ("vaultName", KEY_VAULT),
        ("azure-native:keyvault:Key", f"{C}-kms-key"): ("keyName", "etcd-kms"),
        ("azure-native:operationalinsights:Workspace", f"{C}-logs"): ("workspaceName", f"log-{PHYSICAL}"),
        ("azure-native:containerservice:ManagedCluster", f"{C}-aks"): ("resourceName", PHYSICAL),
        ("azure-native:containerservice:AgentPool", f"{C}-pool-workload"): ("agentPoolName", "workload"),
        ("azure-native:monitor:DiagnosticSetting", f"{C}-control-plane-logs"): ("name", "control-plane-logs"),
    }
    for (type_, name), (key, value) in names.items():
        assert inputs(one(plan, type_, name))[key] == value, name
    for r in azure_resources(plan):
        if "resourceGroupName" in inputs(r):
            assert inputs(r)["resourceGroupName"] == RG, r.urn


def test_fleet_tags_on_every_taggable_resource(plan: Plan) -> None:
    untaggable = {
        "azure-native:network:Subnet",
        "azure-native:authorization:RoleAssignment",
        "azure-native:monitor:DiagnosticSetting",
    }
    for r in azure_resources(plan):
        if r.type not in untaggable:
            assert inputs(r)["tags"] == TAGS, r.urn
    assert inputs(cluster_of(plan))["agentPoolProfiles"][0]["tags"] == TAGS


# --------------------------------------------------------------------------
# Network and egress


def test_nat_gateway_with_static_zone_redundant_ip_is_the_subnet_egress(plan: Plan) -> None:
    pip = one(plan, "azure-native:network:PublicIPAddress", f"{C}-network-egress-1")
    nat = one(plan, "azure-native:network:NatGateway", f"{C}-network-nat")
    subnet = one(plan, "azure-native:network:Subnet", f"{C}-network-nodes")
    pip_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPAddresses/pip-{PHYSICAL}-egress-1"
    nat_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/natGateways/ng-{PHYSICAL}"
    assert inputs(pip)["sku"] == {"name": "Standard", "tier": "Regional"}
    assert inputs(pip)["publicIPAllocationMethod"] == "Static"
    assert inputs(pip)["zones"] == ["1", "2", "3"]
    assert inputs(nat)["sku"] == {"name": "Standard"}
    assert inputs(nat)["publicIpAddresses"] == [{"id": pip_id}]
    assert inputs(subnet)["natGateway"] == {"id": nat_id}
    assert inputs(subnet)["defaultOutboundAccess"] is False
    assert inputs(subnet)["addressPrefix"] == "10.20.0.0/16"
    assert inputs(one(plan, "azure-native:network:VirtualNetwork", f"{C}-network-vnet"))["addressSpace"] == {
        "addressPrefixes": ["10.20.0.0/16"]
    }


def test_nat_is_on_the_subnet_before_the_cluster_exists(plan: Plan) -> None:
    """outboundType userAssignedNATGateway needs the NAT gateway on the node subnet at create."""
    nat = one(plan, "azure-native:network:NatGateway", f"{C}-network-nat")
    subnet = one(plan, "azure-native:network:Subnet", f"{C}-network-nodes")
    cluster = cluster_of(plan)
    assert nat.urn in subnet.dependencies
    assert subnet.urn in cluster.dependencies
    assert inputs(cluster)["networkProfile"]["outboundType"] == "userAssignedNATGateway"


def test_egress_is_the_nat_ip_and_the_api_allow_list_includes_it(plan: Plan) -> None:
    egress = plan.outputs[C]["egressCidrs"]
    assert len(egress) == 1 and re.fullmatch(r"198\.18\.\d+\.\d+/32", egress[0])
    allowed = inputs(cluster_of(plan))["apiServerAccessProfile"]["authorizedIPRanges"]
    assert allowed == sorted(["198.51.100.0/28", "192.0.2.64/27", *egress])


# --------------------------------------------------------------------------
# The cluster


def test_cluster_network_profile_is_cni_overlay_with_user_nat(plan: Plan) -> None:
    cluster = inputs(cluster_of(plan))
    assert cluster["networkProfile"] == {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "podCidr": "10.244.0.0/16",
        "serviceCidr": "10.21.0.0/16",
        "dnsServiceIP": "10.21.0.10",
        "loadBalancerSku": "standard",
        "outboundType": "userAssignedNATGateway",
    }
    assert cluster["dnsPrefix"] == PHYSICAL
    assert cluster["kubernetesVersion"] == "1.35"
    assert cluster["nodeResourceGroup"] == f"{RG}-nodes"
    assert cluster["location"] == "westeurope"


def test_system_pool_inline_and_user_pool_separate_with_autoscaling(plan: Plan) -> None:
    subnet_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet-{PHYSICAL}/subnets/nodes"
    (system,) = inputs(cluster_of(plan))["agentPoolProfiles"]
    assert system["name"] == "system" and system["mode"] == "System"
    assert (system["enableAutoScaling"], system["minCount"], system["maxCount"], system["count"]) == (True, 2, 4, 2)
    assert system["availabilityZones"] == ["1", "2", "3"]
    assert system["vnetSubnetID"] == subnet_id
    assert system["vmSize"] == "Standard_D4s_v5"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    # Pools follow the control plane's configured major.minor.
    assert system["orchestratorVersion"] == "1.35"

    pool = one(plan, "azure-native:containerservice:AgentPool", f"{C}-pool-workload")
    p = inputs(pool)
    assert p["mode"] == "User" and p["resourceName"] == PHYSICAL
    assert p["orchestratorVersion"] == "1.35"
    assert (p["enableAutoScaling"], p["minCount"], p["maxCount"], p["count"]) == (True, 1, 6, 1)
    assert p["availabilityZones"] == ["1", "2", "3"]
    assert p["vnetSubnetID"] == subnet_id
    assert pool.ignore_changes == ["count"]
    assert pool.custom_timeouts == {"create": "30m", "update": "90m", "delete": "45m"}
    assert cluster_of(plan).urn in pool.dependencies


def test_pools_surge_a_third_when_upgrading(plan: Plan) -> None:
    """Both kinds of pool carry the same explicit surge, not the API version's default."""
    (system,) = inputs(cluster_of(plan))["agentPoolProfiles"]
    pool = inputs(one(plan, "azure-native:containerservice:AgentPool", f"{C}-pool-workload"))
    assert system["upgradeSettings"] == pool["upgradeSettings"] == {"maxSurge": "33%", "drainTimeoutInMinutes": 30}


def test_cluster_ignores_autoscaled_count_and_has_long_timeouts(plan: Plan) -> None:
    cluster = cluster_of(plan)
    assert cluster.ignore_changes == ["agentPoolProfiles[0].count"]
    assert cluster.custom_timeouts == {"create": "45m", "update": "90m", "delete": "45m"}


def test_entra_rbac_local_accounts_off_oidc_and_workload_identity(plan: Plan) -> None:
    cluster = inputs(cluster_of(plan))
    assert cluster["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert cluster["disableLocalAccounts"] is True
    assert cluster["enableRBAC"] is True
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert cluster["securityProfile"]["defender"] == {"securityMonitoring": {"enabled": False}}


def test_user_assigned_control_plane_identity(plan: Plan) -> None:
    identity = one(plan, "azure-native:managedidentity:UserAssignedIdentity", f"{C}-identity")
    identity_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{PHYSICAL}"
    assert inputs(cluster_of(plan))["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity_id]}
    assert identity.urn in cluster_of(plan).dependencies


def test_kms_etcd_encryption_with_key_vault_key(plan: Plan) -> None:
    vault_name = KEY_VAULT
    kms = inputs(cluster_of(plan))["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True and kms["keyVaultNetworkAccess"] == "Public"
    assert re.fullmatch(rf"https://{vault_name}\.vault\.azure\.net/keys/etcd-kms/[0-9a-f]{{32}}", kms["keyId"])
    vault = inputs(one(plan, "azure-native:keyvault:Vault", f"{C}-kv"))["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert "enablePurgeProtection" not in vault  # dev: protection off
    assert re.fullmatch(r"[0-9a-f-]{36}", vault["tenantId"])
    key = inputs(one(plan, "azure-native:keyvault:Key", f"{C}-kms-key"))["properties"]
    assert key == {"kty": "RSA", "keySize": 2048, "keyOps": ["encrypt", "decrypt"]}


def test_auto_upgrade_never_moves_the_minor_version(plan: Plan) -> None:
    assert inputs(cluster_of(plan))["autoUpgradeProfile"] == {
        "upgradeChannel": "patch",
        "nodeOSUpgradeChannel": "NodeImage",
    }


MAINTENANCE = "azure-native:containerservice:MaintenanceConfiguration"


def test_no_maintenance_window_leaves_aks_its_own_schedule(plan: Plan) -> None:
    assert of_type(plan, MAINTENANCE) == []


def test_maintenance_window_schedules_upgrades_and_node_images_and_the_lock_waits() -> None:
    """The cluster's own window beats the fleet's; both AKS schedules, weekly in UTC, under the lock."""
    fleet = only_clusters(fleet_of("dev"), C)
    fleet["fleet"]["protect"] = True
    fleet["fleet"]["maintenanceWindow"] = {"day": "Saturday", "startTime": "22:00", "durationHours": 12}
    fleet["clusters"][0]["maintenanceWindow"] = {"day": "Sunday", "startTime": "03:30", "durationHours": 16}
    windowed = plan_fleet(fleet)
    configs = {r.name: r for r in of_type(windowed, MAINTENANCE)}
    assert sorted(configs) == [f"{C}-maintenance-auto-upgrade", f"{C}-maintenance-node-os"]
    window = {
        "schedule": {"weekly": {"dayOfWeek": "Sunday", "intervalWeeks": 1}},
        "startTime": "03:30",
        "durationHours": 16,
        "utcOffset": "+00:00",
    }
    cluster = cluster_of(windowed)
    for name, config_name in (
        ("maintenance-auto-upgrade", "aksManagedAutoUpgradeSchedule"),
        ("maintenance-node-os", "aksManagedNodeOSUpgradeSchedule"),
    ):
        config = configs[f"{C}-{name}"]
        assert inputs(config) == {
            "configName": config_name,
            "resourceGroupName": RG,
            "resourceName": PHYSICAL,
            "maintenanceWindow": window,
        }
        assert config.parent == cluster.parent and cluster.urn in config.dependencies
        assert not config.protect
    (lock,) = of_type(windowed, "azure-native:authorization:ManagementLockAtResourceGroupLevel")
    assert {c.urn for c in configs.values()} <= set(lock.dependencies)


def test_without_an_upgrade_channel_only_node_images_are_scheduled() -> None:
    fleet = only_clusters(fleet_of("dev"), C)
    fleet["fleet"]["maintenanceWindow"] = {"day": "Saturday", "startTime": "22:00", "durationHours": 12}
    fleet["clusters"][0]["upgradeChannel"] = "none"
    fleet["clusters"][0]["kubernetesVersion"] = "1.35.1"
    configs = of_type(plan_fleet(fleet), MAINTENANCE)
    assert [inputs(c)["configName"] for c in configs] == ["aksManagedNodeOSUpgradeSchedule"]


def test_control_plane_logs_go_to_log_analytics(plan: Plan) -> None:
    diag = one(plan, "azure-native:monitor:DiagnosticSetting", f"{C}-control-plane-logs")
    workspace = one(plan, "azure-native:operationalinsights:Workspace", f"{C}-logs")
    d = inputs(diag)
    assert [log["category"] for log in d["logs"]] == list(CONTROL_PLANE_LOGS)
    assert set(CONTROL_PLANE_LOGS) == {
        "kube-apiserver",
        "kube-audit-admin",
        "kube-controller-manager",
        "kube-scheduler",
        "cluster-autoscaler",
        "guard",
    }
    assert all(log["enabled"] is True for log in d["logs"])
    assert d["resourceUri"].endswith(f"/managedClusters/{PHYSICAL}")
    assert d["workspaceId"].endswith(f"/workspaces/log-{PHYSICAL}")
    assert d["logAnalyticsDestinationType"] == "Dedicated"
    assert {cluster_of(plan).urn, workspace.urn} <= set(diag.dependencies)


# --------------------------------------------------------------------------
# Role assignments and ordering


def test_role_assignments_exist_before_the_cluster(plan: Plan) -> None:
    net = role(plan, "subnet-network-contributor")
    kms = role(plan, "kv-crypto-user")
    n, k = inputs(net), inputs(kms)
    assert n["scope"].endswith(f"/virtualNetworks/vnet-{PHYSICAL}/subnets/nodes")
    assert (
        n["roleDefinitionId"]
        == f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{NETWORK_CONTRIBUTOR}"
    )
    assert k["scope"].endswith(f"/vaults/{KEY_VAULT}")
    assert k["roleDefinitionId"].endswith(f"/roleDefinitions/{KEY_VAULT_CRYPTO_USER}")
    identity = one(plan, "azure-native:managedidentity:UserAssignedIdentity", f"{C}-identity")
    for r in (n, k):
        assert r["principalType"] == "ServicePrincipal"
        assert re.fullmatch(r"[0-9a-f-]{36}", r["principalId"])
    assert identity.urn in net.dependencies and identity.urn in kms.dependencies
    assert {net.urn, kms.urn} <= set(cluster_of(plan).dependencies)


def test_role_assignment_names_are_deterministic_uuids(plan: Plan) -> None:
    # Literal GUIDs: uuid5 of "<SUB>/<PHYSICAL>/<purpose>/<role or principal>" in the namespace
    # uuid5(NAMESPACE_URL, "https://meshfleet.dev/azure/role-assignments"). A changed derivation
    # would make every existing role assignment be replaced (and briefly missing) on the next `up`.
    expected = {
        "subnet-network-contributor": "7f2d4853-f2db-51e8-b778-93b3810b956e",
        "kv-crypto-user": "6abf3e23-d492-5592-989a-891cc69ea9cd",
        "deployer-cluster-admin": "c518b777-f81e-59fe-b365-488f7633cb47",
    }
    assert {suffix: inputs(role(plan, suffix))["roleAssignmentName"] for suffix in expected} == expected


def test_deployer_is_aks_rbac_cluster_admin_and_the_provider_waits(plan: Plan) -> None:
    admin = role(plan, "deployer-cluster-admin")
    a = inputs(admin)
    assert a["principalId"] == DEPLOYER
    assert (
        a["roleDefinitionId"]
        == f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{AKS_RBAC_CLUSTER_ADMIN}"
    )
    assert AKS_RBAC_CLUSTER_ADMIN == "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
    # The SDK would send `User` for any principal: the type is explicit.
    assert a["principalType"] == "User"  # azurecli: an operator
    assert (
        a["scope"]
        == f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{PHYSICAL}"
    )
    assert admin.urn in k8s_provider(plan).dependencies


def test_in_cluster_installs_wait_for_pools_and_rbac(plan: Plan) -> None:
    crds = one(plan, "kubernetes:yaml/v2:ConfigFile", f"{C}-gateway-api-standard")
    pool = one(plan, "azure-native:containerservice:AgentPool", f"{C}-pool-workload")
    admin = role(plan, "deployer-cluster-admin")
    assert {pool.urn, admin.urn} <= set(crds.dependencies)
    assert crds.provider_urn == k8s_provider(plan).urn


# --------------------------------------------------------------------------
# Kubeconfig, endpoint, CA


def test_kubeconfig_is_secret_everywhere(plan: Plan) -> None:
    assert is_secret(k8s_provider(plan).inputs["kubeconfig"])
    assert is_secret(plan.outputs[f"{C}-kubeconfig"])
    rendered = plan.to_json(show_secrets=False)
    provider = next(r for r in rendered["resources"] if r["urn"] == k8s_provider(plan).urn)
    assert provider["inputs"]["kubeconfig"] == "[secret]"
    assert rendered["outputs"][f"{C}-kubeconfig"] == "[secret]"


def test_kubeconfig_uses_non_interactive_kubelogin(plan: Plan) -> None:
    doc = kubeconfig_doc(plan)
    (user,) = doc["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    # Exactly what `kubelogin convert-kubeconfig -l azurecli` writes: the
    # tenant comes from `az login`, never from the kubeconfig.
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]


def test_endpoint_and_ca_match_the_cluster(plan: Plan) -> None:
    endpoint = plan.outputs[C]["apiEndpoint"]
    assert re.fullmatch(rf"https://{PHYSICAL}-[0-9a-f]{{8}}\.hcp\.westeurope\.azmk8s\.io:443", endpoint)
    doc = kubeconfig_doc(plan)
    (cluster,) = doc["clusters"]
    assert cluster["cluster"]["server"] == endpoint
    ca = x509.load_pem_x509_certificate(base64.b64decode(cluster["cluster"]["certificate-authority-data"]))
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_provider_has_stable_cluster_identifier(plan: Plan) -> None:
    assert inputs(k8s_provider(plan))["clusterIdentifier"] == f"meshfleet/{PHYSICAL}"


# --------------------------------------------------------------------------
# Deployer change and protection


def test_deployer_change_updates_the_provider_without_replacing_it(plan: Plan, changed: Plan) -> None:
    before, after = inputs(k8s_provider(plan)), inputs(k8s_provider(changed))
    assert after["clusterIdentifier"] == before["clusterIdentifier"] == f"meshfleet/{PHYSICAL}"
    assert after["kubeconfig"] != before["kubeconfig"]
    args = kubeconfig_doc(changed)["users"][0]["user"]["exec"]["args"]
    # Client id, tenant and token file come from the CI environment (AZURE_*).
    assert args == ["get-token", "--login", "workloadidentity", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
    admin = inputs(role(changed, "deployer-cluster-admin"))
    assert admin["principalId"] == NEW_DEPLOYER
    # Workload identity federates a service principal (ARM rejects a mismatched type).
    assert admin["principalType"] == "ServicePrincipal"
    assert admin["roleAssignmentName"] != inputs(role(plan, "deployer-cluster-admin"))["roleAssignmentName"]


PROTECTED = {
    ("azure-native:resources:ResourceGroup", f"{C}-network-rg"),
    # AKS cannot survive losing the identity that reads the KMS key.
    ("azure-native:managedidentity:UserAssignedIdentity", f"{C}-identity"),
    ("azure-native:network:VirtualNetwork", f"{C}-network-vnet"),
    ("azure-native:network:Subnet", f"{C}-network-nodes"),
    ("azure-native:network:NatGateway", f"{C}-network-nat"),
    ("azure-native:network:PublicIPAddress", f"{C}-network-egress-1"),
    ("azure-native:containerservice:ManagedCluster", f"{C}-aks"),
    ("azure-native:keyvault:Vault", f"{C}-kv"),
    ("azure-native:keyvault:Key", f"{C}-kms-key"),
}


def test_protection_off_in_dev(plan: Plan) -> None:
    assert [r.urn for r in azure_resources(plan) if r.protect] == []


def test_protection_on_protects_and_locks(changed: Plan) -> None:
    assert {(r.type, r.name) for r in azure_resources(changed) if r.protect} == PROTECTED
    (lock,) = of_type(changed, "azure-native:authorization:ManagementLockAtResourceGroupLevel")
    assert lock.name == f"{C}-lock"
    assert inputs(lock)["level"] == "CanNotDelete"
    assert inputs(lock)["resourceGroupName"] == RG
    # Everything in the group that the cluster does not depend on is a
    # dependency of the lock, so unprotecting removes the lock first.
    pool = one(changed, "azure-native:containerservice:AgentPool", f"{C}-pool-workload")
    diag = one(changed, "azure-native:monitor:DiagnosticSetting", f"{C}-control-plane-logs")
    admin = role(changed, "deployer-cluster-admin")
    assert {cluster_of(changed).urn, pool.urn, diag.urn, admin.urn} <= set(lock.dependencies)
    vault = inputs(one(changed, "azure-native:keyvault:Vault", f"{C}-kv"))["properties"]
    assert vault["enablePurgeProtection"] is True
    counts = {t: len(of_type(changed, t)) for t in EXPECTED_COUNTS}
    assert counts == EXPECTED_COUNTS


# --------------------------------------------------------------------------
# Pure helpers


@pytest.mark.parametrize(
    "given",
    [
        ["get-token", "--server-id", "s", "--client-id", "c", "--tenant-id", "t", "--login", "devicecode"],
        ["get-token", "-l", "interactive", "--server-id", "s", "--client-id=c", "--tenant-id", "t"],
        ["get-token", "--login=devicecode", "--server-id", "s", "--tenant-id", "t"],
    ],
)
def test_kubelogin_args_rewrite(given: list[str]) -> None:
    assert kubelogin_args(copy.copy(given), "azurecli") == ["get-token", "--login", "azurecli", "--server-id", "s"]
    assert kubelogin_args(copy.copy(given), "workloadidentity") == [
        "get-token",
        "--login",
        "workloadidentity",
        "--server-id",
        "s",
    ]


def test_kubelogin_args_need_a_server_id() -> None:
    with pytest.raises(ValueError, match="--server-id"):
        kubelogin_args(["get-token", "--login", "devicecode"], "azurecli")


def test_default_dns_service_ip_is_the_tenth_address() -> None:
    assert default_dns_service_ip("10.21.0.0/16") == "10.21.0.10"


def test_key_vault_names_fit_azure_rules() -> None:
    for physical in ("a-b", PHYSICAL, "acme-production-fleet--westeurope-cluster-with-a-long-name"):
        name = key_vault_name(physical, SUB)
        assert re.fullmatch(r"[a-z][a-z0-9-]{1,22}[a-z0-9]", name) and "--" not in name, name
    assert key_vault_name(PHYSICAL, SUB) != key_vault_name(PHYSICAL, "00000000-0000-4000-8000-000000000000")


def test_deployer_principal_type() -> None:
    assert deployer_principal_type(AzureDeployer(principal_object_id=DEPLOYER)) == "User"
    wi = AzureDeployer(principal_object_id=DEPLOYER, kubelogin_mode="workloadidentity")
    assert deployer_principal_type(wi) == "ServicePrincipal"
    # An explicit principalType wins over the login mode's default, e.g. an operators' group,
    # or a user account that runs CI through workload identity.
    group = AzureDeployer(principal_object_id=DEPLOYER, principal_type="Group")
    assert deployer_principal_type(group) == "Group"
    user_in_ci = AzureDeployer(principal_object_id=DEPLOYER, kubelogin_mode="workloadidentity", principal_type="User")
    assert deployer_principal_type(user_in_ci) == "User"
    sp_operator = AzureDeployer(principal_object_id=DEPLOYER, principal_type="ServicePrincipal")
    assert deployer_principal_type(sp_operator) == "ServicePrincipal"


def test_no_api_version_aliases_reach_the_engine(plan: Plan) -> None:
    """azure-native's per-API-version aliases are dropped; a rename alias of another kind is kept."""
    versioned = re.compile(r"azure-native:[a-z0-9]+/v\d{8}")
    azure = [r for r in plan.resources if r.type.startswith("azure-native:")]
    assert len(azure) == sum(n for t, n in EXPECTED_COUNTS.items() if t.startswith("azure-native:"))
    assert [r.urn for r in azure if any(versioned.search(a) for a in r.aliases)] == []
    assert of_type(plan, "azure-native:containerservice:ManagedCluster")[0].aliases == []
    assert of_type(plan, "azure-native:monitor:DiagnosticSetting")[0].aliases == [
        "type=azure-native:insights:DiagnosticSetting"
    ]
    # The aliases could only ever match a resource registered from an API-version module: none is.
    assert [r.type for r in plan.resources if versioned.match(r.type)] == []


def test_drop_api_version_aliases_keeps_every_other_alias() -> None:
    import pulumi

    from components.common import drop_api_version_aliases

    versioned = pulumi.Alias(type_="azure-native:containerservice/v20240801:ManagedCluster")
    preview = pulumi.Alias(type_="azure-native:containerservice/v20250502preview:ManagedCluster")
    renamed = pulumi.Alias(type_="azure-native:insights:DiagnosticSetting")
    versioned_and_named = pulumi.Alias(name="old", type_="azure-native:containerservice/v20240801:ManagedCluster")
    by_name = pulumi.Alias(name="old")
    opts = pulumi.ResourceOptions(aliases=[versioned, renamed, preview, versioned_and_named, by_name, "urn:x"])
    args = pulumi.ResourceTransformationArgs(None, "t", "n", {}, opts)  # type: ignore[arg-type]
    result = drop_api_version_aliases(args)
    assert result is not None
    assert result.opts.aliases == [renamed, versioned_and_named, by_name, "urn:x"]
    assert opts.aliases == [versioned, renamed, preview, versioned_and_named, by_name, "urn:x"]  # not mutated
    only_renamed = pulumi.ResourceOptions(aliases=[renamed])
    assert drop_api_version_aliases(pulumi.ResourceTransformationArgs(None, "t", "n", {}, only_renamed)) is None  # type: ignore[arg-type]


def test_dropping_api_version_aliases_changes_nothing_a_deployed_stack_holds(
    plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two plans, with and without the transformation: the same URNs, inputs, parents and dependencies;
    only the aliases the engine receives differ, so a deployed stack sees no update, replace or delete."""
    import components.common

    monkeypatch.setattr(components.common, "drop_api_version_aliases", lambda args: None)
    with_aliases = plan_fleet(only_clusters(fleet_of("dev"), C))
    change = PlanChange(with_aliases, plan)
    before, after = change.old, change.new
    assert change.added == [] and change.removed == set()
    for urn, r in after.items():
        b = before[urn]
        assert (b.inputs, b.parent, b.provider, b.dependencies, b.protect) == (
            r.inputs,
            r.parent,
            r.provider,
            r.dependencies,
            r.protect,
        ), urn
    changed = {urn for urn in after if before[urn].aliases != after[urn].aliases}
    assert changed == {r.urn for r in plan.resources if r.type.startswith("azure-native:") and before[r.urn].aliases}
    assert len(before[of_type(plan, "azure-native:containerservice:ManagedCluster")[0].urn].aliases) > 100
