"""The stack config's models: every field typed and documented once.

A stack config lives in `stacks/Pulumi.<stack>.yaml` under the key
`meshfleet:fleet`. Every field is documented once, here, in its
`Field(description=...)`; the README's config reference is generated from
these models (`meshfleet docs`). YAML keys are camelCase (`podCidr`); Python
attributes are snake_case (`pod_cidr`). Cross-field rules live in
components/config/rules/, error translation in errors.py.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, SecretStr
from pydantic.alias_generators import to_camel

from components.naming import consul_datacenter, is_dns_label, is_dns_subdomain
from components.policy.model import PolicyRule

CLOUDS = ("aws", "azure", "gcp", "existing")
SUPPORTED_MESHES = ("istio", "linkerd", "consul")

#: What a valid Istio version looks like, in words, and an example (components/config/rules/mesh.py checks it).
ISTIO_VERSION_FORM = ("an Istio release: major.minor.patch, without a leading v", "1.30.3")


# --------------------------------------------------------------------------
# Field types


#: Separates a field validator's message from its fix (split by components.config.errors).
FIX_SEPARATOR = " || fix: "


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        try:
            # Host bits set: the fix is the user's own range, its network address (a fixed
            # example would collide with some stack's ranges).
            meant = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IPv4 CIDR ({exc})"
                f"{FIX_SEPARATOR}write a network address and a prefix length, a.b.c.d/n: four numbers from 0 to "
                "255 and n from 0 to 32, with the address's bits after the first n zero"
            ) from None
        raise ValueError(
            f"{value!r} is not an IPv4 CIDR with its host bits zero ({exc})"
            f"{FIX_SEPARATOR}write it as its network address: {meant} (the /{meant.prefixlen} that "
            f"{value.split('/')[0]} is in)"
        ) from None
    return str(net)


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f"{value!r} is not a DNS label"
            f"{FIX_SEPARATOR}use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if not is_dns_subdomain(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes object name"
            f"{FIX_SEPARATOR}use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a "
            "letter or digit"
        )
    return value


def _pinned(value: str) -> str:
    if value.strip().lower() in {"latest", "stable", "edge", "default", "*", ""} or not re.search(r"\d", value):
        raise ValueError(
            f"{value!r} is not a pinned version"
            f"{FIX_SEPARATOR}pin an exact version such as 1.30.3, so every `pulumi up` installs the same thing"
        )
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
PinnedVersion = Annotated[str, AfterValidator(_pinned)]


class Model(BaseModel):
    """Base of every config model: frozen, strict, unknown keys rejected."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


# --------------------------------------------------------------------------
# Fleet


class ApiAccess(Model):
    """Who may reach every cluster's Kubernetes API (besides the clusters themselves)."""

    operator_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="CIDRs of operators' networks (VPN egress, office) allowed to reach API servers.",
    )
    ci_runner_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="Egress CIDRs of the CI runners that run `pulumi up`; they need the API too (required "
        "with any EKS, AKS or GKE cluster: without them CI is locked out after the next deploy).",
    )


class AwsDeployer(Model):
    role_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
        description="IAM role that runs `pulumi up`; granted EKS cluster admin through an access entry "
        "and assumed by the kubeconfig's `aws eks get-token --role-arn`.",
    )


class AzureDeployer(Model):
    principal_object_id: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="Entra ID object id of the principal that runs `pulumi up`; "
        "granted 'Azure Kubernetes Service RBAC Cluster Admin' on each AKS cluster.",
    )
    kubelogin_mode: Literal["azurecli", "workloadidentity"] = Field(
        default="azurecli",
        description="Non-interactive kubelogin login mode written into AKS kubeconfigs: "
        "`azurecli` for operators, `workloadidentity` for CI with federated credentials.",
    )
    principal_type: Literal["User", "ServicePrincipal", "Group"] | None = Field(
        default=None,
        description="Entra object type of principalObjectId (ARM rejects a role assignment whose type does not "
        "match). Default: ServicePrincipal with kubeloginMode workloadidentity, else User.",
    )


class GcpDeployer(Model):
    service_account: str = Field(
        pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.iam\.gserviceaccount\.com$",
        description="Service account email that runs `pulumi up`: the deploy environment's GCP_SERVICE_ACCOUNT "
        "(docs/operations.md). GKE gives it cluster access through its project IAM role, so the program grants it "
        "nothing; it is named here so each stack says who deploys it, as for AWS and Azure.",
    )


class Deployers(Model):
    """The identity `pulumi up` runs as, per cloud. Required for each cloud the fleet uses."""

    aws: AwsDeployer | None = None
    azure: AzureDeployer | None = None
    gcp: GcpDeployer | None = None


