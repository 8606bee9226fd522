"""The guardrails: pure rules over plain data, shared by the CrossGuard pack and `meshfleet plan`.

This module imports no `pulumi_policy` (and no pulumi): the pack
(`policies/guardrails/pack.py`, run by `pulumi preview --policy-pack`) and the
offline adapter (`ops/guard.py`, run by `meshfleet plan` / `meshfleet guard`)
both turn what they see into `Resource`s and call `evaluate`, so a rule has
one implementation and one set of tests.

A `Resource` carries what CrossGuard gives a policy: the resource type, its
inputs under the engine's camelCase names (`props`), URN, name, `protect`,
parent, provider and dependencies. Resource rules look at one resource;
stack rules look at the whole graph (`Graph`). Each rule returns messages
that say what is wrong and how to fix it.

Stack facts the rules need (environment, the protection setting, the mesh)
come from the `meshfleet:index:Fleet` component's `facts`, which the program
registers as its inputs and its outputs: under the CLI, resource policies get
inputs and stack policies outputs, so a real preview and the offline run read
the same thing. Under the CLI a first preview also hands the rules unknown
values (`UNKNOWN`): a rule judges them at the next preview, never as a
violation.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import yaml

from components.naming import cluster_names, pair_stems

# --------------------------------------------------------------------------
# The data every rule sees


@dataclass(frozen=True)
class Resource:
    """One resource as CrossGuard presents it (ResourceValidationArgs / PolicyResource)."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    #: Parent URN ("" for the stack's children).
    parent: str = ""
    #: Provider URN ("" when the resource has no explicit provider).
    provider: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One violation: which rule, at which level, on which resource, and the message."""

    rule: str
    level: str
    urn: str
    message: str


@dataclass(frozen=True)
class VersionSupport:
    """Where one Kubernetes version stands on one cloud on one day: the support data's verdict, as plain data."""

    #: "standard": in standard support; "extended": past it, inside the cloud's extended support
    #: (EKS extended support, AKS LTS, the GKE Extended channel); "end-of-life": past every support.
    status: Literal["standard", "extended", "end-of-life"]
    #: The first day without standard support and the first without extended support (None: not in the data).
    standard_end: date | None = None
    extended_end: date | None = None
    #: What extended support is on that cloud (the data file's `extended` text, e.g. its extra charge).
    extended: str = ""
    #: Whether every cluster the fleet creates on that cloud can run in extended support (EKS: yes).
    extended_usable: bool = False


#: (cloud, Kubernetes version, day) -> where the version stands on that cloud
#: that day (None: the support data does not know the version, or it is not
#: released yet). Answered by the config package's support-window data
#: (`policies/guardrails/support.py`: one verdict per version).
SupportCheck = Callable[[str, str, date], VersionSupport | None]


@dataclass(frozen=True)
class Context:
    """What a run knows besides the resources: the day and the support data."""

    today: date
    supported: SupportCheck | None = None


#: How both adapters present a value not known until apply (a preview's unknown output).
UNKNOWN = "[unknown]"

FLEET_TYPE = "meshfleet:index:Fleet"
#: The component types that are one cluster each (their name is the cluster's name).
CLUSTER_TYPES = frozenset(
    {"meshfleet:cluster:Eks", "meshfleet:cluster:Aks", "meshfleet:cluster:Gke", "meshfleet:cluster:Existing"}
)
K8S_PROVIDER = "pulumi:providers:kubernetes"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHARTS = frozenset({HELM_RELEASE, "kubernetes:helm.sh/v4:Chart"})


class Graph:
    """The resources of one stack, indexed; the stack facts from the Fleet component."""

    def __init__(self, resources: Iterable[Resource]):
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}
        fleets = [r for r in self.resources if r.type == FLEET_TYPE]
        self.fleet = fleets[0] if len(fleets) == 1 else None
        facts = self.fleet.props.get("facts") if self.fleet else None
        self.facts: Mapping[str, Any] = facts if isinstance(facts, Mapping) else {}
        self.clusters = {r.name: r for r in self.resources if r.type in CLUSTER_TYPES}

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def ancestors(self, r: Resource) -> Iterator[Resource]:
        seen = {r.urn}
        parent = self.by_urn.get(r.parent)
        while parent is not None and parent.urn not in seen:
            seen.add(parent.urn)
            yield parent
            parent = self.by_urn.get(parent.parent)

    def cluster_component_of(self, r: Resource) -> str | None:
        """The cluster whose component is an ancestor of `r` (its own subtree)."""
        return next((a.name for a in self.ancestors(r) if a.type in CLUSTER_TYPES), None)

    def dependency(self, r: Resource, prop: str, type_: str) -> Resource | None:
        """The resource of `type_` that input `prop` of `r` was computed from."""
        for urn in r.property_dependencies.get(prop, ()):
            found = self.by_urn.get(urn)
            if found is not None and found.type == type_:
                return found
        return None

    def environment(self, r: Resource | None = None) -> str | None:
        """The stack's environment (Fleet facts), else the resource's own `environment` tag."""
        env = self.facts.get("environment")
        if isinstance(env, str):
            return env
        if r is not None:
            for path in ("tags", "resourceLabels", "labels", "nodeConfig.resourceLabels"):
                tags = get(r.props, path)
                if isinstance(tags, Mapping) and isinstance(tags.get("environment"), str):
                    return str(tags["environment"])
        return None

    def mesh(self) -> str | None:
        mesh = self.facts.get("mesh")
        return mesh if isinstance(mesh, str) else None


def get(props: Any, path: str, default: Any = None) -> Any:
    """`props["a"]["b"]` for path "a.b", or `default` where a level is missing or not a map."""
    value = props
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return value


def _is_open(cidr: Any) -> bool:
    """True for a range that admits every address (0.0.0.0/0, ::/0, or written loosely)."""
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


# --------------------------------------------------------------------------
# Fleet tags (the rule that was policies/rules.py)

#: The tags `components.common.fleet_tags` sets and the README promises.
REQUIRED_TAGS = ("fleet", "environment", "owner", "managed-by")

