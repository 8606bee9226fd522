"""Stack config validation: one test per rule, each message pinned."""

from __future__ import annotations

import base64
import copy
import json
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components import config as cfg
from components.config import ConfigError, deep_merge, load_fleet, migrate
from ops import cli
from tests.helpers import ROOT, config_with, fleet_of, kubeconfig_of, stack_config

Mutation = Callable[[dict[str, Any]], None]


def defaults() -> dict[str, Any]:
    return stack_config("local").value("defaults")


def problems_of(fleet: dict[str, Any]) -> list[cfg.Problem]:
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults(), fleet)
    return err.value.problems


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b[2].c` in a nested dict/list."""
    parts: list[Any] = []
    for token in path.replace("]", "").replace("[", ".").split("."):
        parts.append(int(token) if token.isdigit() else token)
    target: Any = doc
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value


def setting(path: str, value: Any) -> Mutation:
    return lambda doc: set_path(doc, path, value)


def both(*mutations: Mutation) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        for m in mutations:
            m(doc)

    return apply


def dup_cluster(doc: dict[str, Any]) -> None:
    doc["clusters"][1]["name"] = doc["clusters"][0]["name"]


def drop_key(path: str, key: str) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path.split("."):
            target = target[int(part)] if part.isdigit() else target[part]
        del target[key]

    return apply


def self_signed(common_name: str, *, ca: bool = True) -> str:
    """Base64 of a PEM certificate signed by its own new key (a CA unless `ca=False`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


#: A CA no cluster of any stack uses.
STRANGER_CA = self_signed("stranger-ca")


def kubeconfig_set(index: int, of: int | None = None, **entry: Any) -> Mutation:
    """Give clusters[index] a kubeconfig of clusters[`of`] (default: its own), with `entry` in its
    cluster entry, or top-level `current-context` replaced."""

    def apply(doc: dict[str, Any]) -> None:
        source = doc["clusters"][index if of is None else of]
        fields = dict(entry)
        current = fields.pop("current-context", None)
        text = kubeconfig_of(source, **fields)
        if current is not None:
            text = yaml.safe_dump({**yaml.safe_load(text), "current-context": current})
        doc["clusters"][index]["kubeconfig"] = text

    return apply


def drop_key_top(key: str) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        doc[key] = None

    return apply


def add_root(doc: dict[str, Any]) -> None:
    doc["trust"] = {"roots": [{"name": "a"}, {"name": "a"}]}


# (id, base stack, mutation, expected path, expected message fragment, expected fix fragment)
CASES: list[tuple[str, str, Mutation, str, str, str]] = [
    ("duplicate-names", "local", dup_cluster, "clusters[1].name", "is already the name of clusters[0]", "unique name"),
    (
        "ci-runners-locked-out",
        "dev",
        setting("fleet.apiAccess.ciRunnerCidrs", []),
        "fleet.apiAccess.ciRunnerCidrs",
        "is empty: every EKS, AKS and GKE API server would admit only its peers and the operators",
        "list the egress CIDRs of the runners that run `pulumi preview`/`up`",
    ),
    (
        "remove-a-kept-cluster",
        "local",
        setting("fleet.removeClusters", ["kind-west"]),
        "fleet.removeClusters[0]",
        "'kind-west' is listed for removal but is still in clusters",
        "to remove kind-west, delete its entry from clusters too; to keep it, take it off fleet.removeClusters",
    ),
    (
        "gke-name-digit",
        "dev",
        setting("clusters[2].name", "1gke"),
        "clusters[2].name",
        "GCP names must start with a letter",
        "rename it",
    ),
    (
        "gke-name-too-long",
        "dev",
        setting("clusters[2].name", "gke-" + "x" * 36),
        "clusters[2].name",
        "GKE allows at most 40",
        "shorten",
    ),
    (
        "derived-name-too-long",
        "local",
        setting("clusters[0].name", "k" * 60),
        "clusters[0].name",
        "derived mesh network 'kkkk",
        "shorten the cluster name",
    ),
    (
        "aks-dns-prefix-too-long",
        "dev",
        both(
            setting("fleet.name", "acme-platform-fleet-dev"),
            setting("clusters[1].name", "azure-westeurope-primary-cluster"),
        ),
        "clusters[1].name",
        "derived AKS DNS prefix 'acme-platform-fleet-dev-azure-westeurope-primary-cluster' has 56 characters; at most 54",
        "shorten the cluster name",
    ),
    (
        "name-not-dns",
        "local",
        setting("clusters[0].name", "Kind_East"),
        "clusters[0].name",
        "is not a DNS label",
        "lowercase letters",
    ),
    (
        "aks-pool-name",
        "dev",
        setting("clusters[1].nodePools[0].name", "system-pool-1"),
        "clusters[1].nodePools[0].name",
        "not a valid AKS node pool name: 1-12 lowercase letters and digits",
        "systempool1",
    ),
    (
        "gke-pool-name",
        "dev",
        setting("clusters[2].nodePools[0].name", "General_Pool"),
        "clusters[2].nodePools[0].name",
        "not a valid GKE node pool name",
        "rename the node pool",
    ),
    (
        "overlap-across-clouds",
        "dev",
        setting("clusters[2].network.podCidr", "10.8.0.0/14"),
        "clusters[2].network.podCidr",
        "10.8.0.0/14 overlaps clusters[0].network.nodeCidr (10.10.0.0/16)",
        "non-overlapping",
    ),
    (
        "overlap-existing",
        "local",
        setting("clusters[1].network.serviceCidr", "10.111.0.0/16"),
        "clusters[1].network.serviceCidr",
        "overlaps clusters[0].network.serviceCidr",
        "non-overlapping",
    ),
    (
        "cidr-host-bits",
        "local",
        setting("clusters[0].network.podCidr", "10.110.0.1/16"),
        "clusters[0].network.podCidr",
        "is not an IPv4 CIDR with its host bits zero",
        "network address",
    ),
    (
        "eks-service-public",
        "dev",
        setting("clusters[0].network.serviceCidr", "100.64.0.0/16"),
        "clusters[0].network.serviceCidr",
        "is not in a private range; EKS requires",
        "outside the VPC",
    ),
    (
        "eks-service-prefix",
        "dev",
        setting("clusters[0].network.serviceCidr", "172.20.0.0/26"),
        "clusters[0].network.serviceCidr",
        "EKS accepts /12 to /24",
        "between /12 and /24",
    ),
    (
        "eks-service-in-vpc",
        "dev",
        setting("clusters[0].network.serviceCidr", "10.10.128.0/20"),
        "clusters[0].network.serviceCidr",
        "overlaps clusters[0].network.nodeCidr",
        "non-overlapping",
    ),
    (
        "aks-dns-ip-outside",
        "dev",
        setting("clusters[1].network.dnsServiceIp", "10.22.0.10"),
        "clusters[1].network.dnsServiceIp",
        "is not a usable address of serviceCidr 10.21.0.0/16",
        "10.21.0.10",
    ),
    (
        "gke-control-plane-size",
        "dev",
        setting("clusters[2].network.controlPlaneCidr", "172.16.0.0/24"),
        "clusters[2].network.controlPlaneCidr",
        "must be a private /28",
        "172.16.0.32/28",
    ),
    (
        "pool-min-max",
        "dev",
        both(setting("clusters[0].nodePools[0].minSize", 6), setting("clusters[0].nodePools[0].maxSize", 3)),
        "clusters[0].nodePools[0].minSize",
        "minSize 6 is greater than maxSize 3",
        "minSize <= maxSize",
    ),
    (
        "unknown-key",
        "local",
        setting("clusters[0].podCidr", "10.0.0.0/16"),
        "clusters[0].podCidr",
        "unknown key 'podCidr'; allowed keys here: apiEndpoint, caData",
        "remove it or correct its spelling",
    ),
    (
        "eks-autoscaler-minor",
        "dev",
        setting("addons", {"eks": {"clusterAutoscalerImage": "v1.32.4"}}),
        "addons.eks.clusterAutoscalerImage",
        "v1.32.4 does not match Kubernetes 1.33 of clusters[0] (aws-use1)",
        "pin a v1.33.x Cluster Autoscaler release",
    ),
    (
        "eks-kube-proxy-minor",
        "dev",
        setting("addons", {"eks": {"kubeProxy": "v1.32.6-eksbuild.1"}}),
        "addons.eks.kubeProxy",
        "v1.32.6-eksbuild.1 does not match Kubernetes 1.33 of clusters[0] (aws-use1)",
        "pin a v1.33.x-eksbuild.N kube-proxy",
    ),
    (
        "eks-other-minor-autoscaler",
        "prod",
        both(
            setting("clusters[1].kubernetesVersion", "1.34"),
            setting(
                "addons",
                {"eks": {"otherMinors": [{"kubeProxy": "v1.34.1-eksbuild.2", "clusterAutoscalerImage": "v1.33.6"}]}},
            ),
        ),
        "addons.eks.otherMinors[0].clusterAutoscalerImage",
        "v1.33.6 is not a Kubernetes 1.34 release, the minor of kubeProxy v1.34.1-eksbuild.2 beside it",
        "pin a v1.34.x Cluster Autoscaler release here",
    ),
    (
        "eks-other-minor-no-minor",
        "prod",
        setting("addons", {"eks": {"otherMinors": [{"kubeProxy": "1.34.1", "clusterAutoscalerImage": "v1.34.2"}]}}),
        "addons.eks.otherMinors[0].kubeProxy",
        "1.34.1 names no Kubernetes minor",
        "vMAJOR.MINOR.PATCH-eksbuild.N",
    ),
    (
        "eks-other-minor-is-the-fleets",
        "prod",
        setting(
            "addons",
            {"eks": {"otherMinors": [{"kubeProxy": "v1.33.4-eksbuild.1", "clusterAutoscalerImage": "v1.33.5"}]}},
        ),
        "addons.eks.otherMinors[0]",
        "pins Kubernetes 1.33, the minor addons.eks.kubeProxy already pins",
        "remove this entry",
    ),
    (
        "eks-other-minor-twice",
        "prod",
        both(
            setting("clusters[1].kubernetesVersion", "1.34"),
            setting(
                "addons",
                {
                    "eks": {
                        "otherMinors": [
                            {"kubeProxy": "v1.34.1-eksbuild.2", "clusterAutoscalerImage": "v1.34.2"},
                            {"kubeProxy": "v1.34.1-eksbuild.2", "clusterAutoscalerImage": "v1.34.2"},
                        ]
                    }
                },
            ),
        ),
        "addons.eks.otherMinors[1]",
        "pins Kubernetes 1.34 again (addons.eks.otherMinors[0] pins it)",
        "keep one entry per minor",
    ),
    (
        "eks-other-minor-unused",
        "prod",
        setting(
            "addons",
            {"eks": {"otherMinors": [{"kubeProxy": "v1.34.1-eksbuild.2", "clusterAutoscalerImage": "v1.34.2"}]}},
        ),
        "addons.eks.otherMinors[0]",
        "pins Kubernetes 1.34, which no EKS cluster runs (EKS clusters run: 1.33)",
        "remove it once the last cluster has left that minor",
    ),
    (
        "aks-patch-pinned-on-patch-channel",
        "dev",
        setting("clusters[1].kubernetesVersion", "1.35.2"),
        "clusters[1].kubernetesVersion",
        "1.35.2 pins a patch, but upgradeChannel 'patch' moves azure-weu to every new 1.35 patch",
        "upgradeChannel: none to pin the patch",
    ),
    (
        "aws-account-not-the-deployers",
        "dev",
        setting("clusters[0].accountId", "999999999999"),
        "clusters[0].accountId",
        "999999999999 is not the account of fleet.deployers.aws.roleArn (111111111111)",
        "use accountId '111111111111'",
    ),
    (
        "consul-vault-missing",
        "local",
        both(
            setting("mesh.kind", "consul"),
            setting("mesh.version", "2.0.3"),
            setting("mesh.repository", "https://helm.releases.hashicorp.com"),
            setting("mesh.ca", "vault"),
        ),
        "mesh.vault",
        "ca: vault needs the Vault that holds Consul's Connect CA",
        "or set mesh.ca: consul for the built-in CA",
    ),
    (
        "consul-servers-on-hyperdisk-only-gke-pool",
        "dev",
        both(
            setting("mesh.kind", "consul"),
            setting("mesh.version", "2.0.3"),
            setting("mesh.repository", "https://helm.releases.hashicorp.com"),
            setting("clusters[2].nodePools[0].machineType", "n4-standard-4"),
        ),
        "clusters[2].nodePools[0].machineType",
        "Consul servers keep their Raft data on standard-rwo (pd-balanced) volumes, which 'n4-standard-4' "
        "(series 'n4', Hyperdisk only) cannot attach",
        "give gcp-euw1's pools a series that attaches Persistent Disk, e.g. machineType: e2-standard-4",
    ),
    (
        "existing-ca-not-pem",
        "local",
        setting("clusters[0].caData", "bm90IGEgY2VydGlmaWNhdGU="),
        "clusters[0].caData",
        "is not a PEM certificate (or base64 of one)",
        "certificate-authority-data",
    ),
    (
        "eks-node-cidr-too-small",
        "dev",
        setting("clusters[0].network.nodeCidr", "10.10.0.0/26"),
        "clusters[0].network.nodeCidr",
        "is too small for 3 zones",
        "/16 to /20",
    ),
    (
        "eks-vpc-too-large",
        "dev",
        setting("clusters[0].network.nodeCidr", "10.8.0.0/14"),
        "clusters[0].network.nodeCidr",
        "is larger than a /16; an AWS VPC CIDR block is /16 to /28",
        "/16 to /20",
    ),
    (
        "aks-service-cidr-too-large",
        "dev",
        setting("clusters[1].network.serviceCidr", "10.64.0.0/10"),
        "clusters[1].network.serviceCidr",
        "AKS requires a service CIDR smaller than /12",
        "/16",
    ),
    (
        "allow-list-too-long",
        "dev",
        setting("fleet.apiAccess.operatorCidrs", [f"198.51.100.{i}/32" for i in range(40)]),
        "fleet.apiAccess",
        "accepts at most 40",
        "fewer, larger ranges",
    ),
    (
        "aks-system-pool-zero",
        "dev",
        setting("clusters[1].nodePools[0].minSize", 0),
        "clusters[1].nodePools[0].minSize",
        "the system pool, which AKS never scales to 0",
        "minSize to 1",
    ),
    (
        "eks-pools-all-zero",
        "dev",
        setting("clusters[0].nodePools[0].minSize", 0),
        "clusters[0].nodePools",
        "every node pool of EKS cluster 'aws-use1' has minSize 0",
        "at least one pool",
    ),
    (
        "aks-node-range-full",
        "dev",
        setting("clusters[1].network.nodeCidr", "10.20.0.0/28"),
        "clusters[1].network.nodeCidr",
        "10.20.0.0/28 has 11 usable node addresses, but the node pools of AKS cluster 'azure-weu' can reach 14 nodes "
        "(maxSize plus each pool's upgrade surge nodes)",
        "on a new cluster use a nodeCidr of /27 or a shorter prefix; on a deployed one",
    ),
    (
        "aks-pod-range-full",
        "dev",
        setting("clusters[1].network.podCidr", "10.244.0.0/21"),
        "clusters[1].network.podCidr",
        "10.244.0.0/21 holds the pods of 8 nodes (AKS gives each node a /24), but the node pools of 'azure-weu' "
        "can reach 14 nodes",
        "podCidr of /20 or a shorter prefix",
    ),
    (
        "gke-node-range-full",
        "dev",
        setting("clusters[2].network.nodeCidr", "10.30.0.0/29"),
        "clusters[2].network.nodeCidr",
        "10.30.0.0/29 has 4 usable node addresses, but the node pools of GKE cluster 'gcp-euw1' can reach 12 nodes "
        "(maxSize per zone over 3 zones, plus 1 surge node per zone)",
        "nodeCidr of /28 or a shorter prefix",
    ),
    (
        "gke-pod-range-full",
        "dev",
        setting("clusters[2].network.podCidr", "10.32.0.0/21"),
        "clusters[2].network.podCidr",
        "10.32.0.0/21 holds the pods of 8 nodes (GKE gives each node a /24)",
        "podCidr of /20 or a shorter prefix",
    ),
    (
        "eks-pool-max-below-zones",
        "dev",
        both(setting("clusters[0].nodePools[0].minSize", 1), setting("clusters[0].nodePools[0].maxSize", 2)),
        "clusters[0].nodePools[0].maxSize",
        "maxSize 2 is less than the 3 zones of EKS cluster 'aws-use1': each zone has its own node group",
        "maxSize to 3 or more",
    ),
    (
        "schema-version-missing",
        "local",
        drop_key_top("schemaVersion"),
        "schemaVersion",
        "is missing; expected a whole number (1 to 2)",
        "schemaVersion: 2",
    ),
    (
        "cloud-missing",
        "local",
        drop_key("clusters.0", "cloud"),
        "clusters[0].cloud",
        "required but missing; allowed values: aws, azure",
        "which cloud",
    ),
    (
        "format-mismatch",
        "dev",
        setting("clusters[0].accountId", "1234"),
        "clusters[0].accountId",
        "'1234' is not an AWS account id: exactly 12 digits",
        'accountId: "111111111111"',
    ),
    (
        "eks-pool-name",
        "dev",
        setting("clusters[0].nodePools[0].name", "-bad"),
        "clusters[0].nodePools[0].name",
        "not a valid EKS node pool name: 1-34 letters",
        "rename the node pool",
    ),
    (
        "duplicate-pool",
        "dev",
        setting("clusters[1].nodePools[1].name", "system"),
        "clusters[1].nodePools[1].name",
        "'system' is used by another node pool of 'azure-weu'",
        "unique name",
    ),
    (
        "aks-dns-ip-not-ip",
        "dev",
        setting("clusters[1].network.dnsServiceIp", "ten"),
        "clusters[1].network.dnsServiceIp",
        "'ten' is not an IPv4 address",
        "10.0.0.10",
    ),
    (
        "repeated-zone",
        "dev",
        setting("clusters[2].zones", ["europe-west1-b", "europe-west1-b"]),
        "clusters[2].zones",
        "europe-west1-b is listed more than once",
        "each zone once",
    ),
    (
        "gcp-zone-region",
        "dev",
        setting("clusters[2].zones", ["us-central1-a"]),
        "clusters[2].zones",
        "us-central1-a is not a zone of europe-west1; allowed values: europe-west1-b, europe-west1-c",
        "europe-west1-b",
    ),
    (
        "revisions-not-istio",
        "local",
        both(
            setting("mesh.kind", "linkerd"),
            setting("mesh.version", "2026.8.3"),
            setting("mesh.revisions", ["2026.8.3"]),
        ),
        "mesh.revisions",
        "revisions are an Istio feature",
        "remove mesh.revisions",
    ),
    (
        "revisions-repeat",
        "local",
        setting("mesh.revisions", ["1.30.3", "1.30.3"]),
        "mesh.revisions",
        "list each version once, at most three side by side",
        "remove duplicate",
    ),
    (
        "generated-root-with-pem",
        "local",
        setting("trust", {"roots": [{"name": "r", "certificatePem": "x"}]}),
        "trust.roots[0]",
        "only read for source: provided",
        "source: provided",
    ),
    (
        "misspelled-key",
        "local",
        setting("mesh.revison", ["1.30.3"]),
        "mesh.revison",
        "unknown key 'revison'; allowed keys here: kind, meshId",
        "did you mean 'revisions'?",
    ),
    (
        "unknown-cloud",
        "local",
        setting("clusters[0].cloud", "digitalocean"),
        "clusters[0].cloud",
        "'digitalocean' is not a supported cloud; allowed values: aws, azure, gcp, existing",
        "set cloud",
    ),
    (
        "wrong-type",
        "dev",
        setting("clusters[0].nodePools[0].maxSize", "5"),
        "clusters[0].nodePools[0].maxSize",
        "is the text '5'; expected a whole number",
        "write it without quotes: maxSize: 5",
    ),
    (
        "empty-clusters",
        "local",
        setting("clusters", []),
        "clusters",
        "has 0 items; at least 1 required",
        "add at least 1 entry",
    ),
    (
        "missing-field",
        "local",
        drop_key("clusters.0", "apiEndpoint"),
        "clusters[0].apiEndpoint",
        "required but missing",
        "set clusters[0].apiEndpoint",
    ),
    (
        "eks-version-format",
        "dev",
        setting("clusters[0].kubernetesVersion", "1.33.2"),
        "clusters[0].kubernetesVersion",
        "EKS takes major.minor",
        "1.33",
    ),
    (
        "latest-version",
        "dev",
        setting("clusters[1].kubernetesVersion", "latest"),
        "clusters[1].kubernetesVersion",
        "'latest' is not a pinned version",
        "pin an exact version",
    ),
    (
        "mesh-version-unpinned",
        "local",
        setting("mesh.version", "stable"),
        "mesh.version",
        "'stable' is not a pinned version",
        "pin an exact version",
    ),
    (
        "unsupported-mesh",
        "local",
        setting("mesh.kind", "kuma"),
        "mesh.kind",
        "'kuma' is not allowed; allowed values: 'istio', 'linkerd' or 'consul'",
        "allowed values",
    ),
    (
        "retired-appmesh",
        "local",
        setting("mesh.kind", "appmesh"),
        "mesh.kind",
        "AWS App Mesh was shut down on 2026-09-30",
        "istio, linkerd, consul",
    ),
    (
        "retired-osm",
        "local",
        setting("mesh.kind", "osm"),
        "mesh.kind",
        "Open Service Mesh was archived",
        "istio, linkerd, consul",
    ),
    (
        "retired-traefik",
        "local",
        setting("mesh.kind", "traefik-mesh"),
        "mesh.kind",
        "Traefik Mesh is no longer developed",
        "istio, linkerd, consul",
    ),
    ("retired-smi", "local", setting("mesh.kind", "smi"), "mesh.kind", "Gateway API GAMMA", "istio, linkerd, consul"),
    (
        "ambient-primary-remote",
        "local",
        both(setting("mesh.mode", "ambient"), setting("mesh.topology", "primary-remote")),
        "mesh.topology",
        "ambient multicluster supports only multi-primary",
        "multi-primary",
    ),
    (
        "primary-remote",
        "local",
        setting("mesh.topology", "primary-remote"),
        "mesh.topology",
        "primary-remote is not supported yet",
        "multi-primary",
    ),
    (
        "ambient-linkerd",
        "local",
        both(setting("mesh.kind", "linkerd"), setting("mesh.mode", "ambient"), setting("mesh.version", "2026.8.3")),
        "mesh.mode",
        "ambient mode is Istio only",
        "sidecar",
    ),
    (
        "revisions-missing-version",
        "local",
        setting("mesh.revisions", ["1.29.2"]),
        "mesh.revisions",
        "does not contain mesh.version '1.30.3'",
        "add mesh.version",
    ),
    (
        "stable-not-installed",
        "local",
        setting("mesh.stableRevision", "1.28.0"),
        "mesh.stableRevision",
        "'1.28.0' is not an installed revision; allowed values: 1.30.3",
        "installed revision",
    ),
    (
        "istio-version-format",
        "local",
        setting("mesh.version", "1.30"),
        "mesh.version",
        "'1.30' names a minor version, not a release; mesh.version must be an Istio release: major.minor.patch",
        "write the 1.30 patch release you mean in full, e.g. 1.30.0",
    ),
    (
        "aws-zone-region",
        "dev",
        setting("clusters[0].zones", ["us-west-2a", "us-east-1b"]),
        "clusters[0].zones",
        "us-west-2a is not a zone of us-east-1",
        "us-east-1a",
    ),
    (
        "eks-two-zones",
        "dev",
        setting("clusters[0].zones", ["us-east-1a"]),
        "clusters[0].zones",
        "at least two availability zones",
        "two or three zones",
    ),
    (
        "azure-zone",
        "dev",
        setting("clusters[1].zones", ["westeurope-1"]),
        "clusters[1].zones",
        "westeurope-1 is not a zone of westeurope; allowed values: 1, 2, 3",
        '"1"',
    ),
    (
        "existing-access-both",
        "local",
        kubeconfig_set(0),
        "clusters[0].context",
        "is set beside kubeconfig; the deployer reaches a cluster through one of them",
        "remove context to deploy with the stored kubeconfig (CI), or remove kubeconfig",
    ),
    (
        "existing-access-neither",
        "local",
        drop_key("clusters.1", "context"),
        "clusters[1].kubeconfig",
        "is missing, and so is context: the deployer has no way to reach this cluster",
        "store its kubeconfig: pulumi config set --secret --path 'meshfleet:fleet.clusters[1].kubeconfig' "
        "< kubeconfig.yaml; or, on a workstation, set context",
    ),
    (
        "kubeconfig-not-a-kubeconfig",
        "local",
        both(drop_key("clusters.0", "context"), setting("clusters[0].kubeconfig", "token: t0k")),
        "clusters[0].kubeconfig",
        "is not a kubeconfig (YAML with clusters, contexts, users and current-context)",
        "config view --raw --minify --flatten",
    ),
    (
        "kubeconfig-no-current-context",
        "local",
        both(drop_key("clusters.0", "context"), kubeconfig_set(0, **{"current-context": "elsewhere"})),
        "clusters[0].kubeconfig",
        "has no current-context naming a context and cluster it defines",
        "kind get kubeconfig --name <cluster>",
    ),
    (
        "kubeconfig-insecure",
        "local",
        both(drop_key("clusters.0", "context"), kubeconfig_set(0, **{"insecure-skip-tls-verify": True})),
        "clusters[0].kubeconfig",
        "skips TLS verification (insecure-skip-tls-verify)",
        "embed the cluster's CA as certificate-authority-data",
    ),
    (
        "kubeconfig-ca-file",
        "local",
        both(
            drop_key("clusters.0", "context"),
            kubeconfig_set(0, **{"certificate-authority": "/home/me/.minikube/ca.crt"}),
        ),
        "clusters[0].kubeconfig",
        "reads its CA from a file (certificate-authority), which a CI runner does not have",
        "embed it as certificate-authority-data",
    ),
    (
        "kubeconfig-ca-not-pem",
        "local",
        both(
            drop_key("clusters.0", "context"),
            kubeconfig_set(0, **{"certificate-authority-data": "bm90IGEgY2VydGlmaWNhdGU="}),
        ),
        "clusters[0].kubeconfig",
        "has certificate-authority-data that is not base64 of a PEM certificate",
        "config view --raw --minify --flatten",
    ),
    (
        "kubeconfig-other-cluster",
        "local",
        both(drop_key("clusters.1", "context"), kubeconfig_set(1, of=0)),
        "clusters[1].kubeconfig",
        "reaches clusters[0] (kind-east), not this cluster: its current context trusts that cluster's CA",
        "store this cluster's own kubeconfig",
    ),
    (
        "kubeconfig-own-address-other-ca",
        "local",
        both(
            drop_key("clusters.0", "context"),
            kubeconfig_set(0, **{"certificate-authority-data": STRANGER_CA}),
        ),
        "clusters[0].kubeconfig",
        "names this cluster's API address but trusts another CA than caData",
        "copy caData from this cluster's kubeconfig",
    ),
    (
        "operators-open",
        "prod",
        setting("fleet.apiAccess.operatorCidrs", ["203.0.113.0/24", "0.0.0.0/0"]),
        "fleet.apiAccess.operatorCidrs[1]",
        "0.0.0.0/0 admits the whole internet to every cluster's Kubernetes API",
        "list the operators' networks (VPN or office egress)",
    ),
    (
        "ci-runners-open",
        "dev",
        setting("fleet.apiAccess.ciRunnerCidrs", ["0.0.0.0/0"]),
        "fleet.apiAccess.ciRunnerCidrs[0]",
        "0.0.0.0/0 admits the whole internet to every cluster's Kubernetes API",
        "list the runners' static egress addresses",
    ),
    (
        "existing-egress-open",
        "local",
        setting("clusters[1].egressCidrs", ["0.0.0.0/0"]),
        "clusters[1].egressCidrs[0]",
        "0.0.0.0/0 as this cluster's egress admits the whole internet to every peer's Kubernetes API and "
        "east-west gateway",
        "list the addresses this cluster's traffic leaves from",
    ),
    (
        "load-balancer-annotation-key",
        "local",
        setting("clusters[1].loadBalancerAnnotations", {"metallb.io/address pool": "public"}),
        "clusters[1].loadBalancerAnnotations",
        "annotation key 'metallb.io/address pool': the name part 'address pool'",
        "copy the key from your load balancer's documentation",
    ),
    (
        "deployer-missing",
        "dev",
        drop_key("fleet.deployers", "gcp"),
        "fleet.deployers.gcp",
        "the fleet has gcp clusters but no gcp deployer",
        "cluster admin",
    ),
    (
        "eks-addons-missing",
        "dev",
        setting("addons", {"eks": None}),
        "addons.eks",
        "required because the fleet has EKS clusters",
        "pin it",
    ),
    (
        "signing-root-unknown",
        "local",
        setting("trust", {"signingRoot": "nope"}),
        "trust.signingRoot",
        "'nope' is not a root; allowed values: root-2026",
        "name one of",
    ),
    ("root-names-repeat", "local", add_root, "trust.roots", "root names repeat", "name each root once"),
    (
        "provided-root-incomplete",
        "local",
        setting("trust", {"roots": [{"name": "byo", "source": "provided"}]}),
        "trust.roots[0]",
        "a provided root needs certificatePem and privateKeyPem",
        "encrypted value",
    ),
    (
        "intermediate-outlives-root",
        "local",
        setting("trust", {"intermediateValidityHours": 100000}),
        "trust.intermediateValidityHours",
        "intermediates would outlive their root",
        "shorter-lived",
    ),
    (
        "linkerd-p256",
        "local",
        both(
            setting("mesh.kind", "linkerd"),
            setting("mesh.version", "2026.8.3"),
            setting("mesh.repository", "https://helm.linkerd.io/edge"),
            setting("trust", {"roots": [{"name": "r", "algorithm": "RSA-3072"}]}),
        ),
        "trust.roots",
        "Linkerd requires ECDSA P-256",
        "ECDSA-P256",
    ),
    (
        "environment-literal",
        "local",
        setting("fleet.environment", "prod"),
        "fleet.environment",
        "'prod' is not allowed; allowed values: 'dev', 'staging' or 'production'",
        "allowed values",
    ),
    (
        "schema-too-new",
        "local",
        setting("schemaVersion", 9),
        "schemaVersion",
        "9 is newer than this meshfleet understands",
        "upgrade meshfleet",
    ),
    (
        "node-label-value-64",
        "dev",
        setting("clusters[0].nodePools[0].labels", {"team": "v" * 64}),
        "clusters[0].nodePools[0].labels",
        "label value 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' has 64 characters",
        "shorten or rename the label",
    ),
    (
        "root-common-name-too-long",
        "local",
        setting("fleet.name", "f" * 50),
        "trust.roots[0].name",
        f"derived root CA common name '{'f' * 50} root root-2026' has 65 characters; X.509 allows at most 64",
        "shorten the root name",
    ),
    (
        "machine-type-of-another-cloud",
        "dev",
        setting("clusters[0].nodePools[0].machineType", "Standard_D4s_v5"),
        "clusters[0].nodePools[0].machineType",
        "'Standard_D4s_v5' is an Azure VM size",
        "machineType: m6i.large",
    ),
    (
        "gke-machine-series-without-known-boot-disk",
        "dev",
        setting("clusters[2].nodePools[0].machineType", "a3-highgpu-8g"),
        "clusters[2].nodePools[0].machineType",
        "'a3-highgpu-8g' is of series 'a3', whose node boot disk type meshfleet does not know (series it knows: c2, "
        "c2d, c3, c3d, c4, c4a, c4d, e2, m1, m2, m3, n1, n2, n2d, n4, n4a, n4d, t2a, t2d)",
        "add the series under the disk type it boots from to boot_disks in components/config/data/gcp.yaml",
    ),
    (
        "maintenance-window-too-short-for-gke",
        "dev",
        setting("fleet.maintenanceWindow", {"day": "Saturday", "startTime": "22:00", "durationHours": 6}),
        "fleet.maintenanceWindow.durationHours",
        "6 is below the minimum 12",
        "set durationHours to 12 or more",
    ),
    (
        "maintenance-window-start-not-hh-mm",
        "dev",
        setting("clusters[1].maintenanceWindow", {"day": "Saturday", "startTime": "10pm", "durationHours": 12}),
        "clusters[1].maintenanceWindow.startTime",
        "'10pm' is not a time of day in UTC, HH:MM on a 24-hour clock",
        'startTime: "22:00"',
    ),
    (
        "trust-domain-alias-is-the-domain",
        "dev",
        setting("mesh.trustDomainAliases", ["cluster.local"]),
        "mesh.trustDomainAliases",
        "'cluster.local' is the trust domain itself; aliases name the former ones",
        "remove 'cluster.local' from mesh.trustDomainAliases",
    ),
    (
        "existing-endpoint-loopback",
        "local",
        setting("clusters[0].apiEndpoint", "https://127.0.0.1:6443"),
        "clusters[0].apiEndpoint",
        "127.0.0.1 is a loopback address",
        "control-plane container's address",
    ),
]


@pytest.mark.parametrize(
    ("base", "mutate", "path", "message", "fix"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_names_path_message_and_fix(base, mutate, path, message, fix):
    fleet = fleet_of(base)
    mutate(fleet)
    problems = problems_of(fleet)
    matching = [p for p in problems if p.path == path and message in p.message]
    assert matching, f"no problem at {path} with {message!r}; got {[p.render() for p in problems]}"
    assert fix in matching[0].fix, matching[0].render()


#: Trust rules on provided roots need a real certificate and key: each has its own test in test_trust.py.
TESTED_IN_TEST_TRUST = {
    "rule_provided_root_parses": "test_rule_provided_root_must_parse",
    "rule_provided_root_is_ca": "test_rule_provided_root_must_be_a_ca",
    "rule_provided_root_algorithm": "test_rule_provided_root_algorithm_matches",
    "rule_provided_key_matches": "test_rule_provided_key_must_match",
    "rule_provided_root_expired": "test_rule_provided_root_expired",
    "rule_provided_root_outlived": "test_rule_intermediate_would_outlive_provided_root",
    "rule_renewal_window": "test_rule_warning_window_shorter_than_intermediates",
}


#: Linkerd's rules need a Linkerd fleet: test_linkerd.py's table names path, message and fix for each.
TESTED_IN_TEST_LINKERD = {
    "_rule_chart_versions": "test_bad_linkerd_config_names_path_and_fix",
    "_rule_clusters": "test_bad_linkerd_config_names_path_and_fix",
    "_rule_export_modes": "test_bad_linkerd_config_names_path_and_fix",
}


#: Consul's rules need a Consul fleet: test_consul.py tests each message.
TESTED_IN_TEST_CONSUL = {
    "_rule_datacenters": "test_datacenter_rules",
    "_rule_servers": "test_production_refuses_one_or_an_even_server_count",
    "_rule_security": "test_production_refuses_turning_security_off",
    "_rule_consul_authorization_needs_acls": "test_authorization_rules_need_acls",
    "_rule_consul_one_service_per_name": "test_one_service_name_in_two_namespaces_is_refused",
}


#: Policy rules need policy sets: test_policy_config.py tests each message.
TESTED_IN_TEST_POLICY_CONFIG = {
    "_rule_expressible": "test_every_refused_cell_has_a_test",
    "_rule_one_per_service": "test_two_traffic_rules_for_one_service_are_refused",
    "_rule_one_mtls_mode": "test_one_namespace_strict_and_permissive_is_refused",
    "_rule_strict_mesh_wide": "test_overriding_strict_mesh_wide_mtls_away_is_refused",
}


def test_every_rule_yields_the_problem_of_a_case(monkeypatch):
    """Each cross-field rule produces the expected problem of at least one CASE (or has its own test)."""
    import components.config.rules as rules
    import tests.test_consul
    import tests.test_linkerd
    import tests.test_policy_config
    import tests.test_trust

    produced: dict[tuple[str, str], set[str]] = {}

    def tracing(rule):
        def run(spec):
            for problem in rule(spec):
                produced.setdefault((problem.path, problem.message), set()).add(rule.__name__)
                yield problem

        return run

    every = {r.__name__ for r in rules.RULES}
    monkeypatch.setattr(rules, "RULES", tuple(tracing(r) for r in rules.RULES))
    covered: set[str] = set()
    for _id, base, mutate, path, message, _fix in CASES:
        fleet = fleet_of(base)
        mutate(fleet)
        for p in problems_of(fleet):
            if p.path == path and message in p.message:
                covered |= produced.get((p.path, p.message), set())
    elsewhere = {
        **TESTED_IN_TEST_TRUST,
        **TESTED_IN_TEST_LINKERD,
        **TESTED_IN_TEST_CONSUL,
        **TESTED_IN_TEST_POLICY_CONFIG,
    }
    assert covered == every - set(elsewhere)
    assert all(callable(getattr(tests.test_policy_config, t, None)) for t in TESTED_IN_TEST_POLICY_CONFIG.values())
    assert all(callable(getattr(tests.test_consul, t, None)) for t in TESTED_IN_TEST_CONSUL.values())
    assert all(callable(getattr(tests.test_linkerd, t, None)) for t in TESTED_IN_TEST_LINKERD.values())
    assert all(callable(getattr(tests.test_trust, t, None)) for t in TESTED_IN_TEST_TRUST.values())
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("base", "mutate", "path", "message", "fix"), [c[1:] for c in CASES[:25]], ids=[c[0] for c in CASES[:25]]
)
def test_cli_exits_2_with_message_and_no_traceback(tmp_path, capsys, base, mutate, path, message, fix):
    fleet = fleet_of(base)
    mutate(fleet)
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"meshfleet:fleet": fleet}}))
    code = cli.main(["plan", "--config", str(stack_file)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}: " in err and message in err
    assert "fix: " in err
    assert "Traceback" not in err


def test_every_stack_file_validates():
    stacks = sorted(p.name.split(".")[1] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert {"dev", "local", "staging", "prod"} <= set(stacks)
    for name in stacks:
        config = stack_config(name)
        spec = load_fleet(config.value("defaults"), config.value("fleet"))
        assert spec.clusters


def test_prod_protects_and_spans_two_regions_per_cloud():
    config = stack_config("prod")
    spec = load_fleet(config.value("defaults"), config.value("fleet"))
    assert spec.fleet.protect is True
    for cloud in ("aws", "azure", "gcp"):
        regions = {c.region for c in spec.clusters if c.cloud == cloud}
        assert len(regions) == 2, cloud


def test_all_problems_reported_at_once():
    fleet = fleet_of("dev")
    set_path(fleet, "clusters[0].nodePools[0].minSize", 9)
    set_path(fleet, "clusters[2].network.controlPlaneCidr", "172.16.0.0/24")
    paths = {p.path for p in problems_of(fleet)}
    assert {"clusters[0].nodePools[0].minSize", "clusters[2].network.controlPlaneCidr"} <= paths


def test_bad_config_raises_run_error_inside_program():
    """Inside `pulumi up` a bad config ends the program with one clean RunError."""
    from ops.plan import run_plan

    fleet = fleet_of("local")
    dup_cluster(fleet)
    with pytest.raises(pulumi.RunError) as err:
        run_plan(ROOT, config_with(fleet), prevalidate=False)
    text = str(err.value)
    assert "clusters[1].name: 'kind-east' is already the name of clusters[0]" in text
    assert "Traceback" not in text


def test_a_plain_text_kubeconfig_is_refused_where_the_engine_holds_the_fleet_in_the_clear():
    """Offline (the stack file says it) and inside `pulumi up` (the engine's secret keys say it) alike."""
    from ops.plan import run_plan

    fleet = fleet_of("local")
    fleet["clusters"][1].pop("context")
    fleet["clusters"][1]["kubeconfig"] = kubeconfig_of(fleet["clusters"][1], token="t0k")
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults(), fleet, fleet_is_secret=False)
    [problem] = err.value.problems
    assert (problem.path, problem.message) == (
        "clusters[1].kubeconfig",
        "is plain text in the stack config: a kubeconfig holds the cluster's credentials",
    )
    assert "pulumi config set --secret --path 'meshfleet:fleet.clusters[1].kubeconfig'" in problem.fix
    assert "t0k" not in err.value.render()
    # Encrypted (the engine marks the fleet secret), or judged without an engine: accepted.
    assert load_fleet(defaults(), fleet, fleet_is_secret=True).clusters[1].name == "kind-west"
    assert load_fleet(defaults(), fleet).clusters[1].name == "kind-west"
    with pytest.raises(pulumi.RunError) as run_error:
        run_plan(ROOT, config_with(fleet, secret_keys=[]), prevalidate=False)
    assert "clusters[1].kubeconfig: is plain text in the stack config" in str(run_error.value)


def test_a_kubeconfig_is_refused_only_where_it_surely_reaches_another_cluster():
    """Its CA is another fleet cluster's, or its server is this cluster's with a CA other than caData.
    Another address with another CA may be an API proxy in front of this cluster (Rancher, Teleport): it
    passes. The kubeconfig itself is never quoted."""
    fleet = fleet_of("local")
    east, west = fleet["clusters"]
    east.pop("context")
    bundle = base64.b64encode(
        base64.b64decode(west["caData"]) + base64.b64decode(east["caData"])
    ).decode()  # a CA bundle holding this cluster's CA among others
    accepted = {
        "its own": kubeconfig_of(east),
        "a bundle with its CA": kubeconfig_of(east, **{"certificate-authority-data": bundle}),
        "a publicly trusted server": kubeconfig_of(east, **{"certificate-authority-data": None}),
        "an API proxy": kubeconfig_of(
            east,
            server="https://rancher.example.com/k8s/clusters/c-m-4x2",
            **{"certificate-authority-data": STRANGER_CA},
        ),
        "encrypted, offline": "[encrypted value meshfleet:fleet.clusters[0].kubeconfig: not available offline]",
        # client-go skips line breaks in base64 and reads JSON indented with tabs (not YAML)
        "its CA wrapped in lines": kubeconfig_of(
            east, **{"certificate-authority-data": "\n".join(textwrap.wrap(east["caData"], 64)) + "\n"}
        ),
        "JSON indented with tabs": json.dumps(yaml.safe_load(kubeconfig_of(east)), indent="\t"),
    }
    for why, kubeconfig in accepted.items():
        east["kubeconfig"] = kubeconfig
        assert load_fleet(defaults(), fleet).clusters[0].name == "kind-east", why
    # A wrapped plain YAML scalar reaches client-go with its breaks folded into spaces, which it refuses.
    east["kubeconfig"] = kubeconfig_of(
        east, **{"certificate-authority-data": " ".join(textwrap.wrap(east["caData"], 64))}
    )
    [problem] = problems_of(fleet)
    assert problem.message == "has certificate-authority-data that is not base64 of a PEM certificate"
    east["kubeconfig"] = kubeconfig_of(west, token="hunter2-of-west")
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults(), fleet)
    [problem] = err.value.problems
    assert (problem.path, problem.message) == (
        "clusters[0].kubeconfig",
        "reaches clusters[1] (kind-west), not this cluster: its current context trusts that cluster's CA",
    )
    assert "hunter2-of-west" not in err.value.render()
    # Inside `pulumi preview` and `up` alike (the engine hands over the decrypted value), before any resource.
    from ops.plan import run_plan

    with pytest.raises(pulumi.RunError) as run_error:
        run_plan(ROOT, config_with(fleet), prevalidate=False)
    assert "clusters[0].kubeconfig: reaches clusters[1] (kind-west)" in str(run_error.value)
    assert "hunter2-of-west" not in str(run_error.value)


# --------------------------------------------------------------------------
# A workstation's `context`: checked against the deployer's own kubeconfig by `pulumi preview` and `up`


def _write_kubeconfig(path: Path, *texts: str) -> Path:
    """One kubeconfig file holding the clusters, contexts and users of the given one-context kubeconfigs."""
    docs = [yaml.safe_load(t) for t in texts]
    merged = {key: [e for d in docs for e in d[key]] for key in ("clusters", "contexts", "users")}
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", **merged}))
    return path


def _kind_context(cluster: dict[str, Any], **entry: Any) -> str:
    """What `kind create cluster` writes: a context named after the cluster, on a forwarded loopback port."""
    return kubeconfig_of(cluster, **{"server": "https://127.0.0.1:39211", **entry})


def _context_findings(fleet: dict[str, Any], environ: dict[str, str], home: Path) -> tuple[list[Any], list[str]]:
    from components.config.rules.existing import context_findings, deployer_kubeconfig

    return context_findings(load_fleet(defaults(), fleet), deployer_kubeconfig(environ, home))


def test_a_context_that_reaches_its_cluster_passes(tmp_path: Path) -> None:
    """kind's own contexts (loopback address, the cluster's CA), ~/.kube/config or $KUBECONFIG's files,
    and a CA read from a file beside the kubeconfig, as client-go reads it."""
    fleet = fleet_of("local")
    east, west = fleet["clusters"]
    (tmp_path / ".kube").mkdir()
    _write_kubeconfig(tmp_path / ".kube" / "config", _kind_context(east), _kind_context(west))
    assert _context_findings(fleet, {}, tmp_path) == ([], [])
    # $KUBECONFIG's files: a missing one is skipped, and the first to define a name wins.
    first = _write_kubeconfig(tmp_path / "a.yaml", _kind_context(east))
    later = _write_kubeconfig(
        tmp_path / "b.yaml", _kind_context(east, **{"certificate-authority-data": west["caData"]})
    )
    (tmp_path / "west-ca.pem").write_bytes(base64.b64decode(west["caData"]))
    west_ctx = _write_kubeconfig(
        tmp_path / "c.yaml",
        _kind_context(west, **{"certificate-authority-data": None, "certificate-authority": "west-ca.pem"}),
    )
    environ = {"KUBECONFIG": ":".join(map(str, [tmp_path / "missing", first, later, west_ctx]))}
    assert _context_findings(fleet, environ, tmp_path / "nowhere") == ([], [])
    # The file is read: holding east's CA, west's context reaches east.
    (tmp_path / "west-ca.pem").write_bytes(base64.b64decode(east["caData"]))
    [problem] = _context_findings(fleet, environ, tmp_path / "nowhere")[0]
    assert (problem.path, problem.message) == (
        "clusters[1].context",
        "'kind-west' reaches clusters[0] (kind-east), not this cluster: that context trusts its CA",
    )


@pytest.mark.parametrize(
    "case",
    ["missing", "another fleet cluster", "this address, another CA"],
)
def test_a_context_that_surely_misses_its_cluster_is_refused(tmp_path: Path, case: str) -> None:
    """One message each: no such context; it trusts another fleet cluster's CA; it names this cluster's
    address with a CA other than caData (caData out of date after re-creating the cluster)."""
    fleet = fleet_of("local")
    east, west = fleet["clusters"]
    entries = {
        "missing": [_kind_context(west)],
        "another fleet cluster": [_kind_context(west), _kind_context({**west, "name": "kind-east"})],
        "this address, another CA": [
            _kind_context(west),
            kubeconfig_of(east, **{"certificate-authority-data": STRANGER_CA}),
        ],
    }[case]
    config = _write_kubeconfig(tmp_path / "config", *entries)
    problems, warnings = _context_findings(fleet, {"KUBECONFIG": str(config)}, tmp_path)
    assert warnings == []
    [problem] = problems
    assert problem.path == "clusters[0].context"
    expected = {
        "missing": (
            "'kind-east' is not a context of the deployer's kubeconfig (the files in $KUBECONFIG) that names a "
            "cluster it defines",
            "use a name from `kubectl config get-contexts`; a CI runner has no contexts: store the cluster's "
            "kubeconfig instead (pulumi config set --secret --path 'meshfleet:fleet.clusters[0].kubeconfig' "
            "< kubeconfig.yaml) and remove context",
        ),
        "another fleet cluster": (
            "'kind-east' reaches clusters[1] (kind-west), not this cluster: that context trusts its CA",
            "set context to this cluster's own context (`kubectl config get-contexts`)",
        ),
        "this address, another CA": (
            "'kind-east' names this cluster's API address but trusts another CA than caData: caData is out of "
            "date (a re-created cluster) or another cluster's",
            "copy caData from `kubectl config view --raw --minify --context kind-east "
            "-o jsonpath='{.clusters[0].cluster.certificate-authority-data}'`",
        ),
    }[case]
    assert (problem.message, problem.fix) == expected