#: Days of the week, Monday first (the order GKE's window dates follow).
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class MaintenanceWindow(Model):
    """A weekly window, in UTC, for the upgrades AKS and GKE start on their own.

    AKS: the auto-upgrade channel's upgrades and the weekly node image
    re-imaging; GKE: the release channel's control-plane and node upgrades.
    Urgent fixes may still come outside it. EKS has no such window: AWS
    patches its control planes, and node groups change only on `pulumi up`.
    """

    day: Weekday = Field(description="Day the window starts on.")
    start_time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Start, `HH:MM` in UTC.")
    duration_hours: int = Field(
        ge=12,
        le=24,
        description="Length in hours, 12 to 24: GKE refuses a policy with less than 48 hours of maintenance in "
        "any 32 days, which a weekly window reaches only from 12 hours; AKS allows at most 24.",
    )


class FleetMeta(Model):
    name: DnsLabel = Field(
        description="Fleet name: prefix of every physical cloud name and value of the `fleet` tag. "
        "Include the environment (e.g. acme-prod) when stacks share an account.",
    )
    environment: Literal["dev", "staging", "production"] = Field(
        description="Environment tag on every taggable resource."
    )
    owner: DnsLabel = Field(description="Owning team, tagged on every taggable resource.")
    protect: bool = Field(
        description="The stack's one protection setting: `true` marks clusters, networks, NAT, "
        "egress addresses, KMS keys and root CAs `protect`ed and turns on each cloud's own "
        "deletion protection; `false` turns both off (dev stacks).",
    )
    api_access: ApiAccess = Field(default_factory=ApiAccess)
    deployers: Deployers = Field(default_factory=Deployers)
    maintenance_window: MaintenanceWindow | None = Field(
        default=None,
        description="When every AKS and GKE cluster may upgrade on its own (a cluster's own "
        "`maintenanceWindow` overrides it). Unset: whenever the cloud chooses.",
    )
    remove_clusters: list[DnsLabel] = Field(
        default_factory=list,
        description="Deployed clusters this update removes, by name. A cluster dropped from `clusters` (or "
        "renamed: a new name is a new cluster) is deleted with everything running in it, so the deploy guard "
        "refuses an update that drops one not listed here. List them for that one update, then clear the list.",
    )

    def maintenance_window_for(self, cluster: AzureCluster | GcpCluster) -> MaintenanceWindow | None:
        """The cluster's own window, else the fleet's."""
        return cluster.maintenance_window or self.maintenance_window


# --------------------------------------------------------------------------
# Clusters


#: The most nodes one node pool may have: the largest per-pool limit any of the three clouds documents,
#: AKS's 1000 nodes per agent pool (pulumi_azure_native.containerservice.AgentPool `count`: "0 to 1000
#: (inclusive) for user pools and ... 1 to 1000 (inclusive) for system pools"). pulumi_aws (eks NodeGroup
#: `scalingConfig.maxSize`) and pulumi_gcp (container NodePool `autoscaling.maxNodeCount`, per zone) document
#: no number per pool, so none of them is held below a limit it documents.
MAX_POOL_NODES = 1000
#: Why the bound, and what to do instead (components.config.errors adds them to an `le` error).
_POOL_BOUND: dict[str, JsonValue] = {
    "above_max": f"no cloud documents more than {MAX_POOL_NODES} nodes in one node pool (AKS: {MAX_POOL_NODES} "
    "per agent pool)",
    "above_max_fix": "for more nodes, add another node pool",
}


class NodePool(Model):
    name: str = Field(
        description="Node pool name. AKS: 1-12 lowercase letters/digits starting with a letter; "
        "GKE: DNS label starting with a letter, at most 40 chars; EKS: at most 34 chars with zones like "
        "us-east-1a (a node group per zone, named `<pool>-<zone>-` plus 26 characters, at most 63)."
    )
    machine_type: str = Field(
        min_length=1,
        description="Instance type (EKS m6i.large), VM size (AKS Standard_D4s_v5) or machine type (GKE e2-standard-4).",
    )
    min_size: int = Field(
        ge=0,
        le=MAX_POOL_NODES,
        json_schema_extra=_POOL_BOUND,
        description=(
            "Autoscaler lower bound, per pool (GKE: per zone; EKS: divided over the pool's zonal node groups). "
            "At least 1 on the first AKS pool (the system "
            "pool) and on at least one pool of an EKS cluster (coredns and the autoscaler run on its nodes)."
        ),
    )
    max_size: int = Field(
        ge=1,
        le=MAX_POOL_NODES,
        json_schema_extra=_POOL_BOUND,
        description=(
            "Autoscaler upper bound, per pool (GKE: per zone; EKS: at least one per zone, divided over the "
            f"pool's zonal node groups), at most {MAX_POOL_NODES} (AKS's per-pool limit, the largest any cloud "
            "documents). On AKS and GKE the cluster's nodeCidr must hold "
            "every pool at its maximum plus the nodes an upgrade surges (AKS: a third of the pool; GKE: one per "
            "zone), and podCidr a /24 for each of those nodes."
        ),
    )
    disk_size_gb: int = Field(default=100, ge=20, le=2048, description="OS disk size in GiB.")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes node labels.")