#: Where each taggable type the fleet creates carries its cloud tags/labels:
#: a path of engine (camelCase) input names. Derived from the installed SDKs
#: (pulumi_aws 7.51, pulumi_azure_native 3.29, pulumi_gcp 10.2): a type is
#: taggable when its `<Resource>Args` takes `tags` (aws, azure-native) or
#: `labels` / `resource_labels` (gcp); tests/test_policies.py re-derives this
#: table from the SDK and checks it covers every cloud type the stacks plan.
#: Look-alikes that are NOT cloud tags: `labels` on aws:eks NodeGroup and
#: `nodeLabels` on AKS AgentPool are Kubernetes node labels; `tags` in a GKE
#: nodeConfig and `sourceTags`/`targetTags` on a GCP firewall are network tags.
#: Provider-level default tags (AWS `defaultTags`) are not in a resource's
#: inputs and do not count.
TAG_PROPERTY: dict[str, tuple[str, ...]] = {
    "aws:cloudwatch/logGroup:LogGroup": ("tags",),
    "aws:ec2/eip:Eip": ("tags",),
    "aws:ec2/internetGateway:InternetGateway": ("tags",),
    "aws:ec2/launchTemplate:LaunchTemplate": ("tags",),
    "aws:ec2/natGateway:NatGateway": ("tags",),
    "aws:ec2/routeTable:RouteTable": ("tags",),
    "aws:ec2/subnet:Subnet": ("tags",),
    "aws:ec2/vpc:Vpc": ("tags",),
    "aws:eks/accessEntry:AccessEntry": ("tags",),
    "aws:eks/addon:Addon": ("tags",),
    "aws:eks/cluster:Cluster": ("tags",),
    "aws:eks/nodeGroup:NodeGroup": ("tags",),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("tags",),
    "aws:iam/role:Role": ("tags",),
    "aws:kms/key:Key": ("tags",),
    "azure-native:containerservice:AgentPool": ("tags",),
    "azure-native:containerservice:ManagedCluster": ("tags",),
    "azure-native:keyvault:Key": ("tags",),
    "azure-native:keyvault:Vault": ("tags",),
    "azure-native:managedidentity:UserAssignedIdentity": ("tags",),
    "azure-native:network:NatGateway": ("tags",),
    "azure-native:network:PublicIPAddress": ("tags",),
    "azure-native:network:VirtualNetwork": ("tags",),
    "azure-native:operationalinsights:Workspace": ("tags",),
    "azure-native:resources:ResourceGroup": ("tags",),
    "gcp:compute/address:Address": ("labels",),
    # GKE: `resourceLabels` are the GCP labels on the cluster; a node pool's
    # GCP labels live in `nodeConfig.resourceLabels` (its own `labels` are
    # Kubernetes node labels) and reach the VMs and disks it creates.
    "gcp:container/cluster:Cluster": ("resourceLabels",),
    "gcp:container/nodePool:NodePool": ("nodeConfig", "resourceLabels"),
    "gcp:kms/cryptoKey:CryptoKey": ("labels",),
}

#: Cloud types the fleet creates whose args take no tags or labels in the SDK
#: (associations, attachments, IAM bindings, aliases, locks, child objects).
NOT_TAGGABLE: frozenset[str] = frozenset(
    {
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:kms/alias:Alias",
        "azure-native:authorization:ManagementLockAtResourceGroupLevel",
        "azure-native:authorization:RoleAssignment",
        "azure-native:containerservice:MaintenanceConfiguration",
        "azure-native:monitor:DiagnosticSetting",
        "azure-native:network:Subnet",
        "gcp:compute/firewall:Firewall",
        "gcp:compute/network:Network",
        "gcp:compute/router:Router",
        "gcp:compute/routerNat:RouterNat",
        "gcp:compute/subnetwork:Subnetwork",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
        "gcp:kms/keyRing:KeyRing",
        "gcp:projects/iAMMember:IAMMember",
        "gcp:serviceaccount/account:Account",
    }
)


def tag_property(resource_type: str) -> tuple[str, ...] | None:
    """The input path carrying a type's tags/labels, or None if it has none."""
    return TAG_PROPERTY.get(resource_type)


def missing_fleet_tags(resource_type: str, inputs: Mapping[str, Any]) -> list[str]:
    """Violations when a taggable cloud resource lacks one of the fleet tags.

    A taggable type whose tag property is absent (or not a map) is a
    violation naming the property: an untagged resource must not pass.
    Types without tags/labels in the SDK (and non-cloud types) yield none.
    """
    path = tag_property(resource_type)
    if path is None:
        return []
    value = get(inputs, ".".join(path))
    where = ".".join(path)
    if not isinstance(value, Mapping):
        return [f"{resource_type} has no '{where}': it needs the fleet tags {', '.join(REQUIRED_TAGS)}"]
    return [f"{resource_type} is missing the '{tag}' tag in '{where}'" for tag in REQUIRED_TAGS if tag not in value]


def check_fleet_tags(r: Resource, cfg: Mapping[str, Any], ctx: Context) -> list[str]:
    fix = "set them with components.common.fleet_tags on the resource itself (provider default tags do not count)"
    return [f"{v}; {fix}" for v in missing_fleet_tags(r.type, r.props)]


# --------------------------------------------------------------------------
# Nothing open to the internet; an allow-list on every cluster

_ALLOW_FIX = (
    "list the operators' and CI runners' CIDRs in fleet.apiAccess.operatorCidrs and .ciRunnerCidrs, and each "
    "existing cluster's own egress in its egressCidrs (components.access.allow_list builds the lists)"
)


def _allow_list_problems(what: str, key: str, cidrs: Any) -> list[str]:
    if cidrs == UNKNOWN:
        return []  # computed from addresses a first preview does not know yet: judged at the next one
    if not isinstance(cidrs, Sequence) or isinstance(cidrs, str) or len(cidrs) == 0:
        return [f"{what} has no allow-list ('{key}' is empty or missing, which admits every address); {_ALLOW_FIX}"]
    return [
        f"{what} admits {c} in '{key}': the whole internet; remove it and {_ALLOW_FIX}" for c in cidrs if _is_open(c)
    ]


def _gateway_service_problems(what: str, key: str, service_type: Any, ranges: Any) -> list[str]:
    if service_type != "LoadBalancer":
        return []
    return _allow_list_problems(f"{what} (a LoadBalancer Service)", key, ranges)


