"""Node pools: unique per cluster, sane autoscaler bounds."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    AzureCluster,
    ExistingCluster,
    FleetSpec,
)
from components.naming import label_problems


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
        # EKS has no node of its own: coredns (an add-on that waits for its
        # pods) and the cluster autoscaler (a Deployment) run on the pools. With
        # every pool at 0 neither ever starts, so nothing adds the first node
        # and the deployment waits out its timeouts. (GKE's and AKS's
        # autoscalers run in the control plane; AKS's system pool is above.)
        if isinstance(c, AwsCluster) and c.node_pools and all(pool.min_size < 1 for pool in c.node_pools):
            yield Problem(
                path=f"clusters[{i}].nodePools",
                message=(
                    f"every node pool of EKS cluster {c.name!r} has minSize 0: coredns and the cluster autoscaler "
                    "run on the cluster's own nodes, so no node would ever start"
                ),
                fix="set minSize to 1 or more on at least one pool (2+ for production)",
            )


def _rule_node_labels(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        for j, pool in enumerate(c.node_pools if not isinstance(c, ExistingCluster) else []):
            for key, value in sorted(pool.labels.items()):
                for message in label_problems(key, value):
                    yield Problem(
                        path=f"clusters[{i}].nodePools[{j}].labels",
                        message=message,
                        fix="shorten or rename the label (the cloud's node pool API and Kubernetes reject it)",
                    )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_pool_names_unique_and_bounds, _rule_node_labels)
