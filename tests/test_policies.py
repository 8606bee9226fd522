"""The fleet-tags rule: per-type tag property, missing property, all four tags; SDK-derived table."""

from __future__ import annotations

import importlib
import inspect

import pytest

from components.common import fleet_tags
from components.config import FleetMeta
from policies.guardrails.rules import NOT_TAGGABLE, REQUIRED_TAGS, TAG_PROPERTY, missing_fleet_tags
from tests.helpers import inputs, plan_stack

TAGS = {"fleet": "acme-prod", "environment": "production", "owner": "platform", "managed-by": "meshfleet"}
CLOUDS = ("aws", "azure-native", "gcp")


@pytest.fixture(scope="module")
def prod():
    return plan_stack("prod")


def with_tags(resource_type: str, tags: object) -> dict[str, object]:
    """Inputs carrying `tags` at the type's tag property (nested for a GKE node pool)."""
    *outer, last = TAG_PROPERTY[resource_type]
    value: dict[str, object] = {last: tags}
    for key in reversed(outer):
        value = {key: value}
    return value


def test_required_tags_are_what_fleet_tags_sets():
    meta = FleetMeta.model_validate(
        {"name": "acme-prod", "environment": "production", "owner": "platform", "protect": True}
    )
    assert tuple(sorted(fleet_tags(meta))) == tuple(sorted(REQUIRED_TAGS))
    assert REQUIRED_TAGS == ("fleet", "environment", "owner", "managed-by")


@pytest.mark.parametrize(
    ("resource_type", "compliant"),
    [
        ("aws:ec2/vpc:Vpc", {"tags": TAGS}),
        ("aws:eks/nodeGroup:NodeGroup", {"tags": TAGS, "labels": {"role": "system"}}),
        ("azure-native:containerservice:ManagedCluster", {"tags": {**TAGS, "extra": "x"}}),
        ("gcp:compute/address:Address", {"labels": TAGS}),
        ("gcp:container/cluster:Cluster", {"resourceLabels": TAGS}),
        ("gcp:container/nodePool:NodePool", {"nodeConfig": {"resourceLabels": TAGS, "labels": {"role": "system"}}}),
    ],
)
def test_compliant_resource_has_no_violation(resource_type, compliant):
    assert missing_fleet_tags(resource_type, compliant) == []


@pytest.mark.parametrize("tag", REQUIRED_TAGS)
@pytest.mark.parametrize(
    "resource_type",
    [
        "aws:kms/key:Key",
        "azure-native:keyvault:Vault",
        "gcp:kms/cryptoKey:CryptoKey",
        "gcp:container/nodePool:NodePool",
    ],
)
def test_each_missing_tag_is_one_violation_naming_it(resource_type, tag):
    tags = {k: v for k, v in TAGS.items() if k != tag}
    where = ".".join(TAG_PROPERTY[resource_type])
    assert missing_fleet_tags(resource_type, with_tags(resource_type, tags)) == [
        f"{resource_type} is missing the '{tag}' tag in '{where}'"
    ]


def test_the_old_three_tags_are_not_enough():
    old = {k: v for k, v in TAGS.items() if k != "managed-by"}
    assert missing_fleet_tags("gcp:compute/address:Address", {"labels": old}) == [
        "gcp:compute/address:Address is missing the 'managed-by' tag in 'labels'"
    ]


def test_every_tag_missing_from_an_empty_map():
    assert missing_fleet_tags("aws:iam/role:Role", {"tags": {}}) == [
        f"aws:iam/role:Role is missing the '{t}' tag in 'tags'" for t in REQUIRED_TAGS
    ]