def check_open_endpoints(r: Resource, cfg: Mapping[str, Any], ctx: Context) -> list[str]:
    p = r.props
    if r.type == "aws:eks/cluster:Cluster":
        # The EKS API defaults endpointPublicAccess to true and publicAccessCidrs to 0.0.0.0/0.
        if get(p, "vpcConfig.endpointPublicAccess", True) is False:
            return []
        return _allow_list_problems(
            "the EKS public API endpoint", "vpcConfig.publicAccessCidrs", get(p, "vpcConfig.publicAccessCidrs")
        )
    if r.type == "azure-native:containerservice:ManagedCluster":
        if get(p, "apiServerAccessProfile.enablePrivateCluster") is True:
            return []
        return _allow_list_problems(
            "the AKS API server",
            "apiServerAccessProfile.authorizedIPRanges",
            get(p, "apiServerAccessProfile.authorizedIPRanges"),
        )
    if r.type == "gcp:container/cluster:Cluster":
        if get(p, "privateClusterConfig.enablePrivateEndpoint") is True:
            return []
        key = "masterAuthorizedNetworksConfig.cidrBlocks"
        blocks = get(p, key)
        cidrs = [b.get("cidrBlock") for b in blocks if isinstance(b, Mapping)] if isinstance(blocks, list) else blocks
        found = _allow_list_problems("the GKE control plane", key, cidrs)
        if get(p, "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled") is True:
            found.append(
                "the GKE control plane admits every Google Cloud public address "
                "(masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled); set it to false"
            )
        return found
    if r.type == "kubernetes:core/v1:Service":
        return _gateway_service_problems(
            f"Service {get(p, 'metadata.name', r.name)}",
            "spec.loadBalancerSourceRanges",
            get(p, "spec.type"),
            get(p, "spec.loadBalancerSourceRanges"),
        )
    if r.type in HELM_CHARTS:
        chart = str(p.get("chart", "")).rsplit("/", 1)[-1]
        values = p.get("values") if isinstance(p.get("values"), Mapping) else {}
        if chart == "gateway":  # Istio's gateway chart: service.type defaults to LoadBalancer
            return _gateway_service_problems(
                f"gateway release {p.get('name', r.name)}",
                "values.service.loadBalancerSourceRanges",
                get(values, "service.type", "LoadBalancer"),
                get(values, "service.loadBalancerSourceRanges"),
            )
        if chart == "linkerd-multicluster" and get(values, "gateway.enabled", True) is not False:
            return _gateway_service_problems(
                f"Linkerd gateway of release {p.get('name', r.name)}",
                "values.gateway.loadBalancerSourceRanges",
                get(values, "gateway.serviceType", "LoadBalancer"),
                get(values, "gateway.loadBalancerSourceRanges"),
            )
        if chart == "consul" and get(values, "meshGateway.enabled") is True:
            # The chart has no source-range key: `additionalSpec` is a YAML string merged into the Service spec.
            spec = get(values, "meshGateway.service.additionalSpec")
            if spec == UNKNOWN:
                return []  # built from the peers' egress, which a first preview does not know yet
            try:
                extra = yaml.safe_load(spec) if isinstance(spec, str) else None
            except yaml.YAMLError:
                extra = None
            return _gateway_service_problems(
                f"Consul mesh gateway of release {p.get('name', r.name)}",
                "values.meshGateway.service.additionalSpec: loadBalancerSourceRanges",
                get(values, "meshGateway.service.type", "LoadBalancer"),
                get(extra, "loadBalancerSourceRanges"),
            )
    return []


# --------------------------------------------------------------------------
# Node pools autoscale within bounds; no single-node production pool


EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
#: (pool label, where, min nodes in total, max nodes in total, problem)
PoolBounds = tuple[str, str, int | None, int | None, str | None]


def _pool_bounds(graph: Graph, r: Resource) -> Iterator[PoolBounds]:
    """The bounds of each pool `r` defines (an AKS cluster defines its inline pools)."""
    p = r.props
    if r.type == EKS_NODE_GROUP:
        lo, hi = _int(get(p, "scalingConfig.minSize")), _int(get(p, "scalingConfig.maxSize"))
        desired = _int(get(p, "scalingConfig.desiredSize"))
        problem = None
        if lo is not None and hi is not None and desired is not None and not lo <= desired <= hi:
            problem = f"scalingConfig.desiredSize {desired} is outside [{lo}, {hi}]; keep it within minSize and maxSize"
        group = p.get("nodeGroupName") or p.get("nodeGroupNamePrefix") or r.name
        yield f"EKS node group {group}", "scalingConfig.minSize/maxSize", lo, hi, problem
    elif r.type == "azure-native:containerservice:AgentPool":
        yield (*_aks_pool(p, f"AKS pool {p.get('agentPoolName', r.name)}", ""), None)
    elif r.type == "azure-native:containerservice:ManagedCluster":
        for i, profile in enumerate(p.get("agentPoolProfiles") or []):
            if isinstance(profile, Mapping):
                yield (*_aks_pool(profile, f"AKS pool {profile.get('name', i)}", f"agentPoolProfiles[{i}]."), None)
    elif r.type == "gcp:container/nodePool:NodePool":
        label = f"GKE node pool {p.get('name', r.name)}"
        total_lo, total_hi = (
            _int(get(p, "autoscaling.totalMinNodeCount")),
            _int(get(p, "autoscaling.totalMaxNodeCount")),
        )
        # Stack policies read outputs, where the provider may report unset totals as 0: a total
        # maximum of 0 means the per-zone bounds are the ones in force.
        if total_hi:
            yield label, "autoscaling.totalMinNodeCount/totalMaxNodeCount", total_lo, total_hi, None
            return
        lo, hi = _int(get(p, "autoscaling.minNodeCount")), _int(get(p, "autoscaling.maxNodeCount"))
        # minNodeCount/maxNodeCount count per zone: the pool's zones, else its cluster's, else a
        # regional cluster's default three (a location without a zone suffix is a region).
        cluster = graph.dependency(r, "cluster", "gcp:container/cluster:Cluster")
        zones = p.get("nodeLocations") or (cluster.props.get("nodeLocations") if cluster else None)
        location = str(p.get("location", ""))
        count = len(zones) if isinstance(zones, Sequence) and zones else (1 if re.search(r"-[a-z]$", location) else 3)
        yield (
            label,
            f"autoscaling.minNodeCount/maxNodeCount (per zone, {count} zones)",
            None if lo is None else lo * count,
            None if hi is None else hi * count,
            None,
        )