class Network(Model):
    """The cluster's address ranges; no two clusters of a fleet may overlap.

    `podCidr` means different things per cloud: on EKS (VPC CNI) pods take
    VPC addresses, so it is reserved and used only for the overlap check and
    the mesh; on AKS it is the CNI-overlay pod range (not routable off the
    cluster); on GKE it is the subnet's secondary range for pods; on existing
    clusters it is whatever the CNI was configured with.
    """

    node_cidr: Cidr = Field(
        description="Node network: EKS VPC CIDR, AKS VNet CIDR, GKE subnet primary range, existing node network."
    )
    pod_cidr: Cidr = Field(description="Pod range (meaning per cloud: see above).")
    service_cidr: Cidr = Field(description="Kubernetes Service range (EKS: private, /12 to /24, outside the VPC).")


class AzureNetwork(Network):
    dns_service_ip: str | None = Field(
        default=None,
        description="Cluster DNS Service IP; inside serviceCidr and not its first address. Default: the 10th address.",
    )


class GcpNetwork(Network):
    control_plane_cidr: Cidr = Field(
        description="Private control-plane range of the GKE cluster: a /28, private, overlapping nothing."
    )


class ClusterBase(Model):
    name: DnsLabel = Field(
        description="Cluster name, unique in the fleet; names the mesh cluster and every child resource."
    )
    region: str = Field(min_length=1, description="Cloud region (us-east-1, westeurope, europe-west1).")
    zones: list[str] = Field(
        min_length=1,
        description="Explicit zones the cluster spans (never derived from the region: not every "
        "region has an `a` zone).",
    )
    kubernetes_version: PinnedVersion = Field(
        description="Kubernetes version: EKS `major.minor`; AKS `major.minor`, or `major.minor.patch` with "
        "`upgradeChannel: none`; GKE `major.minor` or a full GKE version (minimum version within the release "
        "channel)."
    )
    node_pools: list[NodePool] = Field(min_length=1)
    protect: bool | None = Field(
        default=None,
        description="This cluster's protection, overriding `fleet.protect` for its network, control plane, "
        "node pools and KMS key (and the cloud's own deletion protection). Removing a protected cluster takes "
        "`protect: false` in an update of its own first (README, 'Removing a cluster'). Unset: fleet.protect.",
    )


class AwsCluster(ClusterBase):
    cloud: Literal["aws"]
    account_id: str = Field(
        pattern=r"^\d{12}$",
        description="AWS account id the cluster lives in: the deployer role's (meshfleet assumes no role in "
        "another account).",
    )
    network: Network


class AzureCluster(ClusterBase):
    cloud: Literal["azure"]
    subscription_id: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="Azure subscription id.",
    )
    network: AzureNetwork
    upgrade_channel: Literal["patch", "node-image", "none"] = Field(
        default="patch",
        description="AKS auto-upgrade channel. `stable`/`rapid` are not offered: they move the minor "
        "version behind Pulumi's back, so the next `pulumi up` would try to downgrade.",
    )
    maintenance_window: MaintenanceWindow | None = Field(
        default=None,
        description="This cluster's window instead of `fleet.maintenanceWindow`: give clusters that back each "
        "other up different windows, so one cloud's upgrades never take them all at once.",
    )


