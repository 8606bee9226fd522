"""Consul: one datacenter per cluster, cluster peering through mesh gateways.

Per cluster, in order: namespace `consul`; in Vault mode, the Vault side of
the datacenter (Kubernetes auth method calling the cluster's TokenReview
API, PKI mounts, the Connect root-path intermediate signed by the fleet
root, gossip key and ACL bootstrap token in KV, policies and roles) and the
Vault Agent Injector; then the `consul` chart (servers with persistent
volumes, TLS, gossip encryption, system ACLs, connect injection, peering,
a LoadBalancer mesh gateway that admits the peers' egress only); then the
`Mesh` singleton `mesh` with `peering.peerThroughMeshGateways`.

Per unordered pair: the side that `components.naming.consul_acceptor`
picks runs a `PeeringAcceptor`; the consul-k8s controller writes the
peering token into the Secret the acceptor names and marks it `Synced`;
Pulumi waits for that condition, reads the Secret, copies the token (a
secret end to end) into the other cluster and creates the `PeeringDialer`
there. Which services are exported to the peers is the policy compiler's
(`ExportedServices`, from `consul_peers`), not this installer's.

Trust (README, "Consul"): `ca: consul` keeps Consul's built-in Connect CA,
one root per datacenter (peers exchange roots when they peer), so Consul
identities do not chain to the fleet root. `ca: vault` runs the Connect CA
in Vault: the root PKI path holds an intermediate whose key Vault generates
and whose certificate Pulumi signs with the fleet root (the fleet root's
key never enters Vault; Consul 1.12+ accepts an intermediate there).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls
import pulumi_vault as vault
import yaml

from components.common import helm_release
from components.config import ConsulMeshSpec, ConsulVault, FleetSpec, deep_merge
from components.handle import ClusterHandle
from components.mesh import GATEWAY_PDB, MeshArgs, zone_anti_affinity, zone_spread
from components.naming import (
    ConsulPairNames,
    consul_pair_names,
    consul_peer_name,
    consul_vault_names,
)
from components.policy import installer_values
from components.trust import FleetRoot

NAMESPACE = "consul"
RELEASE = "consul"
CHART = "consul"
#: `global.name`: every object the chart renders is `consul-...` whatever the release is called.
FULLNAME = "consul"
CONSUL_API = "consul.hashicorp.com/v1alpha1"
#: The one `Mesh` config entry of a datacenter must be called `mesh`.
MESH_NAME = "mesh"
#: The mesh gateway's port on its LoadBalancer (the chart's default, `meshGateway.service.port`).
MESH_GATEWAY_PORT = 443
#: Labels the chart puts on the mesh gateway's pods (`app` is the chart's
#: name; templates/mesh-gateway-deployment.yaml).
MESH_GATEWAY_SELECTOR = {"app": CHART, "release": RELEASE, "component": "mesh-gateway"}
#: And on the servers' (templates/server-statefulset.yaml).
SERVER_SELECTOR = {"app": CHART, "release": RELEASE, "component": "server"}
#: And on the connect injector's (templates/connect-inject-deployment.yaml).
INJECTOR_SELECTOR = {"app": CHART, "release": RELEASE, "component": "connect-injector"}
#: The chart renders no PDB for the mesh gateway: meshfleet owns this one.
MESH_GATEWAY_PDB = f"{FULLNAME}-mesh-gateway"
#: Connect injector pods. Its pod webhook fails closed for every namespace
#: but the chart's exclusions (kube-system and a few storage and GKE
#: namespaces): no such pod, meshed or not, is created while no injector
#: answers, so one pod is an outage on every restart; the chart's own budget
#: for 1 or 2 replicas is `maxUnavailable: 0`, which blocks every node
#: drain, so it is set to 1.
CONNECT_INJECT_REPLICAS = 2

#: Helm waits (atomic implies --wait): servers form a quorum on new volumes,
#: the mesh gateway's LoadBalancer must get an address (minutes on EKS NLBs),
#: and the chart's ACL and TLS init jobs must finish.
CONSUL_TIMEOUT = 1200
INJECTOR_TIMEOUT = 300
#: How long Pulumi waits for the Mesh entry and each acceptor to turn Synced
#: (servers must be up and the controller must have written the entry and
#: generated the token).
PEERING_TIMEOUT_SECONDS = 900

#: Service accounts the chart creates (global.name `consul`) that log in to Vault.
VAULT_ACCOUNTS = {
    "server": "consul-server",
    "acl_init": "consul-server-acl-init",
    "connect_injector": "consul-connect-injector",
}
#: The service account Vault's Kubernetes auth method reviews tokens as.
TOKEN_REVIEWER = "vault-token-reviewer"
#: Namespace of the Vault Agent Injector release.
VAULT_NAMESPACE = "vault"


def consul_spec(spec: FleetSpec) -> ConsulMeshSpec:
    """The fleet's mesh as Consul's spec (the fleet only builds ConsulMesh for `kind: consul`)."""
    if not isinstance(spec.mesh, ConsulMeshSpec):
        raise TypeError(f"ConsulMesh built for mesh kind {spec.mesh.kind!r}")
    return spec.mesh


def consul_peers(spec: FleetSpec, cluster: str) -> list[str]:
    """Peer names `cluster`'s datacenter knows every other cluster by (sorted).

    What an `ExportedServices` consumer (`peer:`) and a `ServiceIntentions`
    source (`peer:`) name in `cluster`; the same names as the peering objects.
    """
    mesh = consul_spec(spec)
    return sorted(consul_peer_name(mesh.datacenter_of(c.name)) for c in spec.clusters if c.name != cluster)


def peerings(spec: FleetSpec) -> list[ConsulPairNames]:
    """One peering per unordered pair of clusters, in config order."""
    mesh = consul_spec(spec)
    names = [c.name for c in spec.clusters]
    return [consul_pair_names(a, b, mesh.datacenters) for a, b in combinations(names, 2)]


# --------------------------------------------------------------------------
# Chart values (pure functions, tested directly)


def spread_string(selector: Mapping[str, str]) -> str:
    """`topologySpreadConstraints` over zones, then nodes, as the YAML string the chart pastes in (`tpl`)."""
    return yaml.safe_dump(zone_spread(selector), sort_keys=True)


def apart_string(selector: Mapping[str, str]) -> str:
    """`zone_anti_affinity` as the YAML string the chart pastes in (`tpl`)."""
    return yaml.safe_dump(zone_anti_affinity(selector), sort_keys=True)


def mesh_gateway_service_strings(annotations: Mapping[str, str], source_ranges: Sequence[str]) -> dict[str, Any]:
    """`meshGateway.service.annotations` and `.additionalSpec`: YAML strings, as the chart wants them.

    The chart pastes both strings into the Service (`tpl ... | nindent`), and
    has no key for source ranges: `additionalSpec` carries
    `loadBalancerSourceRanges`. An empty list would admit the whole internet
    on every cloud, so it is never emitted empty (the caller has peers).
    """
    out: dict[str, Any] = {
        "additionalSpec": yaml.safe_dump(
            {"loadBalancerSourceRanges": list(source_ranges)}, default_flow_style=False, sort_keys=True
        ).strip()
    }
    if annotations:
        text = yaml.safe_dump(dict(annotations), default_flow_style=False, sort_keys=True).strip()
        out["annotations"] = _literal_for_tpl(text)
    return out


def _literal_for_tpl(text: str) -> str:
    """`text` as Helm's `tpl` renders it unchanged: a value holding `{{` would otherwise run as a template."""
    return text.replace("{{", '{{ "{{" }}')


