"""Names: unique in the fleet, valid for every cloud that derives names from them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    AzureCluster,
    ExistingCluster,
    FleetSpec,
    GcpCluster,
)
from components.naming import cluster_names, eks_pool_name_max


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


def _rule_removed_clusters_are_gone(spec: FleetSpec) -> Iterable[Problem]:
    """A cluster listed for removal must not also be in `clusters`: the list says the update deletes it."""
    names = {c.name for c in spec.clusters}
    for i, name in enumerate(spec.fleet.remove_clusters):
        if name in names:
            yield Problem(
                path=f"fleet.removeClusters[{i}]",
                message=f"{name!r} is listed for removal but is still in clusters",
                fix=f"to remove {name}, delete its entry from clusters too; to keep it, take it off "
                "fleet.removeClusters",
            )


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
    elif isinstance(cluster, AwsCluster):
        longest = eks_pool_name_max(cluster.region, list(cluster.zones))
        if not (re.fullmatch(r"[a-zA-Z0-9][-a-zA-Z0-9_]*", name) and len(name) <= longest):
            yield Problem(
                path=path,
                message=f"{name!r} is not a valid EKS node pool name: 1-{longest} letters, digits, '-' and '_', "
                "starting with a letter or digit (it has a node group per zone, named `<pool>-<zone>-` plus "
                "26 characters, at most 63)",
                fix="rename the node pool",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_unique_names,
    _rule_removed_clusters_are_gone,
    _rule_cloud_names,
)
