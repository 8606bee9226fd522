"""Simulated azure-native resources for the offline plan.

Ids follow ARM's shape (`/subscriptions/<sub>/resourceGroups/<rg>/providers/...`),
names come from the explicit physical-name inputs, and everything else
(addresses, principal ids, FQDNs, key versions, the API server CA) derives
from the subscription, resource group and name, so two clusters never share
a value and two runs give the same bytes.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import yaml
from pulumi.runtime import MockCallArgs, MockResourceArgs

from ops.sim import Call, Handler, SimContext, unwrap

#: Where simulated public IPs come from (RFC 2544 benchmarking range: never
#: routed), each stack from its own block (ops/sim/pools.py).
PUBLIC_IP_POOL = "198.18.0.0/16"
#: kubelogin's well-known ids, as AKS writes them into exec kubeconfigs.
AKS_AAD_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
KUBELOGIN_CLIENT_ID = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"
PROVIDER_TYPE = "pulumi:providers:azure-native"


def _guid(ctx: SimContext, *parts: str, shared: bool = False) -> str:
    return str(uuid.UUID(bytes=ctx.digest(*parts, shared=shared)[:16], version=4))


def _provider_inputs(args: MockResourceArgs | MockCallArgs, ctx: SimContext) -> dict[str, Any]:
    """Inputs of the azure-native provider a resource or call uses (`urn::id` reference)."""
    ref = args.provider or ""
    name = ref.rsplit("::", 1)[0].split("::")[-1] if ref else ""
    return ctx.state.get((PROVIDER_TYPE, name), {})


def _subscription(args: MockResourceArgs | MockCallArgs, ctx: SimContext) -> str:
    return str(_provider_inputs(args, ctx).get("subscriptionId") or _guid(ctx, "subscription", shared=True))


def tenant_id(ctx: SimContext) -> str:
    return _guid(ctx, "azure-tenant")


def _rg_id(args: MockResourceArgs, ctx: SimContext) -> str:
    rg = unwrap(args.inputs).get("resourceGroupName", "rg")
    return f"/subscriptions/{_subscription(args, ctx)}/resourceGroups/{rg}"


def _arm(kind: str, name_key: str) -> Handler:
    """A handler for a resource whose physical name is the input `name_key`."""

    def handle(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
        name = unwrap(args.inputs).get(name_key) or args.name
        return {
            "__id": f"{_rg_id(args, ctx)}/providers/{kind}/{name}",
            "name": name,
            "provisioningState": "Succeeded",
        }

    return handle


def _resource_group(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    name = inputs.get("resourceGroupName") or args.name
    return {
        "__id": f"/subscriptions/{_subscription(args, ctx)}/resourceGroups/{name}",
        "name": name,
        "properties": {"provisioningState": "Succeeded"},
    }


def _public_ip(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    out = _arm("Microsoft.Network/publicIPAddresses", "publicIpAddressName")(args, ctx)
    out["ipAddress"] = ctx.allocate(PUBLIC_IP_POOL, args.typ, args.name)
    out["resourceGuid"] = _guid(ctx, out["__id"])
    return out


def _subnet(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    name = inputs.get("subnetName") or args.name
    vnet = inputs.get("virtualNetworkName", "vnet")
    return {
        "__id": f"{_rg_id(args, ctx)}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}",
        "name": name,
        "provisioningState": "Succeeded",
    }


def _identity(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    out = _arm("Microsoft.ManagedIdentity/userAssignedIdentities", "resourceName")(args, ctx)
    out["principalId"] = _guid(ctx, "principal", out["__id"])
    out["clientId"] = _guid(ctx, "client", out["__id"])
    out["tenantId"] = tenant_id(ctx)
    return out


def _role_assignment(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    name = inputs.get("roleAssignmentName") or _guid(ctx, args.name)
    scope = inputs.get("scope", "")
    return {
        "__id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "principalType": inputs.get("principalType", "User"),
    }


def _vault(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    out = _arm("Microsoft.KeyVault/vaults", "vaultName")(args, ctx)
    properties = dict(unwrap(args.inputs).get("properties") or {})
    properties["vaultUri"] = f"https://{out['name']}.vault.azure.net/"
    properties["provisioningState"] = "Succeeded"
    out["properties"] = properties
    return out


def _key(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    vault, name = inputs.get("vaultName", "vault"), inputs.get("keyName") or args.name
    uri = f"https://{vault}.vault.azure.net/keys/{name}"
    return {
        "__id": f"{_rg_id(args, ctx)}/providers/Microsoft.KeyVault/vaults/{vault}/keys/{name}",
        "name": name,
        "keyUri": uri,
        "keyUriWithVersion": f"{uri}/{ctx.hex('key-version', uri, length=32)}",
    }


def _workspace(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    out = _arm("Microsoft.OperationalInsights/workspaces", "workspaceName")(args, ctx)
    out["customerId"] = _guid(ctx, "workspace", out["__id"])
    return out


def _diagnostic_setting(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    name = inputs.get("name") or args.name
    return {
        "__id": f"{inputs.get('resourceUri', '')}/providers/Microsoft.Insights/diagnosticSettings/{name}",
        "name": name,
    }


def _fqdn(dns_prefix: str, location: str, cluster_id: str, ctx: SimContext) -> str:
    return f"{dns_prefix}-{ctx.hex('aks-fqdn', cluster_id, length=8)}.hcp.{location}.azmk8s.io"


def _managed_cluster(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    out = _arm("Microsoft.ContainerService/managedClusters", "resourceName")(args, ctx)
    location = inputs.get("location") or _provider_inputs(args, ctx).get("location", "westeurope")
    version = str(inputs.get("kubernetesVersion", "1.33"))
    oidc = dict(inputs.get("oidcIssuerProfile") or {})
    if oidc.get("enabled"):
        oidc["issuerURL"] = (
            f"https://{location}.oic.prod-aks.azure.com/{tenant_id(ctx)}/{_guid(ctx, 'oidc', out['__id'])}/"
        )
    identity = dict(inputs.get("identity") or {})
    # The API takes a list of identity ids and answers with a map of them.
    identity["userAssignedIdentities"] = {
        ref: {"principalId": _guid(ctx, "principal", ref), "clientId": _guid(ctx, "client", ref)}
        for ref in identity.get("userAssignedIdentities") or []
    }
    out.update(
        {
            "identity": identity,
            "fqdn": _fqdn(str(inputs.get("dnsPrefix", out["name"])), location, out["__id"], ctx),
            "azurePortalFqdn": f"{inputs.get('dnsPrefix', out['name'])}-{ctx.hex('portal', out['__id'], length=8)}.portal.hcp.{location}.azmk8s.io",
            "currentKubernetesVersion": version if version.count(".") == 2 else f"{version}.3",
            "oidcIssuerProfile": oidc,
            "powerState": {"code": "Running"},
            "maxAgentPools": 100,
            "resourceUID": ctx.hex("uid", out["__id"], length=24),
        }
    )
    return out


def _agent_pool(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    cluster, name = inputs.get("resourceName", "cluster"), inputs.get("agentPoolName") or args.name
    return {
        "__id": f"{_rg_id(args, ctx)}/providers/Microsoft.ContainerService/managedClusters/{cluster}/agentPools/{name}",
        "name": name,
        "provisioningState": "Succeeded",
        "nodeImageVersion": "AzureLinuxContainerHost-202601.05.0",
    }


def _lock(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    name = inputs.get("lockName") or args.name
    return {"__id": f"{_rg_id(args, ctx)}/providers/Microsoft.Authorization/locks/{name}", "name": name}


HANDLERS: dict[str, Handler] = {
    "azure-native:resources:ResourceGroup": _resource_group,
    "azure-native:network:PublicIPAddress": _public_ip,
    "azure-native:network:NatGateway": _arm("Microsoft.Network/natGateways", "natGatewayName"),
    "azure-native:network:VirtualNetwork": _arm("Microsoft.Network/virtualNetworks", "virtualNetworkName"),
    "azure-native:network:Subnet": _subnet,
    "azure-native:managedidentity:UserAssignedIdentity": _identity,
    "azure-native:authorization:RoleAssignment": _role_assignment,
    "azure-native:authorization:ManagementLockAtResourceGroupLevel": _lock,
    "azure-native:keyvault:Vault": _vault,
    "azure-native:keyvault:Key": _key,
    "azure-native:operationalinsights:Workspace": _workspace,
    "azure-native:monitor:DiagnosticSetting": _diagnostic_setting,
    "azure-native:containerservice:ManagedCluster": _managed_cluster,
    "azure-native:containerservice:AgentPool": _agent_pool,
}


# --------------------------------------------------------------------------
# Invokes


def _client_config(args: MockCallArgs, ctx: SimContext) -> dict[str, Any]:
    return {
        "clientId": _guid(ctx, "deployer-client"),
        "objectId": _guid(ctx, "deployer-object"),
        "subscriptionId": _subscription(args, ctx),
        "tenantId": tenant_id(ctx),
    }


def cluster_ca_pem(ctx: SimContext, cluster_id: str) -> str:
    """AKS's cluster CA (CN `ca`, 30 years)."""
    return ctx.api_server_ca("ca", "aks", cluster_id, years=30)


