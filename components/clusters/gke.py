"""A private, regional GKE cluster with its node pools, KMS key and Kubernetes provider.

Nodes are private (egress through the network's Cloud NAT); the control plane
keeps a public endpoint limited to the fleet's allow-list, because peers'
mesh control planes in other clouds read this API server. Secrets are
encrypted with a Cloud KMS key at the application layer, Dataplane V2 runs
the data path and Workload Identity replaces node credentials for pods.

The deployer needs no grant here: GKE authorizes API requests against the
project's IAM first, so the deploying service account's project role (e.g.
roles/container.admin, granted outside this program: a program cannot grant
its own identity) already gives it cluster admin. AKS and EKS, by contrast,
need an explicit role assignment or access entry.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pulumi
from pulumi_gcp import compute, container, kms, organizations, projects, serviceaccount

from components.clusters.build import CloudClusterArgs, ClusterBuild, KubernetesAccess
from components.common import CLUSTER_TIMEOUTS, NODE_POOL_TIMEOUTS, protected
from components.config import WEEKDAYS, GcpCluster, MaintenanceWindow
from components.config.cloudfacts import facts
from components.handle import ClusterHandle, cluster_provider, kubeconfig_document
from components.networks.gcp import NODE_POOL_MAX_SURGE, GcpNetwork

#: Node credentials: the scope is the broadest, the node service account's
#: roles are what actually limit it (Google's recommendation).
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: The least a node needs. `container.defaultNodeServiceAccount` is GKE's
#: predefined minimum for node service accounts (logs, metrics, autoscaler
#: metrics, resource metadata; "Configure GKE node service accounts", CIS GKE
#: 5.2.1); image pulls from Artifact Registry are the one documented
#: addition. The default compute service account has Editor on the project.
NODE_ROLES = (
    "roles/container.defaultNodeServiceAccount",
    "roles/artifactregistry.reader",
)
#: Control-plane logs plus workloads' stdout. Admin Activity audit logs (every write) are always on;
#: reads (a Secret's get) are Data Access logs, off unless the project's audit config enables
#: DATA_READ for container.googleapis.com, a project-wide (and costly) choice left to its owners.
LOGGED_COMPONENTS = ("SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS")
#: Application-layer secrets key: a new primary version every 90 days
#: (old versions stay to decrypt what they encrypted).
KEY_ROTATION_PERIOD = "7776000s"
#: GKE's own default StorageClass: PD CSI, pd-balanced, binding on the first
#: consumer so a disk lands in its pod's zone.
STORAGE_CLASS = "standard-rwo"
#: Service account ids are 6-30 characters.
MAX_ACCOUNT_ID = 30


def node_account_id(physical: str) -> str:
    """Node service account id: `<physical>-nodes`, shortened with a hash suffix past 30 chars."""
    wanted = f"{physical}-nodes"
    if len(wanted) <= MAX_ACCOUNT_ID:
        return wanted
    suffix = hashlib.sha256(wanted.encode()).hexdigest()[:6]
    return f"{wanted[: MAX_ACCOUNT_ID - len(suffix) - 1].rstrip('-')}-{suffix}"


def gke_service_agent(project_number: str) -> str:
    """IAM member of the project's GKE service agent, which encrypts secrets with the key."""
    return f"serviceAccount:service-{project_number}@container-engine-robot.iam.gserviceaccount.com"


#: A fixed Monday: a recurring window's first occurrence is dated in its
#: week (GKE takes the start's date as when the window begins to recur), so
#: the policy never depends on the day of the `up`.
WINDOW_ANCHOR = date(2024, 1, 1)


def maintenance_policy(window: MaintenanceWindow | None) -> dict[str, Any]:
    """`maintenance_policy` of a cluster with a weekly window ({} without one: GKE picks any time)."""
    if window is None:
        return {}
    day = WEEKDAYS.index(window.day)
    hour, minute = (int(part) for part in window.start_time.split(":"))
    start = datetime.combine(WINDOW_ANCHOR + timedelta(days=day), time(hour, minute), tzinfo=UTC)
    end = start + timedelta(hours=window.duration_hours)
    # Zulu times: GKE answers in UTC, so any other form diffs forever.
    return {
        "maintenance_policy": {
            "recurring_window": {
                "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end_time": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                # RFC 5545 day codes are the names' first two letters (MO ... SU).
                "recurrence": f"FREQ=WEEKLY;BYDAY={window.day[:2].upper()}",
            }
        }
    }


def boot_disk_type(machine_type: str) -> str:
    """The node boot disk a machine type takes (validation refuses a series the facts do not know)."""
    disk = facts("gcp").boot_disk(machine_type)
    if disk is None:
        raise ValueError(f"no boot disk type known for machine type {machine_type!r}")
    return disk


