"""Versions: each cloud's Kubernetes version format and support window, add-ons that must match it.

Support windows come from components/config/data/<cloud>.yaml through
cloudfacts.support_verdict, judged on `support_today()` (the real date: a
cloud refuses a version on the day you deploy). A version that fails its
format or support check is reported once: the add-ons that follow it are
not checked against it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import TypeVar

from components.config.cloudfacts import support_verdict, supported_minors
from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
    AzureCluster,
    EksAddons,
    ExistingCluster,
    FleetSpec,
    GcpCluster,
    pin_minor,
)
from components.config.offline import support_today

SERVICE = {"aws": "EKS", "azure": "AKS", "gcp": "GKE"}

_Managed = TypeVar("_Managed", AwsCluster, AzureCluster, GcpCluster)

_VERSION_RULES: dict[str, tuple[str, str]] = {
    "aws": (r"\d+\.\d+", "EKS takes major.minor, e.g. 1.33"),
    "azure": (r"\d+\.\d+(\.\d+)?", "AKS takes major.minor or major.minor.patch, e.g. 1.33 or 1.33.2"),
    "gcp": (r"\d+\.\d+(\.\d+-gke\.\d+)?", "GKE takes major.minor or a full GKE version, e.g. 1.33 or 1.33.4-gke.1200"),
}


def version_problem(index: int, cluster: AwsCluster | AzureCluster | GcpCluster, today: date) -> Problem | None:
    """What is wrong with a managed cluster's kubernetesVersion on `today` (None: nothing)."""
    path = f"clusters[{index}].kubernetesVersion"
    pattern, hint = _VERSION_RULES[cluster.cloud]
    if not re.fullmatch(pattern, cluster.kubernetes_version):
        return Problem(
            path=path,
            message=f"{cluster.kubernetes_version!r} is not a valid {cluster.cloud} version format: {hint}",
            fix=f"write the version as {hint.split(', e.g. ')[-1]}",
        )
    service = SERVICE[cluster.cloud]
    extended_channel = isinstance(cluster, GcpCluster) and cluster.release_channel == "EXTENDED"
    verdict = support_verdict(cluster.cloud, cluster.kubernetes_version, today)
    usable = verdict.supported or (verdict.status == "extended" and extended_channel)
    if usable:
        return None
    choices = supported_minors(cluster.cloud, today, extended=cluster.cloud == "aws" or extended_channel)
    use = f"use one of {', '.join(choices)}" if choices else f"refresh components/config/data/{cluster.cloud}.yaml"
    minor, window = verdict.minor, verdict.window
    if verdict.status == "unknown":
        return Problem(
            path=path,
            message=f"Kubernetes {minor} is not in the {service} release calendar (as of {verdict.as_of}): "
            "not released yet, or released since",
            fix=f"{use}; if {service} has released {minor} since, refresh components/config/data/{cluster.cloud}.yaml "
            "(README, Refreshing cloud facts)",
        )
    if window is None:  # older than every minor the calendar lists
        return Problem(
            path=path,
            message=f"Kubernetes {minor} is older than every version {service} supports "
            f"(calendar as of {verdict.as_of}): {service} refuses clusters on it",
            fix=use,
        )
    if verdict.status == "not-yet-available":
        return Problem(
            path=path,
            message=f"Kubernetes {minor} is not available on {service} before {window.available} (today is {today})",
            fix=use,
        )
    if verdict.status == "extended" and isinstance(cluster, GcpCluster):
        return Problem(
            path=path,
            message=f"GKE standard support for Kubernetes {minor} ended on {window.standard_end}; only the "
            f"Extended channel still offers it (until {window.extended_end}), and this cluster has "
            f"releaseChannel: {cluster.release_channel}",
            fix=f"{use}, or set releaseChannel: EXTENDED",
        )
    if verdict.status == "extended":
        return Problem(
            path=path,
            message=f"{service} standard support for Kubernetes {minor} ended on {window.standard_end}; "
            f"what remains is {verdict.extended}",
            fix=use,
        )
    end = window.extended_end if window.extended_end and cluster.cloud != "azure" else window.standard_end
    return Problem(
        path=path,
        message=f"{service} support for Kubernetes {minor} ended on {end}: {service} refuses clusters on it",
        fix=use,
    )


def _rule_kubernetes_versions(spec: FleetSpec) -> Iterable[Problem]:
    today = support_today()
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            continue
        problem = version_problem(i, c, today)
        if problem is not None:
            yield problem


def _with_valid_version(spec: FleetSpec, kind: type[_Managed]) -> Iterator[tuple[int, _Managed]]:
    """The clusters of `kind` whose kubernetesVersion is valid (a wrong one is reported once, by the rule above)."""
    today = support_today()
    for i, c in enumerate(spec.clusters):
        if isinstance(c, kind) and version_problem(i, c, today) is None:
            yield i, c


