"""Zones: explicit, distinct, and zones of the cluster's region."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    AzureCluster,
    ExistingCluster,
    FleetSpec,
    GcpCluster,
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


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_zones,)