class GcpCluster(ClusterBase):
    cloud: Literal["gcp"]
    project: str = Field(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$", description="Google Cloud project id.")
    network: GcpNetwork
    release_channel: Literal["RAPID", "REGULAR", "STABLE", "EXTENDED"] = Field(
        default="REGULAR",
        description="GKE release channel; `kubernetesVersion` pins the minimum control-plane version within it.",
    )
    maintenance_window: MaintenanceWindow | None = Field(
        default=None,
        description="This cluster's window instead of `fleet.maintenanceWindow`: give clusters that back each "
        "other up different windows, so one cloud's upgrades never take them all at once.",
    )


#: Distributions whose node paths Istio's charts know (each chart's files/profile-platform-<name>.yaml):
#: where CNI config and plugins go (k3d, k3s, microk8s), the network namespace directory (minikube), the
#: CNI plugin directory and system-critical pod quota (gke: meshfleet's own GKE clusters set it; a GKE
#: cluster brought as existing names it). OpenShift is not offered: its profile also switches the CNI to
#: Multus and needs SecurityContextConstraints, which is more than a path.
ExistingPlatform = Literal["gke", "k3d", "k3s", "microk8s", "minikube"]


class ExistingCluster(Model):
    """A cluster meshfleet does not create (on-prem, kind): it supplies the same facts from config."""

    cloud: Literal["existing"]
    name: DnsLabel = Field(description="Cluster name, unique in the fleet.")
    region: str = Field(default="on-prem", min_length=1, description="Free-form location label.")
    kubeconfig: SecretStr | None = Field(
        default=None,
        description="Kubeconfig for the deployer, as an encrypted value (`pulumi config set --secret --path`); "
        "plain text is refused. Exactly one of kubeconfig and context. Its current context must reach this "
        "cluster with TLS verified, against an embedded CA (certificate-authority-data) or a server "
        "certificate from a public CA: `pulumi preview` and `up` refuse one that trusts another fleet "
        "cluster's CA, or names this cluster's address with a CA other than `caData`, before creating anything.",
    )
    context: str | None = Field(
        default=None,
        description="A context of the deployer's own kubeconfig ($KUBECONFIG, else ~/.kube/config), instead "
        "of `kubeconfig`: for a workstation (a CI runner has no such context). `pulumi preview` and `up` refuse "
        "a context the kubeconfig lacks, one that trusts another fleet cluster's CA, or one that names this "
        "cluster's address with a CA other than `caData`, before creating anything; another address with "
        "another CA (a proxy, or `caData` left from before the cluster was re-created) is a warning.",
    )
    api_endpoint: str = Field(
        pattern=r"^https://[^\s/]+(:\d+)?/?$",
        description="API server URL reachable from the peers (not 127.0.0.1: a kind cluster needs "
        "its container's address or a forwarded port on a routable host).",
    )
    ca_data: str = Field(
        min_length=1, description="Base64 PEM of the API server's CA (kubeconfig `certificate-authority-data`)."
    )
    egress_cidrs: list[Cidr] = Field(
        min_length=1, description="Addresses this cluster's traffic leaves from; peers allow them."
    )
    platform: ExistingPlatform | None = Field(
        default=None,
        json_schema_extra={
            "fix": "use one of the allowed values, or leave platform out on kind, kubeadm and other upstream "
            "layouts; OpenShift is not offered (its Istio profile also needs Multus and SecurityContextConstraints)"
        },
        description="The Kubernetes distribution, where its node layout differs from upstream's: Istio's CNI "
        "agent (ambient) must write its plugin and config where the container runtime looks for them (k3s "
        "with its bundled flannel: /var/lib/rancher/k3s/agent/etc/cni/net.d) and find pods' network "
        "namespaces (minikube), and GKE keeps its CNI plugins elsewhere. Unset on kind, kubeadm, a k3s with a "
        "CNI of its own (it keeps /etc/cni/net.d) and other upstream layouts. Without it on such a "
        "distribution, ambient pods start but no traffic is captured.",
    )
    load_balancer_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations of the LoadBalancer Service of the mesh's cross-cluster gateway (Istio's "
        "east-west gateway, Linkerd's multicluster gateway, Consul's mesh gateway), for the cluster's "
        "load-balancer implementation: e.g. MetalLB's `metallb.io/address-pool` to pick the pool "
        "peers can reach, or `metallb.io/loadBalancerIPs` to keep the gateway's address when the "
        "Service is re-created (a mesh switch brings the new mesh's gateway up beside the old one: a pinned "
        "address then also needs `metallb.io/allow-shared-ip`, their ports differ). With the AWS Load "
        "Balancer Controller's `aws-load-balancer-nlb-target-type: ip` the gateway gets what it gets on EKS: "
        "the readiness gate, and pods that outlive the target group's deregistration delay (60 s unless the "
        "annotations' target-group attributes set one).",
    )
    storage_class: DnsSubdomain | None = Field(
        default=None,
        description="StorageClass of the volumes meshfleet's workloads claim (Consul's servers). Unset: the "
        "cluster's default class; a cluster without one leaves those volumes, and the servers, Pending. Set it "
        "before Consul's first install: a StatefulSet's volume claims cannot change (docs/operations.md, "
        "'Consul server volumes').",
    )
    network: Network


def store_kubeconfig_command(index: int) -> str:
    """The command that stores existing cluster `index`'s kubeconfig as an encrypted stack value."""
    return f"pulumi config set --secret --path 'meshfleet:fleet.clusters[{index}].kubeconfig' < kubeconfig.yaml"


def ca_pem_of(ca_data: str) -> str:
    """The PEM behind `caData`: base64 of a PEM (as in a kubeconfig) or a PEM itself."""
    text = ca_data.strip()
    if not text.startswith("-----BEGIN"):
        text = base64.b64decode(text, validate=True).decode()
    return text


Cluster = Annotated[AwsCluster | AzureCluster | GcpCluster | ExistingCluster, Field(discriminator="cloud")]


# --------------------------------------------------------------------------
# Mesh, trust, add-ons, policies


class MeshBase(Model):
    """What every mesh kind shares: identity of the mesh across clusters."""

    mesh_id: DnsLabel = Field(description="Mesh id shared by every cluster (Istio `global.meshID`).")
    trust_domain: str = Field(
        default="cluster.local",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="SPIFFE trust domain shared by every cluster of the mesh.",
    )
    migrate_from: Literal["istio", "linkerd", "consul"] | None = Field(
        default=None,
        description="Set (to the deployed mesh kind) only in the one change that replaces a deployed mesh with "
        "`kind`: switching deletes the old mesh's CRDs and every object of those kinds, so a stack whose deployed "
        "mesh differs from `kind` is refused without it (README, 'Switching mesh'). Remove it after that `pulumi up`.",
    )