def _rule_eks_minor_pins(spec: FleetSpec) -> Iterable[Problem]:
    """Pins released per Kubernetes minor match every EKS cluster's minor.

    The Cluster Autoscaler is released per minor (and the chart's default
    image follows the newest). EKS lists kube-proxy add-on builds per minor
    (`aws eks describe-addon-versions --kubernetes-version`) and refuses a
    build of another one, so a bump of one without the other fails
    mid-deploy, after the control plane has moved. A cluster on another
    minor than `addons.eks`'s own takes that minor's pins from
    `addons.eks.otherMinors`: how a minor upgrade moves one cluster per `up`.
    """
    eks = spec.addons.eks
    if eks is None:
        return
    yield from _other_minor_problems(spec, eks)
    listed = {pins.minor for pins in eks.other_minors}
    for i, c in _with_valid_version(spec, AwsCluster):
        minor = c.kubernetes_version
        if minor in listed:
            continue  # its own pins, checked above
        staged = (
            f", or list the {minor} pins in addons.eks.otherMinors while EKS clusters move to another minor "
            "one at a time"
        )
        if not eks.cluster_autoscaler_image.startswith(f"v{minor}."):
            yield Problem(
                path="addons.eks.clusterAutoscalerImage",
                message=f"{eks.cluster_autoscaler_image} does not match Kubernetes {minor} of "
                f"clusters[{i}] ({c.name}); the autoscaler must match the cluster's minor version",
                fix=f"pin a v{minor}.x Cluster Autoscaler release{staged}",
            )
        if not eks.kube_proxy.startswith(f"v{minor}."):
            yield Problem(
                path="addons.eks.kubeProxy",
                message=f"{eks.kube_proxy} does not match Kubernetes {minor} of clusters[{i}] "
                f"({c.name}); EKS offers kube-proxy builds of the cluster's own minor only",
                fix=f"pin a v{minor}.x-eksbuild.N kube-proxy (aws eks describe-addon-versions "
                f"--addon-name kube-proxy --kubernetes-version {minor}), in the same change as "
                f"kubernetesVersion{staged}",
            )


def _other_minor_problems(spec: FleetSpec, eks: EksAddons) -> Iterator[Problem]:
    """Each `otherMinors` entry: one minor for both pins, a minor of its own, run by some EKS cluster."""
    fleet_minor = pin_minor(eks.kube_proxy)
    running = {c.kubernetes_version for _, c in _with_valid_version(spec, AwsCluster)}
    seen: dict[str, int] = {}
    for j, pins in enumerate(eks.other_minors):
        path = f"addons.eks.otherMinors[{j}]"
        minor, autoscaler_minor = pins.minor, pin_minor(pins.cluster_autoscaler_image)
        if not minor:
            yield Problem(
                path=f"{path}.kubeProxy",
                message=f"{pins.kube_proxy} names no Kubernetes minor",
                fix="write the kube-proxy add-on version as vMAJOR.MINOR.PATCH-eksbuild.N, e.g. v1.34.1-eksbuild.2",
            )
            continue
        if autoscaler_minor != minor:
            yield Problem(
                path=f"{path}.clusterAutoscalerImage",
                message=f"{pins.cluster_autoscaler_image} is not a Kubernetes {minor} release, the minor of "
                f"kubeProxy {pins.kube_proxy} beside it",
                fix=f"pin a v{minor}.x Cluster Autoscaler release here",
            )
        if minor == fleet_minor:
            yield Problem(
                path=path,
                message=f"pins Kubernetes {minor}, the minor addons.eks.kubeProxy already pins",
                fix="remove this entry (clusters on that minor take addons.eks's own pins)",
            )
        elif minor in seen:
            yield Problem(
                path=path,
                message=f"pins Kubernetes {minor} again (addons.eks.otherMinors[{seen[minor]}] pins it)",
                fix="keep one entry per minor",
            )
        elif minor not in running:
            on = ", ".join(sorted(running, key=_minor_key)) or "none"
            yield Problem(
                path=path,
                message=f"pins Kubernetes {minor}, which no EKS cluster runs (EKS clusters run: {on})",
                fix="remove it once the last cluster has left that minor; list only the minors clusters run",
            )
        seen.setdefault(minor, j)


def _minor_key(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split("."))


def _rule_aks_patch_channel(spec: FleetSpec) -> Iterable[Problem]:
    # The `patch` channel moves a cluster to each new patch of its minor; a
    # config that names a patch then disagrees with the cluster after the
    # first auto-upgrade: a permanent diff on every refresh, and each `up`
    # asks ARM for the older patch again (Azure/terraform-azurerm-aks refuses
    # the combination for the same reason).
    for i, c in _with_valid_version(spec, AzureCluster):
        if c.upgrade_channel != "patch" or c.kubernetes_version.count(".") < 2:
            continue
        minor = c.kubernetes_version.rsplit(".", 1)[0]
        yield Problem(
            path=f"clusters[{i}].kubernetesVersion",
            message=f"{c.kubernetes_version} pins a patch, but upgradeChannel 'patch' moves {c.name} to every new "
            f"{minor} patch: after the first one the config and the cluster disagree, and each up asks for the old "
            "patch again",
            fix=f"write {minor} (AKS starts at its newest patch and the channel keeps it current), or set "
            "upgradeChannel: none to pin the patch",
        )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_kubernetes_versions,
    _rule_eks_minor_pins,
    _rule_aks_patch_channel,
)