@dataclass(frozen=True)
class VaultWiring:
    """What the chart needs to find one datacenter's secrets and CA in Vault."""

    address: str
    #: Paths and names from components.naming.consul_vault_names.
    paths: Mapping[str, str]
    #: Kubernetes Secret (in `consul`) holding Vault's TLS CA, when configured.
    ca_secret: str | None


def vault_values(wiring: VaultWiring) -> dict[str, Any]:
    """Chart values of Vault mode: every secret and CA comes from Vault, none from Kubernetes."""
    p = wiring.paths
    auth_path = p["auth_path"]
    vault_block: dict[str, Any] = {
        "enabled": True,
        "consulServerRole": "consul-server",
        # Clients are off (consul-k8s 1.x+ runs dataplanes), but the chart still
        # asks for the client role wherever it renders client pieces.
        "consulClientRole": "consul-client",
        "manageSystemACLsRole": "server-acl-init",
        "consulCARole": "consul-ca",
        "connectInjectRole": "connect-injector",
        # The agent logs in through this cluster's own auth method, not `auth/kubernetes`.
        "agentAnnotations": yaml.safe_dump({"vault.hashicorp.com/auth-path": f"auth/{auth_path}"}).strip(),
        "connectCA": {
            "address": wiring.address,
            "authMethodPath": auth_path,
            "rootPKIPath": f"{p['connect_root']}/",
            "intermediatePKIPath": f"{p['connect_inter']}/",
        },
        "connectInject": {
            "caCert": {"secretName": f"{p['tls_pki']}/cert/ca"},
            "tlsCert": {"secretName": f"{p['tls_pki']}/issue/{p['connect_inject_pki_role']}"},
        },
    }
    if wiring.ca_secret:
        vault_block["ca"] = {"secretName": wiring.ca_secret, "secretKey": "ca.crt"}
    return {
        "global": {
            "secretsBackend": {"vault": vault_block},
            "tls": {
                # Agents' TLS CA from Vault's PKI (an unauthenticated read).
                "caCert": {"secretName": f"{p['tls_pki']}/cert/ca"},
                # Required with Vault: clients would get certificates over auto-encrypt.
                "enableAutoEncrypt": True,
            },
            # Injected by the Vault agent from KV v2 (`<mount>/data/<name>`).
            "gossipEncryption": {"secretName": f"{p['kv_mount']}/data/{p['gossip_secret']}", "secretKey": "key"},
            "acls": {
                "bootstrapToken": {"secretName": f"{p['kv_mount']}/data/{p['bootstrap_secret']}", "secretKey": "token"}
            },
        },
        "server": {"serverCert": {"secretName": f"{p['tls_pki']}/issue/{p['server_pki_role']}"}},
    }