def test_the_deployers_kubeconfig_is_read_without_a_trace_or_a_quote(tmp_path: Path) -> None:
    """Whatever the deployer's files hold, the check ends in a message, never an exception; a KUBECONFIG
    holding a whole kubeconfig (some set it so) is never quoted."""
    fleet = fleet_of("local")
    odd = {
        "contexts not a list": "contexts: 5\nclusters: 7\n",
        "an impossible date": "contexts: []\nwhen: 2024-02-30\n",
        "a bad int tag": "x: !!int abc\n",
        "deep nesting": "[" * 100_000 + "]" * 100_000,
        "binary": "\x00\xff\xfe",
        "names that are not strings": "contexts: [{name: 1, context: {cluster: 1}}]\nclusters: [{name: 1, cluster: {}}]\n",
    }
    for why, text in odd.items():
        (tmp_path / "config").write_text(text, errors="surrogateescape")
        [problem] = _context_findings(fleet, {"KUBECONFIG": str(tmp_path / "config")}, tmp_path)[0][:1]
        assert problem.message.startswith("'kind-east' is not a context"), why
    # A directory, a CA path with a NUL byte, and no home directory at all.
    west = fleet["clusters"][1]
    entry = {"certificate-authority-data": None, "certificate-authority": "ca\x00.pem"}
    config = _write_kubeconfig(tmp_path / "nul.yaml", _kind_context(fleet["clusters"][0], **entry), _kind_context(west))
    assert _context_findings(fleet, {"KUBECONFIG": f"{tmp_path}:{config}"}, None) == ([], [])
    [problem, _] = _context_findings(fleet, {}, None)[0]
    assert problem.message == (
        "'kind-east' is not a context of the deployer's kubeconfig (~/.kube/config) that names a cluster it defines"
    )
    secret = kubeconfig_of(west, token="hunter2-in-the-environment")
    problems, _ = _context_findings(fleet, {"KUBECONFIG": secret}, tmp_path)
    assert problems and all("hunter2" not in p.render() for p in problems)


