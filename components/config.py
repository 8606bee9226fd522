"""The stack config of a fleet: typed, documented, validated, migrated.

A stack config lives in `stacks/Pulumi.<stack>.yaml` under the key
`meshfleet:fleet`. Fleet-wide defaults live once in `Pulumi.yaml` under the
project key `defaults`; `load_fleet` deep-merges the stack's value over them
(maps merge key by key, lists replace whole, scalars replace), migrates it to
the current `schemaVersion`, parses it into the frozen models below and runs
every cross-field rule. Nothing is created before all of that passed.

Every field is documented once, here, in its `Field(description=...)`; the
README's config reference is generated from these models
(`meshfleet schema`). YAML keys are camelCase (`podCidr`); Python attributes
are snake_case (`pod_cidr`).
"""

from __future__ import annotations

import base64
import copy
import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal, get_args

from cryptography import x509
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from components.naming import cluster_names, is_dns_label

#: The schema version this code reads. Older configs are migrated (MIGRATIONS).
CURRENT_SCHEMA_VERSION = 1

CLOUDS = ("aws", "azure", "gcp", "existing")
SUPPORTED_MESHES = ("istio", "linkerd", "consul")

#: Meshes users still name, and where to go instead.
RETIRED_MESHES: dict[str, str] = {
    "appmesh": (
        "AWS App Mesh was shut down on 2026-09-30. Migrate to Istio (kind: istio), "
        "which runs on EKS with the same Envoy data plane; AWS's own guide points "
        "App Mesh users to Amazon ECS Service Connect or VPC Lattice for non-Kubernetes workloads."
    ),
    "osm": (
        "Open Service Mesh was archived by the CNCF in 2023 and gets no fixes. "
        "Its maintainers point users to Istio; choose kind: istio (or linkerd)."
    ),
    "traefik-mesh": (
        "Traefik Mesh is no longer developed (no release since 2022). "
        "Choose kind: linkerd for a lightweight mesh, or kind: istio."
    ),
    "smi": (
        "SMI (Service Mesh Interface) was archived in 2023; its successor is the "
        "Gateway API GAMMA initiative, which Istio and Linkerd implement. "
        "Choose kind: istio or linkerd and express routing with Gateway API."
    ),
}


# --------------------------------------------------------------------------
# Errors


class Problem(BaseModel):
    """One thing wrong with a stack config."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str
    fix: str

    def render(self) -> str:
        return f"{self.path}: {self.message}\n    fix: {self.fix}"


class ConfigError(Exception):
    """A stack config that cannot be deployed; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (p.path, p.message))
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"invalid stack config ({count} problem{'s' if count != 1 else ''}):"
        return "\n".join([head, *("  - " + p.render() for p in self.problems)])


# --------------------------------------------------------------------------
# Field types


#: Separates a field validator's message from its fix (split by _problem_from_pydantic).
_FIX = " || fix: "


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not an IPv4 CIDR with its host bits zero ({exc})"
            f"{_FIX}write it as a network address, like 10.20.0.0/16"
        ) from None
    return str(net)


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f"{value!r} is not a DNS label"
            f"{_FIX}use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        )
    return value


def _pinned(value: str) -> str:
    if value.strip().lower() in {"latest", "stable", "edge", "default", "*", ""} or not re.search(r"\d", value):
        raise ValueError(
            f"{value!r} is not a pinned version"
            f"{_FIX}pin an exact version such as 1.30.3, so every `pulumi up` installs the same thing"
        )
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
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
        description="Egress CIDRs of the CI runners that run `pulumi up`; they need the API too.",
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
        description="Service account email that runs `pulumi up` (GKE grants its project IAM role cluster access).",
    )


class Deployers(Model):
    """The identity `pulumi up` runs as, per cloud. Required for each cloud the fleet uses."""

    aws: AwsDeployer | None = None
    azure: AzureDeployer | None = None
    gcp: GcpDeployer | None = None


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


# --------------------------------------------------------------------------
# Clusters


class NodePool(Model):
    name: str = Field(
        description="Node pool name. AKS: 1-12 lowercase letters/digits starting with a letter; "
        "GKE: DNS label starting with a letter, at most 40 chars; EKS: at most 63 chars."
    )
    machine_type: str = Field(
        min_length=1,
        description="Instance type (EKS m6i.large), VM size (AKS Standard_D4s_v5) or machine type (GKE e2-standard-4).",
    )
    min_size: int = Field(ge=0, description="Autoscaler lower bound, per pool (GKE: per zone).")
    max_size: int = Field(ge=1, description="Autoscaler upper bound, per pool (GKE: per zone).")
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
        description="Kubernetes version: EKS `major.minor`; AKS `major.minor` or `major.minor.patch`; "
        "GKE `major.minor` or a full GKE version (minimum version within the release channel)."
    )
    node_pools: list[NodePool] = Field(min_length=1)