class IstioMeshSpec(MeshBase):
    """Istio, multi-primary on multiple networks (one network per cluster)."""

    kind: Literal["istio"] = Field(description="The one mesh of the fleet.")
    version: PinnedVersion = Field(
        json_schema_extra={"form": ISTIO_VERSION_FORM[0], "example": ISTIO_VERSION_FORM[1]},
        description="Istio version to install; also the chart version (e.g. 1.30.3). "
        "With revisions this is the newest revision. On a deployed stack, upgrade through `revisions` "
        "(docs/istio.md, 'Canary upgrade'): a stable revision not installed yet is refused.",
    )
    repository: str = Field(pattern=r"^(https|oci)://\S+$", description="Helm repository of the mesh's charts.")
    mode: Literal["sidecar", "ambient"] = Field(
        default="sidecar", description="Data-plane mode; `ambient` is beta for multicluster."
    )
    topology: Literal["multi-primary", "primary-remote"] = Field(
        default="multi-primary",
        description="Control-plane topology; every cluster runs its own control plane (`multi-primary`).",
    )
    revisions: list[PinnedVersion] | None = Field(
        default=None,
        description="Istio control-plane versions installed side by side (canary upgrades). "
        "Default: [version]. Must contain `version`.",
    )
    stable_revision: PinnedVersion | None = Field(
        default=None,
        description="Version the `default` revision tag points to: namespaces labelled "
        "`istio-injection=enabled` (or `istio.io/rev=default`) get their sidecars from it, and the east-west "
        "gateway, ztunnel and istio-cni run it. Default: `version`. Must be one of `revisions`.",
    )
    peer_credential_generation: int = Field(
        default=1,
        ge=1,
        le=9999,
        description="Generation of the peers' API credentials (Istio reader tokens). Raise it by one to rotate "
        "every token: the new tokens are created, every remote secret is updated to them, then the old tokens "
        "are deleted, in one update.",
    )

    trust_domain_aliases: list[Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]] = Field(
        default_factory=list,
        description="Former trust domains istiod still accepts (`meshConfig.trustDomainAliases`). Changing "
        "`trustDomain` moves every authorization principal at once, while workloads keep certificates of the "
        "old domain until they renew: list the old domain here in the same change, and remove it one "
        "workload-certificate lifetime (24 h) after every cluster has applied it.",
    )

    @property
    def installed_versions(self) -> list[str]:
        return list(self.revisions or [self.version])

    @property
    def stable_version(self) -> str:
        return self.stable_revision or self.version


#: How a cluster's services reach its peers (Linkerd multicluster export modes).
LinkerdExportMode = Literal["gateway", "remote-discovery", "federated"]


def _gateway_only() -> list[LinkerdExportMode]:
    return ["gateway"]


class LinkerdCharts(Model):
    """Per-chart versions, when one must differ from `mesh.version` (e.g. CRDs upgraded first)."""

    linkerd_crds: PinnedVersion | None = Field(default=None, description="`linkerd-crds` chart version.")
    linkerd_control_plane: PinnedVersion | None = Field(
        default=None, description="`linkerd-control-plane` chart version."
    )
    linkerd_multicluster: PinnedVersion | None = Field(
        default=None, description="`linkerd-multicluster` chart version."
    )


class LinkerdClusterSpec(Model):
    """Linkerd settings of one cluster (keyed by cluster name under `mesh.clusters`)."""

    export_modes: list[LinkerdExportMode] | None = Field(
        default=None,
        description="How this cluster's services are exported to its peers (the modes every peer's Link to it "
        "honours). Default: `mesh.exportModes`.",
    )
    pod_network_routable_to: list[DnsLabel] = Field(
        default_factory=list,
        description="Peers whose pods can reach this cluster's pod IPs directly (same VPC, peering or an "
        "interconnect). Never true across clouds without an interconnect, never on AKS (CNI overlay). "
        "`remote-discovery` and `federated` need it declared on both clusters of every pair.",
    )


