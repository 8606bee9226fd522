"""Versions: each cloud's Kubernetes version format, add-ons that must match it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    ExistingCluster,
    FleetSpec,
)

_VERSION_RULES: dict[str, tuple[str, str]] = {
    "aws": (r"\d+\.\d+", "EKS takes major.minor, e.g. 1.33"),
    "azure": (r"\d+\.\d+(\.\d+)?", "AKS takes major.minor or major.minor.patch, e.g. 1.33 or 1.33.2"),
    "gcp": (r"\d+\.\d+(\.\d+-gke\.\d+)?", "GKE takes major.minor or a full GKE version, e.g. 1.33 or 1.33.4-gke.1200"),
}


def _rule_kubernetes_versions(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            continue
        pattern, hint = _VERSION_RULES[c.cloud]
        if not re.fullmatch(pattern, c.kubernetes_version):
            yield Problem(
                path=f"clusters[{i}].kubernetesVersion",
                message=f"{c.kubernetes_version!r} is not a valid {c.cloud} version format: {hint}",
                fix=f"write the version as {hint.split(', e.g. ')[-1]}",
            )


def _rule_eks_autoscaler_image(spec: FleetSpec) -> Iterable[Problem]:
    eks = spec.addons.eks
    if eks is None:
        return
    for i, c in enumerate(spec.clusters):
        if isinstance(c, AwsCluster) and not eks.cluster_autoscaler_image.startswith(f"v{c.kubernetes_version}."):
            yield Problem(
                path="addons.eks.clusterAutoscalerImage",
                message=f"{eks.cluster_autoscaler_image} does not match Kubernetes {c.kubernetes_version} of "
                f"clusters[{i}] ({c.name}); the autoscaler must match the cluster's minor version",
                fix=f"pin a v{c.kubernetes_version}.x Cluster Autoscaler release (and keep EKS clusters on one minor)",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_kubernetes_versions,
    _rule_eks_autoscaler_image,
)