def _aks_pool(p: Mapping[str, Any], label: str, prefix: str) -> tuple[str, str, int | None, int | None]:
    if p.get("enableAutoScaling") is not True:
        return label, f"{prefix}enableAutoScaling", None, None
    return label, f"{prefix}minCount/maxCount", _int(p.get("minCount")), _int(p.get("maxCount"))


def _eks_pools(graph: Graph) -> dict[str, PoolBounds]:
    """EKS node groups launched from one template as one pool, by its first group's URN; its bounds
    are the sums of its groups'.

    A pool with a node group per zone (meshfleet's shape: the autoscaler can
    then add a node in the zone a pod needs) is judged as a whole, not group
    by group: three zonal groups of at least one node are a pool of three.
    """
    pools: dict[str, list[Resource]] = {}
    for r in graph.of_type(EKS_NODE_GROUP):
        template = graph.dependency(r, "launchTemplate", "aws:ec2/launchTemplate:LaunchTemplate")
        pools.setdefault(template.urn if template else r.urn, []).append(r)
    found: dict[str, PoolBounds] = {}
    for groups in pools.values():
        bounds = [b for g in groups for b in _pool_bounds(graph, g)]
        if len(groups) == 1:
            found[groups[0].urn] = bounds[0]
            continue
        label = "EKS node pool of groups " + ", ".join(b[0].removeprefix("EKS node group ") for b in bounds)
        los, his = [b[2] for b in bounds], [b[3] for b in bounds]
        lo = None if None in los else sum(x or 0 for x in los)
        hi = None if None in his else sum(x or 0 for x in his)
        problems = "; ".join(f"{b[0]}: {b[4]}" for b in bounds if b[4]) or None
        found[groups[0].urn] = (label, "scalingConfig.minSize/maxSize, summed over the groups", lo, hi, problems)
    return found


def _node_pools(graph: Graph) -> Iterator[tuple[Resource, PoolBounds]]:
    """Every pool of the stack in resource order (an EKS pool at its first group), with its bounds."""
    eks = _eks_pools(graph)
    for r in graph.resources:
        if r.type != EKS_NODE_GROUP:
            yield from ((r, bounds) for bounds in _pool_bounds(graph, r))
        elif r.urn in eks:
            yield r, eks[r.urn]