class LinkerdMeshSpec(MeshBase):
    """Linkerd (edge channel), linked pairwise through multicluster gateways.

    Every ordered pair of clusters is linked (A mirrors B's exported services).
    The data plane is sidecar proxies only (no `mode`).
    """

    kind: Literal["linkerd"] = Field(description="The one mesh of the fleet.")
    version: PinnedVersion = Field(
        json_schema_extra={
            "form": "a Linkerd edge chart version: YYYY.M.N (chart 2026.6.3 is Linkerd 2.20, release edge-26.6.3)",
            "example": "2026.6.3",
        },
        description="Linkerd edge chart version (`YYYY.M.N`, e.g. 2026.6.3 = Linkerd 2.20) of `linkerd-crds`, "
        "`linkerd-control-plane` and `linkerd-multicluster`, unless `charts` pins one differently.",
    )
    repository: str = Field(
        pattern=r"^(https|oci)://\S+$",
        json_schema_extra={"example": "https://helm.linkerd.io/edge"},
        description="Helm repository of the mesh's charts.",
    )
    charts: LinkerdCharts = Field(default_factory=LinkerdCharts)
    export_modes: list[LinkerdExportMode] = Field(
        default_factory=_gateway_only,
        min_length=1,
        description="Default export modes of every cluster: `gateway` (through the peer's multicluster gateway; "
        "works across clouds; the server sees the gateway's identity), `remote-discovery` (pod to pod, keeps "
        "client identity), `federated` (one service across clusters, pod to pod). The last two need routable pod "
        "networks (`clusters.<name>.podNetworkRoutableTo`).",
    )
    clusters: dict[DnsLabel, LinkerdClusterSpec] = Field(
        default_factory=dict, description="Per-cluster Linkerd settings, keyed by cluster name."
    )

    def chart_version(self, chart: str) -> str:
        """Pinned version of `linkerd-crds`, `linkerd-control-plane` or `linkerd-multicluster`."""
        pinned = {
            "linkerd-crds": self.charts.linkerd_crds,
            "linkerd-control-plane": self.charts.linkerd_control_plane,
            "linkerd-multicluster": self.charts.linkerd_multicluster,
        }[chart]
        return pinned or self.version

    def export_modes_of(self, cluster: str) -> list[str]:
        """Export modes of `cluster`: its own setting, else the mesh default."""
        own = self.clusters.get(cluster)
        return list(own.export_modes if own is not None and own.export_modes is not None else self.export_modes)

    def routable(self, a: str, b: str) -> bool:
        """Whether both clusters declare their pod networks routable to each other."""
        a_spec, b_spec = self.clusters.get(a), self.clusters.get(b)
        return (
            a_spec is not None
            and b_spec is not None
            and b in a_spec.pod_network_routable_to
            and a in b_spec.pod_network_routable_to
        )


class ConsulSecurity(Model):
    """Consul's ACL, TLS and gossip settings. All on by default; production refuses turning one off."""

    acls: bool = Field(
        default=True,
        description="`global.acls.manageSystemACLs`: the chart bootstraps ACLs and gives every component its "
        "token. Off, any workload may call the Consul API and intentions default to allow (so `authorization` "
        "policy rules are refused).",
    )
    tls_verify: bool = Field(
        default=True,
        description="`global.tls.verify`: Consul agents verify each other's TLS certificates. TLS itself is always "
        "on (cluster peering requires it).",
    )
    https_only: bool = Field(
        default=True, description="`global.tls.httpsOnly`: the servers' plain HTTP API port stays closed."
    )
    gossip_encryption: bool = Field(
        default=True,
        description="Encrypt the servers' gossip (`global.gossipEncryption`); the key is generated in the cluster "
        "(built-in CA mode) or read from Vault (Vault mode), never kept in Pulumi config.",
    )


class ChartPin(Model):
    repository: str = Field(pattern=r"^(https|oci)://\S+$", description="Helm repository.")
    chart: str = Field(min_length=1, description="Chart name.")
    version: PinnedVersion = Field(description="Chart version.")


class ConsulVault(Model):
    """The Vault that holds Consul's secrets and Connect CA in `ca: vault` mode (an existing Vault, not installed here)."""

    address: str = Field(
        pattern=r"^https://[^\s/]+(:\d+)?/?$",
        description="Vault's HTTPS address, reachable from every cluster (Consul servers, Vault agents) and from "
        "`pulumi up` (the Vault provider reads its token from VAULT_TOKEN).",
    )
    egress_cidrs: list[Cidr] = Field(
        min_length=1,
        description="Addresses Vault's own traffic leaves from: Vault's Kubernetes auth method calls each cluster's "
        "TokenReview API, so every API allow-list admits them.",
    )
    ca_cert_pem: str | None = Field(
        default=None,
        description="PEM of the CA that signed Vault's TLS certificate, when it is not publicly trusted; mounted "
        "into every pod whose Vault agent logs in.",
    )
    path_prefix: DnsLabel = Field(
        default="consul",
        description="Prefix of everything meshfleet creates in Vault: per datacenter `<prefix>-<dc>-*` mounts, "
        "auth methods, policies and roles.",
    )
    injector: ChartPin = Field(
        description="The `vault` chart installed in every cluster for its Vault Agent Injector only (no Vault "
        "server), e.g. repository https://helm.releases.hashicorp.com, chart vault, a pinned version.",
    )


