"""Policy rules as pure validators, importable without pulumi_policy.

The rules take a resource's type and inputs and return violation messages;
the tests call them directly and the offline plan's tests run them over whole
stacks. A CrossGuard pack (a later issue) wraps them: `pulumi_policy`
pins protobuf 5.29, which the program's pulumi SDK (protobuf 6) does not
allow, so the pack needs its own virtualenv, and `PolicyPack(...)` blocks
when constructed, so it belongs only in that pack's `__main__.py`.

CrossGuard-ready: each rule is a pure function `(type, inputs) -> list[str]`
over the engine's (camelCase) input property names, which is what
`ResourceValidationArgs.resource_type` and `.props` carry, so a pack wraps it
as `lambda args, report: [report(v) for v in rule(args.resource_type, args.props)]`.
The rules read the resource itself: provider-level default tags (AWS
`defaultTags`) are not in a resource's inputs and do not count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
TAG_PROPERTY: dict[str, tuple[str, ...]] = {
    "aws:cloudwatch/logGroup:LogGroup": ("tags",),
    "aws:ec2/eip:Eip": ("tags",),
    "aws:ec2/internetGateway:InternetGateway": ("tags",),
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
    value: Any = inputs
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    where = ".".join(path)
    if not isinstance(value, Mapping):
        return [f"{resource_type} has no '{where}': it needs the fleet tags {', '.join(REQUIRED_TAGS)}"]
    return [f"{resource_type} is missing the '{tag}' tag in '{where}'" for tag in REQUIRED_TAGS if tag not in value]