@pytest.mark.parametrize(
    ("resource_type", "untagged", "where"),
    [
        ("aws:ec2/vpc:Vpc", {}, "tags"),
        ("aws:ec2/vpc:Vpc", {"tags": None}, "tags"),
        ("azure-native:resources:ResourceGroup", {"location": "westeurope"}, "tags"),
        # Look-alikes that are not cloud tags: Kubernetes node labels, network tags.
        ("aws:eks/nodeGroup:NodeGroup", {"labels": TAGS}, "tags"),
        ("azure-native:containerservice:AgentPool", {"nodeLabels": TAGS}, "tags"),
        ("gcp:container/cluster:Cluster", {"labels": TAGS}, "resourceLabels"),
        ("gcp:container/nodePool:NodePool", {}, "nodeConfig.resourceLabels"),
        (
            "gcp:container/nodePool:NodePool",
            {"nodeConfig": {"labels": TAGS, "tags": ["x"]}},
            "nodeConfig.resourceLabels",
        ),
        ("gcp:container/nodePool:NodePool", {"resourceLabels": TAGS}, "nodeConfig.resourceLabels"),
    ],
)
def test_taggable_type_without_its_tag_property_is_a_violation(resource_type, untagged, where):
    assert missing_fleet_tags(resource_type, untagged) == [
        f"{resource_type} has no '{where}': it needs the fleet tags fleet, environment, owner, managed-by"
    ]


@pytest.mark.parametrize(
    "resource_type",
    [
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:kms/alias:Alias",
        "azure-native:authorization:RoleAssignment",
        "gcp:projects/iAMMember:IAMMember",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
        "kubernetes:core/v1:Namespace",
        "pulumi:providers:aws",
        "tls:index/privateKey:PrivateKey",
    ],
)
def test_non_taggable_types_yield_no_violation(resource_type):
    assert missing_fleet_tags(resource_type, {}) == []
    assert missing_fleet_tags(resource_type, {"tags": {}, "labels": {}}) == []


def sdk_args(resource_type: str) -> list[str]:
    """Parameter names of the installed SDK's `<Resource>Args` for a type token."""
    pkg, mod, cls = resource_type.split(":")
    module = importlib.import_module(f"pulumi_{pkg.replace('-', '_')}.{mod.split('/')[0]}")
    return list(inspect.signature(getattr(module, f"{cls}Args").__init__).parameters)


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


@pytest.mark.parametrize("resource_type", sorted(TAG_PROPERTY.keys() | NOT_TAGGABLE))
def test_table_matches_the_sdk(resource_type):
    """Taggable iff the SDK args take `tags` (aws, azure-native) or `labels`/`resource_labels` (gcp)."""
    assert not (resource_type in TAG_PROPERTY and resource_type in NOT_TAGGABLE)
    params = sdk_args(resource_type)
    cloud_tag_args = {"aws": {"tags"}, "azure-native": {"tags"}, "gcp": {"labels", "resource_labels"}}
    top = sorted(cloud_tag_args[resource_type.split(":")[0]] & set(params))
    if resource_type == "gcp:container/nodePool:NodePool":
        # pulumi_gcp 10.2: the pool's GCP labels are NodePoolNodeConfigArgs.resource_labels.
        import pulumi_gcp.container as container

        assert top == []
        assert "resource_labels" in inspect.signature(container.NodePoolNodeConfigArgs.__init__).parameters
        assert TAG_PROPERTY[resource_type] == ("nodeConfig", "resourceLabels")
    elif resource_type in TAG_PROPERTY:
        assert [snake(TAG_PROPERTY[resource_type][0])] == top
    else:
        assert top == []


def test_every_cloud_type_prod_creates_is_classified_and_tagged(prod):
    planned = {r.type for r in prod.resources if r.custom and r.type.split(":")[0] in CLOUDS}
    assert planned - TAG_PROPERTY.keys() - NOT_TAGGABLE == set()
    assert {"gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool"} <= planned
    taggable = [r for r in prod.resources if r.custom and r.type in TAG_PROPERTY]
    assert {r.type.split(":")[0] for r in taggable} == set(CLOUDS)
    assert [v for r in taggable for v in missing_fleet_tags(r.type, inputs(r))] == []