class ConsulMeshSpec(MeshBase):
    """Consul, one datacenter per cluster, peered pairwise through mesh gateways.

    Every unordered pair of clusters is peered: one side runs a `PeeringAcceptor`, the other a `PeeringDialer`
    (which side is chosen per pair, so it never changes when clusters are added or removed). Trust: `ca: consul`
    keeps Consul's built-in Connect CA (each datacenter its own root; peers exchange roots); `ca: vault` runs the
    Connect CA in Vault under an intermediate that Pulumi signs with the fleet root.
    """

    kind: Literal["consul"] = Field(description="The one mesh of the fleet.")
    version: PinnedVersion = Field(
        json_schema_extra={"form": "a `consul` Helm chart (consul-k8s) version: major.minor.patch", "example": "2.0.3"},
        description="`consul` Helm chart version (consul-k8s, e.g. 2.0.3).",
    )
    repository: str = Field(
        pattern=r"^(https|oci)://\S+$",
        json_schema_extra={"example": "https://helm.releases.hashicorp.com"},
        description="Helm repository of the mesh's charts.",
    )
    datacenters: dict[DnsLabel, DnsLabel] = Field(
        default_factory=dict,
        description="Consul datacenter name per cluster (keyed by cluster name); also the name peers know it by. "
        "Default: the cluster name. Unique in the fleet.",
    )
    server_replicas: int | None = Field(
        default=None,
        ge=1,
        le=7,
        description="Consul servers per datacenter (each with a persistent volume). Default: 3 on production "
        "stacks, 1 elsewhere. Production refuses 1 and even counts (a Raft quorum needs an odd count).",
    )
    mesh_gateway_replicas: int = Field(
        default=2, ge=2, description="Mesh gateway pods per cluster (every peering and cross-cluster call uses it)."
    )
    ca: Literal["consul", "vault"] = Field(
        default="consul",
        description="Connect CA: `consul` (built-in; each datacenter its own root, not the fleet root) or `vault` "
        "(Vault PKI under an intermediate signed by the fleet root; needs `vault`).",
    )
    vault: ConsulVault | None = Field(default=None, description="Required with `ca: vault`.")
    security: ConsulSecurity = Field(default_factory=ConsulSecurity)

    def datacenter_of(self, cluster: str) -> str:
        """The Consul datacenter of `cluster` (components.naming.consul_datacenter)."""
        return consul_datacenter(cluster, self.datacenters)

    def servers_for(self, environment: str) -> int:
        """Server replicas: the configured count, else 3 in production and 1 elsewhere."""
        if self.server_replicas is not None:
            return self.server_replicas
        return 3 if environment == "production" else 1


#: The one mesh of the fleet, by `kind`. A stack whose mesh kind differs from
#: the project default's replaces the default mesh whole (config/migrations.py).
MeshSpec = Annotated[IstioMeshSpec | LinkerdMeshSpec | ConsulMeshSpec, Field(discriminator="kind")]


class RootCa(Model):
    name: DnsLabel = Field(
        description="Root name; names the root's resources, so a rotation adds a root rather than renaming one."
    )
    source: Literal["generated", "provided"] = Field(
        default="generated",
        description="`generated`: Pulumi creates the key and self-signed certificate. "
        "`provided`: bring your own (certificatePem + encrypted privateKeyPem).",
    )
    algorithm: Literal["ECDSA-P256", "ECDSA-P384", "RSA-3072"] = Field(
        default="ECDSA-P256",
        description="Key algorithm. ECDSA-P256 works with every supported mesh; Linkerd requires it.",
    )
    validity_hours: int = Field(default=87600, ge=24, description="Validity of a generated root (default 10 years).")
    certificate_pem: str | None = Field(default=None, description="PEM certificate of a provided root.")
    private_key_pem: SecretStr | None = Field(
        default=None, description="PEM private key of a provided root, as an encrypted config value."
    )


class TrustSpec(Model):
    """One root per fleet (two during a rotation), one intermediate CA per cluster.

    Rotation (docs/trust.md, "Rotating the root"): add the new root second in
    `roots` (phase 1: bundle = both, intermediates still signed by the old
    root), set `signingRoot` to it (phase 2), then remove the old root
    (phase 3). Wait one workload-certificate lifetime between phases.
    """

    roots: list[RootCa] = Field(min_length=1, max_length=2)
    signing_root: str | None = Field(
        default=None,
        description="Name of the root that signs the intermediates. Default: the first root.",
    )
    intermediate_validity_hours: int = Field(
        default=8760, ge=24, description="Validity of each cluster's intermediate CA (default 1 year)."
    )
    expiry_warning_hours: int = Field(
        default=720, ge=0, description="Warn when a certificate expires within this window."
    )

    @property
    def signing_root_name(self) -> str:
        return self.signing_root or self.roots[0].name


#: `v1.33.5-eksbuild.2` or `v1.33.6` -> `1.33`: the Kubernetes minor a per-minor pin is built for.
_PIN_MINOR = re.compile(r"^v(\d+)\.(\d+)\.")


def pin_minor(version: str) -> str:
    """The Kubernetes minor of a per-minor pin (kube-proxy build, autoscaler tag); "" if it names none."""
    found = _PIN_MINOR.match(version)
    return f"{int(found[1])}.{int(found[2])}" if found else ""


class EksMinorPins(Model):
    """The two EKS add-on pins released per Kubernetes minor, for EKS clusters on another minor than
    `addons.eks`'s own (a minor upgrade staged one cluster at a time)."""

    kube_proxy: PinnedVersion = Field(
        json_schema_extra={"form": "vMAJOR.MINOR.PATCH-eksbuild.N", "example": "v1.34.1-eksbuild.2"},
        description="kube-proxy add-on version of this minor.",
    )
    cluster_autoscaler_image: PinnedVersion = Field(
        json_schema_extra={"form": "vMAJOR.MINOR.PATCH", "example": "v1.34.2"},
        description="Cluster Autoscaler image tag of the same minor.",
    )

    @property
    def minor(self) -> str:
        """The Kubernetes minor these pins are for (the kube-proxy build's)."""
        return pin_minor(self.kube_proxy)


