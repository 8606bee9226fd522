"""Generated fleets for the benchmarks: mixed clouds plus existing clusters.

Clusters are added in the order aws, azure, gcp, existing, round robin,
from the prod stack's cluster shapes, each with its own disjoint ranges.
An EKS cluster is skipped (the next cloud takes its turn) once the API
allow-list every EKS cluster carries (operators + CI + every cluster's
egress addresses) would pass EKS's 40 public-access CIDRs: the fleet-size
ceiling the README describes. From about 38 clusters no fleet can hold an
EKS cluster at all.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.helpers import fleet_of

CLOUDS = ("aws", "azure", "gcp", "existing")
#: EKS's public-access CIDR limit (components.network_rules.API_ALLOW_LIST_LIMITS).
EKS_ALLOW_LIST = 40


def _template(cloud: str) -> dict[str, Any]:
    if cloud == "existing":
        return copy.deepcopy(fleet_of("local")["clusters"][0])
    return copy.deepcopy(next(c for c in fleet_of("prod")["clusters"] if c["cloud"] == cloud))


def _cluster(cloud: str, i: int) -> dict[str, Any]:
    c = _template(cloud)
    c["name"] = f"{cloud[:3]}{i:02d}"
    # Each cluster i owns 10.(i).x and 172.(16 + i // 16).(i % 16 * 16).0/20: disjoint, valid for every cloud.
    node, pod, svc = f"10.{i}.0.0/16", f"100.{64 + i}.0.0/16", f"172.{16 + i // 16}.{(i % 16) * 16}.0/20"
    if cloud == "existing":
        address = f"172.31.{i}.2"
        c.update(
            context=f"kind-{c['name']}",
            apiEndpoint=f"https://{address}:6443",
            egressCidrs=[f"{address}/32"],
            network={"nodeCidr": f"{address}/32", "podCidr": pod, "serviceCidr": svc},
        )
    elif cloud == "gcp":
        c["network"] = {
            "nodeCidr": node.replace("/16", "/20"),
            "podCidr": pod,
            "serviceCidr": svc,
            "controlPlaneCidr": f"172.30.{i}.0/28",
        }
    else:
        c["network"] = {"nodeCidr": node, "podCidr": pod, "serviceCidr": svc}
    return c


def mixed_fleet(n: int, mode: str = "sidecar") -> dict[str, Any]:
    """A valid prod-shaped fleet of `n` clusters over every cloud, Istio in `mode`."""
    fleet = fleet_of("prod")
    access = fleet["fleet"].get("apiAccess", {})
    base = len(access.get("operatorCidrs", [])) + len(access.get("ciRunnerCidrs", []))
    zones = len(_template("aws")["zones"])
    # k EKS clusters fit while base + zones*k + (n - k) <= 40.
    eks_room = max(0, (EKS_ALLOW_LIST - base - n) // (zones - 1))
    clouds: list[str] = []
    turn = 0
    while len(clouds) < n:
        cloud = CLOUDS[turn % len(CLOUDS)]
        turn += 1
        if cloud != "aws" or clouds.count("aws") < eks_room:
            clouds.append(cloud)
    fleet["clusters"] = [_cluster(cloud, i) for i, cloud in enumerate(clouds)]
    fleet["mesh"]["mode"] = mode
    return fleet