def test_embedded_ca_data_takes_precedence_over_a_ca_file(tmp_path: Path) -> None:
    """As in client-go: a context whose certificate-authority-data is this cluster's CA passes, whatever
    file certificate-authority names; unreadable embedded data is not replaced by the file."""
    fleet = fleet_of("local")
    east, west = fleet["clusters"]
    (tmp_path / "west.pem").write_bytes(base64.b64decode(west["caData"]))
    both = {"certificate-authority": "west.pem"}
    config = _write_kubeconfig(tmp_path / "config", _kind_context(east, **both), _kind_context(west))
    assert _context_findings(fleet, {"KUBECONFIG": str(config)}, tmp_path) == ([], [])
    broken = {"certificate-authority": "west.pem", "certificate-authority-data": "bm90IGEgY2VydA=="}
    config = _write_kubeconfig(tmp_path / "config", _kind_context(east, **broken), _kind_context(west))
    assert _context_findings(fleet, {"KUBECONFIG": str(config)}, tmp_path) == ([], [])


def test_a_context_clusters_provider_never_records_the_deployers_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given no kubeconfig, the SDK would copy $KUBECONFIG into the provider's inputs (a path of this
    machine, or a whole kubeconfig in plain state). An empty one makes the provider load the deployer's
    own, and the plan is the same on every machine."""
    from ops.plan import run_plan

    plans = []
    for value in (None, "/home/someone/.kube/config", kubeconfig_of(fleet_of("local")["clusters"][0], token="t0k")):
        if value is None:
            monkeypatch.delenv("KUBECONFIG", raising=False)
        else:
            monkeypatch.setenv("KUBECONFIG", value)
        plan = run_plan(ROOT, stack_config("local"))
        providers = [r for r in plan.resources if r.type == "pulumi:providers:kubernetes"]
        assert [(p.inputs["kubeconfig"], p.inputs["context"]) for p in providers] == [
            ("", "kind-east"),
            ("", "kind-west"),
        ]
        plans.append([(r.urn, r.inputs) for r in plan.resources])
    assert plans[0] == plans[1] == plans[2]


def test_a_context_with_another_address_and_ca_is_a_warning(tmp_path: Path) -> None:
    """kind's loopback address with a CA that is not caData: a re-created cluster (caData out of date,
    peers would fail to reach it), or a proxy (Teleport's local proxy also listens on loopback)."""
    fleet = fleet_of("local")
    east, west = fleet["clusters"]
    config = _write_kubeconfig(
        tmp_path / "config", _kind_context(east, **{"certificate-authority-data": STRANGER_CA}), _kind_context(west)
    )
    problems, [warning] = _context_findings(fleet, {"KUBECONFIG": str(config)}, tmp_path)
    assert problems == []
    assert warning.startswith(
        "clusters[0] (kind-east): context 'kind-east' trusts a CA other than caData. Unless it reaches the "
        "cluster through a proxy (Rancher, Teleport), caData is out of date (a re-created kind cluster?)"
    )


def test_contexts_are_checked_by_preview_and_up_never_by_the_offline_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline plan is the same on every machine: it never reads the deployer's kubeconfig. Inside
    `pulumi preview` and `up` a wrong context stops the program before any resource, without a trace."""
    from components.config import runtime
    from ops.plan import run_plan

    fleet = fleet_of("local")
    west = fleet["clusters"][1]
    (tmp_path / ".kube").mkdir()
    _write_kubeconfig(tmp_path / ".kube" / "config", _kind_context(west))  # no kind-east
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert run_plan(ROOT, config_with(fleet), prevalidate=False).resources
    monkeypatch.setattr(runtime, "is_offline", lambda: False)
    with pytest.raises(pulumi.RunError) as err:
        run_plan(ROOT, config_with(fleet), prevalidate=False)
    assert str(err.value).startswith("invalid stack config (1 problem):\n  - clusters[0].context: 'kind-east' is not")
    assert "Traceback" not in str(err.value)


def test_deep_merge_maps_merge_lists_replace():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    over = {"a": {"y": [3]}, "c": 2}
    assert deep_merge(base, over) == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}


def test_stack_policies_merge_with_defaults_by_name():
    fleet = fleet_of("local")
    fleet["policies"] = {
        "rules": {"team-a": {"kind": "mtls", "mode": "permissive", "namespaces": ["team-a"], "reason": "onboarding"}}
    }
    spec = load_fleet(defaults(), fleet)
    assert sorted(spec.policies.rules) == ["mesh-mtls", "team-a"]


def test_migration_steps_run_in_order(monkeypatch):
    """A test-only schema 0 (fleet name at the top level) migrates to 1."""

    def v0_to_v1(raw: dict[str, Any]) -> dict[str, Any]:
        raw.setdefault("fleet", {})["name"] = raw.pop("fleetName")
        return raw

    monkeypatch.setitem(cfg.MIGRATIONS, 0, v0_to_v1)
    fleet = fleet_of("local")
    old = copy.deepcopy(fleet)
    old["schemaVersion"] = 0
    old["fleetName"] = old["fleet"].pop("name")
    spec = load_fleet(defaults(), old)
    assert spec.fleet.name == "local"
    assert spec.schema_version == 2


def test_migration_missing_step_is_a_clean_error():
    with pytest.raises(ConfigError) as err:
        migrate({"schemaVersion": 0})
    assert "no migration from version 0" in err.value.render()


def test_missing_fleet_key():
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults(), None)
    assert "meshfleet:fleet" in err.value.render()


def test_secret_fields_are_not_printed():
    fleet = fleet_of("local")
    fleet["clusters"][0].pop("context")
    fleet["clusters"][0]["kubeconfig"] = kubeconfig_of(fleet["clusters"][0], token="hunter2")
    spec = load_fleet(defaults(), fleet)
    assert "hunter2" not in repr(spec)
    assert "hunter2" not in str(spec.clusters[0])


def test_schema_command_publishes_camelcase_schema(capsys):
    assert cli.main(["schema"]) == 0
    out = capsys.readouterr().out
    assert '"schemaVersion"' in out and '"podCidr"' in out


def test_unknown_stack_is_a_clean_error(capsys):
    assert cli.main(["plan", "--stack", "nope"]) == 2
    assert "no stack 'nope': the project's stacks are dev, local, prod, staging" in capsys.readouterr().err


def test_encrypted_values_get_placeholders(tmp_path: Path):
    from ops.stackconfig import read_stack_config

    stack = {"config": {"meshfleet:fleet": fleet_of("local")}}
    stack["config"]["meshfleet:fleet"]["clusters"][0].pop("context")
    stack["config"]["meshfleet:fleet"]["clusters"][0]["kubeconfig"] = {"secure": "v1:abc"}
    path = tmp_path / "Pulumi.enc.yaml"
    path.write_text(yaml.safe_dump(stack))
    config = read_stack_config(ROOT, "enc", path)
    assert config.secret_keys == ["meshfleet:fleet"]
    assert config.placeholders == ["meshfleet:fleet.clusters[0].kubeconfig"]
    assert config.value("fleet")["clusters"][0]["kubeconfig"].startswith("[encrypted value")


def test_wrong_typed_secret_value_is_never_echoed():
    fleet = fleet_of("local")
    fleet["clusters"][0].pop("context")
    fleet["clusters"][0]["kubeconfig"] = {"token": "hunter2-do-not-print"}
    problems = problems_of(fleet)
    text = "\n".join(p.render() for p in problems)
    assert "clusters[0].kubeconfig" in text
    assert "hunter2" not in text and "[secret]" in text


def test_existing_ca_must_be_a_ca_certificate():
    fleet = fleet_of("local")
    fleet["clusters"][0]["caData"] = self_signed("kube-apiserver", ca=False)
    (problem,) = [p for p in problems_of(fleet) if p.path == "clusters[0].caData"]
    assert problem.message == "the certificate (CN=kube-apiserver) is not a CA"
    assert "not its serving certificate" in problem.fix


def test_config_must_be_a_map():
    from components.config import parse

    with pytest.raises(ConfigError) as err:
        parse(["not", "a", "map"])  # type: ignore[arg-type]
    assert err.value.problems[0].message == "is a list, not a map"


# --------------------------------------------------------------------------
# Schema 2: the mesh union on `kind`, policy rules under `policies.rules`


def v1_defaults() -> dict[str, Any]:
    """The project defaults as schema 1 wrote them (flat policies), literally."""
    old = defaults()
    old["schemaVersion"] = 1
    old["policies"] = {"mesh-mtls": {"kind": "mtls", "mode": "strict"}}
    return old


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_every_v1_stack_migrates_to_the_same_spec(stack):
    # The v2 defaults pin the baseline set instead of writing its rule: the
    # rules applied are the same, only `policies.sets` records where they came from.
    old, new = load_fleet(v1_defaults(), fleet_of(stack)), load_fleet(defaults(), fleet_of(stack))
    assert new.policies.sets["baseline"] == 1
    assert old.model_dump(exclude={"policies": {"sets"}}) == new.model_dump(exclude={"policies": {"sets"}})


def test_v1_stack_layer_with_flat_policies_over_v2_defaults():
    fleet = fleet_of("local")
    fleet["schemaVersion"] = 1
    fleet["policies"] = {
        "team-a": {"kind": "mtls", "mode": "permissive", "namespaces": ["team-a"], "reason": "onboarding"}
    }
    spec = load_fleet(defaults(), fleet)
    assert spec.schema_version == 2
    assert sorted(spec.policies.rules) == ["mesh-mtls", "team-a"]
    assert spec.policies.rules["team-a"].mode == "permissive"


def test_v1_linkerd_mesh_drops_the_istio_defaults_it_never_meant():
    raw = {"schemaVersion": 1, "mesh": {"kind": "linkerd", "mode": "sidecar", "topology": "multi-primary"}}
    assert migrate(raw)["mesh"] == {"kind": "linkerd"}
    kept = {"schemaVersion": 1, "mesh": {"kind": "linkerd", "mode": "ambient"}}
    assert migrate(kept)["mesh"] == {"kind": "linkerd", "mode": "ambient"}


def test_a_stack_mesh_of_another_kind_replaces_the_default_mesh_whole():
    stack_mesh = {"kind": "linkerd", "version": "2026.6.3", "repository": "https://helm.linkerd.io/edge", "meshId": "m"}
    merged = cfg.merge_layers(defaults(), {"mesh": stack_mesh})
    assert merged["mesh"] == stack_mesh
    same_kind = cfg.merge_layers(defaults(), {"mesh": {"meshId": "m"}})
    assert same_kind["mesh"]["repository"] == "https://istio-release.storage.googleapis.com/charts"
    assert same_kind["mesh"]["meshId"] == "m"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mode", "sidecar", "ambient mode is Istio only"),
        ("topology", "multi-primary", "topology is an Istio choice"),
        ("revisions", ["2026.6.3"], "revisions are an Istio feature; linkerd upgrades in place"),
        ("stableRevision", "2026.6.3", "revisions are an Istio feature; linkerd upgrades in place"),
    ],
)
def test_istio_only_fields_on_another_kind_say_so(field, value, message):
    fleet = fleet_of("local")
    fleet["mesh"] = {
        "kind": "linkerd",
        "version": "2026.6.3",
        "repository": "https://helm.linkerd.io/edge",
        "meshId": "local",
        field: value,
    }
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults(), fleet)
    (problem,) = err.value.problems
    assert problem.path == f"mesh.{field}"
    assert message in problem.message
    assert "remove mesh." in problem.fix