def _find_cluster(ctx: SimContext, rg: str, name: str) -> dict[str, Any] | None:
    for (typ, _), state in ctx.state.items():
        if (
            typ == "azure-native:containerservice:ManagedCluster"
            and state.get("resourceName") == name
            and state.get("resourceGroupName") == rg
        ):
            return state
    return None


def _user_credentials(args: MockCallArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.args)
    rg, name = str(inputs.get("resourceGroupName", "rg")), str(inputs.get("resourceName", "cluster"))
    cluster = _find_cluster(ctx, rg, name) or {}
    cluster_id = f"/subscriptions/{_subscription(args, ctx)}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
    fqdn = cluster.get("fqdn") or _fqdn(name, "westeurope", cluster_id, ctx)
    user = f"clusterUser_{rg}_{name}"
    doc = {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {
                    "certificate-authority-data": base64.b64encode(cluster_ca_pem(ctx, cluster_id).encode()).decode(),
                    "server": f"https://{fqdn}:443",
                },
                "name": name,
            }
        ],
        "contexts": [{"context": {"cluster": name, "user": user}, "name": name}],
        "current-context": name,
        "kind": "Config",
        "preferences": {},
        "users": [
            {
                "name": user,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "args": [
                            "get-token",
                            "--environment",
                            "AzurePublicCloud",
                            "--server-id",
                            AKS_AAD_SERVER_ID,
                            "--client-id",
                            KUBELOGIN_CLIENT_ID,
                            "--tenant-id",
                            tenant_id(ctx),
                            "--login",
                            "devicecode",
                        ],
                        "command": "kubelogin",
                        "env": None,
                        "installHint": "\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\n"
                        "To learn more, please go to https://aka.ms/aks/kubelogin\n",
                        "provideClusterInfo": False,
                    }
                },
            }
        ],
    }
    value = base64.b64encode(yaml.safe_dump(doc, sort_keys=False).encode()).decode()
    return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}


CALLS: dict[str, Call] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:containerservice:listManagedClusterUserCredentials": _user_credentials,
}
