"""AKS cluster: Entra ID + Azure RBAC, CNI overlay, KMS etcd encryption, NAT egress.

What a careful platform engineer creates by hand, in order:
control-plane identity -> its role assignments (Network Contributor on the
node subnet, Key Vault Crypto User on the KMS vault) -> ManagedCluster (system
pool inline) -> user pools, control-plane diagnostic logs, the deployer's
cluster-admin role assignment -> a Kubernetes provider that waits for it.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import uuid
from typing import Any

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerservice as containerservice
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights
import yaml

from components.clusters.build import CloudClusterArgs, ClusterBuild, KubernetesAccess
from components.common import CLUSTER_TIMEOUTS, NODE_POOL_TIMEOUTS, protected, without_api_version_aliases
from components.config import AzureCluster, AzureDeployer, NodePool
from components.handle import ClusterHandle, cluster_provider
from components.netcalc import AKS_DRAIN_MINUTES, AKS_MAX_SURGE_PERCENT
from components.networks.azure import AzureNetwork
from components.yamlio import SAFE_DUMPER, SAFE_LOADER

#: Built-in Azure role definitions (the same GUIDs in every tenant).
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"

#: Control-plane log categories sent to Log Analytics (kube-audit-admin
#: rather than kube-audit: the same writes without the flood of reads,
#: so a Secret's get is not recorded; GKE's default matches, EKS's `audit`
#: log records reads).
CONTROL_PLANE_LOGS = (
    "kube-apiserver",
    "kube-audit-admin",
    "kube-controller-manager",
    "kube-scheduler",
    "cluster-autoscaler",
    "guard",
)

#: Namespace of the deterministic role-assignment names (role assignments
#: are named by GUID; a random one would be replaced on every stack rebuild).
ROLE_ASSIGNMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://meshfleet.dev/azure/role-assignments")


#: AKS's own default StorageClass: Azure Disk CSI, Standard SSD, binding on
#: the first consumer so a disk lands in its pod's zone.
STORAGE_CLASS = "managed-csi"

#: AKS needs no webhook firewall rule: its control plane reaches nodes through
#: konnectivity on any port.
AksClusterArgs = CloudClusterArgs[AzureCluster, AzureNetwork]


def role_assignment_name(*parts: str) -> str:
    """A role assignment's GUID name, derived from stable strings (never random)."""
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, "/".join(parts)))


