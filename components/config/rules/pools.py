"""Node pools: unique per cluster, sane autoscaler bounds."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    AzureCluster,
    ExistingCluster,
    FleetSpec,
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


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_pool_names_unique_and_bounds,)