def kubeconfig_for(cluster_name: str, endpoint: str, ca_data: str) -> str:
    """A kubeconfig that gets short-lived tokens from `gke-gcloud-auth-plugin` (JSON is valid YAML)."""
    exec_plugin = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
            "interactiveMode": "Never",
        }
    }
    doc = kubeconfig_document(cluster_name, f"https://{endpoint}", ca_data, exec_plugin)
    return json.dumps(doc, indent=2, sort_keys=True)


GkeClusterArgs = CloudClusterArgs[GcpCluster, GcpNetwork]


def private_cluster_config(c: GcpCluster) -> container.ClusterPrivateClusterConfigArgsDict:
    """Private nodes; the public endpoint stays for peers, with the control plane's range fixed by config."""
    return {
        "enable_private_nodes": True,
        # Public endpoint stays: peers in other clouds read this API
        # server; master authorized networks limit who may.
        "enable_private_endpoint": False,
        # Still accepted on current GKE, where new clusters reach
        # their control plane through Private Service Connect, not
        # VPC peering: GKE then creates its own `gke-...-pe-subnet`
        # with exactly this /28 in our VPC and puts the control
        # plane's internal endpoint there (without it, GKE would take
        # an address from the node subnet). So the range stays ours
        # and known before the cluster exists: the webhook firewall
        # rule (GkeCluster._webhook_firewall) and the fleet's overlap
        # checks rely on it.
        # Changing it replaces the cluster.
        "master_ipv4_cidr_block": c.network.control_plane_cidr,
        "master_global_access_config": {"enabled": True},
    }


def authorized_networks(
    api_allow_list: pulumi.Output[list[str]],
) -> container.ClusterMasterAuthorizedNetworksConfigArgsDict:
    """The fleet's allow-list on the public endpoint, and nothing else."""
    return {
        "cidr_blocks": api_allow_list.apply(_cidr_blocks),
        # Otherwise any Google Cloud VM's address may reach the API.
        "gcp_public_cidrs_access_enabled": False,
        # The allow-list guards the public endpoint. The internal
        # one serves this VPC (nodes, pods); enforcing the list there
        # too would need the node and pod ranges on it, and those
        # would count against the authorized-network limit.
        "private_endpoint_enforcement_enabled": False,
    }


