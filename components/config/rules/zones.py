"""Zones: explicit and distinct; EKS needs two. Whether the region has them: rules/regions.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    ExistingCluster,
    FleetSpec,
)


def _rule_zones(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        path = f"clusters[{i}].zones"
        if isinstance(c, ExistingCluster):
            continue
        repeated = sorted({z for z in c.zones if c.zones.count(z) > 1})
        if repeated:
            yield Problem(
                path=path,
                message=f"{', '.join(repeated)} is listed more than once (zones: {', '.join(c.zones)})",
                fix="list each zone once",
            )
        if isinstance(c, AwsCluster) and len(set(c.zones)) < 2:
            yield Problem(
                path=path,
                message="EKS needs subnets in at least two availability zones",
                fix=f"list two or three zones of {c.region}",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_zones,)
