"""Generated fleets for the benchmarks: mixed clouds plus existing clusters.

Clusters are added in the order aws, azure, gcp, existing, round robin,
from the prod stack's cluster shapes, each with its own disjoint ranges.
An EKS cluster is skipped (the next cloud takes its turn) once the API
allow-list every EKS cluster carries (operators + CI + every cluster's
egress addresses) would pass EKS's 40 public-access CIDRs: the fleet-size
ceiling the README describes. From about 38 clusters no fleet can hold an
EKS cluster at all.

Each fleet runs one of the installed meshes (MESHES): Istio in sidecar or
ambient mode (the project default), Linkerd, or Consul with its built-in
Connect CA. Linkerd's and Consul's mesh blocks come from the example stacks
(examples/Pulumi.linkerd.yaml, examples/Pulumi.consul.yaml), where their
chart versions are pinned, minus what names the example's own clusters
(`datacenters`) or sizes it for dev (`serverReplicas`: a prod fleet takes
its environment's default, 3 servers).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import ROOT, fleet_of

CLOUDS = ("aws", "azure", "gcp", "existing")
#: The meshes a fleet can run: Istio's two modes, then the other installed meshes.
MESHES = ("sidecar", "ambient", "linkerd", "consul")
ISTIO_MODES = ("sidecar", "ambient")
EXAMPLES = ROOT / "examples"
#: Keys of an example's mesh block that belong to the example's own fleet, not to the mesh.
_EXAMPLE_ONLY = ("meshId", "datacenters", "serverReplicas")
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


def example_mesh(kind: str) -> dict[str, Any]:
    """The mesh block of examples/Pulumi.<kind>.yaml, without what names or sizes the example's fleet."""
    doc = yaml.safe_load(Path(EXAMPLES / f"Pulumi.{kind}.yaml").read_text())
    mesh: dict[str, Any] = doc["config"]["meshfleet:fleet"]["mesh"]
    if mesh.get("kind") != kind:
        raise ValueError(f"examples/Pulumi.{kind}.yaml: mesh.kind is {mesh.get('kind')!r}, expected {kind!r}")
    return {k: v for k, v in mesh.items() if k not in _EXAMPLE_ONLY}


def mixed_fleet(n: int, mesh: str = "sidecar") -> dict[str, Any]:
    """A valid prod-shaped fleet of `n` clusters over every cloud running `mesh` (one of MESHES)."""
    if mesh not in MESHES:
        raise ValueError(f"unknown benchmark mesh {mesh!r}: expected one of {', '.join(MESHES)}")
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
    if mesh in ISTIO_MODES:
        fleet["mesh"]["mode"] = mesh
    else:
        fleet["mesh"] = {"meshId": fleet["mesh"]["meshId"], **example_mesh(mesh)}
    if mesh == "consul":
        fleet["mesh"]["ca"] = "consul"  # the built-in Connect CA, whatever the example chooses
    return fleet
