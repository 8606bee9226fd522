"""Regions and zones: the cluster's cloud has the region, and the region has the zones.

Checked against components/config/data/<cloud>.yaml (cloudfacts). A region
of another cloud, or one the cloud does not have, is reported once: its
zones are not checked against a region that is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from components.config.cloudfacts import cloud_of_region, facts
from components.config.errors import Problem
from components.config.models import AwsCluster, AzureCluster, ExistingCluster, FleetSpec, GcpCluster

ManagedCluster = AwsCluster | AzureCluster | GcpCluster


def region_problem(index: int, cluster: ManagedCluster) -> Problem | None:
    """What is wrong with a managed cluster's region (None: the cloud has it, with zones)."""
    f = facts(cluster.cloud)
    region = cluster.region
    path = f"clusters[{index}].region"
    regions = sorted(f.zones)
    if region in f.zones:
        if f.zones[region]:
            return None
        zonal = [r for r in regions if f.zones[r]]
        near = difflib.get_close_matches(region, zonal, n=3, cutoff=0.5) or zonal[:3]
        return Problem(
            path=path,
            message=f"{region!r} has no availability zones; meshfleet spreads every node pool over zones "
            f"(regions as of {f.regions_as_of})",
            fix=f"choose a region with zones, e.g. {', '.join(near)}",
        )
    other = cloud_of_region(region)
    near = difflib.get_close_matches(region, regions, n=3, cutoff=0.6)
    if other is not None:
        return Problem(
            path=path,
            message=f"{region!r} is {_a(facts(other).label)} region, but this cluster has cloud: {cluster.cloud}",
            fix=f"use {_a(f.label)} region (e.g. {', '.join(near or _examples(cluster.cloud))}), or set cloud: {other}",
        )
    if near:
        fix = f"did you mean {near[0]!r}?"
    else:
        fix = (
            f"use {_a(f.label)} region, e.g. {', '.join(_examples(cluster.cloud))} (all of them: "
            f"components/config/data/{cluster.cloud}.yaml; refresh it if {f.label} opened this region after "
            f"{f.regions_as_of})"
        )
    return Problem(path=path, message=f"{region!r} is not {_a(f.label)} region (as of {f.regions_as_of})", fix=fix)


def _a(label: str) -> str:
    return f"an {label}" if label[0] in "AEIOU" else f"a {label}"


def _examples(cloud: str) -> list[str]:
    return {
        "aws": ["us-east-1", "eu-west-1"],
        "azure": ["eastus2", "westeurope"],
        "gcp": ["us-central1", "europe-west1"],
    }[cloud]


def _rule_regions_and_zones(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            continue  # a free-form location label
        problem = region_problem(i, c)
        if problem is not None:
            yield problem
            continue  # zones of a wrong region would only repeat it
        zones = facts(c.cloud).zone_names(c.region)
        bad = [z for z in dict.fromkeys(c.zones) if z not in zones]
        if not bad:
            continue
        where = "is not a zone" if len(bad) == 1 else "are not zones"
        if isinstance(c, AzureCluster):
            quoted = ", ".join(f'"{z}"' for z in zones)
            fix = f"use zones of {c.region}, quoted: zones: [{quoted}]"
        else:
            fix = f"use zones of {c.region}: {', '.join(zones)}"
        yield Problem(
            path=f"clusters[{i}].zones",
            message=f"{', '.join(bad)} {where} of {c.region}; allowed values: {', '.join(zones)}",
            fix=fix,
        )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_regions_and_zones,)
