"""Machine types: each cloud's naming shape (the list itself is never complete offline).

A node pool that names another cloud's machine type (m6i.large on AKS) is
refused by the cloud only at `pulumi up`; the shape of each cloud's names
(components/config/data/<cloud>.yaml) catches it at plan time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from components.config.cloudfacts import cloud_of_machine_type, facts, machine_series
from components.config.errors import Problem
from components.config.models import ExistingCluster, FleetSpec, GcpCluster, NodePool

SERVICE = {"aws": "EKS", "azure": "AKS", "gcp": "GKE"}


def _rule_machine_types(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            continue
        f = facts(c.cloud)
        for j, pool in enumerate(c.node_pools):
            if f.machine_shape.fullmatch(pool.machine_type):
                continue
            other = cloud_of_machine_type(pool.machine_type)
            if other is not None:
                message = (
                    f"{pool.machine_type!r} is {facts(other).machine_description} ({facts(other).label}); "
                    f"{SERVICE[c.cloud]} node pools take {f.machine_description}"
                )
            else:
                message = f"{pool.machine_type!r} is not {f.machine_description}"
            yield Problem(
                path=f"clusters[{i}].nodePools[{j}].machineType",
                message=message,
                fix=f"use {f.machine_description}, e.g. machineType: {f.machine_example}",
            )


def gke_pools(spec: FleetSpec) -> Iterator[tuple[str, GcpCluster, NodePool]]:
    """(path of its machineType, cluster, pool) of every GKE node pool."""
    for i, c in enumerate(spec.clusters):
        if isinstance(c, GcpCluster):
            for j, pool in enumerate(c.node_pools):
                yield f"clusters[{i}].nodePools[{j}].machineType", c, pool


def _rule_gke_boot_disks(spec: FleetSpec) -> Iterable[Problem]:
    """A GKE pool boots from the disk type its machine series takes (data/gcp.yaml `boot_disks`)."""
    f = facts("gcp")
    known = ", ".join(sorted(f.boot_disks))
    for path, _, pool in gke_pools(spec):
        if f.machine_shape.fullmatch(pool.machine_type) and not f.boot_disk(pool.machine_type):
            yield Problem(
                path=path,
                message=f"{pool.machine_type!r} is of series {machine_series(pool.machine_type)!r}, whose node "
                f"boot disk type meshfleet does not know (series it knows: {known})",
                fix=f"use a machine type of a known series, e.g. machineType: {f.machine_example}, or add the "
                "series under the disk type it boots from to boot_disks in components/config/data/gcp.yaml",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_machine_types, _rule_gke_boot_disks)
