"""Small helpers every component shares: tags, protection, timeouts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import FleetMeta


def fleet_tags(meta: FleetMeta) -> dict[str, str]:
    """Tags (AWS, Azure) and labels (GCP) set on every taggable resource.

    Set on the resources themselves, not only as provider defaults, so
    guardrails and cost reports that read resource tags see them. Keys and
    values are lowercase DNS labels, valid as GCP labels too.
    """
    return {
        "fleet": meta.name,
        "environment": meta.environment,
        "owner": meta.owner,
        "managed-by": "meshfleet",
    }


#: The fleet tags that never change for a deployed fleet (its name is in every
#: physical name). Where tags are fixed at creation and a change re-creates
#: something (EC2 instances through their launch template, volumes through
#: their StorageClass), only these are set: renaming the owner must not roll
#: every node.
IDENTITY_TAG_KEYS = ("fleet", "managed-by")


def identity_tags(tags: dict[str, str]) -> dict[str, str]:
    """The fleet tags of `tags` (from `fleet_tags`) that never change: see IDENTITY_TAG_KEYS."""
    return {key: tags[key] for key in IDENTITY_TAG_KEYS}


def protected(meta: FleetMeta, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
    """Options for a resource the stack's protection setting covers."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=meta.protect))


#: Control planes take 10-20 minutes to create and longer to upgrade.
CLUSTER_TIMEOUTS = pulumi.CustomTimeouts(create="45m", update="90m", delete="45m")
#: Node pools drain node by node on update.
NODE_POOL_TIMEOUTS = pulumi.CustomTimeouts(create="30m", update="90m", delete="45m")


#: Release history Helm keeps per release: pulumi-kubernetes passes
#: maxHistory 0 (unlimited) to `helm upgrade` when unset, and every upgrade
#: adds a release Secret. 10 is the Helm CLI's default.
HELM_MAX_HISTORY = 10


def helm_release(
    resource_name: str,
    *,
    release: str,
    chart: str,
    version: str,
    repository: str,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    timeout: int,
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    """A pinned Helm release that never stays half-installed.

    `atomic` rolls a failed install or upgrade back and `cleanup_on_fail`
    removes what it created; `skip_await` stays off because atomic needs
    Helm's wait to judge success. `timeout` (seconds) must cover what Helm
    waits for (a cloud load balancer, a DaemonSet on every node).
    """
    return k8s.helm.v3.Release(
        resource_name,
        name=release,
        chart=chart,
        version=version,
        repository_opts={"repo": repository},
        namespace=namespace,
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        timeout=timeout,
        max_history=HELM_MAX_HISTORY,
        opts=opts,
    )


#: A type token of one of azure-native's explicit API-version modules
#: (`azure-native:containerservice/v20240801:ManagedCluster`).
_API_VERSION_TYPE = re.compile(r"^azure-native:[a-z0-9]+/v\d{8}(preview)?:")


def drop_api_version_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """Drop the aliases azure-native adds to every resource for its API-version modules.

    Each azure-native resource carries one alias per API version it ever
    shipped (113 on a ManagedCluster), so that a stack that registered
    `azure-native:containerservice/v20230101:ManagedCluster` keeps its state
    when it moves to the default module. meshfleet registers only default
    modules (tests/test_aks.py checks the plan), so those aliases can
    never match anything in a meshfleet stack; yet the SDK turns each into a
    URN (a dozen Outputs apiece: most of an AKS cluster's registration cost)
    and the engine looks each up on every `up`. Any other alias (a rename, a
    move of our own, a future SDK's unversioned rename) is kept. Applied as a
    transformation of the Azure components, so every child inherits it.
    """
    aliases = args.opts.aliases
    if not aliases:
        return None
    kept = [a for a in aliases if not _is_api_version_alias(a)]
    if len(kept) == len(aliases):
        return None
    opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions())
    opts.aliases = kept or None
    return pulumi.ResourceTransformationResult(args.props, opts)


def _is_api_version_alias(alias: Any) -> bool:
    type_ = getattr(alias, "type_", None)
    return (
        isinstance(alias, pulumi.Alias)
        and isinstance(type_, str)
        and bool(_API_VERSION_TYPE.match(type_))
        and all(getattr(alias, f) is ... for f in ("name", "parent", "stack", "project"))
    )


def without_api_version_aliases(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """`opts` for an Azure component: its children drop azure-native's API-version aliases."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[drop_api_version_aliases]))