def consul_values(
    spec: FleetSpec,
    cluster: str,
    storage_class: str | None,
    *,
    protected: bool,
    wiring: VaultWiring | None = None,
    has_peers: bool = True,
) -> dict[str, Any]:
    """Values of the `consul` chart for one cluster (mesh gateway Service strings added by the caller).

    `storage_class` holds the servers' volumes (the cluster handle's; None: the cluster's default);
    `protected` is the cluster's protection (the handle's): a protected cluster keeps their volumes.
    """
    mesh = consul_spec(spec)
    security = mesh.security
    servers = mesh.servers_for(spec.fleet.environment)
    values: dict[str, Any] = {
        "global": {
            "name": FULLNAME,
            "datacenter": mesh.datacenter_of(cluster),
            "tls": {
                # Peering requires TLS (the chart fails without it).
                "enabled": True,
                "verify": security.tls_verify,
                "httpsOnly": security.https_only,
            },
            "acls": {"manageSystemACLs": security.acls},
            "peering": {"enabled": True},
            # The chart's default starts the connect injector with
            # `-enabe-tcp-route=true`: it then watches TCPRoute at v1alpha2,
            # which the fleet's standard-channel Gateway API CRDs (v1.6+) no
            # longer serve, and the injector never starts. meshfleet routes
            # no TCP through Consul's API gateway.
            "crds": {"enableTcpRoute": False},
        },
        "server": {
            "replicas": servers,
            "bootstrapExpect": servers,
            # Raft data lives on a persistent volume per server.
            "storage": "10Gi",
            "storageClass": storage_class,
            # A StatefulSet's volume claims outlive it: on an unprotected
            # cluster they go with the release (a destroy or a mesh switch
            # leaves no volume behind, EKS and GKE disks outlive their
            # cluster); a protected cluster keeps them, and its Raft data.
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain" if protected else "Delete",
                "whenScaled": "Retain",
            },
            # The chart keeps servers on separate nodes, not zones: over zones
            # too, so one zone's loss leaves a quorum (volumes bind where the
            # pod lands: the clouds' classes above wait for their first consumer).
            "topologySpreadConstraints": spread_string(SERVER_SELECTOR),
            # The chart's budget for a lone server is 0 unavailable: it would
            # block every node drain (EKS fails the node group update, AKS
            # the upgrade, GKE waits an hour per node) and protects nothing,
            # since one server is down on any restart anyway.
            "disruptionBudget": {"enabled": servers > 1},
        },
        "connectInject": {
            "enabled": True,
            "replicas": CONNECT_INJECT_REPLICAS,
            "disruptionBudget": {"maxUnavailable": 1},
            # Apart, over zones, then nodes (the chart sets no affinity): two
            # replicas on one node fail together, and until one is rescheduled
            # (minutes after a node is lost) no pod is created in any namespace
            # the webhook covers.
            "affinity": apart_string(INJECTOR_SELECTOR),
            # The fleet owns Gateway API CRDs (components/gateway_api.py); the
            # chart would install its own old copies.
            "apiGateway": {"manageExternalCRDs": False},
        },
        "meshGateway": {
            # Peering requires the mesh gateway (the chart fails without it), even
            # in a one-cluster fleet; there it admits nobody (see below).
            "enabled": True,
            "replicas": mesh.mesh_gateway_replicas,
            # Over zones, then nodes (the chart sets neither); its PDB is
            # meshfleet's (MESH_GATEWAY_PDB).
            "topologySpreadConstraints": spread_string(MESH_GATEWAY_SELECTOR),
            "service": {"type": "LoadBalancer", "port": MESH_GATEWAY_PORT},
        },
    }
    if security.gossip_encryption and wiring is None:
        # Generated by the chart's job into a Kubernetes Secret: never in Pulumi state.
        values["global"]["gossipEncryption"] = {"autoGenerate": True}
    if wiring is not None:
        values = deep_merge(values, vault_values(wiring))
        if not security.gossip_encryption:
            values["global"].pop("gossipEncryption")
    if not has_peers:
        # No peer, no one to admit: a LoadBalancer without source ranges would
        # admit the internet, so the gateway stays inside the cluster.
        values["meshGateway"]["service"]["type"] = "ClusterIP"
    return deep_merge(values, installer_values(spec, cluster))