class AwsCluster(ClusterBase):
    cloud: Literal["aws"]
    account_id: str = Field(pattern=r"^\d{12}$", description="AWS account id the cluster lives in.")
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


class GcpCluster(ClusterBase):
    cloud: Literal["gcp"]
    project: str = Field(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$", description="Google Cloud project id.")
    network: GcpNetwork
    release_channel: Literal["RAPID", "REGULAR", "STABLE", "EXTENDED"] = Field(
        default="REGULAR",
        description="GKE release channel; `kubernetesVersion` pins the minimum control-plane version within it.",
    )


class ExistingCluster(Model):
    """A cluster meshfleet does not create (on-prem, kind): it supplies the same facts from config."""

    cloud: Literal["existing"]
    name: DnsLabel = Field(description="Cluster name, unique in the fleet.")
    region: str = Field(default="on-prem", min_length=1, description="Free-form location label.")
    kubeconfig: SecretStr | None = Field(
        default=None,
        description="Kubeconfig for the deployer, as an encrypted value (`pulumi config set --secret --path`). "
        "Exactly one of kubeconfig and context.",
    )
    context: str | None = Field(
        default=None, description="A context of the deployer's own kubeconfig, instead of `kubeconfig`."
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
    network: Network


Cluster = Annotated[AwsCluster | AzureCluster | GcpCluster | ExistingCluster, Field(discriminator="cloud")]


# --------------------------------------------------------------------------
# Mesh, trust, add-ons, policies


class MeshSpec(Model):
    kind: Literal["istio", "linkerd", "consul"] = Field(description="The one mesh of the fleet.")
    version: PinnedVersion = Field(
        description="Mesh version to install; also the chart version (Istio 1.30.3, Linkerd edge 2026.8.3, consul-k8s 2.0.3). "
        "With Istio revisions this is the newest revision."
    )
    repository: str = Field(pattern=r"^(https|oci)://\S+$", description="Helm repository of the mesh's charts.")
    mode: Literal["sidecar", "ambient"] = Field(
        default="sidecar", description="Data-plane mode; `ambient` is Istio only (beta for multicluster)."
    )
    topology: Literal["multi-primary", "primary-remote"] = Field(
        default="multi-primary",
        description="Control-plane topology; every cluster runs its own control plane (`multi-primary`).",
    )
    mesh_id: DnsLabel = Field(description="Mesh id shared by every cluster (Istio `global.meshID`).")
    trust_domain: str = Field(
        default="cluster.local",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="SPIFFE trust domain shared by every cluster of the mesh.",
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

    @property
    def installed_versions(self) -> list[str]:
        return list(self.revisions or [self.version])

    @property
    def stable_version(self) -> str:
        return self.stable_revision or self.version


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


class ChartPin(Model):
    repository: str = Field(pattern=r"^(https|oci)://\S+$", description="Helm repository.")
    chart: str = Field(min_length=1, description="Chart name.")
    version: PinnedVersion = Field(description="Chart version.")


class EksAddons(Model):
    """EKS managed add-on versions (`aws eks describe-addon-versions`), pinned per fleet."""

    vpc_cni: PinnedVersion
    kube_proxy: PinnedVersion
    coredns: PinnedVersion
    pod_identity_agent: PinnedVersion
    ebs_csi_driver: PinnedVersion
    cluster_autoscaler_image: PinnedVersion = Field(
        description="Cluster Autoscaler image tag (e.g. v1.33.6). Its minor must equal every EKS cluster's "
        "kubernetesVersion: the autoscaler is released per Kubernetes minor, and the chart's default image "
        "follows the newest release."
    )


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


class PolicySpec(Model):
    """A shared mesh policy, compiled per mesh (filled in by the policy issue)."""

    kind: Literal["mtls"] = Field(description="Policy kind.")
    mode: Literal["strict", "permissive"] = Field(default="strict")
    namespaces: list[DnsLabel] = Field(
        default_factory=list, description="Namespaces it applies to; empty means mesh-wide."
    )


class FleetSpec(Model):
    """A whole stack config (`meshfleet:fleet` merged over the project `defaults`)."""

    schema_version: Literal[1] = Field(description="Config schema version; see MIGRATIONS.")
    fleet: FleetMeta
    clusters: list[Cluster] = Field(min_length=1, description="The clusters of the fleet.")
    mesh: MeshSpec
    trust: TrustSpec
    addons: Addons
    policies: dict[DnsLabel, PolicySpec] = Field(
        default_factory=dict, description="Shared policies keyed by name, so stacks add to the defaults."
    )

    def cluster(self, name: str) -> AwsCluster | AzureCluster | GcpCluster | ExistingCluster:
        return next(c for c in self.clusters if c.name == name)


# --------------------------------------------------------------------------
# Merge and migrate


def deep_merge(base: Any, override: Any) -> Any:
    """Merge `override` over `base`: maps merge recursively, anything else replaces."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = {k: copy.deepcopy(v) for k, v in base.items()}
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


#: MIGRATIONS[n] turns a schemaVersion n config into schemaVersion n + 1.
#: A migration is a pure function of the raw dict; it never drops meaning.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a raw config to CURRENT_SCHEMA_VERSION, one recorded step at a time."""
    version = raw.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(
            [
                Problem(
                    path="schemaVersion",
                    message=f"missing or not an integer (got {version!r}); allowed: 1..{CURRENT_SCHEMA_VERSION}",
                    fix=f"add `schemaVersion: {CURRENT_SCHEMA_VERSION}` to meshfleet:fleet (or to the defaults in Pulumi.yaml)",
                )
            ]
        )
    if version > CURRENT_SCHEMA_VERSION:
        raise ConfigError(
            [
                Problem(
                    path="schemaVersion",
                    message=f"{version} is newer than this meshfleet understands ({CURRENT_SCHEMA_VERSION})",
                    fix="upgrade meshfleet (git pull) or deploy the commit that wrote this config",
                )
            ]
        )
    while version < CURRENT_SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ConfigError(
                [
                    Problem(
                        path="schemaVersion",
                        message=f"no migration from version {version}; oldest supported is {min(MIGRATIONS, default=CURRENT_SCHEMA_VERSION)}",
                        fix=f"rewrite the config in the schemaVersion {CURRENT_SCHEMA_VERSION} shape (README, config reference)",
                    )
                ]
            )
        raw = step(copy.deepcopy(raw))
        raw["schemaVersion"] = version + 1
        version += 1
    return raw


# --------------------------------------------------------------------------
# Parsing: pydantic errors -> Problems


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # Discriminated unions add the tag (`aws`) and dict keys add `[key]`
        # segments to pydantic's location; users never wrote those.
        if i >= 2 and loc[i - 2] == "clusters" and isinstance(loc[i - 1], int) and part in CLOUDS:
            continue
        if part.endswith("[key]"):
            continue
        out += f".{part}" if out else part
    return out or "(top level)"


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """camelCase keys allowed at the object that holds `loc`'s last segment."""
    model: Any = FleetSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in CLOUDS and model is None:
            continue
        if isinstance(model, dict):  # a union resolved by its tag
            model = model.get(part)
            continue
        fields = {f.alias or n: f for n, f in model.model_fields.items()} if model else {}
        field = fields.get(part)
        if field is None:
            return []
        model = _model_of(field.annotation)
    if isinstance(model, dict) or model is None:
        return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _model_of(annotation: Any) -> Any:
    """The BaseModel (or {tag: model} for the cluster union) behind a field annotation."""
    args = getattr(annotation, "__args__", ())
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) > 1:
        return {get_args(m.model_fields["cloud"].annotation)[0]: m for m in models}
    if models:
        return models[0]
    for arg in args:
        found = _model_of(arg)
        if found is not None:
            return found
    meta = getattr(annotation, "__origin__", None)
    if meta is not None and hasattr(annotation, "__metadata__"):
        return _model_of(meta)
    return None


def _secret_keys() -> frozenset[str]:
    """camelCase keys of every encrypted (SecretStr) field: their values are never echoed."""
    models: list[type[BaseModel]] = [
        FleetSpec,
        FleetMeta,
        AwsCluster,
        AzureCluster,
        GcpCluster,
        ExistingCluster,
        TrustSpec,
        RootCa,
    ]
    return frozenset(
        field.alias or name
        for model in models
        for name, field in model.model_fields.items()
        if "SecretStr" in str(field.annotation)
    )


def _problem_from_pydantic(err: Any) -> Problem:
    loc = tuple(err["loc"])
    path = _path(loc)
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    secret = any(part in _secret_keys() for part in loc if isinstance(part, str))
    got = "[secret]" if secret else err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        return Problem(
            path=path,
            message=f"unknown key {loc[-1]!r}; allowed keys here: {', '.join(allowed)}",
            fix=f"did you mean {close[0]!r}?" if close else "remove it or correct its spelling (keys are camelCase)",
        )
    if kind == "missing":
        return Problem(path=path, message="required but missing", fix=f"set {path}")
    if kind == "literal_error":
        return Problem(
            path=path,
            message=f"{got!r} is not allowed; allowed values: {ctx.get('expected')}",
            fix="use one of the allowed values",
        )
    if kind == "union_tag_invalid":
        return Problem(
            path=path + ".cloud",
            message=f"{ctx.get('tag')!r} is not a supported cloud; allowed values: {', '.join(CLOUDS)}",
            fix="set cloud to aws, azure, gcp or existing (on-prem and kind clusters)",
        )
    if kind == "union_tag_not_found":
        return Problem(
            path=path + ".cloud",
            message=f"required but missing; allowed values: {', '.join(CLOUDS)}",
            fix="say which cloud runs this cluster",
        )
    if kind == "string_pattern_mismatch":
        return Problem(
            path=path,
            message=f"{got!r} does not match the required format {ctx.get('pattern')}",
            fix="see the field's description in the README config reference",
        )
    if kind in ("too_short", "too_long"):
        return Problem(
            path=path,
            message=f"has {ctx.get('actual_length')} items; {err['msg'].lower()}",
            fix="add or remove entries" if kind == "too_short" else "remove entries",
        )
    if kind == "value_error":
        message, _, fix = str(ctx.get("error", err["msg"])).partition(_FIX)
        return Problem(path=path, message=message, fix=fix or "correct the value")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return Problem(
            path=path,
            message=f"{got!r} has the wrong type: {err['msg'].lower()}",
            fix="write the value with the expected type (quote versions, do not quote numbers and booleans)",
        )
    return Problem(path=path, message=f"{err['msg']} (got {got!r})", fix="correct the value")


def parse(raw: Mapping[str, Any]) -> FleetSpec:
    """Parse and fully validate a merged raw config; raise ConfigError listing every problem."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [Problem(path="(top level)", message="the config must be a map", fix="see stacks/Pulumi.dev.yaml")]
        )
    _reject_retired_mesh(raw)
    data = migrate(dict(raw))
    try:
        spec = FleetSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problem_from_pydantic(e) for e in exc.errors()) from None
    problems = list(validate(spec))
    if problems:
        raise ConfigError(problems)
    return spec


def _reject_retired_mesh(raw: Mapping[str, Any]) -> None:
    mesh = raw.get("mesh")
    kind = mesh.get("kind") if isinstance(mesh, Mapping) else None
    if isinstance(kind, str) and kind.lower() in RETIRED_MESHES:
        raise ConfigError(
            [
                Problem(
                    path="mesh.kind",
                    message=f"{kind!r} is retired: {RETIRED_MESHES[kind.lower()]}",
                    fix=f"set mesh.kind to one of: {', '.join(SUPPORTED_MESHES)}",
                )
            ]
        )


# --------------------------------------------------------------------------
# Cross-field rules. Each yields Problems; each has its own test.

_PRIVATE = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def _private(net: ipaddress.IPv4Network) -> bool:
    return any(net.subnet_of(p) for p in _PRIVATE)


def _net(value: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(value)


def cluster_ranges(index: int, cluster: Any) -> list[tuple[str, str]]:
    """(field path, cidr) of every range a cluster owns."""
    net = cluster.network
    out = [
        (f"clusters[{index}].network.nodeCidr", net.node_cidr),
        (f"clusters[{index}].network.podCidr", net.pod_cidr),
        (f"clusters[{index}].network.serviceCidr", net.service_cidr),
    ]
    if isinstance(net, GcpNetwork):
        out.append((f"clusters[{index}].network.controlPlaneCidr", net.control_plane_cidr))
    return out


def _rule_unique_names(spec: FleetSpec) -> Iterable[Problem]:
    seen: dict[str, int] = {}
    for i, c in enumerate(spec.clusters):
        if c.name in seen:
            yield Problem(
                path=f"clusters[{i}].name",
                message=f"{c.name!r} is already the name of clusters[{seen[c.name]}]",
                fix="give every cluster a unique name (it names the mesh cluster and its resources)",
            )
        seen.setdefault(c.name, i)


def _rule_cloud_names(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        names = cluster_names(spec.fleet.name, c.name)
        if isinstance(c, GcpCluster):
            if not c.name[0].isalpha():
                yield Problem(
                    path=f"clusters[{i}].name",
                    message=f"{c.name!r} starts with a digit; GCP names must start with a letter",
                    fix=f"rename it, e.g. gke-{c.name}",
                )
            if len(names.physical) > 40:
                yield Problem(
                    path=f"clusters[{i}].name",
                    message=f"the GKE cluster name {names.physical!r} (fleet.name + '-' + name) has "
                    f"{len(names.physical)} characters; GKE allows at most 40",
                    fix="shorten the cluster name or fleet.name",
                )
        for role, value, limit in names.derived(c.cloud):
            if len(value) > limit:
                yield Problem(
                    path=f"clusters[{i}].name",
                    message=f"derived {role} {value!r} has {len(value)} characters; at most {limit} are allowed",
                    fix="shorten the cluster name (or fleet.name)",
                )
        for j, pool in enumerate(c.node_pools if not isinstance(c, ExistingCluster) else []):
            yield from _pool_name_problems(c, f"clusters[{i}].nodePools[{j}].name", pool.name)


def _pool_name_problems(cluster: Any, path: str, name: str) -> Iterable[Problem]:
    if isinstance(cluster, AzureCluster) and not re.fullmatch(r"[a-z][a-z0-9]{0,11}", name):
        yield Problem(
            path=path,
            message=f"{name!r} is not a valid AKS node pool name: 1-12 lowercase letters and digits, starting with a letter",
            fix=f"use e.g. {re.sub(r'[^a-z0-9]', '', name.lower())[:12] or 'system'}",
        )
    elif isinstance(cluster, GcpCluster) and not (
        re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 40
    ):
        yield Problem(
            path=path,
            message=f"{name!r} is not a valid GKE node pool name: lowercase letters, digits and '-', "
            "starting with a letter, at most 40 characters",
            fix="rename the node pool",
        )
    elif isinstance(cluster, AwsCluster) and not re.fullmatch(r"[a-zA-Z0-9][-a-zA-Z0-9_]{0,62}", name):
        yield Problem(
            path=path,
            message=f"{name!r} is not a valid EKS node group name: 1-63 letters, digits, '-' and '_', starting with a letter or digit",
            fix="rename the node pool",
        )


def _rule_pool_names_unique_and_bounds(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            continue
        seen: set[str] = set()
        for j, pool in enumerate(c.node_pools):
            path = f"clusters[{i}].nodePools[{j}]"
            if pool.name in seen:
                yield Problem(
                    path=f"{path}.name",
                    message=f"{pool.name!r} is used by another node pool of {c.name!r}",
                    fix="give each node pool of a cluster a unique name",
                )
            seen.add(pool.name)
            if isinstance(c, AzureCluster) and j == 0 and pool.min_size < 1:
                yield Problem(
                    path=f"{path}.minSize",
                    message="the first AKS node pool is the system pool, which AKS never scales to 0",
                    fix="set minSize to 1 or more (2+ for production)",
                )
            if pool.min_size > pool.max_size:
                yield Problem(
                    path=f"{path}.minSize",
                    message=f"minSize {pool.min_size} is greater than maxSize {pool.max_size}",
                    fix="set minSize <= maxSize",
                )


def _rule_no_overlap(spec: FleetSpec) -> Iterable[Problem]:
    ranges = [(p, _net(cidr)) for i, c in enumerate(spec.clusters) for p, cidr in cluster_ranges(i, c)]
    for a in range(len(ranges)):
        for b in range(a + 1, len(ranges)):
            (pa, na), (pb, nb) = ranges[a], ranges[b]
            if na.overlaps(nb):
                yield Problem(
                    path=pb,
                    message=f"{nb} overlaps {pa} ({na})",
                    fix="give every cluster and every range its own non-overlapping CIDR: "
                    "mesh traffic and peers' allow-lists rely on unique addresses",
                )


def _rule_eks_service_cidr(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, AwsCluster):
            continue
        svc = _net(c.network.service_cidr)
        path = f"clusters[{i}].network.serviceCidr"
        if not _private(svc):
            yield Problem(
                path=path,
                message=f"{svc} is not in a private range; EKS requires 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
                fix="pick a private range outside the VPC, e.g. 172.20.0.0/16",
            )
        if not 12 <= svc.prefixlen <= 24:
            yield Problem(
                path=path,
                message=f"{svc} is a /{svc.prefixlen}; EKS accepts /12 to /24",
                fix="use a prefix between /12 and /24, e.g. /16",
            )


def _rule_aks_dns_ip(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, AzureCluster) or c.network.dns_service_ip is None:
            continue
        path = f"clusters[{i}].network.dnsServiceIp"
        svc = _net(c.network.service_cidr)
        try:
            ip = ipaddress.IPv4Address(c.network.dns_service_ip)
        except ValueError:
            yield Problem(
                path=path, message=f"{c.network.dns_service_ip!r} is not an IPv4 address", fix="write e.g. 10.0.0.10"
            )
            continue
        if ip not in svc or ip in (svc.network_address, svc.network_address + 1, svc.broadcast_address):
            yield Problem(
                path=path,
                message=f"{ip} is not a usable address of serviceCidr {svc} (AKS reserves the first address for the API service)",
                fix=f"use an address inside {svc}, e.g. {svc.network_address + 10}",
            )


def _rule_gke_control_plane(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, GcpCluster):
            continue
        cp = _net(c.network.control_plane_cidr)
        if cp.prefixlen != 28 or not _private(cp):
            yield Problem(
                path=f"clusters[{i}].network.controlPlaneCidr",
                message=f"{cp} must be a private /28 (GKE private clusters take exactly a /28)",
                fix="use e.g. 172.16.0.32/28",
            )


_VERSION_RULES: dict[str, tuple[str, str]] = {
    "aws": (r"\d+\.\d+", "EKS takes major.minor, e.g. 1.33"),
    "azure": (r"\d+\.\d+(\.\d+)?", "AKS takes major.minor or major.minor.patch, e.g. 1.33 or 1.33.2"),
    "gcp": (r"\d+\.\d+(\.\d+-gke\.\d+)?", "GKE takes major.minor or a full GKE version, e.g. 1.33 or 1.33.4-gke.1200"),
}


def _rule_kubernetes_versions(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            continue
        pattern, hint = _VERSION_RULES[c.cloud]
        if not re.fullmatch(pattern, c.kubernetes_version):
            yield Problem(
                path=f"clusters[{i}].kubernetesVersion",
                message=f"{c.kubernetes_version!r} is not a valid {c.cloud} version format: {hint}",
                fix=f"write the version as {hint.split(', e.g. ')[-1]}",
            )


def _rule_zones(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        path = f"clusters[{i}].zones"
        if isinstance(c, ExistingCluster):
            continue
        if len(set(c.zones)) != len(c.zones):
            yield Problem(path=path, message=f"{c.zones} repeats a zone", fix="list each zone once")
        if isinstance(c, AwsCluster):
            bad = [z for z in c.zones if not re.fullmatch(re.escape(c.region) + r"[a-z]", z)]
            if bad:
                yield Problem(
                    path=path, message=f"{bad} are not zones of {c.region}", fix=f"use zones like {c.region}a"
                )
            if len(c.zones) < 2:
                yield Problem(
                    path=path,
                    message="EKS needs subnets in at least two availability zones",
                    fix=f"list two or three zones of {c.region}",
                )
        elif isinstance(c, GcpCluster):
            bad = [z for z in c.zones if not re.fullmatch(re.escape(c.region) + r"-[a-z]", z)]
            if bad:
                yield Problem(
                    path=path, message=f"{bad} are not zones of {c.region}", fix=f"use zones like {c.region}-b"
                )
        elif isinstance(c, AzureCluster):
            bad = [z for z in c.zones if z not in ("1", "2", "3")]
            if bad:
                yield Problem(
                    path=path,
                    message=f"{bad} are not Azure availability zones; allowed values: 1, 2, 3",
                    fix='write zones as "1", "2", "3"',
                )


def _rule_existing_access(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster) and (c.kubeconfig is None) == (c.context is None):
            yield Problem(
                path=f"clusters[{i}].kubeconfig",
                message="set exactly one of kubeconfig and context",
                fix="store the kubeconfig with `pulumi config set --secret --path 'fleet.clusters[N].kubeconfig'`, "
                "or name a context of your own kubeconfig",
            )


def ca_pem_of(ca_data: str) -> str:
    """The PEM behind `caData`: base64 of a PEM (as in a kubeconfig) or a PEM itself."""
    text = ca_data.strip()
    if not text.startswith("-----BEGIN"):
        text = base64.b64decode(text, validate=True).decode()
    return text


def _rule_existing_ca(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, ExistingCluster):
            continue
        try:
            cert = x509.load_pem_x509_certificate(ca_pem_of(c.ca_data).encode())
        except ValueError:
            yield Problem(
                path=f"clusters[{i}].caData",
                message="is not a PEM certificate (or base64 of one); peers could not verify this API server",
                fix="copy certificate-authority-data from the cluster's kubeconfig (`kind get kubeconfig --name N`)",
            )
            continue
        constraints = (
            cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if any(e.oid == x509.ExtensionOID.BASIC_CONSTRAINTS for e in cert.extensions)
            else None
        )
        if constraints is None or not constraints.ca:
            yield Problem(
                path=f"clusters[{i}].caData",
                message=f"the certificate ({cert.subject.rfc4514_string()}) is not a CA",
                fix="use the API server's CA certificate, not its serving certificate",
            )


def _rule_deployers_and_addons(spec: FleetSpec) -> Iterable[Problem]:
    clouds = {c.cloud for c in spec.clusters}
    for cloud in ("aws", "azure", "gcp"):
        if cloud in clouds and getattr(spec.fleet.deployers, cloud) is None:
            yield Problem(
                path=f"fleet.deployers.{cloud}",
                message=f"the fleet has {cloud} clusters but no {cloud} deployer",
                fix="name the identity that runs `pulumi up` so it is granted cluster admin explicitly",
            )
    if "aws" in clouds:
        for key, attr in (
            ("eks", "eks"),
            ("awsLoadBalancerController", "aws_load_balancer_controller"),
            ("clusterAutoscaler", "cluster_autoscaler"),
        ):
            if getattr(spec.addons, attr) is None:
                yield Problem(
                    path=f"addons.{key}",
                    message="required because the fleet has EKS clusters",
                    fix="pin it in Pulumi.yaml's defaults or the stack config",
                )


def _rule_eks_autoscaler_image(spec: FleetSpec) -> Iterable[Problem]:
    eks = spec.addons.eks
    if eks is None:
        return
    for i, c in enumerate(spec.clusters):
        if isinstance(c, AwsCluster) and not eks.cluster_autoscaler_image.startswith(f"v{c.kubernetes_version}."):
            yield Problem(
                path="addons.eks.clusterAutoscalerImage",
                message=f"{eks.cluster_autoscaler_image} does not match Kubernetes {c.kubernetes_version} of "
                f"clusters[{i}] ({c.name}); the autoscaler must match the cluster's minor version",
                fix=f"pin a v{c.kubernetes_version}.x Cluster Autoscaler release (and keep EKS clusters on one minor)",
            )


#: Meshes this release installs. The schema already names the others so stack
#: configs need no migration when their installers land.
INSTALLABLE_MESHES = ("istio",)


def _rule_mesh(spec: FleetSpec) -> Iterable[Problem]:
    mesh = spec.mesh
    if mesh.kind not in INSTALLABLE_MESHES:
        yield Problem(
            path="mesh.kind",
            message=f"this meshfleet release installs {', '.join(INSTALLABLE_MESHES)} only; {mesh.kind} is not "
            "installed yet (nothing would be deployed for it)",
            fix="set mesh.kind: istio",
        )
    if mesh.mode == "ambient" and mesh.kind != "istio":
        yield Problem(
            path="mesh.mode",
            message=f"ambient mode is Istio only; {mesh.kind} has no ambient data plane",
            fix="set mesh.mode: sidecar, or mesh.kind: istio",
        )
    if mesh.topology == "primary-remote":
        if mesh.mode == "ambient":
            yield Problem(
                path="mesh.topology",
                message="Istio ambient multicluster supports only multi-primary on multiple networks; "
                "primary-remote is not supported upstream",
                fix="set mesh.topology: multi-primary, or mesh.mode: sidecar",
            )
        else:
            yield Problem(
                path="mesh.topology",
                message="meshfleet installs a control plane in every cluster; primary-remote is not supported yet",
                fix="set mesh.topology: multi-primary",
            )
    if mesh.kind != "istio" and (mesh.revisions is not None or mesh.stable_revision is not None):
        yield Problem(
            path="mesh.revisions",
            message=f"revisions are an Istio feature; {mesh.kind} upgrades in place",
            fix="remove mesh.revisions and mesh.stableRevision",
        )
    installed = mesh.installed_versions
    if mesh.version not in installed:
        yield Problem(
            path="mesh.revisions",
            message=f"{installed} does not contain mesh.version {mesh.version!r}",
            fix="add mesh.version to mesh.revisions (the newest installed revision)",
        )
    if len(set(installed)) != len(installed) or len(installed) > 3:
        yield Problem(
            path="mesh.revisions",
            message=f"{installed}: list each version once, at most three side by side",
            fix="remove duplicate or old revisions",
        )
    if mesh.stable_version not in installed:
        yield Problem(
            path="mesh.stableRevision",
            message=f"{mesh.stable_version!r} is not an installed revision; allowed values: {', '.join(installed)}",
            fix="point the stable tag at an installed revision",
        )
    if mesh.kind == "istio" and not all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in installed):
        yield Problem(
            path="mesh.version",
            message=f"Istio versions are major.minor.patch; got {installed}",
            fix="write e.g. 1.30.3",
        )
    if mesh.kind == "linkerd" and any(r.algorithm != "ECDSA-P256" for r in spec.trust.roots):
        yield Problem(
            path="trust.roots",
            message="Linkerd requires ECDSA P-256 trust anchors and issuers",
            fix="set trust.roots[*].algorithm: ECDSA-P256",
        )


def _rule_trust(spec: FleetSpec) -> Iterable[Problem]:
    trust = spec.trust
    names = [r.name for r in trust.roots]
    if len(set(names)) != len(names):
        yield Problem(path="trust.roots", message=f"root names repeat: {names}", fix="name each root once")
    if trust.signing_root is not None and trust.signing_root not in names:
        yield Problem(
            path="trust.signingRoot",
            message=f"{trust.signing_root!r} is not a root; allowed values: {', '.join(names)}",
            fix="name one of trust.roots",
        )
    for i, root in enumerate(trust.roots):
        path = f"trust.roots[{i}]"
        if root.source == "provided" and (root.certificate_pem is None or root.private_key_pem is None):
            yield Problem(
                path=path,
                message="a provided root needs certificatePem and privateKeyPem",
                fix="set both (the key as an encrypted value), or use source: generated",
            )
        if root.source == "generated" and (root.certificate_pem or root.private_key_pem):
            yield Problem(
                path=path,
                message="certificatePem/privateKeyPem are only read for source: provided",
                fix="set source: provided, or remove them",
            )
        if root.source == "generated" and trust.intermediate_validity_hours >= root.validity_hours:
            yield Problem(
                path="trust.intermediateValidityHours",
                message=f"{trust.intermediate_validity_hours} h is not shorter than root {root.name!r}'s "
                f"validity ({root.validity_hours} h): intermediates would outlive their root",
                fix="make intermediates shorter-lived than the root",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_unique_names,
    _rule_cloud_names,
    _rule_pool_names_unique_and_bounds,
    _rule_no_overlap,
    _rule_eks_service_cidr,
    _rule_aks_dns_ip,
    _rule_gke_control_plane,
    _rule_kubernetes_versions,
    _rule_zones,
    _rule_existing_access,
    _rule_existing_ca,
    _rule_deployers_and_addons,
    _rule_eks_autoscaler_image,
    _rule_mesh,
    _rule_trust,
)


def validate(spec: FleetSpec) -> Iterable[Problem]:
    # These rules reuse certificate parsing and network arithmetic; they live
    # beside the components they check (imported here to avoid a cycle).
    from components.network_rules import NETWORK_RULES
    from components.trust_rules import TRUST_RULES

    for rule in (*RULES, *NETWORK_RULES, *TRUST_RULES):
        yield from rule(spec)


def load_fleet(defaults: Mapping[str, Any] | None, stack: Mapping[str, Any] | None) -> FleetSpec:
    """Merge the stack's `meshfleet:fleet` over the project defaults, migrate, validate."""
    if stack is None:
        raise ConfigError(
            [
                Problem(
                    path="meshfleet:fleet",
                    message="the stack has no meshfleet:fleet config",
                    fix="add it to stacks/Pulumi.<stack>.yaml (see stacks/Pulumi.dev.yaml)",
                )
            ]
        )
    merged = deep_merge(defaults or {}, stack)
    return parse(merged)