class EksAddons(Model):
    """EKS managed add-on versions (`aws eks describe-addon-versions`), pinned per fleet."""

    vpc_cni: PinnedVersion
    kube_proxy: PinnedVersion = Field(
        description="kube-proxy add-on version (e.g. v1.33.5-eksbuild.2). Its minor must equal every EKS "
        "cluster's kubernetesVersion: EKS offers kube-proxy builds of the cluster's own minor only."
    )
    coredns: PinnedVersion
    pod_identity_agent: PinnedVersion
    ebs_csi_driver: PinnedVersion
    metrics_server: PinnedVersion = Field(
        description="metrics-server community add-on version (e.g. v0.8.0-eksbuild.1). EKS ships none, and "
        "without it every HorizontalPodAutoscaler (istiod, the gateways) stays at its minimum."
    )
    cluster_autoscaler_image: PinnedVersion = Field(
        description="Cluster Autoscaler image tag (e.g. v1.33.6). Its minor must equal every EKS cluster's "
        "kubernetesVersion: the autoscaler is released per Kubernetes minor, and the chart's default image "
        "follows the newest release."
    )
    other_minors: list[EksMinorPins] = Field(
        default_factory=list,
        description="`kubeProxy` and `clusterAutoscalerImage` of each other minor some EKS cluster runs, so a "
        "minor upgrade can move one cluster per `up` (docs/operations.md, 'Upgrading EKS one cluster at a "
        "time'); an EKS cluster takes the pins of its own minor. Each minor once, and only while a cluster "
        "runs it.",
    )

    def for_minor(self, minor: str) -> EksAddons:
        """These pins as an EKS cluster on Kubernetes `minor` takes them: its minor's own from
        `other_minors` when listed there, else the fleet's."""
        for pins in self.other_minors:
            if pins.minor == minor:
                return self.model_copy(
                    update={"kube_proxy": pins.kube_proxy, "cluster_autoscaler_image": pins.cluster_autoscaler_image}
                )
        return self


class Addons(Model):
    """Versions of everything the fleet installs besides the mesh, pinned once."""

    gateway_api: PinnedVersion = Field(
        description="Gateway API release whose standard-channel CRDs the fleet installs in every cluster."
    )
    eks: EksAddons | None = Field(default=None, description="Required when the fleet has an EKS cluster.")
    aws_load_balancer_controller: ChartPin | None = Field(
        default=None, description="Required with EKS: NLBs with static EIPs for east-west gateways."
    )
    cluster_autoscaler: ChartPin | None = Field(
        default=None, description="Required with EKS: scales the managed node groups."
    )


#: A shared mesh policy rule, compiled per mesh: the union on `kind` of
#: components/policy/model.py (README, "Policy reference").
PolicySpec = PolicyRule


class Policies(Model):
    """Shared mesh policies: versioned sets from policies/mesh/, plus the stack's own rules."""

    sets: dict[DnsLabel, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Shared policy sets and the version each is pinned to (`policies/mesh/<set>/v<version>.yaml`); "
        "their rules are applied as if written under `rules`. Pinning another version changes only this stack.",
    )
    rules: dict[DnsLabel, PolicySpec] = Field(
        default_factory=dict,
        description="Policy rules keyed by name, so a stack adds to or overrides the defaults and the sets' "
        "rules (a rule named like a set's rule replaces it whole). After loading: every rule the stack applies.",
    )


class FleetSpec(Model):
    """A whole stack config (`meshfleet:fleet` merged over the project `defaults`)."""

    schema_version: Literal[2] = Field(description="Config schema version; see MIGRATIONS.")
    fleet: FleetMeta
    clusters: list[Cluster] = Field(min_length=1, description="The clusters of the fleet.")
    mesh: MeshSpec
    trust: TrustSpec
    addons: Addons
    policies: Policies = Field(default_factory=Policies)

    def cluster(self, name: str) -> AwsCluster | AzureCluster | GcpCluster | ExistingCluster:
        return next(c for c in self.clusters if c.name == name)

    def protect_of(self, cluster: AwsCluster | AzureCluster | GcpCluster | ExistingCluster) -> bool:
        """The cluster's own protection when it sets one, else the stack's."""
        own = getattr(cluster, "protect", None)
        return self.fleet.protect if own is None else bool(own)

    def meta_of(self, cluster: AwsCluster | AzureCluster | GcpCluster | ExistingCluster) -> FleetMeta:
        """`fleet` as one cluster's resources see it: with that cluster's protection."""
        protect = self.protect_of(cluster)
        return self.fleet if protect == self.fleet.protect else self.fleet.model_copy(update={"protect": protect})