def injector_values(address: str, auth_path: str) -> dict[str, Any]:
    """Values of the `vault` chart when it runs only the Agent Injector against an external Vault."""
    return {
        "global": {"externalVaultAddr": address},
        "server": {"enabled": False},
        "injector": {"enabled": True, "replicas": 2, "authPath": f"auth/{auth_path}"},
    }


def vault_policies(paths: Mapping[str, str]) -> dict[str, str]:
    """Vault policies (HCL) per role of one datacenter: each reads only what its component needs."""
    p = paths
    kv, tls_pki, root, inter = p["kv_mount"], p["tls_pki"], p["connect_root"], p["connect_inter"]
    ca_read = f'path "{tls_pki}/cert/ca" {{ capabilities = ["read"] }}'
    return {
        # Consul servers: gossip key, their TLS certificate, and the Connect CA
        # (read the root path; manage the intermediate path Consul mounts).
        "consul-server": "\n".join(
            [
                f'path "{kv}/data/{p["gossip_secret"]}" {{ capabilities = ["read"] }}',
                f'path "{tls_pki}/issue/{p["server_pki_role"]}" {{ capabilities = ["create", "update"] }}',
                ca_read,
                'path "/sys/mounts" { capabilities = ["read"] }',
                f'path "/sys/mounts/{root}" {{ capabilities = ["read"] }}',
                f'path "/sys/mounts/{inter}" {{ capabilities = ["create", "read", "update"] }}',
                f'path "/sys/mounts/{inter}/tune" {{ capabilities = ["update"] }}',
                f'path "/{root}/" {{ capabilities = ["read"] }}',
                f'path "/{root}/root/sign-intermediate" {{ capabilities = ["update"] }}',
                f'path "/{root}/cert/ca" {{ capabilities = ["read"] }}',
                f'path "/{inter}/*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}',
                'path "auth/token/lookup-self" { capabilities = ["read"] }',
                'path "auth/token/renew-self" { capabilities = ["update"] }',
            ]
        ),
        "consul-client": f'path "{kv}/data/{p["gossip_secret"]}" {{ capabilities = ["read"] }}',
        "server-acl-init": f'path "{kv}/data/{p["bootstrap_secret"]}" {{ capabilities = ["read", "create", "update"] }}',
        "consul-ca": ca_read,
        "connect-injector": "\n".join(
            [
                ca_read,
                f'path "{tls_pki}/issue/{p["connect_inject_pki_role"]}" {{ capabilities = ["create", "update"] }}',
            ]
        ),
    }


#: Vault role -> service accounts (in `consul`) bound to it.
VAULT_ROLE_ACCOUNTS: dict[str, list[str]] = {
    "consul-server": [VAULT_ACCOUNTS["server"]],
    "consul-client": ["consul-client"],
    "server-acl-init": [VAULT_ACCOUNTS["acl_init"]],
    # Every component reads the agents' CA (an unauthenticated endpoint anyway).
    "consul-ca": ["*"],
    "connect-injector": [VAULT_ACCOUNTS["connect_injector"]],
}


# --------------------------------------------------------------------------
# The component


@dataclass
class _ClusterPlane:
    handle: ClusterHandle
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    mesh: k8s.apiextensions.CustomResource