def check_node_pools(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    max_nodes, min_prod = int(cfg["maxNodes"]), int(cfg["minProductionNodes"])
    found: list[tuple[str, str]] = []
    for r, (label, where, lo, hi, problem) in _node_pools(graph):
        if problem:
            found.append((r.urn, f"{label}: {problem}"))
        if lo is None or hi is None:
            found.append(
                (r.urn, f"{label} does not autoscale: '{where}' is not set; enable autoscaling with min and max nodes")
            )
            continue
        if not 0 <= lo <= hi or hi < 1 or hi > max_nodes:
            found.append(
                (
                    r.urn,
                    f"{label} scales from {lo} to {hi} nodes ('{where}'); keep 0 <= min <= max, 1 <= max <= {max_nodes}",
                )
            )
        if graph.environment(r) == "production" and lo < min_prod:
            found.append(
                (
                    r.urn,
                    f"{label} may shrink to {lo} node(s) in production: one node failure takes the pool down; "
                    f"raise its minimum to at least {min_prod} nodes ('{where}')",
                )
            )
    return found


# --------------------------------------------------------------------------
# Secrets encryption and control-plane logging on every cloud

EKS_LOG_TYPES = ("api", "audit", "authenticator")
GKE_LOG_COMPONENTS = ("SYSTEM_COMPONENTS", "APISERVER")
AKS_LOG_CATEGORIES = ("kube-apiserver", "kube-audit-admin")
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"


EIP = "aws:ec2/eip:Eip"
AWS_PROVIDER = "pulumi:providers:aws"


def _account_and_region(provider: Resource | None) -> tuple[str, str]:
    """The AWS account (allowedAccountIds) and region an AWS provider works in ("?" where not known).
    A provider's inputs reach the engine JSON-encoded when not strings."""
    if provider is None:
        return "?", "?"
    accounts: Any = provider.props.get("allowedAccountIds")
    if isinstance(accounts, str):
        try:
            accounts = json.loads(accounts)
        except ValueError:
            accounts = [accounts]
    known = isinstance(accounts, list) and accounts and UNKNOWN not in accounts
    account = ",".join(map(str, accounts)) if known else "?"
    region = provider.props.get("region")
    return account, region if isinstance(region, str) and region != UNKNOWN else "?"


def check_elastic_ip_quota(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    """Elastic IPs of the stack per AWS account and region, against the quota the team says it has."""
    quota = int(cfg["perRegion"])
    by_place: dict[tuple[str, str], list[Resource]] = {}
    for r in graph.of_type(EIP):
        by_place.setdefault(_account_and_region(graph.by_urn.get(r.provider)), []).append(r)
    found = []
    for (account, region), eips in sorted(by_place.items()):
        if len(eips) <= quota:
            continue
        owners = sorted({graph.by_urn[r.parent].name for r in eips if r.parent in graph.by_urn})
        where = f" ({', '.join(owners)})" if owners else ""
        found.append(
            (
                eips[0].urn,
                f"{len(eips)} Elastic IPs in region {region} of account {account}{where}, over "
                f"the quota of {quota}{' (AWS default)' if quota == 5 else ''}: a first `up` stops where the quota "
                f"runs out (AddressLimitExceeded), half built. Request at least {len(eips)} plus the addresses "
                "the account already holds there (Service Quotas: Amazon EC2, 'EC2-VPC Elastic IPs', "
                "L-0263D0A3), then set aws-elastic-ip-quota.perRegion in the pack config",
            )
        )
    return found


def check_encryption_and_logging(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for r in graph.of_type("aws:eks/cluster:Cluster"):
        p = r.props
        if "secrets" not in (get(p, "encryptionConfig.resources") or []) or not get(
            p, "encryptionConfig.provider.keyArn"
        ):
            found.append(
                (
                    r.urn,
                    "EKS cluster stores Secrets unencrypted: set encryptionConfig {resources: [secrets], provider.keyArn: <KMS key>}",
                )
            )
        missing = [t for t in EKS_LOG_TYPES if t not in (p.get("enabledClusterLogTypes") or [])]
        if missing:
            found.append(
                (r.urn, f"EKS control-plane logs {', '.join(missing)} are off: add them to enabledClusterLogTypes")
            )
    for r in graph.of_type("gcp:container/cluster:Cluster"):
        p = r.props
        if get(p, "databaseEncryption.state") != "ENCRYPTED" or not get(p, "databaseEncryption.keyName"):
            found.append(
                (
                    r.urn,
                    "GKE cluster has no application-layer Secrets encryption: set databaseEncryption {state: ENCRYPTED, keyName: <Cloud KMS key>}",
                )
            )
        components = get(p, "loggingConfig.enableComponents") or []
        missing = [c for c in GKE_LOG_COMPONENTS if c not in components]
        if missing:
            found.append(
                (
                    r.urn,
                    f"GKE control-plane logging lacks {', '.join(missing)}: add them to loggingConfig.enableComponents",
                )
            )
    settings = graph.of_type(DIAGNOSTIC_SETTING)
    for r in graph.of_type("azure-native:containerservice:ManagedCluster"):
        p = r.props
        if get(p, "securityProfile.azureKeyVaultKms.enabled") is not True or not get(
            p, "securityProfile.azureKeyVaultKms.keyId"
        ):
            found.append(
                (
                    r.urn,
                    "AKS cluster has no etcd encryption with a Key Vault key: set securityProfile.azureKeyVaultKms {enabled: true, keyId}",
                )
            )
        physical = str(p.get("resourceName", ""))
        logged: set[str] = set()
        for s in settings:
            uri = str(s.props.get("resourceUri", ""))
            if r.urn in s.property_dependencies.get("resourceUri", ()) or (
                physical and uri.endswith(f"/managedClusters/{physical}")
            ):
                logged |= {
                    str(entry.get("category"))
                    for entry in s.props.get("logs") or []
                    if isinstance(entry, Mapping) and entry.get("enabled") is True
                }
        missing = [c for c in AKS_LOG_CATEGORIES if c not in logged]
        if missing:
            found.append(
                (
                    r.urn,
                    f"AKS control-plane logs {', '.join(missing)} go nowhere: add a diagnostic setting on the cluster that enables them",
                )
            )
    return found


# --------------------------------------------------------------------------
# Trust: root CA protected, key algorithms each mesh accepts, intermediates shorter-lived

SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
CERT_REQUEST = "tls:index/certRequest:CertRequest"

#: Key algorithms a mesh accepts for its CA chain: (algorithm, ECDSA curve or minimum RSA bits).
#: Istio's plug-in CA: RSA or ECDSA P-256/P-384; Linkerd's identity: ECDSA P-256 only;
#: Consul's Connect CA: EC 256/384 or RSA 2048/4096.
ACCEPTED_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "istio": (("RSA", "2048"), ("ECDSA", "P256"), ("ECDSA", "P384")),
    "linkerd": (("ECDSA", "P256"),),
    "consul": (("RSA", "2048"), ("ECDSA", "P256"), ("ECDSA", "P384")),
}


def _roots(graph: Graph) -> list[Resource]:
    return [r for r in graph.of_type(SELF_SIGNED) if r.props.get("isCaCertificate") is True]


def check_root_protected(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    if graph.facts.get("protect") is not True:
        return []
    found = []
    for root in _roots(graph):
        key = graph.dependency(root, "privateKeyPem", PRIVATE_KEY)
        for r, what in ((root, "root certificate"), (key, "root private key")):
            if r is not None and not r.protect:
                found.append(
                    (
                        r.urn,
                        f"the {what} is not protected although the stack's protection setting (fleet.protect) is on; set protect=True on it",
                    )
                )
    return found


def _key_algorithm(p: Mapping[str, Any]) -> tuple[str, str]:
    algorithm = str(p.get("algorithm", ""))
    if algorithm == "ECDSA":
        return algorithm, str(p.get("ecdsaCurve", "P224"))  # pulumi_tls defaults the curve to P224
    if algorithm == "RSA":
        return algorithm, str(_int(p.get("rsaBits")) or 2048)  # and RSA to 2048 bits
    return algorithm, ""


def check_key_algorithms(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    mesh = graph.mesh()
    accepted = ACCEPTED_KEYS.get(mesh or "")
    if accepted is None:
        return []
    found = []
    for r in graph.of_type(PRIVATE_KEY):
        algorithm, detail = _key_algorithm(r.props)
        ok = any(algorithm == a and (detail == d if a == "ECDSA" else int(detail or 0) >= int(d)) for a, d in accepted)
        if not ok:
            allowed = ", ".join(f"{a} {'P-' + d[1:] if a == 'ECDSA' else d + '+ bits'}" for a, d in accepted)
            found.append(
                (
                    r.urn,
                    f"{mesh} does not accept a {algorithm or 'missing'} {detail} CA key; allowed: {allowed} (ECDSA P-256 works for every mesh)",
                )
            )
    return found


def check_intermediate_lifetime(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    found = []
    for r in graph.of_type(LOCALLY_SIGNED):
        if r.props.get("isCaCertificate") is not True:
            continue
        root = graph.dependency(r, "caCertPem", SELF_SIGNED)
        mine = _int(r.props.get("validityPeriodHours"))
        theirs = _int(root.props.get("validityPeriodHours")) if root else None
        if mine is None or (root is not None and theirs is None):
            found.append(
                (
                    r.urn,
                    "the intermediate's or its root's validityPeriodHours is not set; set both, the intermediate's shorter",
                )
            )
        elif theirs is not None and mine >= theirs:
            found.append(
                (
                    r.urn,
                    f"the intermediate lives {mine} h, not less than its root's {theirs} h: it would outlive the root; "
                    "lower trust.intermediateValidityHours (or rotate to a longer-lived root)",
                )
            )
    return found


# --------------------------------------------------------------------------
# Helm releases pinned; no `latest` images

_EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?")


def check_helm_pinned(r: Resource, cfg: Mapping[str, Any], ctx: Context) -> list[str]:
    if r.type not in HELM_CHARTS:
        return []
    p = r.props
    chart, version = str(p.get("chart", "")), p.get("version")
    found = []
    if not isinstance(version, str) or not _EXACT_VERSION.fullmatch(version):
        shown = "no version" if not version else f"version {version!r}"
        found.append(
            f"Helm chart {chart or r.name} has {shown}: pin an exact chart version (e.g. 1.30.3) in stack config"
        )
    if not chart.startswith("oci://") and not get(p, "repositoryOpts.repo"):
        found.append(
            f"Helm chart {chart or r.name} names no repository: set repositoryOpts.repo (or an oci:// chart) so the chart cannot come from a local cache"
        )
    return found


_IMAGE_KEYS = ("tag", "imageTag")
_WORKLOAD_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")


def _image_problem(image: str) -> str | None:
    if not image or "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (pulls latest)"
    return "is tagged latest" if last.rsplit(":", 1)[1] == "latest" else None


def _walk_values(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if k == "image" and isinstance(v, str):
                problem = _image_problem(v)
                if problem:
                    yield f"{here} = {v!r} {problem}"
            elif k in _IMAGE_KEYS and v == "latest":
                yield f"{here} = 'latest'"
            else:
                yield from _walk_values(v, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_values(v, f"{path}[{i}]")


def _walk_containers(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if k in _WORKLOAD_CONTAINERS and isinstance(v, list):
                for i, c in enumerate(v):
                    image = c.get("image") if isinstance(c, Mapping) else None
                    problem = _image_problem(image) if isinstance(image, str) else None
                    if problem:
                        yield f"{here}[{i}].image = {image!r} {problem}"
            else:
                yield from _walk_containers(v, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_containers(v, f"{path}[{i}]")


def check_no_latest_images(r: Resource, cfg: Mapping[str, Any], ctx: Context) -> list[str]:
    if r.type in HELM_CHARTS:
        found = list(_walk_values(r.props.get("values"), "values"))
    elif r.type.startswith("kubernetes:") and isinstance(r.props.get("spec"), Mapping):
        found = list(_walk_containers(r.props.get("spec"), "spec"))
    else:
        return []
    return [f"{f}: pin an exact image tag or digest (a moving tag changes what runs without a diff)" for f in found]


# --------------------------------------------------------------------------
# Kubernetes versions near the end of their support window (advisory)

_VERSION_PROPERTY = {
    "aws:eks/cluster:Cluster": ("aws", "version"),
    "azure-native:containerservice:ManagedCluster": ("azure", "kubernetesVersion"),
    "gcp:container/cluster:Cluster": ("gcp", "minMasterVersion"),
}


def _still_supported(support: VersionSupport | None, r: Resource) -> bool | None:
    """Is the cluster `r` still supported (standard or extended support it can use)? None: cannot tell."""
    if support is None:
        return None
    if support.status == "standard":
        return True
    if support.status != "extended":
        return False
    if support.extended_usable:
        return True  # EKS: meshfleet creates every cluster with upgrade policy EXTENDED
    if r.type == "gcp:container/cluster:Cluster":
        # GKE offers extended support on the Extended channel only (the config accepts such a cluster).
        channel = get(r.props, "releaseChannel.channel")
        return None if channel == UNKNOWN else channel == "EXTENDED"
    return False  # AKS LTS needs the Premium tier, which meshfleet does not configure


def check_version_support(r: Resource, cfg: Mapping[str, Any], ctx: Context) -> list[str]:
    """Past all support; in extended support (billed, and ending); or ending within `warnDays`.

    A version in extended support is reported even when its end is far: it is
    past standard support and, on EKS, every cluster-hour costs the extended
    support charge. A valid config reaches that state on EKS and on GKE's
    Extended channel only (AKS LTS needs the Premium tier, so an AKS version
    past standard support is past its end of support here). "Within
    `warnDays`" is the end of the support the cluster can use: for a version
    in extended support, the end of extended support, which then joins the
    extended-support message (one message, both facts).
    """
    where = _VERSION_PROPERTY.get(r.type)
    if where is None or ctx.supported is None:
        return []
    cloud, key = where
    version = r.props.get(key)
    if not isinstance(version, str) or not version:
        return []
    window = int(cfg["warnDays"])
    now = ctx.supported(cloud, version, ctx.today)
    supported = _still_supported(now, r)
    if supported is False:
        return [
            f"Kubernetes {version} is past its end of support on {cloud}: upgrade one minor version at a time ({key})"
        ]
    if now is None or supported is None:
        return []
    ending = _still_supported(ctx.supported(cloud, version, ctx.today + timedelta(days=window)), r) is False
    if now.status == "extended":
        standard = f" (ended {now.standard_end})" if now.standard_end else ""
        if ending:
            until = f" only until {now.extended_end}, within {window} days" if now.extended_end else ""
            return [
                f"Kubernetes {version} is past its standard support on {cloud}{standard} and runs on "
                f"{now.extended}{until}: then it is past all support; upgrade one minor version at a time ({key})"
            ]
        until = f" until {now.extended_end}" if now.extended_end else ""
        return [
            f"Kubernetes {version} is past its standard support on {cloud}{standard} and runs on "
            f"{now.extended}{until}: upgrade one minor version at a time ({key})"
        ]
    if ending:
        return [
            f"Kubernetes {version} reaches its end of support on {cloud} within {window} days: plan the upgrade to the next minor ({key})"
        ]
    return []


# --------------------------------------------------------------------------
# Stack rules over the graph: one Kubernetes provider per cluster, each object on its own cluster's


def _provider_clusters(graph: Graph) -> dict[str, str | None]:
    """Kubernetes provider URN -> the cluster whose component holds it (None: no cluster)."""
    return {p.urn: graph.cluster_component_of(p) for p in graph.of_type(K8S_PROVIDER)}


def check_one_provider_per_cluster(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    owners = _provider_clusters(graph)
    found = []
    for name, component in sorted(graph.clusters.items()):
        mine = [urn for urn, owner in owners.items() if owner == name]
        if len(mine) != 1:
            found.append(
                (
                    component.urn,
                    f"cluster {name} has {len(mine)} Kubernetes providers; it needs exactly one (its ClusterHandle's)",
                )
            )
    fleet = graph.fleet.name if graph.fleet else None
    for urn, owner in owners.items():
        provider = graph.by_urn[urn]
        if owner is None:
            found.append(
                (urn, "this Kubernetes provider belongs to no cluster; create providers only in a cluster component")
            )
        elif fleet is not None:
            expected = cluster_names(fleet, owner).cluster_identifier
            if provider.props.get("clusterIdentifier") != expected:
                found.append(
                    (
                        urn,
                        f"cluster {owner}'s provider has clusterIdentifier {provider.props.get('clusterIdentifier')!r}, "
                        f"not {expected!r}: a kubeconfig change would replace every object in the cluster",
                    )
                )
    return found


def _intended_clusters(graph: Graph, r: Resource) -> set[str] | None:
    """The clusters `r` may live in: its cluster component's, else the one its name derives from
    (components.naming: `<cluster>-...`, or either side of a pair, `naming.pair_stems`)."""
    owner = graph.cluster_component_of(r)
    if owner is not None:
        return {owner}
    names = sorted(graph.clusters, key=len, reverse=True)
    for a in names:
        for b in names:
            if a != b and any(r.name.startswith(stem + "-") for stem in pair_stems(a, b)):
                return {a, b}
    for c in names:
        if r.name.startswith(cluster_names("", c).child("")):
            return {c}
    return None


#: pulumi-kubernetes component resources: their provider `Construct`s them as components, which the engine
#: records with no provider reference (pulumi/pulumi source_eval.go: only custom and remote resources carry
#: one), while the objects they create, their children, carry the cluster's provider and are checked.
KUBERNETES_COMPONENTS = frozenset(
    {
        "kubernetes:yaml/v2:ConfigFile",
        "kubernetes:yaml/v2:ConfigGroup",
        "kubernetes:helm.sh/v4:Chart",
        "kubernetes:kustomize/v2:Directory",
    }
)


def check_in_cluster_provider(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    owners = _provider_clusters(graph)
    found = []
    for r in graph.resources:
        if not r.type.startswith("kubernetes:") or r.type in KUBERNETES_COMPONENTS:
            continue
        if not r.provider or r.provider not in owners:
            found.append(
                (
                    r.urn,
                    "this Kubernetes object has no cluster provider (default or unknown provider); pass its cluster's handle.provider",
                )
            )
            continue
        actual = owners[r.provider]
        intended = _intended_clusters(graph, r)
        if intended is None:
            found.append(
                (
                    r.urn,
                    "this Kubernetes object belongs to no cluster by parent or name; name it with components.naming (<cluster>-...)",
                )
            )
        elif actual not in intended:
            found.append(
                (
                    r.urn,
                    f"this object of cluster {' or '.join(sorted(intended))} uses cluster {actual}'s provider: it would land in the wrong cluster",
                )
            )
    return found


# --------------------------------------------------------------------------
# Mesh mTLS strict on production stacks, from the compiled policy objects

ISTIO_ROOT_NAMESPACE = "istio-system"
PEER_AUTHENTICATION = (
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1beta1:PeerAuthentication",
)
SERVICE_INTENTIONS = "kubernetes:consul.hashicorp.com/v1alpha1:ServiceIntentions"


def _chart(r: Resource) -> str:
    return str(r.props.get("chart", "")).rsplit("/", 1)[-1] if r.type in HELM_CHARTS else ""


def _istio_strict(objects: list[Resource]) -> tuple[bool, str]:
    root = ISTIO_ROOT_NAMESPACE
    for r in objects:
        if _chart(r) == "istiod":
            root = str(get(r.props, "values.meshConfig.rootNamespace") or root)
    for r in objects:
        if (
            r.type in PEER_AUTHENTICATION
            and get(r.props, "metadata.namespace") == root
            and not get(r.props, "spec.selector")
            and get(r.props, "spec.mtls.mode") == "STRICT"
        ):
            return True, ""
    return False, f"no mesh-wide PeerAuthentication with mtls.mode STRICT in the root namespace {root}"


def _linkerd_strict(objects: list[Resource]) -> tuple[bool, str]:
    for r in objects:
        if _chart(r) == "linkerd-control-plane":
            policy = get(r.props, "values.proxy.defaultInboundPolicy", "all-unauthenticated")
            if policy == "all-authenticated":
                return True, ""
            return False, f"linkerd-control-plane's proxy.defaultInboundPolicy is {policy!r}, not 'all-authenticated'"
    return False, "no linkerd-control-plane release"


def _consul_strict(objects: list[Resource]) -> tuple[bool, str]:
    for r in objects:
        if _chart(r) == "consul" and get(r.props, "values.global.acls.manageSystemACLs") is True:
            return True, ""  # ACLs default-deny: intentions default to deny
        if r.type == SERVICE_INTENTIONS and get(r.props, "spec.destination.name") == "*":
            sources = get(r.props, "spec.sources") or []
            if any(isinstance(s, Mapping) and s.get("name") == "*" and s.get("action") == "deny" for s in sources):
                return True, ""
    return False, "no mesh-wide default deny (global.acls.manageSystemACLs or a ServiceIntentions * -> * deny)"


_STRICT_CHECKS: dict[str, Callable[[list[Resource]], tuple[bool, str]]] = {
    "istio": _istio_strict,
    "linkerd": _linkerd_strict,
    "consul": _consul_strict,
}


def check_mesh_mtls(graph: Graph, cfg: Mapping[str, Any], ctx: Context) -> list[tuple[str, str]]:
    if graph.environment() != "production":
        return []
    mesh = graph.mesh()
    found = []
    on: dict[str, list[Resource]] = {}
    for r in graph.resources:
        if r.provider:
            on.setdefault(r.provider, []).append(r)
    for provider, cluster in sorted(_provider_clusters(graph).items(), key=lambda kv: str(kv[1])):
        objects = on.get(provider, [])
        check = _STRICT_CHECKS.get(mesh or "")
        if check is None:
            found.append((provider, f"cluster {cluster}: mesh {mesh!r} has no strict-mTLS check; cannot verify mTLS"))
            continue
        ok, why = check(objects)
        if not ok:
            found.append(
                (
                    provider,
                    f"cluster {cluster} accepts plaintext: {why}; apply the fleet's mesh-mtls: strict policy (policies.<name>.mode)",
                )
            )
        for r in objects:
            if r.type in PEER_AUTHENTICATION and get(r.props, "spec.mtls.mode") == "DISABLE":
                found.append(
                    (
                        r.urn,
                        "a PeerAuthentication disables mTLS in production; remove it or make it PERMISSIVE with a reason",
                    )
                )
    return found


# --------------------------------------------------------------------------
# The catalogue

ResourceCheck = Callable[[Resource, Mapping[str, Any], Context], list[str]]
StackCheck = Callable[[Graph, Mapping[str, Any], Context], list[tuple[str, str]]]

LEVELS = ("advisory", "mandatory", "disabled")
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Rule:
    """One guardrail: CrossGuard's policy fields and one pure check."""

    name: str
    description: str
    severity: str
    enforcement: str
    why: str
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    #: JSON-schema properties of the rule's own config, each with a default.
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items()}


RULES: tuple[Rule, ...] = (
    Rule(
        "mesh-mtls-strict",
        "Production clusters run the mesh with strict mTLS, read from the compiled policy objects.",
        "critical",
        "mandatory",
        "A mesh that still accepts plaintext lets any pod impersonate a caller; config saying 'strict' is not enough.",
        stack_check=check_mesh_mtls,
    ),
    Rule(
        "no-open-endpoints",
        "No API endpoint or gateway Service admits 0.0.0.0/0 or ::/0; every cluster API has an allow-list.",
        "critical",
        "mandatory",
        "An API server or east-west gateway open to the internet is one leaked credential or CVE away from a breach.",
        resource_check=check_open_endpoints,
    ),
    Rule(
        "node-pool-autoscaling",
        "Node pools autoscale within bounds; no production pool can shrink to a single node.",
        "high",
        "mandatory",
        "A fixed or unbounded pool either falls over or runs up the bill; one node in production is no redundancy.",
        stack_check=check_node_pools,
        config={
            "maxNodes": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000,
                "default": 100,
                "description": "Largest allowed maximum per pool (total nodes).",
            },
            "minProductionNodes": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "default": 2,
                "description": "Smallest allowed minimum of a production pool (total nodes).",
            },
        },
    ),
    Rule(
        "aws-elastic-ip-quota",
        "The stack's Elastic IPs in each AWS account and region fit the account's quota.",
        "medium",
        "advisory",
        "AWS allows 5 Elastic IPs per region unless raised; an EKS cluster takes two per zone (NAT egress and the "
        "east-west gateway's load balancer), so a first `up` in a fresh account fails half built.",
        stack_check=check_elastic_ip_quota,
        config={
            "perRegion": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100000,
                "default": 5,
                "description": "The accounts' Elastic IP quota per region (Service Quotas: 'EC2-VPC Elastic IPs', "
                "L-0263D0A3), once raised.",
            },
        },
    ),
    Rule(
        "encryption-and-logging",
        "Kubernetes Secrets are encrypted with a customer key and control-plane logs are on, on every cloud.",
        "high",
        "mandatory",
        "Secrets at rest hold mesh CA keys and peer credentials; without audit logs nobody can tell who used them.",
        stack_check=check_encryption_and_logging,
    ),
    Rule(
        "trust-root-protected",
        "Root CA key and certificate are protected when the stack's protection setting is on.",
        "critical",
        "mandatory",
        "Deleting or replacing the root breaks mTLS across every cluster at once.",
        stack_check=check_root_protected,
    ),
    Rule(
        "trust-key-algorithms",
        "CA keys use an algorithm the stack's mesh accepts.",
        "high",
        "mandatory",
        "A mesh that rejects the CA's key algorithm fails at install time (Linkerd accepts only ECDSA P-256).",
        stack_check=check_key_algorithms,
    ),
    Rule(
        "trust-intermediate-lifetime",
        "Each intermediate CA is shorter-lived than the root that signs it.",
        "high",
        "mandatory",
        "An intermediate that outlives its root issues certificates nobody can verify once the root expires.",
        stack_check=check_intermediate_lifetime,
    ),
    Rule(
        "helm-pinned",
        "Helm releases pin an exact chart version and name their repository.",
        "medium",
        "mandatory",
        "An unpinned chart changes what is deployed without any change in git.",
        resource_check=check_helm_pinned,
    ),
    Rule(
        "no-latest-images",
        "No container image uses the latest tag or no tag.",
        "medium",
        "mandatory",
        "A moving tag makes two clusters (or two restarts) run different code from the same plan.",
        resource_check=check_no_latest_images,
    ),
    Rule(
        "fleet-tags",
        "Every taggable cloud resource carries the fleet, environment, owner and managed-by tags.",
        "medium",
        "mandatory",
        "Cost reports, ownership and clean-up scripts find resources by these tags.",
        resource_check=check_fleet_tags,
    ),
    Rule(
        "kubernetes-version-support",
        "Kubernetes versions are not near or past the end of their support window.",
        "medium",
        "advisory",
        "An unsupported version gets no security fixes and clouds upgrade it; one in extended support is past "
        "standard support and, on EKS, billed extra per cluster-hour.",
        resource_check=check_version_support,
        config={
            "warnDays": {
                "type": "integer",
                "minimum": 0,
                "maximum": 730,
                "default": 90,
                "description": "Warn this many days before a version's end of support.",
            },
        },
    ),
    Rule(
        "one-provider-per-cluster",
        "Each cluster has exactly one Kubernetes provider, with the cluster's stable identifier.",
        "high",
        "mandatory",
        "Two providers for one cluster fight over the same objects; a provider without a stable id replaces them all.",
        stack_check=check_one_provider_per_cluster,
    ),
    Rule(
        "in-cluster-provider",
        "Every in-cluster resource uses its own cluster's Kubernetes provider.",
        "critical",
        "mandatory",
        "An object sent through another cluster's provider lands in the wrong cluster (secrets included).",
        stack_check=check_in_cluster_provider,
    ),
)

RULES_BY_NAME = {r.name: r for r in RULES}


def evaluate(
    resources: Iterable[Resource],
    levels: Mapping[str, str],
    configs: Mapping[str, Mapping[str, Any]],
    ctx: Context,
) -> list[Finding]:
    """Every rule over the resources, at the given levels (rule name -> level; defaults otherwise)."""
    graph = Graph(resources)
    findings: list[Finding] = []
    for rule in RULES:
        level = levels.get(rule.name, rule.enforcement)
        if level == "disabled":
            continue
        cfg = {**rule.defaults(), **configs.get(rule.name, {})}
        if rule.resource_check is not None:
            for r in graph.resources:
                findings += [Finding(rule.name, level, r.urn, m) for m in rule.resource_check(r, cfg, ctx)]
        if rule.stack_check is not None:
            findings += [Finding(rule.name, level, urn, m) for urn, m in rule.stack_check(graph, cfg, ctx)]
    return findings
