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
from collections.abc import Mapping
from dataclasses import dataclass

#: Kubernetes object names and most cloud child names are RFC 1123 labels.
MAX_LABEL = 63

#: RFC 5280 upper bound of a certificate subject's common name (the offline
#: simulator's x509 library enforces it; conforming CAs must too).
MAX_COMMON_NAME = 64

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(value: str) -> bool:
    """True when `value` is a valid RFC 1123 label (lowercase, ≤ 63 chars)."""
    return len(value) <= MAX_LABEL and bool(_DNS_LABEL.match(value))


#: Most Kubernetes object names (RFC 1123 subdomain).
MAX_SUBDOMAIN = 253


def is_dns_subdomain(value: str) -> bool:
    """True when `value` is a valid RFC 1123 subdomain (lowercase, ≤ 253 chars): most object names."""
    return len(value) <= MAX_SUBDOMAIN and bool(_DNS_SUBDOMAIN.match(value))


#: A Kubernetes label value (may be empty) and a label key's name part.
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def key_problems(key: str, what: str = "label") -> list[str]:
    """What the Kubernetes API would reject in a label or annotation key (`[prefix/]name`; empty when valid)."""
    problems = []
    prefix, _, name = key.rpartition("/")
    if not (_LABEL_NAME.match(name) and len(name) <= MAX_LABEL):
        problems.append(
            f"{what} key {key!r}: the name part {name!r} has {len(name)} characters; Kubernetes allows 1-{MAX_LABEL} "
            "letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        )
    if "/" in key and not is_dns_subdomain(prefix):
        problems.append(
            f"{what} key {key!r}: the prefix {prefix!r} is not a DNS subdomain of at most {MAX_SUBDOMAIN} characters"
        )
    return problems


def label_problems(key: str, value: str) -> list[str]:
    """What the Kubernetes API would reject in the label `key: value` (empty when valid).

    Node labels from config reach every cloud's node pool API and then the
    Node objects; a 64-character value fails there, half-way through `pulumi up`.
    """
    problems = key_problems(key, "label")
    if not (_LABEL_VALUE.match(value) and len(value) <= MAX_LABEL):
        problems.append(
            f"label value {value!r} has {len(value)} characters; Kubernetes allows 0-{MAX_LABEL} "
            "letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        )
    return problems


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


def root_common_name(fleet_name: str, root_name: str) -> str:
    """Subject common name of a generated root CA."""
    return f"{fleet_name} root {root_name}"


def intermediate_common_name(cluster: str) -> str:
    """Subject common name of a cluster's intermediate CA."""
    return f"{cluster} intermediate CA"


def remote_secret_name(target_cluster: str) -> str:
    """Name of the secret that lets a cluster read `target_cluster` (as istioctl names it)."""
    return f"istio-remote-secret-{target_cluster}"


def reader_token_name(source_cluster: str, generation: int = 1) -> str:
    """Name of the reader token secret created for peer `source_cluster`.

    Generation 1 keeps the original name (no replacement on upgrade); each
    later generation (`mesh.peerCredentialGeneration`) is a new name, which
    is what makes a rotation create the new token before deleting the old.
    """
    suffix = "" if generation == 1 else f"-g{generation}"
    return f"istio-reader-token-{source_cluster}{suffix}"


def pair_names(source: str, target: str, generation: int = 1) -> PairNames:
    """Names for the ordered pair (source reads target)."""
    return PairNames(
        source=source,
        target=target,
        remote_secret=remote_secret_name(target),
        reader_token=reader_token_name(source, generation),
        stem=f"{source}-reads-{target}",
    )


# --------------------------------------------------------------------------
# Linkerd multicluster: one Link per ordered pair (A mirrors B's services).


@dataclass(frozen=True)
class LinkerdPairNames:
    """Names for the link that lets cluster `source` mirror cluster `target`'s services."""

    source: str
    target: str
    #: The `Link` in `source` (`linkerd multicluster link-gen --cluster-name <target>`), also the
    #: `controllers[].link.ref.name` of source's multicluster release and the mirror suffix.
    link: str
    #: Secret in `source` (in both `linkerd-multicluster` and `linkerd`) with a kubeconfig for `target`.
    credentials_secret: str
    #: Service account in `target` (`remoteMirrorServiceAccountName` entry) that `source` reads as.
    remote_access_account: str
    #: Its long-lived token Secret in `target`, created by Pulumi (not the chart's `<account>-token`).
    remote_access_token: str
    #: Pulumi child-name stem for the pair's resources.
    stem: str


def linkerd_link_name(target_cluster: str) -> str:
    """Name of the Link to `target_cluster` (link-gen names it after the target)."""
    return target_cluster


def linkerd_credentials_secret_name(target_cluster: str) -> str:
    """Secret holding the kubeconfig for `target_cluster` (link-gen's `cluster-credentials-<target>`)."""
    return f"cluster-credentials-{target_cluster}"


def linkerd_remote_access_account(source_cluster: str) -> str:
    """Service account a peer `source_cluster` mirrors through, one per reading peer."""
    return f"linkerd-remote-access-{source_cluster}"


def linkerd_remote_access_token(source_cluster: str) -> str:
    """Token Secret of that account. The chart renders `<account>-token` itself: this name differs."""
    return f"linkerd-remote-access-token-{source_cluster}"


def linkerd_pair_names(source: str, target: str) -> LinkerdPairNames:
    """Names for the ordered pair (source links to target)."""
    return LinkerdPairNames(
        source=source,
        target=target,
        link=linkerd_link_name(target),
        credentials_secret=linkerd_credentials_secret_name(target),
        remote_access_account=linkerd_remote_access_account(source),
        remote_access_token=linkerd_remote_access_token(source),
        stem=f"{source}-links-{target}",
    )


def linkerd_names(cluster: str) -> list[tuple[str, str, int]]:
    """(role, name, limit) of the Linkerd names a cluster gives its peers' objects (validated per cluster)."""
    return [
        ("Linkerd credentials secret name", linkerd_credentials_secret_name(cluster), MAX_LABEL),
        ("Linkerd remote-access account name", linkerd_remote_access_account(cluster), MAX_LABEL),
        ("Linkerd remote-access token name", linkerd_remote_access_token(cluster), MAX_LABEL),
        # The chart's probe Service for a link, `probe-<link>`: Service names are DNS labels.
        ("Linkerd probe service name", f"probe-{linkerd_link_name(cluster)}", MAX_LABEL),
    ]


# --------------------------------------------------------------------------
# Consul: one datacenter per cluster, one peering per unordered pair.


def consul_datacenter(cluster: str, overrides: Mapping[str, str] | None = None) -> str:
    """The Consul datacenter of `cluster`: its `mesh.datacenters` entry, else the cluster name.

    A datacenter name is a DNS label: Consul puts it in DNS names
    (`<service>.service.<dc>.consul`) and in the servers' TLS SANs
    (`server.<dc>.consul`), where an underscore is not allowed.
    """
    return (overrides or {}).get(cluster, cluster)


def consul_peer_name(datacenter: str) -> str:
    """Name a datacenter has as a peer of the others.

    The same name is the `PeeringAcceptor`/`PeeringDialer` object name (which
    is the peering's name in Consul) and the `peer` that `ExportedServices`
    consumers and `ServiceIntentions` sources name.
    """
    return datacenter


def consul_acceptor(a: str, b: str) -> str:
    """Of the unordered pair {a, b} of cluster names, the one that accepts the peering.

    Decided by the pair alone (a hash of the two names in sorted order), never
    by a cluster's position in the fleet: adding or removing a cluster never
    flips an existing pair, which would tear the peering down and re-create it.
    The hash, unlike "the alphabetically first", spreads acceptors over the
    fleet instead of making one cluster accept every peering.
    """
    if a == b:
        raise ValueError(f"a cluster does not peer with itself: {a!r}")
    low, high = sorted((a, b))
    digest = hashlib.sha256(f"consul-peering\0{low}\0{high}".encode()).digest()
    return low if digest[0] % 2 == 0 else high


#: Data key of the peering token in both secrets (acceptor's and dialer's copy).
CONSUL_PEERING_TOKEN_KEY = "data"


@dataclass(frozen=True)
class ConsulPairNames:
    """Names of one peering between the acceptor cluster and the dialer cluster."""

    acceptor: str
    dialer: str
    #: `PeeringAcceptor` name in the acceptor's cluster: the dialer's peer name.
    acceptor_object: str
    #: `PeeringDialer` name in the dialer's cluster: the acceptor's peer name.
    dialer_object: str
    #: Secret the consul-k8s controller writes the token into, in the acceptor's cluster.
    acceptor_secret: str
    #: Pulumi's copy of the token in the dialer's cluster.
    dialer_secret: str
    #: Data key of the token in both secrets.
    secret_key: str
    #: Pulumi child-name stem for the pair's resources.
    stem: str


def consul_peering_secret_name(peer: str) -> str:
    """Secret holding the peering token exchanged with `peer` (in either cluster)."""
    return f"consul-peering-token-{peer}"


def consul_pair_names(a: str, b: str, datacenters: Mapping[str, str] | None = None) -> ConsulPairNames:
    """Names of the peering between clusters `a` and `b` (either order: the acceptor is chosen here)."""
    acceptor = consul_acceptor(a, b)
    dialer = b if acceptor == a else a
    acceptor_peer = consul_peer_name(consul_datacenter(acceptor, datacenters))
    dialer_peer = consul_peer_name(consul_datacenter(dialer, datacenters))
    return ConsulPairNames(
        acceptor=acceptor,
        dialer=dialer,
        acceptor_object=dialer_peer,
        dialer_object=acceptor_peer,
        acceptor_secret=consul_peering_secret_name(dialer_peer),
        dialer_secret=consul_peering_secret_name(acceptor_peer),
        secret_key=CONSUL_PEERING_TOKEN_KEY,
        stem=f"{acceptor}-peers-{dialer}",
    )


def consul_vault_names(prefix: str, datacenter: str) -> dict[str, str]:
    """Paths and names in Vault for one datacenter (Vault mode), all under `<prefix>-<dc>`.

    One Kubernetes auth method per cluster (each is logged into with that
    cluster's service-account tokens and checks them with its TokenReview
    API); one PKI mount per CA: the Connect root path (holding the
    intermediate Pulumi signs with the fleet root), the Connect intermediate
    path Consul manages, and the agents' TLS CA.
    """
    base = f"{prefix}-{datacenter}"
    return {
        "auth_path": f"kubernetes-{base}",
        "kv_mount": f"{base}-kv",
        "connect_root": f"{base}-connect-root",
        "connect_inter": f"{base}-connect-inter",
        "tls_pki": f"{base}-tls",
        "server_pki_role": "consul-server",
        "connect_inject_pki_role": "connect-injector",
        "gossip_secret": "gossip",
        "bootstrap_secret": "bootstrap-token",
    }


def pair_stems(a: str, b: str) -> tuple[str, ...]:
    """The child-name stems of every mesh's pairwise resources between `a` and `b`.

    Tools that attribute a resource to clusters by its name (the guardrails'
    provider rule, the deploy-graph checks) read them here, so a new mesh's
    pair names are known everywhere at once.
    """
    return (pair_names(a, b).stem, linkerd_pair_names(a, b).stem, consul_pair_names(a, b).stem)


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


#: What the AWS provider appends to an EKS node group name prefix (a
#: timestamp and a counter), and the longest node group name EKS accepts:
#: `<pool>-<zone>` leaves room for both (components/clusters/eks.py).
NODE_GROUP_SUFFIX = 26
NODE_GROUP_NAME_MAX = 63
EKS_POOL_ZONE_MAX = NODE_GROUP_NAME_MAX - NODE_GROUP_SUFFIX - 1


def zone_suffix(region: str, zone: str) -> str:
    """What tells a zone apart within its region: `a` of us-east-1a (config admits only such zones)."""
    if zone.startswith(region):
        return zone[len(region) :].lstrip("-") or zone
    return zone


def node_group_prefix(pool: str, zone: str) -> str:
    """An EKS node group's name prefix, one group per pool and zone suffix: completed to `<pool>-<zone>-<26>`."""
    return f"{pool}-{zone}-"


def eks_pool_name_max(region: str, zones: list[str]) -> int:
    """The longest pool name whose node groups fit EKS's 63 characters in every zone."""
    return EKS_POOL_ZONE_MAX - 1 - max((len(zone_suffix(region, z)) for z in zones), default=1)