class ConsulMesh(pulumi.ComponentResource):
    """One Consul datacenter per cluster, every pair peered through mesh gateways."""

    #: Cluster name -> what policy objects must wait for: the consul release
    #: (CRDs and the controller's webhook) and the `Mesh` singleton.
    policy_ready: dict[str, list[pulumi.Resource]]

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:mesh:Consul", name, None, opts)
        mesh = consul_spec(args.spec)
        self._name = name
        self._vault_provider: vault.Provider | None = None
        self._random_provider: random.Provider | None = None
        self._tls_provider: tls.Provider | None = None
        #: Vault mode: cluster -> the certificate Pulumi signs for Vault's Connect root path.
        self.vault_intermediates: dict[str, tls.LocallySignedCert] = {}
        if mesh.ca == "vault" and mesh.vault is not None:
            # The project disables default providers; Vault's token comes from
            # VAULT_TOKEN in `pulumi up`'s environment, never from config.
            self._vault_provider = vault.Provider(
                f"{name}-vault", address=mesh.vault.address, opts=pulumi.ResourceOptions(parent=self)
            )
            self._random_provider = random.Provider(f"{name}-random", opts=pulumi.ResourceOptions(parent=self))
            # Signs Vault's intermediates with the fleet root (tls talks to no cloud).
            self._tls_provider = tls.Provider(f"{name}-tls", opts=pulumi.ResourceOptions(parent=self))

        planes = {c.name: self._install_cluster(args, c) for c in args.clusters}
        self.policy_ready = {c: [p.release, p.mesh] for c, p in planes.items()}

        self.peerings: list[str] = []
        for pair in peerings(args.spec):
            self._peer(planes[pair.acceptor], planes[pair.dialer], pair)
            self.peerings.append(f"{pair.acceptor}/{pair.acceptor_object} <- {pair.dialer}/{pair.dialer_object}")

        self.datacenters = {c.name: mesh.datacenter_of(c.name) for c in args.clusters}
        self.register_outputs({"datacenters": self.datacenters, "peerings": self.peerings, "ca": mesh.ca})

    # ---------------------------------------------------------------- helpers

    def _vault_opts(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._vault_provider, depends_on=list(depends_on))

    # ------------------------------------------------------------ per cluster

    def _install_cluster(self, args: MeshArgs, cluster: ClusterHandle) -> _ClusterPlane:
        mesh = consul_spec(args.spec)
        # The mesh gateway's pods count as Ready only once its load balancer sends them traffic
        # (EKS: the AWS Load Balancer Controller's readiness gate), so a rollout never removes
        # the old pods while the new ones' targets are still registering.
        labels = dict(cluster.load_balancer_namespace_labels)
        namespace = k8s.core.v1.Namespace(
            cluster.names.child("consul", "namespace"),
            metadata={"name": NAMESPACE, **({"labels": labels} if labels else {})},
            opts=cluster.object_opts(self),
        )
        has_peers = len(args.clusters) > 1
        wiring: VaultWiring | None = None
        before_release: list[pulumi.Resource] = []
        if mesh.ca == "vault" and mesh.vault is not None:
            wiring, before_release = self._vault_datacenter(args, cluster, mesh.vault, namespace)

        values: dict[str, Any] = consul_values(
            args.spec,
            cluster.name,
            cluster.storage_class,
            protected=cluster.protected,
            wiring=wiring,
            has_peers=has_peers,
        )
        if has_peers:
            service = pulumi.Output.all(
                pulumi.Output.from_input(args.source_ranges[cluster.name]),
                pulumi.Output.from_input(cluster.load_balancer_annotations),
            ).apply(lambda v: mesh_gateway_service_strings(v[1], v[0]))
            gateway = values["meshGateway"]
            gateway["service"] = {
                **gateway["service"],
                "additionalSpec": service.apply(lambda s: s["additionalSpec"]),
            }
            if cluster.load_balancer_annotations:
                gateway["service"]["annotations"] = service.apply(lambda s: s["annotations"])

        release = helm_release(
            cluster.names.child("consul"),
            release=RELEASE,
            chart=CHART,
            version=mesh.version,
            repository=mesh.repository,
            namespace=namespace.metadata.name,
            values=values,
            timeout=CONSUL_TIMEOUT,
            opts=cluster.object_opts(self, before_release),
        )
        # One gateway pod may go at a time (node drains, zone maintenance):
        # every peering and cross-cluster call of this datacenter uses it.
        # Plain dicts in the API's camelCase (the SDK's typed dicts say the same).
        pdb_spec: Any = {**GATEWAY_PDB, "selector": {"matchLabels": MESH_GATEWAY_SELECTOR}}
        k8s.policy.v1.PodDisruptionBudget(
            cluster.names.child("consul", "mesh-gateway-pdb"),
            metadata={"name": MESH_GATEWAY_PDB, "namespace": namespace.metadata.name},
            spec=pdb_spec,
            opts=cluster.object_opts(self, [release]),
        )
        # The Mesh singleton: peering goes through the mesh gateways (no
        # server-to-server traffic across clouds). Every acceptor and dialer
        # of this cluster waits for it, and it counts as created only once
        # the controller has written it to Consul (Synced): a peering token
        # generated before that would name the servers, not the gateways.
        mesh_entry = k8s.apiextensions.CustomResource(
            cluster.names.child("consul", "mesh"),
            api_version=CONSUL_API,
            kind="Mesh",
            metadata={
                "name": MESH_NAME,
                "namespace": namespace.metadata.name,
                "annotations": {
                    "pulumi.com/waitFor": "condition=Synced",
                    "pulumi.com/timeoutSeconds": str(PEERING_TIMEOUT_SECONDS),
                },
            },
            spec={"peering": {"peerThroughMeshGateways": True}},
            opts=cluster.object_opts(self, [release]),
        )
        return _ClusterPlane(handle=cluster, namespace=namespace, release=release, mesh=mesh_entry)

    # ---------------------------------------------------------- Vault mode

    def _vault_datacenter(
        self, args: MeshArgs, cluster: ClusterHandle, cfg: ConsulVault, namespace: k8s.core.v1.Namespace
    ) -> tuple[VaultWiring, list[pulumi.Resource]]:
        """Everything Vault mode needs for one datacenter, before its consul release."""
        mesh = consul_spec(args.spec)
        dc = mesh.datacenter_of(cluster.name)
        paths = consul_vault_names(cfg.path_prefix, dc)
        child = cluster.names.child

        # Vault's Kubernetes auth reviews the pods' tokens with this account's
        # token (TokenReview through the cluster's API allow-list, which admits
        # Vault's egress).
        reviewer_sa = k8s.core.v1.ServiceAccount(
            child("vault", "reviewer"),
            metadata={"name": TOKEN_REVIEWER, "namespace": namespace.metadata.name},
            opts=cluster.object_opts(self),
        )
        reviewer_binding = k8s.rbac.v1.ClusterRoleBinding(
            child("vault", "reviewer-binding"),
            metadata={"name": f"{TOKEN_REVIEWER}-{NAMESPACE}"},
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="system:auth-delegator"
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=TOKEN_REVIEWER, namespace=NAMESPACE)],
            opts=cluster.object_opts(self, [reviewer_sa]),
        )
        reviewer_token = k8s.core.v1.Secret(
            child("vault", "reviewer-token"),
            metadata={
                "name": f"{TOKEN_REVIEWER}-token",
                "namespace": namespace.metadata.name,
                "annotations": {"kubernetes.io/service-account.name": TOKEN_REVIEWER},
            },
            type="kubernetes.io/service-account-token",
            opts=cluster.object_opts(self, [reviewer_sa, reviewer_binding]),
        )
        jwt: pulumi.Output[str] = pulumi.Output.secret(reviewer_token.data.apply(_decoded_token))

        auth = vault.AuthBackend(
            child("vault", "auth"), type="kubernetes", path=paths["auth_path"], opts=self._vault_opts()
        )
        auth_config = vault.kubernetes.AuthBackendConfig(
            child("vault", "auth-config"),
            backend=auth.path,
            kubernetes_host=cluster.api_endpoint,
            kubernetes_ca_cert=cluster.ca_pem,
            token_reviewer_jwt=jwt,
            opts=self._vault_opts(),
        )

        # Agents' TLS CA: a Vault-internal root per datacenter (server certs only).
        tls_mount = vault.Mount(
            child("vault", "tls-pki"),
            path=paths["tls_pki"],
            type="pki",
            max_lease_ttl_seconds=87600 * 3600,
            opts=self._vault_opts(),
        )
        tls_root = vault.pkisecret.SecretBackendRootCert(
            child("vault", "tls-ca"),
            backend=tls_mount.path,
            type="internal",
            common_name=f"Consul agent CA {dc}",
            key_type="ec",
            key_bits=256,
            ttl=str(87600 * 3600),
            opts=self._vault_opts(),
        )
        server_names = [f"server.{dc}.consul", f"{FULLNAME}-server", f"{FULLNAME}-server.{NAMESPACE}"]
        server_role = vault.pkisecret.SecretBackendRole(
            child("vault", "server-role"),
            backend=tls_mount.path,
            name=paths["server_pki_role"],
            allowed_domains=[*server_names, f"{FULLNAME}-server.{NAMESPACE}.svc", "localhost"],
            allow_subdomains=True,
            allow_bare_domains=True,
            allow_localhost=True,
            generate_lease=True,
            max_ttl=str(720 * 3600),
            opts=self._vault_opts([tls_root]),
        )
        injector = f"{FULLNAME}-connect-injector"
        injector_role = vault.pkisecret.SecretBackendRole(
            child("vault", "injector-role"),
            backend=tls_mount.path,
            name=paths["connect_inject_pki_role"],
            allowed_domains=[injector, f"{injector}.{NAMESPACE}", f"{injector}.{NAMESPACE}.svc"],
            allow_subdomains=True,
            allow_bare_domains=True,
            allow_localhost=True,
            generate_lease=True,
            max_ttl=str(720 * 3600),
            opts=self._vault_opts([tls_root]),
        )

        connect_root = self._connect_root(args, cluster, paths, dc)

        kv = vault.Mount(
            child("vault", "kv"), path=paths["kv_mount"], type="kv", options={"version": "2"}, opts=self._vault_opts()
        )
        random_opts = pulumi.ResourceOptions(parent=self, provider=self._random_provider)
        gossip = random.RandomBytes(child("consul", "gossip-key"), length=32, opts=random_opts)
        bootstrap = random.RandomUuid(
            child("consul", "bootstrap-token"),
            opts=pulumi.ResourceOptions.merge(
                random_opts, pulumi.ResourceOptions(additional_secret_outputs=["result"])
            ),
        )
        gossip_json: pulumi.Output[str] = pulumi.Output.secret(gossip.base64.apply(lambda k: json.dumps({"key": k})))
        token_json: pulumi.Output[str] = pulumi.Output.secret(
            bootstrap.result.apply(lambda t: json.dumps({"token": t}))
        )
        secrets = [
            vault.kv.SecretV2(
                child("vault", "gossip"),
                mount=kv.path,
                name=paths["gossip_secret"],
                data_json=gossip_json,
                opts=self._vault_opts(),
            ),
            vault.kv.SecretV2(
                child("vault", "bootstrap-token"),
                mount=kv.path,
                name=paths["bootstrap_secret"],
                data_json=token_json,
                opts=self._vault_opts(),
            ),
        ]

        roles: list[pulumi.Resource] = []
        for role, hcl in vault_policies(paths).items():
            policy = vault.Policy(
                child("vault", "policy", role), name=f"{paths['auth_path']}-{role}", policy=hcl, opts=self._vault_opts()
            )
            roles.append(
                vault.kubernetes.AuthBackendRole(
                    child("vault", "role", role),
                    backend=auth.path,
                    role_name=role,
                    bound_service_account_names=VAULT_ROLE_ACCOUNTS[role],
                    bound_service_account_namespaces=[NAMESPACE],
                    token_policies=[policy.name],
                    token_ttl=3600,
                    opts=self._vault_opts([auth_config]),
                )
            )

        ca_secret: str | None = None
        extra: list[pulumi.Resource] = []
        if cfg.ca_cert_pem:
            ca_secret = "vault-ca"
            extra.append(
                k8s.core.v1.Secret(
                    child("vault", "ca"),
                    metadata={"name": ca_secret, "namespace": namespace.metadata.name},
                    string_data={"ca.crt": cfg.ca_cert_pem.strip() + "\n"},
                    opts=cluster.object_opts(self),
                )
            )

        # The Agent Injector (no Vault server) writes the Vault agent into
        # Consul's pods; its webhook must answer before they are created.
        vault_ns = k8s.core.v1.Namespace(
            child("vault", "namespace"), metadata={"name": VAULT_NAMESPACE}, opts=cluster.object_opts(self)
        )
        injector_release = helm_release(
            child("vault-injector"),
            release="vault",
            chart=cfg.injector.chart,
            version=cfg.injector.version,
            repository=cfg.injector.repository,
            namespace=vault_ns.metadata.name,
            values=injector_values(cfg.address, paths["auth_path"]),
            timeout=INJECTOR_TIMEOUT,
            opts=cluster.object_opts(self),
        )
        wiring = VaultWiring(address=cfg.address, paths=paths, ca_secret=ca_secret)
        return wiring, [injector_release, server_role, injector_role, connect_root, *secrets, *roles, *extra]

    def _connect_root(
        self, args: MeshArgs, cluster: ClusterHandle, paths: Mapping[str, str], dc: str
    ) -> pulumi.Resource:
        """The Connect CA's root path: an intermediate of the fleet root whose key Vault generates.

        Vault creates the key and a CSR; Pulumi signs it with the fleet's
        signing root (the root's key stays in Pulumi, never in Vault) and
        imports the signed certificate with the root as its chain.
        """
        child = cluster.names.child
        trust = args.spec.trust
        root: FleetRoot = args.trust.roots[trust.signing_root_name]
        mount = vault.Mount(
            child("vault", "connect-root"),
            path=paths["connect_root"],
            type="pki",
            max_lease_ttl_seconds=trust.intermediate_validity_hours * 3600,
            opts=self._vault_opts(),
        )
        csr = vault.pkisecret.SecretBackendIntermediateCertRequest(
            child("vault", "connect-csr"),
            backend=mount.path,
            type="internal",
            common_name=f"{dc} Consul Connect CA",
            key_type="ec",
            key_bits=256,
            opts=self._vault_opts(),
        )
        signed = tls.LocallySignedCert(
            child("vault", "connect-cert"),
            cert_request_pem=csr.csr,
            ca_cert_pem=root.cert_pem,
            ca_private_key_pem=root.key_pem,
            validity_period_hours=trust.intermediate_validity_hours,
            early_renewal_hours=trust.expiry_warning_hours,
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            opts=pulumi.ResourceOptions(parent=self, provider=self._tls_provider, depends_on=root.resources),
        )
        self.vault_intermediates[cluster.name] = signed
        # Each early renewal (and rotation phase 2) imports a new issuer into
        # the mount, and since Vault 1.11 an import does not become the default
        # issuer, which Consul's sign-intermediate calls use. Not automated:
        # Vault refuses an issuers configuration without an explicit default
        # (builtin/logical/pki: "must be non-empty"), which the provider sends
        # empty when only following the latest import is asked for, and the
        # new issuer's id is known only after the import. README, "CA choice":
        # the operator's step after each renewal.
        return vault.pkisecret.SecretBackendIntermediateSetSigned(
            child("vault", "connect-signed"),
            backend=mount.path,
            certificate=pulumi.Output.concat(signed.cert_pem, root.cert_pem),
            opts=self._vault_opts([csr]),
        )

    # --------------------------------------------------------------- per pair

    def _peer(self, acceptor: _ClusterPlane, dialer: _ClusterPlane, names: ConsulPairNames) -> None:
        a, d = acceptor.handle, dialer.handle
        peer_secret = {"name": names.acceptor_secret, "key": names.secret_key, "backend": "kubernetes"}
        accept = k8s.apiextensions.CustomResource(
            f"{names.stem}-acceptor",
            api_version=CONSUL_API,
            kind="PeeringAcceptor",
            metadata={
                "name": names.acceptor_object,
                "namespace": acceptor.namespace.metadata.name,
                "annotations": {
                    # The controller writes the token, then marks the acceptor
                    # Synced: only then can the Secret below be read.
                    "pulumi.com/waitFor": "condition=Synced",
                    "pulumi.com/timeoutSeconds": str(PEERING_TIMEOUT_SECONDS),
                },
            },
            spec={"peer": {"secret": peer_secret}},
            opts=a.object_opts(self, [acceptor.mesh]),
        )
        # The id comes from the acceptor's outputs: the read waits for the
        # acceptor (and so for Synced) and follows a renamed secret.
        secret_id = pulumi.Output.all(accept.metadata, accept.spec).apply(  # type: ignore[attr-defined]
            lambda v: f"{v[0]['namespace']}/{v[1]['peer']['secret']['name']}"
        )
        token_secret = k8s.core.v1.Secret.get(
            f"{names.stem}-token-read",
            secret_id,
            opts=pulumi.ResourceOptions(parent=self, provider=a.provider, depends_on=[accept]),
        )
        token: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            token_secret.data.apply(lambda data: {names.secret_key: (data or {}).get(names.secret_key, "")})
        )
        copy = k8s.core.v1.Secret(
            f"{names.stem}-token",
            metadata={
                "name": names.dialer_secret,
                "namespace": dialer.namespace.metadata.name,
                "labels": {"consul.hashicorp.com/peering-token": "true"},
            },
            type="Opaque",
            # Already base64 (the Secret's `data` as read): copied verbatim.
            data=token,
            opts=pulumi.ResourceOptions(parent=self, provider=d.provider),
        )
        k8s.apiextensions.CustomResource(
            f"{names.stem}-dialer",
            api_version=CONSUL_API,
            kind="PeeringDialer",
            metadata={"name": names.dialer_object, "namespace": dialer.namespace.metadata.name},
            spec={"peer": {"secret": {"name": names.dialer_secret, "key": names.secret_key, "backend": "kubernetes"}}},
            opts=d.object_opts(self, [dialer.mesh, copy]),
        )


def _decoded_token(data: Mapping[str, str] | None) -> str:
    return base64.b64decode((data or {}).get("token", "")).decode()
