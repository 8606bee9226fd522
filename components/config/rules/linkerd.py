"""Linkerd: chart versions, Kubernetes versions, trust algorithms, export modes and pod routability.

Only for `mesh.kind: linkerd`; every rule returns nothing for another kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import AzureCluster, ExistingCluster, FleetSpec, LinkerdMeshSpec
from components.naming import linkerd_names

#: Linkerd 2.20 charts declare `kubeVersion: >=1.31.0-0`: Helm refuses older clusters.
MIN_KUBERNETES = (1, 31)
#: Edge chart versions are `YYYY.M.N` (edge-26.6.3 is chart 2026.6.3).
EDGE_CHART = re.compile(r"20\d\d\.(1[0-2]|[1-9])\.\d+")
#: Modes that route pod to pod (the client's own identity reaches the server).
POD_TO_POD_MODES = ("remote-discovery", "federated")


def _mesh(spec: FleetSpec) -> LinkerdMeshSpec | None:
    return spec.mesh if isinstance(spec.mesh, LinkerdMeshSpec) else None


def _rule_chart_versions(spec: FleetSpec) -> Iterable[Problem]:
    mesh = _mesh(spec)
    if mesh is None:
        return
    pinned = {
        "mesh.version": mesh.version,
        "mesh.charts.linkerdCrds": mesh.charts.linkerd_crds,
        "mesh.charts.linkerdControlPlane": mesh.charts.linkerd_control_plane,
        "mesh.charts.linkerdMulticluster": mesh.charts.linkerd_multicluster,
    }
    for path, version in pinned.items():
        if version is not None and not EDGE_CHART.fullmatch(version):
            yield Problem(
                path=path,
                message=f"{version!r} is not a Linkerd edge chart version (YYYY.M.N; stable OSS charts stopped "
                "in 2024, and `edge-26.6.3` is the release name, not the chart version)",
                fix="pin the chart version, e.g. 2026.6.3 (Linkerd 2.20)",
            )


def _kubernetes_minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _rule_kubernetes_versions(spec: FleetSpec) -> Iterable[Problem]:
    if _mesh(spec) is None:
        return
    for i, c in enumerate(spec.clusters):
        # Existing clusters declare no version; Helm checks theirs at install.
        if isinstance(c, ExistingCluster):
            continue
        minor = _kubernetes_minor(c.kubernetes_version)
        if minor is not None and minor < MIN_KUBERNETES:
            yield Problem(
                path=f"clusters[{i}].kubernetesVersion",
                message=f"{c.kubernetes_version} is older than Kubernetes "
                f"{MIN_KUBERNETES[0]}.{MIN_KUBERNETES[1]}, the oldest the Linkerd 2.20 charts install on",
                fix=f"upgrade {c.name} to {MIN_KUBERNETES[0]}.{MIN_KUBERNETES[1]} or newer before switching to Linkerd",
            )


def _rule_trust_algorithms(spec: FleetSpec) -> Iterable[Problem]:
    """Issuer and trust anchors ECDSA P-256.

    Each cluster's intermediate is its Linkerd identity issuer and takes its
    signing root's algorithm (components/trust.py), so the signing root must
    be P-256. Other roots are only anchors (rotation phase 1 or 3), but
    `linkerd check` fails (fatally) on any anchor that is not ECDSA P-256 or
    RSA 2048/4096 (linkerd2 pkg/issuercerts CheckTrustAnchorAlgoRequirements),
    and meshfleet's only RSA size is 3072.
    """
    if _mesh(spec) is None:
        return
    trust = spec.trust
    signing = next((r for r in trust.roots if r.name == trust.signing_root_name), None)
    if signing is not None and signing.algorithm != "ECDSA-P256":
        yield Problem(
            path="trust.roots",
            message=f"Linkerd requires ECDSA P-256 identity issuers: root {signing.name!r} signs every cluster's "
            f"intermediate (the issuer, which takes its root's algorithm) and is {signing.algorithm}",
            fix=f"set the signing root's algorithm: ECDSA-P256 (rotate to a new ECDSA-P256 root if {signing.name!r} "
            "is deployed)",
        )
    for i, root in enumerate(trust.roots):
        if root is not signing and root.algorithm != "ECDSA-P256":
            yield Problem(
                path=f"trust.roots[{i}].algorithm",
                message=f"{root.algorithm} is not a trust anchor `linkerd check` accepts: it fails on every "
                "anchor that is not ECDSA P-256 or RSA 2048/4096; allowed value: ECDSA-P256",
                fix=f"use algorithm: ECDSA-P256 (to move a fleet whose roots are {root.algorithm} to Linkerd, rotate "
                "to an ECDSA-P256 root first and drop the old one)",
            )


def _rule_clusters(spec: FleetSpec) -> Iterable[Problem]:
    mesh = _mesh(spec)
    if mesh is None:
        return
    names = [c.name for c in spec.clusters]
    for name, own in mesh.clusters.items():
        if name not in names:
            yield Problem(
                path=f"mesh.clusters.{name}",
                message=f"{name!r} is not a cluster of the fleet; allowed values: {', '.join(names)}",
                fix="key mesh.clusters by the names in clusters[]",
            )
            continue
        for peer in own.pod_network_routable_to:
            if peer not in names or peer == name:
                yield Problem(
                    path=f"mesh.clusters.{name}.podNetworkRoutableTo",
                    message=f"{peer!r} is not another cluster of the fleet; allowed values: "
                    f"{', '.join(n for n in names if n != name)}",
                    fix="list the peers whose pods reach this cluster's pod IPs",
                )
        cluster = spec.cluster(name)
        if isinstance(cluster, AzureCluster) and own.pod_network_routable_to:
            yield Problem(
                path=f"mesh.clusters.{name}.podNetworkRoutableTo",
                message="AKS clusters run Azure CNI overlay: their pod IPs are not routable off the cluster",
                fix="remove podNetworkRoutableTo and use the gateway export mode",
            )
    for i, c in enumerate(spec.clusters):
        for role, value, limit in linkerd_names(c.name):
            if len(value) > limit:
                yield Problem(
                    path=f"clusters[{i}].name",
                    message=f"{role} {value!r} is {len(value)} characters; the limit is {limit}",
                    fix="shorten the cluster name",
                )


def _rule_export_modes(spec: FleetSpec) -> Iterable[Problem]:
    """remote-discovery and federated route pod to pod: every peer must be routable both ways."""
    mesh = _mesh(spec)
    if mesh is None:
        return
    names = [c.name for c in spec.clusters]
    for name in names:
        modes = mesh.export_modes_of(name)
        path = f"mesh.clusters.{name}.exportModes" if name in mesh.clusters else "mesh.exportModes"
        if len(set(modes)) != len(modes):
            yield Problem(path=path, message=f"{modes} repeats a mode", fix="list each export mode once")
        if not modes:
            yield Problem(
                path=path,
                message="no export mode: peers could mirror nothing from this cluster",
                fix="list at least one of gateway, remote-discovery, federated",
            )
        pod_to_pod = [m for m in modes if m in POD_TO_POD_MODES]
        if not pod_to_pod:
            continue
        unroutable = [peer for peer in names if peer != name and not mesh.routable(name, peer)]
        if unroutable:
            yield Problem(
                path=path,
                message=f"{name} exports {', '.join(pod_to_pod)}, which sends peers' traffic straight to its pod "
                f"IPs, but the pod networks of {name} and {', '.join(unroutable)} are not declared routable to each "
                "other (pod IPs are never routable across clouds without an interconnect, nor on AKS CNI overlay)",
                fix=f"use exportModes: [gateway] for {name}, or declare the interconnect on both clusters: "
                f"mesh.clusters.{name}.podNetworkRoutableTo and mesh.clusters.<peer>.podNetworkRoutableTo",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_chart_versions,
    _rule_kubernetes_versions,
    _rule_trust_algorithms,
    _rule_clusters,
    _rule_export_modes,
)
