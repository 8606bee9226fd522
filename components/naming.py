"""Every name meshfleet derives, in one place.

Cloud resources, Kubernetes objects and mesh identifiers that more than one
component (or more than one cluster) must agree on are derived here and
nowhere else: a remote secret created in cluster A and the Istio network
label set in cluster B only line up because both ask this module.

Names are deterministic functions of the validated config, never random:
the same stack config always yields the same names, so plans are
byte-identical and renames are visible in review.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: Kubernetes object names and most cloud child names are RFC 1123 labels.
MAX_LABEL = 63

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(value: str) -> bool:
    """True when `value` is a valid RFC 1123 label (lowercase, ≤ 63 chars)."""
    return len(value) <= MAX_LABEL and bool(_DNS_LABEL.match(value))


def revision_of(version: str) -> str:
    """Istio revision name for a mesh version: `1.30.3` -> `1-30-3`.

    Revisions must be DNS labels (they end up in webhook and Service names),
    so dots become dashes, exactly as Istio's own docs name revisions.
    """
    return version.replace(".", "-")


@dataclass(frozen=True)
class ClusterNames:
    """Names derived for one cluster of a fleet."""

    #: The cluster's name in the stack config; prefix of every Pulumi child name.
    cluster: str
    #: The name the cloud gives the cluster (EKS/AKS/GKE): fleet-qualified so
    #: two stacks in one account never collide.
    physical: str
    #: The mesh network this cluster's workloads live in. Each cluster is its
    #: own network: clouds do not route pod IPs to each other.
    mesh_network: str
    #: Identity of the cluster in the mesh (`global.multiCluster.clusterName`,
    #: remote-secret data key, Linkerd link target).
    mesh_cluster: str

    def child(self, *parts: str) -> str:
        """Pulumi child name `<cluster>-<part>-...` for a resource of this cluster."""
        return "-".join((self.cluster, *parts))

    @property
    def k8s_provider(self) -> str:
        """Pulumi name of the cluster's Kubernetes provider (the offline plan maps it back)."""
        return self.child("k8s")

    @property
    def cluster_identifier(self) -> str:
        """Stable identity of the cluster for its Kubernetes provider.

        Set as the provider's `cluster_identifier`, so a changed kubeconfig
        (token, exec arguments, deployer role) updates the provider instead of
        replacing it, which would re-create every object in the cluster.
        """
        return f"meshfleet/{self.physical}"

    def derived(self, cloud: str) -> list[tuple[str, str, int]]:
        """(role, name, limit) of every name this cluster sends to a cloud or to Kubernetes.

        Validation checks each against its limit, so a long cluster or fleet
        name is rejected before any resource exists rather than by a cloud
        API half-way through `pulumi up`.
        """
        names = [
            # Kubernetes label values (topology.istio.io/network) and Secret names.
            ("mesh network", self.mesh_network, MAX_LABEL),
            ("remote secret name", remote_secret_name(self.mesh_cluster), MAX_LABEL),
            ("reader token secret name", reader_token_name(self.mesh_cluster), MAX_LABEL),
        ]
        if cloud == "aws":
            names += [
                ("EKS cluster name", self.physical, 100),
                # IAM role names are account-wide, at most 64 characters.
                ("longest EKS IAM role name", f"{self.physical}-lb-controller", 64),
            ]
        elif cloud == "azure":
            names += [
                ("AKS cluster name", self.physical, MAX_LABEL),
                ("AKS DNS prefix", self.physical, 54),
                ("Log Analytics workspace name", f"log-{self.physical}", MAX_LABEL),
                ("AKS node resource group", f"rg-{self.physical}-nodes", 80),
            ]
        elif cloud == "gcp":
            # Compute resource names are RFC 1035 labels (GKE's own 40-character
            # cluster limit is a separate rule).
            names.append(("longest GCP resource name", f"{self.physical}-cp-webhooks", MAX_LABEL))
        return names


@dataclass(frozen=True)
class PairNames:
    """Names for the credentials that let cluster `source` read cluster `target`."""

    source: str
    target: str
    #: Secret in `source` holding a kubeconfig for `target` (istioctl's naming).
    remote_secret: str
    #: Long-lived token secret in `target`, one per reading peer so one peer's
    #: access can be revoked alone.
    reader_token: str
    #: Pulumi child-name stem for the pair's resources.
    stem: str


def cluster_names(fleet_name: str, cluster: str) -> ClusterNames:
    """The one function that derives a cluster's names."""
    return ClusterNames(
        cluster=cluster,
        physical=f"{fleet_name}-{cluster}",
        mesh_network=f"{cluster}-network",
        mesh_cluster=cluster,
    )


def remote_secret_name(target_cluster: str) -> str:
    """Name of the secret that lets a cluster read `target_cluster` (as istioctl names it)."""
    return f"istio-remote-secret-{target_cluster}"


def reader_token_name(source_cluster: str) -> str:
    """Name of the reader token secret created for peer `source_cluster`."""
    return f"istio-reader-token-{source_cluster}"


def pair_names(source: str, target: str) -> PairNames:
    """Names for the ordered pair (source reads target)."""
    return PairNames(
        source=source,
        target=target,
        remote_secret=remote_secret_name(target),
        reader_token=reader_token_name(source),
        stem=f"{source}-reads-{target}",
    )


# --------------------------------------------------------------------------
# Shared policies: one object name per (rule, part), identical in every cluster.


def policy_object_name(rule: str, *parts: str | int) -> str:
    """Name of an object compiled from policy rule `rule` (`<rule>-<part>-...`).

    The same in every cluster, so an operator finds a rule's objects by name
    anywhere. Longer than a DNS label, the tail becomes a short hash of the
    whole name, so two long names never collide.
    """
    name = "-".join((rule, *(str(p) for p in parts)))
    if len(name) <= MAX_LABEL:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_LABEL - 9].rstrip('-')}-{digest}"