class GkeCluster(pulumi.ComponentResource):
    """GKE cluster, node pools, secrets key, webhook firewall rule and Kubernetes provider."""

    handle: ClusterHandle

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:cluster:Gke", name, None, opts)
        b = ClusterBuild.of(self, name, args)

        # No _deployer_access step: the deployer's project IAM role already
        # makes it cluster admin (module docstring).
        secrets_key, key_grant = self._secrets_encryption(b)
        node_sa, node_grants = self._identities(b)
        cluster = self._control_plane(b, args.api_allow_list, secrets_key, node_sa, [key_grant, *node_grants])
        ready: list[pulumi.Resource] = list(self._node_pools(b, cluster, node_sa, node_grants))
        if args.webhook_ports:
            ready.append(self._webhook_firewall(b, node_sa, args.webhook_ports))
        access = self._kubernetes_provider(b, cluster)

        api_endpoint = cluster.endpoint.apply(lambda e: f"https://{e}")
        # Istio cni/ztunnel need `platform: gke` (GKE's non-default CNI bin dir).
        self.handle = b.handle(access, api_endpoint, ready=ready, platform="gke", storage_class=STORAGE_CLASS)
        self.register_outputs({"apiEndpoint": api_endpoint, "clusterName": cluster.name})

    def _secrets_encryption(
        self, b: ClusterBuild[GcpCluster, GcpNetwork]
    ) -> tuple[kms.CryptoKey, kms.CryptoKeyIAMMember]:
        """Application-layer secrets encryption: a Cloud KMS key, usable by the GKE service agent."""
        name, c, physical = b.name, b.cluster, b.names.physical
        # The key ring must be in the cluster's location (its region, for a
        # regional cluster). Key rings and keys can never be deleted in Cloud
        # KMS: destroying the CryptoKey only drops it from the state and
        # schedules all its versions for destruction, the KeyRing is just
        # forgotten. So an unprotected stack (dev) that is destroyed and
        # brought up again fails with 409 "already exists" on both names:
        # `pulumi import` the ring and key (ids are in the state's history)
        # before the next `up`, or use another fleet name. Protected stacks
        # never get there.
        key_ring = kms.KeyRing(
            f"{name}-keyring",
            name=physical,
            project=c.project,
            location=c.region,
            opts=protected(b.meta, b.child),
        )
        secrets_key = kms.CryptoKey(
            f"{name}-secrets-key",
            name=f"{physical}-secrets",
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=KEY_ROTATION_PERIOD,
            labels=b.tags,
            opts=protected(b.meta, b.child),
        )
        # Looked up, not managed: the project number names the GKE service agent.
        project = organizations.get_project_output(project_id=c.project, opts=b.invoke_opts())
        # Without this grant before the cluster exists, creating it fails:
        # the GKE service agent, not the deployer, calls KMS.
        key_grant = kms.CryptoKeyIAMMember(
            f"{name}-secrets-key-gke-agent",
            crypto_key_id=secrets_key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=project.number.apply(gke_service_agent),
            opts=b.child,
        )
        return secrets_key, key_grant

    def _identities(
        self, b: ClusterBuild[GcpCluster, GcpNetwork]
    ) -> tuple[serviceaccount.Account, list[pulumi.Resource]]:
        """Node identity: a least-privilege service account and its project roles."""
        name, c, physical = b.name, b.cluster, b.names.physical
        node_sa = serviceaccount.Account(
            f"{name}-node-sa",
            account_id=node_account_id(physical),
            project=c.project,
            display_name=f"GKE nodes of {physical}",
            description=f"meshfleet {b.meta.name}: least-privilege node identity of cluster {c.name}",
            opts=b.child,
        )
        node_grants: list[pulumi.Resource] = [
            projects.IAMMember(
                f"{name}-node-sa-{role.removeprefix('roles/').replace('.', '-').lower()}",
                project=c.project,
                role=role,
                member=node_sa.member,
                opts=b.child,
            )
            for role in NODE_ROLES
        ]
        return node_sa, node_grants

    def _control_plane(
        self,
        b: ClusterBuild[GcpCluster, GcpNetwork],
        api_allow_list: pulumi.Output[list[str]],
        secrets_key: kms.CryptoKey,
        node_sa: serviceaccount.Account,
        grants: list[pulumi.Resource],
    ) -> container.Cluster:
        """A regional, private-node, VPC-native cluster with Dataplane V2 and Workload Identity."""
        c, net = b.cluster, b.network
        return container.Cluster(
            f"{b.name}-cluster",
            name=b.names.physical,
            project=c.project,
            # A region makes the control plane regional (replicated across zones).
            location=c.region,
            node_locations=list(c.zones),
            network=net.network_self_link,
            subnetwork=net.subnetwork_self_link,
            # Node pools are separate resources, so changing one never
            # touches the cluster. GKE still creates a default pool first:
            # give it the node identity, or it runs as the default compute
            # service account (Editor), which hardened projects disable.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config={
                "service_account": node_sa.email,
                "oauth_scopes": [CLOUD_PLATFORM_SCOPE],
                "workload_metadata_config": {"mode": "GKE_METADATA"},
                "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            },
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={
                "cluster_secondary_range_name": net.pods_range_name,
                "services_secondary_range_name": net.services_range_name,
                "stack_type": "IPV4",
            },
            private_cluster_config=private_cluster_config(c),
            master_authorized_networks_config=authorized_networks(api_allow_list),
            workload_identity_config={"workload_pool": f"{c.project}.svc.id.goog"},
            # Dataplane V2 (eBPF) enforces NetworkPolicy itself; enabling the
            # Calico network_policy addon as well is rejected.
            datapath_provider="ADVANCED_DATAPATH",
            release_channel={"channel": c.release_channel},
            **maintenance_policy(b.meta.maintenance_window_for(c)),
            # A floor, not a pin: GKE auto-upgrades within the channel and
            # the provider only acts when this floor rises above the running
            # master_version (never a downgrade, no perpetual diff), so no
            # ignore_changes here. Node pools set no `version`: with a
            # release channel they follow the control plane by auto-upgrade.
            min_master_version=c.kubernetes_version,
            database_encryption={"state": "ENCRYPTED", "key_name": secrets_key.id},
            logging_config={"enable_components": list(LOGGED_COMPONENTS)},
            enable_shielded_nodes=True,
            # The fleet installs the Gateway API CRDs at a pinned version
            # (components/gateway_api.py); GKE-managed CRDs would fight them.
            gateway_api_config={"channel": "CHANNEL_DISABLED"},
            # GKE's provider defaults this to true; the stack decides.
            deletion_protection=b.meta.protect,
            resource_labels=b.tags,
            opts=protected(
                b.meta,
                b.opts(
                    # The temporary default pool already runs as the node account.
                    depends_on=grants,
                    custom_timeouts=CLUSTER_TIMEOUTS,
                    # Both describe only the removed default pool; a
                    # change to either would replace the cluster.
                    ignore_changes=["initialNodeCount", "nodeConfig"],
                ),
            ),
        )

    def _node_pools(
        self,
        b: ClusterBuild[GcpCluster, GcpNetwork],
        cluster: container.Cluster,
        node_sa: serviceaccount.Account,
        node_grants: list[pulumi.Resource],
    ) -> list[container.NodePool]:
        """One autoscaled, auto-upgraded node pool per configured pool."""
        c = b.cluster
        return [
            container.NodePool(
                f"{b.name}-pool-{pool.name}",
                name=pool.name,
                project=c.project,
                location=c.region,
                cluster=cluster.name,
                # Per zone, like the autoscaler bounds. No node_count: the
                # autoscaler owns it.
                initial_node_count=min(max(pool.min_size, 1), pool.max_size),
                autoscaling={
                    "min_node_count": pool.min_size,
                    "max_node_count": pool.max_size,
                    "location_policy": "BALANCED",
                },
                management={"auto_repair": True, "auto_upgrade": True},
                # Surge nodes need NAT ports too: egress_address_count counts them.
                upgrade_settings={"strategy": "SURGE", "max_surge": NODE_POOL_MAX_SURGE, "max_unavailable": 0},
                node_config={
                    "machine_type": pool.machine_type,
                    "disk_size_gb": pool.disk_size_gb,
                    # pd-balanced, except on the fourth-generation series
                    # (N4, C4), which boot from Hyperdisk Balanced only.
                    "disk_type": boot_disk_type(pool.machine_type),
                    "image_type": "COS_CONTAINERD",
                    "service_account": node_sa.email,
                    "oauth_scopes": [CLOUD_PLATFORM_SCOPE],
                    # Pods get Workload Identity, never the node's token.
                    "workload_metadata_config": {"mode": "GKE_METADATA"},
                    "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
                    "labels": dict(pool.labels),
                    "resource_labels": b.tags,
                },
                opts=b.opts(
                    # Nodes log and pull through these grants and the NAT.
                    depends_on=[*node_grants, b.network.nat],
                    custom_timeouts=NODE_POOL_TIMEOUTS,
                    # Changing it replaces the pool; after creation the
                    # autoscaler decides the size.
                    ignore_changes=["initialNodeCount"],
                ),
            )
            for pool in c.node_pools
        ]

    def _webhook_firewall(
        self, b: ClusterBuild[GcpCluster, GcpNetwork], node_sa: serviceaccount.Account, webhook_ports: list[int]
    ) -> compute.Firewall:
        """Control plane -> nodes on the mesh's webhook ports."""
        # GKE's own rule admits the control plane only on 443 and 10250, and
        # the API server calls webhooks on the pod's port (endpoint routing),
        # so Istio's 15017 times out without this. The source is the
        # control-plane /28: the peered master range on VPC-peering clusters,
        # the GKE-made endpoint subnet on PSC clusters (see
        # private_cluster_config). The target is the node service
        # account, not GKE's generated `gke-<cluster>-<hash>-node` tag, which
        # is unknown before the cluster exists; a service-account target
        # covers the nodes' alias (pod) ranges too.
        c = b.cluster
        return compute.Firewall(
            f"{b.name}-webhooks",
            name=f"{b.names.physical}-cp-webhooks",
            project=c.project,
            network=b.network.network_self_link,
            description=f"meshfleet {b.meta.name}: GKE control plane to mesh admission webhooks on {c.name}",
            direction="INGRESS",
            priority=1000,
            source_ranges=[c.network.control_plane_cidr],
            allows=[{"protocol": "tcp", "ports": [str(p) for p in sorted(set(webhook_ports))]}],
            target_service_accounts=[node_sa.email],
            opts=b.child,
        )

    def _kubernetes_provider(
        self, b: ClusterBuild[GcpCluster, GcpNetwork], cluster: container.Cluster
    ) -> KubernetesAccess:
        """The deployer's gke-gcloud-auth-plugin kubeconfig and the Kubernetes provider built on it."""
        physical = b.names.physical
        ca_data = cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate or "")
        plain: pulumi.Output[str] = pulumi.Output.all(cluster.endpoint, ca_data).apply(
            lambda v: kubeconfig_for(physical, v[0], v[1])
        )
        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(plain)
        provider = cluster_provider(b.names, self, kubeconfig=kubeconfig)
        ca_pem = ca_data.apply(lambda b64: base64.b64decode(b64).decode())
        return KubernetesAccess(provider=provider, kubeconfig=kubeconfig, ca_pem=ca_pem)


def _cidr_blocks(cidrs: list[str]) -> list[container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgsDict]:
    return [{"cidr_block": cidr, "display_name": f"meshfleet {cidr}"} for cidr in cidrs]