def role_definition_id(subscription_id: str, role: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def grant(
    resource_name: str,
    subscription_id: str,
    role: str,
    *,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    principal_type: authorization.PrincipalType,
    name_parts: tuple[str, ...],
    opts: pulumi.ResourceOptions,
) -> authorization.RoleAssignment:
    """A role assignment with a deterministic GUID name derived from `name_parts`."""
    return authorization.RoleAssignment(
        resource_name,
        role_assignment_name=role_assignment_name(subscription_id, *name_parts),
        scope=scope,
        role_definition_id=role_definition_id(subscription_id, role),
        principal_id=principal_id,
        principal_type=principal_type,
        opts=opts,
    )


def key_vault_name(physical: str, subscription_id: str) -> str:
    """Key Vault names are global DNS labels: 3-24 chars, a letter first, no `--`.

    A short hash of subscription and cluster keeps it unique across tenants
    and deterministic across runs.
    """
    suffix = hashlib.sha256(f"{subscription_id}/{physical}".encode()).hexdigest()[:6]
    stem = re.sub(r"-+", "-", physical)[: 24 - len("kv--") - len(suffix)].strip("-")
    return f"kv-{stem}-{suffix}"


def default_dns_service_ip(service_cidr: str) -> str:
    """The 10th address of the Service range (AKS reserves the first for the API service)."""
    return str(ipaddress.IPv4Network(service_cidr)[10])


def _flag_value(args: list[str], flag: str) -> str | None:
    """Value of `flag` in `--flag value` or `--flag=value` form."""
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    return None


def kubelogin_args(args: list[str], login_mode: str) -> list[str]:
    """`kubelogin get-token` arguments for a non-interactive login mode.

    The API returns `--login devicecode` with kubelogin's public client id,
    the tenant and the environment. This writes exactly what `kubelogin
    convert-kubeconfig -l azurecli|workloadidentity` writes: only the
    server id stays. `azurecli` takes tenant and cloud from the operator's
    `az login` (a `--tenant-id` breaks an `az login --identity` session,
    Azure/kubelogin#123); `workloadidentity` reads AZURE_CLIENT_ID,
    AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST
    from the CI environment.
    """
    server_id = _flag_value(args, "--server-id")
    if not server_id:
        raise ValueError("the AKS exec kubeconfig has no kubelogin --server-id")
    return ["get-token", "--login", login_mode, "--server-id", server_id]


def exec_kubeconfig(encoded: str, login_mode: str) -> str:
    """The base64 kubeconfig of listClusterUserCredential, with kubelogin made non-interactive."""
    doc: dict[str, Any] = yaml.load(base64.b64decode(encoded), Loader=SAFE_LOADER)
    for user in doc.get("users") or []:
        exec_ = (user.get("user") or {}).get("exec")
        if exec_ and str(exec_.get("command", "")).endswith("kubelogin"):
            exec_["args"] = kubelogin_args(list(exec_.get("args") or []), login_mode)
    return yaml.dump(doc, Dumper=SAFE_DUMPER, sort_keys=False)


def ca_pem_of(encoded: str) -> str:
    """PEM of the API server CA from the (base64) kubeconfig."""
    doc: dict[str, Any] = yaml.load(base64.b64decode(encoded), Loader=SAFE_LOADER)
    data = doc["clusters"][0]["cluster"]["certificate-authority-data"]
    return base64.b64decode(data).decode()


def deployer_principal_type(deployer: AzureDeployer) -> authorization.PrincipalType:
    """The Entra object type of the deploying principal, for its role assignment.

    ARM refuses a role assignment whose principalType differs from the
    principal's real type (UnmatchedPrincipalType), and the SDK sends
    `User` when none is given. An explicit `principalType` in config wins;
    otherwise workload identity means a service
    principal (app registration or managed identity) and the Azure CLI
    login an operator, i.e. a user.
    """
    if deployer.principal_type is not None:
        return authorization.PrincipalType(deployer.principal_type)
    if deployer.kubelogin_mode == "workloadidentity":
        return authorization.PrincipalType.SERVICE_PRINCIPAL
    return authorization.PrincipalType.USER


def _pool_profile(
    pool: NodePool, zones: list[str], subnet_id: pulumi.Input[str], tags: dict[str, str], version: str
) -> containerservice.ManagedClusterAgentPoolProfileArgsDict:
    """Settings shared by the inline system pool and the separate user pools."""
    return {
        "name": pool.name,
        # Pools follow the control plane's configured version. Unset, a pool
        # keeps its creation version when the control plane is upgraded
        # (pulumi-azure-native#2094); `major.minor` lets the `patch` channel
        # move patches without a diff (API: orchestratorVersion).
        "orchestrator_version": version,
        "type": containerservice.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
        "vm_size": pool.machine_type,
        "os_type": containerservice.OSType.LINUX,
        "os_sku": containerservice.OSSKU.AZURE_LINUX,
        "os_disk_size_gb": pool.disk_size_gb,
        "enable_auto_scaling": True,
        "min_count": pool.min_size,
        "max_count": pool.max_size,
        # Initial size only: the autoscaler owns `count` afterwards (ignore_changes).
        "count": pool.min_size,
        "availability_zones": zones,
        "vnet_subnet_id": subnet_id,
        "node_labels": dict(pool.labels),
        # Explicit, so an API version's default cannot change how a pool is
        # upgraded (the surge default moved from 1 node to 10%); the ranges
        # leave room for these nodes (components/config/rules/pools.py). A
        # node whose pods cannot be evicted within the drain timeout (a
        # PodDisruptionBudget that never allows it) fails the upgrade there.
        "upgrade_settings": {"max_surge": f"{AKS_MAX_SURGE_PERCENT}%", "drain_timeout_in_minutes": AKS_DRAIN_MINUTES},
        "tags": tags,
    }


def system_pool_profile(
    b: ClusterBuild[AzureCluster, AzureNetwork],
) -> containerservice.ManagedClusterAgentPoolProfileArgsDict:
    """The first configured pool as the cluster's inline system pool."""
    c, net = b.cluster, b.network
    # The first node pool is the system pool, inline: AKS cannot create a
    # cluster without one (mode System). Its immutable settings (VM size,
    # zones, disk) cannot change through the cluster (azure-native docs:
    # replaceOnChanges, or change in Azure then refresh). When user pools
    # exist, the system pool only runs critical add-ons, so workloads (and
    # the mesh) land on them.
    system, *user_pools = c.node_pools
    profile = _pool_profile(system, list(c.zones), net.subnet_id, b.tags, c.kubernetes_version)
    profile["mode"] = containerservice.AgentPoolMode.SYSTEM
    # A system pool never scales to zero.
    profile["count"] = max(system.min_size, 1)
    if user_pools:
        profile["node_taints"] = ["CriticalAddonsOnly=true:NoSchedule"]
    return profile


def network_profile(c: AzureCluster) -> containerservice.ContainerServiceNetworkProfileArgsDict:
    """Azure CNI overlay with the configured ranges, egress through the network's NAT gateway."""
    return {
        "network_plugin": containerservice.NetworkPlugin.AZURE,
        "network_plugin_mode": containerservice.NetworkPluginMode.OVERLAY,
        "pod_cidr": c.network.pod_cidr,
        "service_cidr": c.network.service_cidr,
        "dns_service_ip": c.network.dns_service_ip or default_dns_service_ip(c.network.service_cidr),
        "load_balancer_sku": containerservice.LoadBalancerSku.STANDARD,
        # Egress through the network's NAT gateway: static addresses
        # that peers allow-list, never AKS-managed ones.
        "outbound_type": containerservice.OutboundType.USER_ASSIGNED_NAT_GATEWAY,
    }


#: Child resource name per AKS maintenance configuration.
AKS_MAINTENANCE_CHILD = {
    "aksManagedAutoUpgradeSchedule": "maintenance-auto-upgrade",
    "aksManagedNodeOSUpgradeSchedule": "maintenance-node-os",
}


class AksCluster(pulumi.ComponentResource):
    """One AKS cluster and its Kubernetes provider."""

    handle: ClusterHandle
    cluster: containerservice.ManagedCluster
    agent_pools: list[containerservice.AgentPool]
    oidc_issuer_url: pulumi.Output[str | None]

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:cluster:Aks", name, None, without_api_version_aliases(opts))
        b = ClusterBuild.of(self, name, args)
        deployer = b.meta.deployers.azure
        if deployer is None:  # config validation requires it; keep the error explicit
            raise ValueError(f"cluster {b.cluster.name!r}: fleet.deployers.azure is required for AKS clusters")

        identity = self._identities(b)
        subnet_role = self._attach_network(b, identity)
        kms_key, kms_role = self._secrets_encryption(b, identity)
        workspace = self._log_destination(b)
        self.cluster = self._control_plane(b, args.api_allow_list, identity, kms_key, [subnet_role, kms_role])
        self.agent_pools = self._node_pools(b, self.cluster)
        diagnostics = self._control_plane_logs(b, self.cluster, workspace)
        admin_role = self._deployer_access(b, self.cluster, deployer)
        maintenance = self._maintenance_windows(b, self.cluster)
        if b.meta.protect:
            self._protection_lock(b, [self.cluster, *self.agent_pools, diagnostics, admin_role, *maintenance])
        access = self._kubernetes_provider(b, self.cluster, deployer, admin_role)

        api_endpoint = self.cluster.fqdn.apply(lambda fqdn: f"https://{fqdn}:443")
        self.oidc_issuer_url = self.cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else None)
        self.handle = b.handle(access, api_endpoint, ready=[*self.agent_pools, admin_role], storage_class=STORAGE_CLASS)
        self.register_outputs(
            {
                "clusterName": self.cluster.name,
                "apiEndpoint": api_endpoint,
                "oidcIssuerUrl": self.oidc_issuer_url,
            }
        )

    def _identities(self, b: ClusterBuild[AzureCluster, AzureNetwork]) -> managedidentity.UserAssignedIdentity:
        """The control plane's user-assigned identity."""
        # Protected like the KMS key: AKS does not support deleting the KMS
        # key, its vault or the identity that reads it (etcd would become
        # undecryptable; learn.microsoft.com/azure/aks/use-kms-etcd-encryption).
        return managedidentity.UserAssignedIdentity(
            f"{b.name}-identity",
            resource_name_=f"id-{b.names.physical}",
            resource_group_name=b.network.resource_group_name,
            location=b.cluster.region,
            tags=b.tags,
            opts=protected(b.meta, b.child),
        )

    def _attach_network(
        self, b: ClusterBuild[AzureCluster, AzureNetwork], identity: managedidentity.UserAssignedIdentity
    ) -> authorization.RoleAssignment:
        """The control plane's Network Contributor role on the node subnet."""
        # With a custom VNet the control plane manages the node subnet (and
        # load balancers in it): it needs Network Contributor there before
        # the cluster exists, or the create fails half-way.
        # A new identity takes a while to replicate in Entra ID; naming the
        # principal type lets ARM skip the lookup that would fail.
        return grant(
            f"{b.name}-subnet-network-contributor",
            b.cluster.subscription_id,
            NETWORK_CONTRIBUTOR,
            scope=b.network.subnet_id,
            principal_id=identity.principal_id,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            name_parts=(b.names.physical, "subnet", NETWORK_CONTRIBUTOR),
            opts=b.child,
        )

    def _secrets_encryption(
        self, b: ClusterBuild[AzureCluster, AzureNetwork], identity: managedidentity.UserAssignedIdentity
    ) -> tuple[keyvault.Key, authorization.RoleAssignment]:
        """Key Vault and key for KMS etcd encryption, and the control plane's right to use the key."""
        name, c, meta, rg, sub = b.name, b.cluster, b.meta, b.network.resource_group_name, b.cluster.subscription_id
        keep = protected(meta, b.child)
        # Key Vault for KMS etcd encryption. RBAC authorization (no access
        # policies); soft delete is always on in Azure and its retention
        # cannot change after creation, so it is fixed. Purge protection
        # cannot be turned off once on, so it follows the protection
        # setting. An unprotected (dev) vault can be purged to reuse its name.
        client = authorization.get_client_config_output(opts=b.invoke_opts())
        vault_properties: keyvault.VaultPropertiesArgsDict = {
            "tenant_id": client.tenant_id,
            "sku": {"family": keyvault.SkuFamily.A, "name": keyvault.SkuName.STANDARD},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": 90,
            # keyVaultNetworkAccess Public: the AKS control plane reaches the
            # vault over its public endpoint (a private vault needs API server
            # VNet integration and a private endpoint).
            "public_network_access": keyvault.PublicNetworkAccess.ENABLED,
            "network_acls": {
                "default_action": keyvault.NetworkRuleAction.ALLOW,
                "bypass": keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
            },
        }
        if meta.protect:
            vault_properties["enable_purge_protection"] = True
        vault = keyvault.Vault(
            f"{name}-kv",
            vault_name=key_vault_name(b.names.physical, sub),
            resource_group_name=rg,
            location=c.region,
            properties=vault_properties,
            tags=b.tags,
            opts=keep,
        )
        # Created through ARM (Microsoft.KeyVault/vaults/keys, management plane:
        # the deployer's Contributor/Owner suffices, no data-plane "Key Vault
        # Crypto Officer"). RSA with encrypt/decrypt: the KMS plugin calls the
        # vault's encrypt and decrypt operations with the exact key version it
        # is given, so rotating means a new version and a cluster update with
        # the new versioned key id.
        kms_key = keyvault.Key(
            f"{name}-kms-key",
            key_name="etcd-kms",
            vault_name=vault.name,
            resource_group_name=rg,
            properties={
                "kty": keyvault.JsonWebKeyType.RSA,
                "key_size": 2048,
                "key_ops": [keyvault.JsonWebKeyOperation.ENCRYPT, keyvault.JsonWebKeyOperation.DECRYPT],
            },
            tags=b.tags,
            opts=keep,
        )
        kms_role = grant(
            f"{name}-kv-crypto-user",
            sub,
            KEY_VAULT_CRYPTO_USER,
            scope=vault.id,
            principal_id=identity.principal_id,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            name_parts=(b.names.physical, "kms", KEY_VAULT_CRYPTO_USER),
            opts=b.child,
        )
        return kms_key, kms_role

    def _log_destination(self, b: ClusterBuild[AzureCluster, AzureNetwork]) -> operationalinsights.Workspace:
        """The Log Analytics workspace the control-plane logs go to."""
        return operationalinsights.Workspace(
            f"{b.name}-logs",
            workspace_name=f"log-{b.names.physical}",
            resource_group_name=b.network.resource_group_name,
            location=b.cluster.region,
            sku={"name": operationalinsights.WorkspaceSkuNameEnum.PER_GB2018},
            retention_in_days=30,
            tags=b.tags,
            opts=b.child,
        )

    def _control_plane(
        self,
        b: ClusterBuild[AzureCluster, AzureNetwork],
        api_allow_list: pulumi.Output[list[str]],
        identity: managedidentity.UserAssignedIdentity,
        kms_key: keyvault.Key,
        role_assignments: list[pulumi.Resource],
    ) -> containerservice.ManagedCluster:
        """The managed cluster with its inline system pool: Entra ID + Azure RBAC, CNI overlay, KMS, NAT egress."""
        c, names = b.cluster, b.names
        return containerservice.ManagedCluster(
            f"{b.name}-aks",
            resource_name_=names.physical,
            resource_group_name=b.network.resource_group_name,
            location=c.region,
            dns_prefix=names.physical,
            # Set with a major.minor version, the `patch` channel moves patches
            # without a diff; the minor version only moves when config says so.
            kubernetes_version=c.kubernetes_version,
            node_resource_group=f"rg-{names.physical}-nodes",
            sku={
                "name": containerservice.ManagedClusterSKUName.BASE,
                "tier": containerservice.ManagedClusterSKUTier.STANDARD,
            },
            identity={
                "type": containerservice.ResourceIdentityType.USER_ASSIGNED,
                "user_assigned_identities": [identity.id],
            },
            agent_pool_profiles=[system_pool_profile(b)],
            network_profile=network_profile(c),
            enable_rbac=True,
            aad_profile={"managed": True, "enable_azure_rbac": True},
            # No static admin kubeconfig: every access goes through Entra ID.
            disable_local_accounts=True,
            # Public API restricted to the allow-list, which includes this
            # cluster's own NAT egress: nodes reach their API through it.
            # At most 200 ranges: checked with the config (components/network_rules.py).
            api_server_access_profile={"authorized_ip_ranges": api_allow_list},
            auto_upgrade_profile={
                # Config allows only patch/node-image/none: stable/rapid would
                # move the minor version behind Pulumi's back.
                "upgrade_channel": containerservice.UpgradeChannel(c.upgrade_channel),
                "node_os_upgrade_channel": containerservice.NodeOSUpgradeChannel.NODE_IMAGE,
            },
            oidc_issuer_profile={"enabled": True},
            security_profile={
                "workload_identity": {"enabled": True},
                "azure_key_vault_kms": {
                    "enabled": True,
                    "key_id": kms_key.key_uri_with_version,
                    "key_vault_network_access": containerservice.KeyVaultNetworkAccessTypes.PUBLIC,
                },
                # Microsoft Defender is a paid, subscription-wide decision: off here.
                "defender": {"security_monitoring": {"enabled": False}},
            },
            tags=b.tags,
            opts=pulumi.ResourceOptions.merge(
                protected(b.meta, b.child),
                pulumi.ResourceOptions(
                    depends_on=role_assignments,
                    custom_timeouts=CLUSTER_TIMEOUTS,
                    # The autoscaler owns the system pool's count. Only that
                    # path: ignoring all of agentPoolProfiles makes updates
                    # resend stale pool lists that ARM rejects ("A new agent
                    # pool was introduced", pulumi-azure-native#2719). Pools
                    # missing from the cluster's PUT are left alone by ARM, so
                    # the separate AgentPool resources do not fight it.
                    ignore_changes=["agentPoolProfiles[0].count"],
                ),
            ),
        )

    def _node_pools(
        self, b: ClusterBuild[AzureCluster, AzureNetwork], cluster: containerservice.ManagedCluster
    ) -> list[containerservice.AgentPool]:
        """The user pools (every configured pool after the first), as separate AgentPool resources."""
        c, net = b.cluster, b.network
        zones, version = list(c.zones), c.kubernetes_version
        pools = []
        for pool in c.node_pools[1:]:
            profile = _pool_profile(pool, zones, net.subnet_id, b.tags, version)
            pools.append(
                containerservice.AgentPool(
                    f"{b.name}-pool-{pool.name}",
                    agent_pool_name=pool.name,
                    resource_group_name=net.resource_group_name,
                    resource_name_=cluster.name,
                    mode=containerservice.AgentPoolMode.USER,
                    orchestrator_version=version,
                    type=profile["type"],
                    vm_size=profile["vm_size"],
                    os_type=profile["os_type"],
                    os_sku=profile["os_sku"],
                    os_disk_size_gb=profile["os_disk_size_gb"],
                    enable_auto_scaling=True,
                    min_count=profile["min_count"],
                    max_count=profile["max_count"],
                    count=profile["count"],
                    availability_zones=zones,
                    vnet_subnet_id=net.subnet_id,
                    node_labels=profile["node_labels"],
                    upgrade_settings=profile["upgrade_settings"],
                    tags=b.tags,
                    opts=b.opts(custom_timeouts=NODE_POOL_TIMEOUTS, ignore_changes=["count"]),
                )
            )
        return pools

    def _maintenance_windows(
        self, b: ClusterBuild[AzureCluster, AzureNetwork], cluster: containerservice.ManagedCluster
    ) -> list[containerservice.MaintenanceConfiguration]:
        """Planned maintenance: when the auto-upgrade channel and the node image re-imaging may run."""
        window = b.meta.maintenance_window_for(b.cluster)
        if window is None:
            return []
        # Two of AKS's fixed configuration names: the auto-upgrade channel's
        # upgrades (none without a channel) and the node OS channel's weekly
        # re-imaging of every node (NodeImage, above).
        schedules = ["aksManagedNodeOSUpgradeSchedule"]
        if b.cluster.upgrade_channel != "none":
            schedules.insert(0, "aksManagedAutoUpgradeSchedule")
        return [
            containerservice.MaintenanceConfiguration(
                f"{b.name}-{AKS_MAINTENANCE_CHILD[config_name]}",
                config_name=config_name,
                resource_group_name=b.network.resource_group_name,
                resource_name_=cluster.name,
                maintenance_window={
                    "schedule": {"weekly": {"day_of_week": window.day, "interval_weeks": 1}},
                    "start_time": window.start_time,
                    "duration_hours": window.duration_hours,
                    "utc_offset": "+00:00",
                },
                opts=b.child,
            )
            for config_name in schedules
        ]

    def _control_plane_logs(
        self,
        b: ClusterBuild[AzureCluster, AzureNetwork],
        cluster: containerservice.ManagedCluster,
        workspace: operationalinsights.Workspace,
    ) -> monitor.DiagnosticSetting:
        """Control-plane logs of the cluster into the workspace."""
        # Resource-specific tables (AKSAudit, AKSControlPlane, ...) instead of
        # the legacy AzureDiagnostics table.
        return monitor.DiagnosticSetting(
            f"{b.name}-control-plane-logs",
            name="control-plane-logs",
            resource_uri=cluster.id,
            workspace_id=workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category": category, "enabled": True} for category in CONTROL_PLANE_LOGS],
            opts=b.child,
        )

    def _deployer_access(
        self,
        b: ClusterBuild[AzureCluster, AzureNetwork],
        cluster: containerservice.ManagedCluster,
        deployer: AzureDeployer,
    ) -> authorization.RoleAssignment:
        """The deploying principal's Azure RBAC cluster-admin role on the cluster."""
        # The deploying principal administers the cluster through Azure RBAC
        # (local accounts are off). Its object id is part of the name, so a
        # new deployer gets a new assignment created before the old is removed.
        # Its principal type must be right (see deployer_principal_type).
        # Azure RBAC grants can take a few minutes to reach the API server:
        # a first `up` may see 403s from the Kubernetes provider and succeed
        # when re-run (no wait resource: pulumi-time is not a dependency).
        return grant(
            f"{b.name}-deployer-cluster-admin",
            b.cluster.subscription_id,
            AKS_RBAC_CLUSTER_ADMIN,
            scope=cluster.id,
            principal_id=deployer.principal_object_id,
            principal_type=deployer_principal_type(deployer),
            name_parts=(b.names.physical, "cluster-admin", deployer.principal_object_id),
            opts=b.child,
        )

    def _protection_lock(
        self, b: ClusterBuild[AzureCluster, AzureNetwork], in_group: list[pulumi.Resource]
    ) -> authorization.ManagementLockAtResourceGroupLevel:
        """A CanNotDelete lock on the resource group (protected stacks)."""
        # AKS has no deletion-protection flag: a CanNotDelete lock on the
        # resource group is Azure's equivalent. Updates and upgrades go on
        # (node images replace VMs in the separate node resource group,
        # which is not locked), but every delete in this group and its
        # children is refused: removing a user pool or replacing the
        # deployer's role assignment needs `fleet.protect: false` first.
        # The lock depends on everything in the group that the cluster
        # does not, so unprotecting deletes the lock before any of them.
        return authorization.ManagementLockAtResourceGroupLevel(
            f"{b.name}-lock",
            lock_name="meshfleet-protect",
            level=authorization.LockLevel.CAN_NOT_DELETE,
            notes=f"meshfleet fleet {b.meta.name}: set fleet.protect=false before deleting cluster {b.cluster.name}",
            resource_group_name=b.network.resource_group_name,
            opts=b.opts(depends_on=in_group),
        )

    def _kubernetes_provider(
        self,
        b: ClusterBuild[AzureCluster, AzureNetwork],
        cluster: containerservice.ManagedCluster,
        deployer: AzureDeployer,
        admin_role: authorization.RoleAssignment,
    ) -> KubernetesAccess:
        """The deployer's kubelogin kubeconfig, the API server CA and the Kubernetes provider."""
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=b.network.resource_group_name,
            resource_name=cluster.name,
            format="exec",
            opts=b.invoke_opts(),
        )
        encoded = credentials.apply(lambda r: r.kubeconfigs[0].value)
        login_mode = deployer.kubelogin_mode
        rewritten: pulumi.Output[str] = encoded.apply(lambda e: exec_kubeconfig(e, login_mode))
        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(rewritten)
        # The CA is public; keep it readable even if the credentials are secret.
        ca_pem = pulumi.Output.unsecret(encoded.apply(ca_pem_of))

        # Azure RBAC: without the deployer's grant every call is forbidden.
        provider = cluster_provider(b.names, self, kubeconfig=kubeconfig, depends_on=[admin_role])
        return KubernetesAccess(provider=provider, kubeconfig=kubeconfig, ca_pem=ca_pem)
