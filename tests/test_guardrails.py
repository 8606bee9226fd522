"""The guardrails: each rule called directly (compliant, violating, missing property), the pack config,
the offline run of every stack, and a mutated plan with one deliberate violation per rule."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pytest

from ops import guard
from ops.cli import main
from policies.guardrails import config as pack_config
from policies.guardrails.rules import (
    RULES,
    RULES_BY_NAME,
    UNKNOWN,
    Context,
    Graph,
    Resource,
    VersionSupport,
    check_elastic_ip_quota,
    check_encryption_and_logging,
    check_helm_pinned,
    check_in_cluster_provider,
    check_intermediate_lifetime,
    check_key_algorithms,
    check_mesh_mtls,
    check_no_latest_images,
    check_node_pools,
    check_one_provider_per_cluster,
    check_open_endpoints,
    check_root_protected,
    check_version_support,
    evaluate,
)
from tests.helpers import ROOT, plan_stack

TODAY = date(2026, 1, 1)
CTX = Context(today=TODAY)
S = "urn:pulumi:t::meshfleet::"
POOLS = {"maxNodes": 100, "minProductionNodes": 2}


def res(type_: str, name: str, props: dict[str, Any] | None = None, **kw: Any) -> Resource:
    return Resource(type=type_, urn=f"{S}{type_}::{name}", name=name, props=props or {}, **kw)


def fleet(environment: str = "production", protect: bool = True, mesh: str = "istio") -> Resource:
    facts = {"environment": environment, "protect": protect, "mesh": mesh}
    return res("meshfleet:index:Fleet", "acme", {"facts": facts})


# --------------------------------------------------------------------------
# mesh-mtls-strict


def cluster_with(objects: list[Resource], name: str = "east") -> list[Resource]:
    """A cluster component, its provider, and `objects` sent through that provider."""
    component = res("meshfleet:cluster:Existing", name)
    provider = res(
        "pulumi:providers:kubernetes",
        f"{name}-k8s",
        {"clusterIdentifier": f"meshfleet/acme-{name}"},
        parent=component.urn,
    )
    placed = [Resource(**{**o.__dict__, "provider": provider.urn}) for o in objects]
    return [component, provider, *placed]


def peer_auth(mode: str = "STRICT", namespace: str = "istio-system", selector: Any = None) -> Resource:
    spec: dict[str, Any] = {"mtls": {"mode": mode}}
    if selector:
        spec["selector"] = selector
    return res(
        "kubernetes:security.istio.io/v1:PeerAuthentication",
        f"east-mtls-{namespace}",
        {"metadata": {"name": "default", "namespace": namespace}, "spec": spec},
    )


def mtls(resources: list[Resource]) -> list[tuple[str, str]]:
    return check_mesh_mtls(Graph(resources), {}, CTX)


def test_mtls_istio_strict_peer_authentication_in_root_namespace_is_compliant():
    assert mtls([fleet(), *cluster_with([peer_auth()])]) == []


@pytest.mark.parametrize(
    "objects",
    [
        [],  # missing: no compiled policy object at all
        [peer_auth(mode="PERMISSIVE")],
        [peer_auth(namespace="payments")],  # namespace-wide only
        [peer_auth(selector={"matchLabels": {"app": "x"}})],  # one workload only
    ],
)
def test_mtls_istio_without_a_mesh_wide_strict_policy_is_a_violation(objects):
    found = mtls([fleet(), *cluster_with(objects)])
    assert [(u.rsplit("::", 1)[1], m.split(":")[0]) for u, m in found] == [
        ("east-k8s", "cluster east accepts plaintext")
    ]
    assert "no mesh-wide PeerAuthentication with mtls.mode STRICT in the root namespace istio-system" in found[0][1]


def test_mtls_reads_the_root_namespace_from_istiod_values():
    istiod = res(HELM, "east-istiod", {"chart": "istiod", "values": {"meshConfig": {"rootNamespace": "mesh-root"}}})
    assert mtls([fleet(), *cluster_with([istiod, peer_auth(namespace="mesh-root")])]) == []
    assert len(mtls([fleet(), *cluster_with([istiod, peer_auth()])])) == 1


def test_mtls_is_only_required_in_production_and_disable_is_refused_there():
    assert mtls([fleet("staging"), *cluster_with([])]) == []
    found = mtls([fleet(), *cluster_with([peer_auth(), peer_auth("DISABLE", "legacy")])])
    assert [u.rsplit("::", 1)[1] for u, _ in found] == ["east-mtls-legacy"]


HELM = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize(("policy", "violations"), [("all-authenticated", 0), ("all-unauthenticated", 1), (None, 1)])
def test_mtls_linkerd_reads_the_control_plane_default_inbound_policy(policy, violations):
    values = {"proxy": {"defaultInboundPolicy": policy}} if policy else {}
    cp = res(HELM, "east-linkerd-control-plane", {"chart": "linkerd-control-plane", "values": values})
    assert len(mtls([fleet(mesh="linkerd"), *cluster_with([cp])])) == violations


def test_mtls_consul_needs_a_mesh_wide_default_deny():
    chart = res(HELM, "east-consul", {"chart": "consul", "values": {"global": {"acls": {"manageSystemACLs": True}}}})
    deny = res(
        "kubernetes:consul.hashicorp.com/v1alpha1:ServiceIntentions",
        "east-deny-all",
        {"spec": {"destination": {"name": "*"}, "sources": [{"name": "*", "action": "deny"}]}},
    )
    open_chart = res(HELM, "east-consul", {"chart": "consul", "values": {}})
    assert mtls([fleet(mesh="consul"), *cluster_with([chart])]) == []
    assert mtls([fleet(mesh="consul"), *cluster_with([open_chart, deny])]) == []
    assert len(mtls([fleet(mesh="consul"), *cluster_with([open_chart])])) == 1


# --------------------------------------------------------------------------
# no-open-endpoints


def open_(r: Resource) -> list[str]:
    return check_open_endpoints(r, {}, CTX)


EKS = "aws:eks/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
GKE = "gcp:container/cluster:Cluster"


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (EKS, {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["198.51.100.0/28"]}}),
        (EKS, {"vpcConfig": {"endpointPublicAccess": False}}),
        (AKS, {"apiServerAccessProfile": {"authorizedIPRanges": ["198.51.100.0/28"]}}),
        (AKS, {"apiServerAccessProfile": {"enablePrivateCluster": True}}),
        (GKE, {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "198.51.100.0/28"}]}}),
        (
            "kubernetes:core/v1:Service",
            {"spec": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["203.0.113.5/32"]}},
        ),
        ("kubernetes:core/v1:Service", {"spec": {"type": "ClusterIP"}}),
        (HELM, {"chart": "gateway", "values": {"service": {"loadBalancerSourceRanges": ["203.0.113.5/32"]}}}),
        (
            HELM,
            {
                "chart": "consul",
                "values": {
                    "meshGateway": {
                        "enabled": True,
                        "service": {"additionalSpec": "loadBalancerSourceRanges: [203.0.113.5/32]\n"},
                    }
                },
            },
        ),
        # A first preview: the peers' egress (and so the source ranges) is unknown, judged at the next one.
        (
            HELM,
            {"chart": "consul", "values": {"meshGateway": {"enabled": True, "service": {"additionalSpec": UNKNOWN}}}},
        ),
    ],
)
def test_open_endpoints_compliant(type_, props):
    assert open_(res(type_, "x", props)) == []


@pytest.mark.parametrize(
    ("type_", "props", "expected"),
    [
        (
            EKS,
            {"vpcConfig": {"publicAccessCidrs": ["198.51.100.0/28", "0.0.0.0/0"]}},
            "the EKS public API endpoint admits 0.0.0.0/0 in 'vpcConfig.publicAccessCidrs'",
        ),
        (
            AKS,
            {"apiServerAccessProfile": {"authorizedIPRanges": ["::/0"]}},
            "the AKS API server admits ::/0 in 'apiServerAccessProfile.authorizedIPRanges'",
        ),
        (
            GKE,
            {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]}},
            "the GKE control plane admits 0.0.0.0/0",
        ),
        (
            "kubernetes:core/v1:Service",
            {"metadata": {"name": "gw"}, "spec": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["0.0.0.0/0"]}},
            "Service gw (a LoadBalancer Service) admits 0.0.0.0/0",
        ),
        (
            HELM,
            {
                "chart": "linkerd-multicluster",
                "name": "lm",
                "values": {"gateway": {"loadBalancerSourceRanges": ["0.0.0.0/0"]}},
            },
            "Linkerd gateway of release lm (a LoadBalancer Service) admits 0.0.0.0/0",
        ),
    ],
)
def test_open_endpoints_violating(type_, props, expected):
    found = open_(res(type_, "x", props))
    assert len(found) == 1 and found[0].startswith(expected), found
    assert "fleet.apiAccess" in found[0]


@pytest.mark.parametrize(
    ("type_", "props", "expected"),
    [
        # The EKS API defaults to a public endpoint open to 0.0.0.0/0.
        (EKS, {}, "the EKS public API endpoint has no allow-list ('vpcConfig.publicAccessCidrs' is empty or missing"),
        (AKS, {}, "the AKS API server has no allow-list"),
        (GKE, {}, "the GKE control plane has no allow-list"),
        # Istio's gateway chart defaults to a LoadBalancer Service.
        (
            HELM,
            {"chart": "gateway", "name": "ew", "values": {}},
            "gateway release ew (a LoadBalancer Service) has no allow-list",
        ),
        (
            HELM,
            {"chart": "consul", "name": "c", "values": {"meshGateway": {"enabled": True}}},
            "Consul mesh gateway of release c (a LoadBalancer Service) has no allow-list",
        ),
    ],
)
def test_open_endpoints_missing_allow_list(type_, props, expected):
    found = open_(res(type_, "x", props))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_allow_list_unknown_during_a_first_preview_is_not_judged():
    # The lists are computed from egress addresses a first preview does not know yet.
    assert open_(res(EKS, "x", {"vpcConfig": {"publicAccessCidrs": "[unknown]"}})) == []
    assert open_(res(GKE, "x", {"masterAuthorizedNetworksConfig": {"cidrBlocks": "[unknown]"}})) == []
    assert open_(res(AKS, "x", {"apiServerAccessProfile": {"authorizedIPRanges": ["[unknown]", "0.0.0.0/0"]}})) != []


def test_gke_public_google_ranges_are_open_too():
    props = {
        "masterAuthorizedNetworksConfig": {
            "cidrBlocks": [{"cidrBlock": "198.51.100.0/28"}],
            "gcpPublicCidrsAccessEnabled": True,
        }
    }
    assert open_(res(GKE, "x", props)) == [
        "the GKE control plane admits every Google Cloud public address "
        "(masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled); set it to false"
    ]


# --------------------------------------------------------------------------
# node-pool-autoscaling


def pools(resources: list[Resource], cfg: dict[str, int] = POOLS) -> list[str]:
    return [m for _, m in check_node_pools(Graph(resources), cfg, CTX)]


NG = "aws:eks/nodeGroup:NodeGroup"
AP = "azure-native:containerservice:AgentPool"
NP = "gcp:container/nodePool:NodePool"


def test_node_pools_compliant_on_every_cloud():
    gke = res(GKE, "c", {"nodeLocations": ["europe-west1-b", "europe-west1-c"]})
    pool = res(
        NP,
        "p",
        {"name": "general", "location": "europe-west1", "autoscaling": {"minNodeCount": 1, "maxNodeCount": 6}},
        property_dependencies={"cluster": (gke.urn,)},
    )
    resources = [
        fleet(),
        res(NG, "ng", {"scalingConfig": {"minSize": 3, "maxSize": 9, "desiredSize": 3}}),
        res(AP, "ap", {"enableAutoScaling": True, "minCount": 3, "maxCount": 20}),
        gke,
        pool,  # 1 per zone x 2 zones = 2 nodes at least
    ]
    assert pools(resources) == []


def test_gke_pool_totals_of_zero_are_unset_per_zone_bounds_rule():
    """Under the CLI, stack policies read outputs, where unset total bounds may come back as 0."""
    autoscaling = {"minNodeCount": 1, "maxNodeCount": 3, "totalMinNodeCount": 0, "totalMaxNodeCount": 0}
    per_zone = res(NP, "p", {"name": "general", "location": "europe-west1", "autoscaling": autoscaling})
    assert pools([fleet(), per_zone]) == []  # 1..3 per zone x 3 zones, not "0 to 0"
    totals = {"totalMinNodeCount": 1, "totalMaxNodeCount": 200}
    by_total = res(NP, "q", {"name": "batch", "location": "europe-west1", "autoscaling": totals})
    assert pools([fleet("dev"), by_total]) == [
        "GKE node pool batch scales from 1 to 200 nodes ('autoscaling.totalMinNodeCount/totalMaxNodeCount'); "
        "keep 0 <= min <= max, 1 <= max <= 100"
    ]


def test_zonal_eks_node_groups_of_one_template_are_judged_as_one_pool():
    """meshfleet's EKS pool is a node group per zone from one launch template: the bounds that count are the sums."""
    template = res("aws:ec2/launchTemplate:LaunchTemplate", "system-template")

    def group(zone: str, lo: int, hi: int, desired: int | None = None) -> Resource:
        scaling = {"minSize": lo, "maxSize": hi, "desiredSize": lo if desired is None else desired}
        props = {"nodeGroupNamePrefix": f"system-{zone}-", "scalingConfig": scaling}
        return res(NG, f"ng-{zone}", props, property_dependencies={"launchTemplate": (template.urn,)})

    # 1 + 1 + 0 = 2 nodes at least, 2 + 2 + 1 at most: compliant although each group alone is not.
    assert pools([fleet(), template, group("a", 1, 2), group("b", 1, 2), group("c", 0, 1)]) == []
    label = "EKS node pool of groups system-a-, system-b-, system-c-"
    assert pools([fleet(), template, group("a", 1, 2), group("b", 0, 2, desired=3), group("c", 0, 1)]) == [
        f"{label}: EKS node group system-b-: scalingConfig.desiredSize 3 is outside [0, 2]; keep it within minSize "
        "and maxSize",
        f"{label} may shrink to 1 node(s) in production: one node failure takes the pool down; raise its minimum "
        "to at least 2 nodes ('scalingConfig.minSize/maxSize, summed over the groups')",
    ]


def test_node_pools_violating_bounds_and_single_node_production():
    resources = [
        fleet(),
        res(NG, "ng", {"nodeGroupName": "system", "scalingConfig": {"minSize": 1, "maxSize": 500, "desiredSize": 1}}),
        res(
            NP,
            "p",
            {"name": "zonal", "location": "europe-west1-b", "autoscaling": {"minNodeCount": 1, "maxNodeCount": 3}},
        ),
    ]
    assert pools(resources) == [
        "EKS node group system scales from 1 to 500 nodes ('scalingConfig.minSize/maxSize'); "
        "keep 0 <= min <= max, 1 <= max <= 100",
        "EKS node group system may shrink to 1 node(s) in production: one node failure takes the pool down; "
        "raise its minimum to at least 2 nodes ('scalingConfig.minSize/maxSize')",
        "GKE node pool zonal may shrink to 1 node(s) in production: one node failure takes the pool down; "
        "raise its minimum to at least 2 nodes ('autoscaling.minNodeCount/maxNodeCount (per zone, 1 zones)')",
    ]
    # The same single-node pools outside production: only the bound.
    assert len(pools([fleet("dev"), *resources[1:]])) == 1


def test_node_pools_missing_autoscaling():
    resources = [
        res(AP, "ap", {"agentPoolName": "work", "count": 3}),
        res(AKS, "c", {"agentPoolProfiles": [{"name": "system", "count": 3}]}),
        res(NP, "p", {"name": "fixed", "location": "europe-west1", "nodeCount": 3}),
        res(NG, "ng", {"nodeGroupName": "x"}),
    ]
    found = pools(resources)
    assert [m.split(" does not autoscale")[0] for m in found] == [
        "AKS pool work",
        "AKS pool system",
        "GKE node pool fixed",
        "EKS node group x",
    ]
    assert "'enableAutoScaling' is not set" in found[0]


def test_node_pool_limits_come_from_the_pack_config():
    ng = res(NG, "ng", {"scalingConfig": {"minSize": 3, "maxSize": 50}})
    assert pools([fleet(), ng], {"maxNodes": 40, "minProductionNodes": 4}) == [
        "EKS node group ng scales from 3 to 50 nodes ('scalingConfig.minSize/maxSize'); keep 0 <= min <= max, 1 <= max <= 40",
        "EKS node group ng may shrink to 3 node(s) in production: one node failure takes the pool down; "
        "raise its minimum to at least 4 nodes ('scalingConfig.minSize/maxSize')",
    ]


# --------------------------------------------------------------------------
# aws-elastic-ip-quota


def _aws_network(cluster: str, account: str, region: str, eips: int) -> list[Resource]:
    """A network component, its AWS provider (inputs as the engine gets them: lists JSON-encoded) and
    `eips` Elastic IPs through it."""
    network = res("meshfleet:network:Aws", f"{cluster}-network")
    provider = res(
        "pulumi:providers:aws",
        f"{cluster}-network-provider",
        {"allowedAccountIds": json.dumps([account]), "region": region},
        parent=network.urn,
    )
    return [
        network,
        provider,
        *(
            res(
                "aws:ec2/eip:Eip",
                f"{cluster}-network-eip-{k}",
                {"domain": "vpc"},
                parent=network.urn,
                provider=provider.urn,
            )
            for k in range(eips)
        ),
    ]


def eip_findings(resources: list[Resource], per_region: int = 5) -> list[tuple[str, str]]:
    return check_elastic_ip_quota(Graph(resources), {"perRegion": per_region}, CTX)


def test_elastic_ips_are_counted_per_account_and_region() -> None:
    """Two EKS clusters of one account in one region share its quota; another region or account has its own."""
    apart = [
        *_aws_network("use1", "111111111111", "us-east-1", 3),
        *_aws_network("usw2", "111111111111", "us-west-2", 3),
        *_aws_network("other", "222222222222", "us-east-1", 3),
    ]
    assert eip_findings(apart) == []
    together = [*apart, *_aws_network("use1b", "111111111111", "us-east-1", 3)]
    [(urn, message)] = eip_findings(together)
    assert urn == f"{S}aws:ec2/eip:Eip::use1-network-eip-0"
    assert message == (
        "6 Elastic IPs in region us-east-1 of account 111111111111 (use1-network, use1b-network), over the quota "
        "of 5 (AWS default): a first `up` stops where the quota runs out (AddressLimitExceeded), half built. "
        "Request at least 6 plus the addresses the account already holds "
        "there (Service Quotas: Amazon EC2, 'EC2-VPC Elastic IPs', L-0263D0A3), then set "
        "aws-elastic-ip-quota.perRegion in the pack config"
    )
    # The quota the team has raised to, from the pack config.
    assert eip_findings(together, per_region=6) == []
    assert eip_findings(together, per_region=4)[0][1].startswith("6 Elastic IPs in region us-east-1")


def test_elastic_ips_of_a_provider_not_known_yet_are_counted_together() -> None:
    """A preview's unknown region, or no explicit provider: counted under '?' rather than not at all."""
    network = _aws_network("use1", "111111111111", UNKNOWN, 6)
    [(_, message)] = eip_findings(network)
    assert message.startswith("6 Elastic IPs in region ? of account 111111111111 (use1-network)")
    network = _aws_network("use1", UNKNOWN, "us-east-1", 6)
    [(_, message)] = eip_findings(network)
    assert message.startswith("6 Elastic IPs in region us-east-1 of account ? (use1-network)")


# --------------------------------------------------------------------------
# encryption-and-logging

EKS_OK = {
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
}
GKE_OK = {
    "databaseEncryption": {"state": "ENCRYPTED", "keyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
    "loggingConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "APISERVER"]},
}
AKS_OK = {
    "resourceName": "acme-weu",
    "securityProfile": {"azureKeyVaultKms": {"enabled": True, "keyId": "https://kv/k"}},
}


def aks_logs(cluster: Resource, categories: list[str]) -> Resource:
    return res(
        "azure-native:monitor:DiagnosticSetting",
        "logs",
        {"logs": [{"category": c, "enabled": True} for c in categories]},
        property_dependencies={"resourceUri": (cluster.urn,)},
    )


def enc(resources: list[Resource]) -> list[str]:
    return [m for _, m in check_encryption_and_logging(Graph(resources), {}, CTX)]


def test_encryption_and_logging_compliant():
    aks = res(AKS, "aks", AKS_OK)
    assert (
        enc(
            [
                res(EKS, "eks", EKS_OK),
                res(GKE, "gke", GKE_OK),
                aks,
                aks_logs(aks, ["kube-apiserver", "kube-audit-admin"]),
            ]
        )
        == []
    )


def test_encryption_and_logging_violating():
    eks = res(EKS, "eks", {**EKS_OK, "enabledClusterLogTypes": ["api"]})
    gke = res(GKE, "gke", {**GKE_OK, "databaseEncryption": {"state": "DECRYPTED"}})
    aks = res(AKS, "aks", AKS_OK)
    assert enc([eks, gke, aks, aks_logs(aks, ["kube-apiserver"])]) == [
        "EKS control-plane logs audit, authenticator are off: add them to enabledClusterLogTypes",
        "GKE cluster has no application-layer Secrets encryption: set databaseEncryption "
        "{state: ENCRYPTED, keyName: <Cloud KMS key>}",
        "AKS control-plane logs kube-audit-admin go nowhere: add a diagnostic setting on the cluster that enables them",
    ]


def test_encryption_and_logging_missing_properties():
    found = enc([res(EKS, "eks"), res(GKE, "gke"), res(AKS, "aks")])
    assert [m.split(":")[0] for m in found] == [
        "EKS cluster stores Secrets unencrypted",
        "EKS control-plane logs api, audit, authenticator are off",
        "GKE cluster has no application-layer Secrets encryption",
        "GKE control-plane logging lacks SYSTEM_COMPONENTS, APISERVER",
        "AKS cluster has no etcd encryption with a Key Vault key",
        "AKS control-plane logs kube-apiserver, kube-audit-admin go nowhere",
    ]


# --------------------------------------------------------------------------
# trust rules

PK = "tls:index/privateKey:PrivateKey"
SSC = "tls:index/selfSignedCert:SelfSignedCert"
LSC = "tls:index/locallySignedCert:LocallySignedCert"


def trust(
    root_hours: Any = 87600, inter_hours: Any = 8760, protect: bool = True, curve: str | None = "P256"
) -> list[Resource]:
    key_props: dict[str, Any] = {"algorithm": "ECDSA", **({"ecdsaCurve": curve} if curve else {})}
    key = res(PK, "root-key", key_props, protect=protect)
    root_props: dict[str, Any] = {"isCaCertificate": True}
    if root_hours is not None:
        root_props["validityPeriodHours"] = root_hours
    root = res(SSC, "root-cert", root_props, protect=protect, property_dependencies={"privateKeyPem": (key.urn,)})
    inter_props: dict[str, Any] = {"isCaCertificate": True}
    if inter_hours is not None:
        inter_props["validityPeriodHours"] = inter_hours
    inter = res(LSC, "east-ca-cert", inter_props, property_dependencies={"caCertPem": (root.urn,)})
    return [key, root, inter]


def names(found: list[tuple[str, str]]) -> list[str]:
    return [u.rsplit("::", 1)[1] for u, _ in found]


def test_root_protected():
    assert check_root_protected(Graph([fleet(), *trust()]), {}, CTX) == []
    unprotected = Graph([fleet(), *trust(protect=False)])
    found = check_root_protected(unprotected, {}, CTX)
    assert names(found) == ["root-cert", "root-key"]
    assert "fleet.protect" in found[0][1] and "set protect=True" in found[0][1]
    # The stack's protection setting off, or not known: nothing to enforce.
    assert check_root_protected(Graph([fleet(protect=False), *trust(protect=False)]), {}, CTX) == []
    assert check_root_protected(Graph(trust(protect=False)), {}, CTX) == []


@pytest.mark.parametrize(
    ("mesh", "key", "ok"),
    [
        ("istio", {"algorithm": "ECDSA", "ecdsaCurve": "P256"}, True),
        ("istio", {"algorithm": "RSA", "rsaBits": 4096}, True),
        ("istio", {"algorithm": "RSA"}, True),  # pulumi_tls default: 2048 bits
        ("linkerd", {"algorithm": "ECDSA", "ecdsaCurve": "P256"}, True),
        ("linkerd", {"algorithm": "ECDSA", "ecdsaCurve": "P384"}, False),
        ("linkerd", {"algorithm": "RSA", "rsaBits": 2048}, False),
        ("consul", {"algorithm": "ECDSA", "ecdsaCurve": "P384"}, True),
        ("istio", {"algorithm": "ED25519"}, False),
        ("istio", {"algorithm": "ECDSA"}, False),  # missing curve: pulumi_tls defaults to P224
        ("istio", {}, False),
    ],
)
def test_key_algorithms(mesh, key, ok):
    found = check_key_algorithms(Graph([fleet(mesh=mesh), res(PK, "k", key)]), {}, CTX)
    assert (found == []) is ok, found
    if not ok:
        assert found[0][1].startswith(f"{mesh} does not accept")
        assert "ECDSA P-256 works for every mesh" in found[0][1]


def test_intermediate_lifetime():
    ok = check_intermediate_lifetime(Graph(trust()), {}, CTX)
    longer = check_intermediate_lifetime(Graph(trust(inter_hours=87600)), {}, CTX)
    missing = check_intermediate_lifetime(Graph(trust(root_hours=None)), {}, CTX)
    assert ok == []
    assert longer == [
        (
            f"{S}{LSC}::east-ca-cert",
            "the intermediate lives 87600 h, not less than its root's 87600 h: it would outlive the root; "
            "lower trust.intermediateValidityHours (or rotate to a longer-lived root)",
        )
    ]
    assert [m.split(" is not set")[0] for _, m in missing] == ["the intermediate's or its root's validityPeriodHours"]


# --------------------------------------------------------------------------
# helm-pinned, no-latest-images


def release(**props: Any) -> Resource:
    return res(
        HELM,
        "r",
        {"chart": "istiod", "repositoryOpts": {"repo": "https://charts.example"}, "version": "1.30.3", **props},
    )


def test_helm_pinned():
    assert check_helm_pinned(release(), {}, CTX) == []
    assert check_helm_pinned(res(HELM, "r", {"chart": "oci://registry/x", "version": "1.2.3"}), {}, CTX) == []
    assert check_helm_pinned(release(version="~1.30"), {}, CTX) == [
        "Helm chart istiod has version '~1.30': pin an exact chart version (e.g. 1.30.3) in stack config"
    ]
    missing = check_helm_pinned(res(HELM, "r", {"chart": "istiod"}), {}, CTX)
    assert [m.split(":")[0] for m in missing] == [
        "Helm chart istiod has no version",
        "Helm chart istiod names no repository",
    ]
    assert check_helm_pinned(res("kubernetes:core/v1:Namespace", "n"), {}, CTX) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"image": {"tag": "v1.33.6"}}, []),
        ({"global": {"image": "hashicorp/consul:1.19.2"}}, []),
        ({"image": "ghcr.io/x/y@sha256:abc"}, []),
        ({"image": {"tag": "latest"}}, ["values.image.tag = 'latest'"]),
        (
            {"global": {"image": "hashicorp/consul"}},
            ["values.global.image = 'hashicorp/consul' has no tag (pulls latest)"],
        ),
        (
            {"sidecar": [{"image": "localhost:5000/x:latest"}]},
            ["values.sidecar[0].image = 'localhost:5000/x:latest' is tagged latest"],
        ),
        ({}, []),
    ],
)
def test_no_latest_images_in_helm_values(values, expected):
    found = check_no_latest_images(release(values=values), {}, CTX)
    assert [f.split(": pin an exact")[0] for f in found] == expected


def test_no_latest_images_in_workloads():
    pod = {"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.27"}, {"image": "busybox"}]}}}}
    found = check_no_latest_images(res("kubernetes:apps/v1:Deployment", "d", pod), {}, CTX)
    assert found == [
        "spec.template.spec.containers[1].image = 'busybox' has no tag (pulls latest): "
        "pin an exact image tag or digest (a moving tag changes what runs without a diff)"
    ]
    assert check_no_latest_images(res("kubernetes:apps/v1:Deployment", "d", {}), {}, CTX) == []


# --------------------------------------------------------------------------
# fleet-tags through the catalogue (the tag table itself: tests/test_policies.py)


def test_fleet_tags_rule_reports_missing_tags_and_the_fix():
    tags = {"fleet": "a", "environment": "dev", "owner": "o", "managed-by": "meshfleet"}
    check = RULES_BY_NAME["fleet-tags"].resource_check
    assert check is not None
    assert check(res("aws:ec2/vpc:Vpc", "v", {"tags": tags}), {}, CTX) == []
    assert check(res("aws:ec2/vpc:Vpc", "v", {"tags": {k: v for k, v in tags.items() if k != "owner"}}), {}, CTX) == [
        "aws:ec2/vpc:Vpc is missing the 'owner' tag in 'tags'; set them with components.common.fleet_tags "
        "on the resource itself (provider default tags do not count)"
    ]
    assert len(check(res("aws:ec2/vpc:Vpc", "v", {}), {}, CTX)) == 1


# --------------------------------------------------------------------------
# kubernetes-version-support (advisory), with an injected verdict


BILLED = "extended support (billed)"


def fake_support(ends: dict[str, date], extended_ends: dict[str, date] | None = None, *, usable: bool = True):
    """A support calendar: version -> first day without standard support and (`extended_ends`) without
    extended support; `usable`: every cluster of the cloud can run in extended support (as on EKS).
    Unknown versions give None."""

    def supported(cloud: str, version: str, day: date) -> VersionSupport | None:
        if version not in ends:
            return None
        end, extended_end = ends[version], (extended_ends or {}).get(version)
        status: Literal["standard", "extended", "end-of-life"]
        if day < end:
            status = "standard"
        elif extended_end is not None and day < extended_end:
            status = "extended"
        else:
            status = "end-of-life"
        return VersionSupport(status, end, extended_end, BILLED, usable)

    return supported


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.35", []),
        (
            "1.33",
            [
                "Kubernetes 1.33 reaches its end of support on aws within 90 days: plan the upgrade to the next minor (version)"
            ],
        ),
        ("1.29", ["Kubernetes 1.29 is past its end of support on aws: upgrade one minor version at a time (version)"]),
        ("1.99", []),  # unknown to the data: no verdict
    ],
)
def test_version_support(version, expected):
    ctx = Context(TODAY, fake_support({"1.35": date(2027, 6, 1), "1.33": date(2026, 3, 1), "1.29": date(2025, 3, 1)}))
    assert check_version_support(res(EKS, "c", {"version": version}), {"warnDays": 90}, ctx) == expected


def test_version_support_window_and_missing_property():
    ctx = Context(TODAY, fake_support({"1.33": date(2026, 3, 1)}))
    assert check_version_support(res(GKE, "c", {"minMasterVersion": "1.33"}), {"warnDays": 30}, ctx) == []
    assert len(check_version_support(res(AKS, "c", {"kubernetesVersion": "1.33"}), {"warnDays": 60}, ctx)) == 1
    assert check_version_support(res(EKS, "c", {}), {"warnDays": 90}, ctx) == []
    # No support data: the rule says nothing (meshfleet plan prints a note).
    assert check_version_support(res(EKS, "c", {"version": "1.29"}), {"warnDays": 90}, CTX) == []


def test_version_in_extended_support_is_reported_with_its_standard_end_and_charge():
    """Past standard support, extended support far from its end: still reported (EKS bills every cluster-hour)."""
    ctx = Context(TODAY, fake_support({"1.30": date(2025, 7, 23)}, {"1.30": date(2026, 7, 23)}))
    assert check_version_support(res(EKS, "c", {"version": "1.30"}), {"warnDays": 90}, ctx) == [
        "Kubernetes 1.30 is past its standard support on aws (ended 2025-07-23) and runs on extended support "
        "(billed) until 2026-07-23: upgrade one minor version at a time (version)"
    ]


def test_version_in_extended_support_ending_within_warn_days_is_one_message():
    """In extended support AND its end within warnDays: one message with both facts, not two."""
    ctx = Context(TODAY, fake_support({"1.30": date(2025, 7, 23)}, {"1.30": date(2026, 3, 1)}))
    assert check_version_support(res(EKS, "c", {"version": "1.30"}), {"warnDays": 90}, ctx) == [
        "Kubernetes 1.30 is past its standard support on aws (ended 2025-07-23) and runs on extended support "
        "(billed) only until 2026-03-01, within 90 days: then it is past all support; upgrade one minor version "
        "at a time (version)"
    ]
    # Once extended support has ended too: past all support, the existing message.
    late = Context(date(2026, 3, 1), ctx.supported)
    assert check_version_support(res(EKS, "c", {"version": "1.30"}), {"warnDays": 90}, late) == [
        "Kubernetes 1.30 is past its end of support on aws: upgrade one minor version at a time (version)"
    ]


def test_version_support_warn_days_count_to_the_end_of_usable_extended_support():
    """In standard support, entering (usable) extended support within warnDays: nothing yet, as before."""
    ctx = Context(TODAY, fake_support({"1.33": date(2026, 3, 1)}, {"1.33": date(2027, 3, 1)}))
    assert check_version_support(res(EKS, "c", {"version": "1.33"}), {"warnDays": 90}, ctx) == []


def test_version_in_extended_support_only_where_a_valid_config_can_use_it():
    """AKS LTS needs Premium (not configured): past standard support is past support. GKE: only on the
    Extended channel; an unknown channel is judged at the next preview."""
    extended = fake_support({"1.33": date(2025, 8, 1)}, {"1.33": date(2027, 6, 3)}, usable=False)
    ctx = Context(TODAY, extended)
    past = "Kubernetes 1.33 is past its end of support on {}: upgrade one minor version at a time ({})"
    assert check_version_support(res(AKS, "c", {"kubernetesVersion": "1.33"}), {"warnDays": 90}, ctx) == [
        past.format("azure", "kubernetesVersion")
    ]
    regular = {"minMasterVersion": "1.33", "releaseChannel": {"channel": "REGULAR"}}
    assert check_version_support(res(GKE, "c", regular), {"warnDays": 90}, ctx) == [
        past.format("gcp", "minMasterVersion")
    ]
    on_extended = {"minMasterVersion": "1.33", "releaseChannel": {"channel": "EXTENDED"}}
    assert check_version_support(res(GKE, "c", on_extended), {"warnDays": 90}, ctx) == [
        "Kubernetes 1.33 is past its standard support on gcp (ended 2025-08-01) and runs on extended support "
        "(billed) until 2027-06-03: upgrade one minor version at a time (minMasterVersion)"
    ]
    unknown = {"minMasterVersion": "1.33", "releaseChannel": {"channel": UNKNOWN}}
    assert check_version_support(res(GKE, "c", unknown), {"warnDays": 90}, ctx) == []


def test_support_check_maps_the_config_packages_verdict():
    import components.config.cloudfacts as facts
    from policies.guardrails.support import support_check

    check = support_check()
    assert check is not None
    for cloud, version, day in [
        ("aws", "1.33", TODAY),
        ("aws", "1.33", date(2026, 11, 30)),
        ("aws", "1.31", date(2026, 11, 30)),
        ("aws", "1.20", TODAY),
        ("aws", "1.99", TODAY),
        ("gcp", "1.33", date(2026, 11, 30)),
        ("azure", "1.33", date(2026, 11, 30)),
    ]:
        verdict = facts.support_verdict(cloud, version, day)
        got = check(cloud, version, day)
        if verdict.status in ("unknown", "not-yet-available"):
            assert got is None
            continue
        assert got is not None and got.status == verdict.status
        assert got.extended == verdict.extended and got.extended_usable == verdict.extended_usable
        window = verdict.window
        assert (got.standard_end, got.extended_end) == (
            (window.standard_end, window.extended_end) if window is not None else (None, None)
        )


def test_eks_1_33_on_2026_11_30_is_in_extended_support_by_the_real_data():
    """The stacks' EKS clusters (1.33) on 2026-11-30, through support_check() and components/config/data/aws.yaml:
    standard support ended 2026-07-29, extended support (EKS's extra charge) runs until 2027-07-29."""
    from policies.guardrails.support import support_check

    ctx = Context(date(2026, 11, 30), support_check())
    assert check_version_support(res(EKS, "c", {"version": "1.33"}), {"warnDays": 90}, ctx) == [
        "Kubernetes 1.33 is past its standard support on aws (ended 2026-07-29) and runs on extended support "
        "(an extra per-cluster-hour charge; meshfleet sets upgrade policy EXTENDED) until 2027-07-29: upgrade one "
        "minor version at a time (version)"
    ]
    # EKS 1.31 on the same day: extended support ended on 2026-11-26.
    assert check_version_support(res(EKS, "c", {"version": "1.31"}), {"warnDays": 90}, ctx) == [
        "Kubernetes 1.31 is past its end of support on aws: upgrade one minor version at a time (version)"
    ]
    # ... and on 2026-09-01: in extended support that ends within 90 days, one message.
    september = Context(date(2026, 9, 1), ctx.supported)
    assert check_version_support(res(EKS, "c", {"version": "1.31"}), {"warnDays": 90}, september) == [
        "Kubernetes 1.31 is past its standard support on aws (ended 2025-11-26) and runs on extended support "
        "(an extra per-cluster-hour charge; meshfleet sets upgrade policy EXTENDED) only until 2026-11-26, within "
        "90 days: then it is past all support; upgrade one minor version at a time (version)"
    ]


# --------------------------------------------------------------------------
# one-provider-per-cluster, in-cluster-provider


def two_clusters() -> list[Resource]:
    fleet_r = fleet()
    out: list[Resource] = [Resource(**{**fleet_r.__dict__, "name": "acme"})]
    for name in ("east", "west"):
        component = res("meshfleet:cluster:Existing", name, parent=fleet_r.urn)
        provider = res(
            "pulumi:providers:kubernetes",
            f"{name}-k8s",
            {"clusterIdentifier": f"meshfleet/acme-{name}"},
            parent=component.urn,
        )
        out += [component, provider]
    return out


def prov(resources: list[Resource], cluster: str) -> str:
    return next(r.urn for r in resources if r.name == f"{cluster}-k8s")


def test_one_provider_per_cluster():
    rs = two_clusters()
    assert check_one_provider_per_cluster(Graph(rs), {}, CTX) == []
    east = next(r for r in rs if r.name == "east")
    extra = res(
        "pulumi:providers:kubernetes", "east-k8s-2", {"clusterIdentifier": "meshfleet/acme-east"}, parent=east.urn
    )
    found = check_one_provider_per_cluster(Graph([*rs, extra]), {}, CTX)
    assert found == [(east.urn, "cluster east has 2 Kubernetes providers; it needs exactly one (its ClusterHandle's)")]
    # A provider outside every cluster, and a cluster without one.
    stray = res("pulumi:providers:kubernetes", "ambient")
    without_west = [r for r in rs if r.name != "west-k8s"]
    found = check_one_provider_per_cluster(Graph([*without_west, stray]), {}, CTX)
    assert names(found) == ["west", "ambient"]


def test_provider_needs_the_stable_cluster_identifier():
    rs = [r if r.name != "west-k8s" else Resource(**{**r.__dict__, "props": {}}) for r in two_clusters()]
    found = check_one_provider_per_cluster(Graph(rs), {}, CTX)
    assert names(found) == ["west-k8s"]
    assert "not 'meshfleet/acme-west'" in found[0][1]


def test_in_cluster_provider():
    rs = two_clusters()
    mesh = res("meshfleet:mesh:Istio", "acme-istio")
    ok = [
        res("kubernetes:core/v1:Namespace", "east-istio-namespace", parent=mesh.urn, provider=prov(rs, "east")),
        # Pairwise credentials live on either side of the pair.
        res("kubernetes:core/v1:Secret", "east-reads-west-reader-token", parent=mesh.urn, provider=prov(rs, "west")),
        res("kubernetes:core/v1:Secret", "east-reads-west-remote-secret", parent=mesh.urn, provider=prov(rs, "east")),
    ]
    assert check_in_cluster_provider(Graph([*rs, mesh, *ok]), {}, CTX) == []
    # A pulumi-kubernetes component (the Gateway API ConfigFile): under the CLI the engine records it with no
    # provider; its objects, its children, carry the cluster's and are checked.
    crds = res("kubernetes:yaml/v2:ConfigFile", "east-gateway-api-crds", parent=mesh.urn)
    crd = res(
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "east-gateway-api-crds:gateways.gateway.networking.k8s.io",
        parent=crds.urn,
        provider=prov(rs, "east"),
    )
    assert check_in_cluster_provider(Graph([*rs, mesh, crds, crd]), {}, CTX) == []
    wrong = res("kubernetes:core/v1:Namespace", "west-istio-namespace", parent=mesh.urn, provider=prov(rs, "east"))
    default = res("kubernetes:core/v1:Namespace", "west-apps")
    nameless = res("kubernetes:core/v1:Namespace", "apps", parent=mesh.urn, provider=prov(rs, "east"))
    found = check_in_cluster_provider(Graph([*rs, mesh, wrong, default, nameless]), {}, CTX)
    assert [(n, m.split(";")[0].split(":")[0]) for n, (_, m) in zip(names(found), found, strict=True)] == [
        ("west-istio-namespace", "this object of cluster west uses cluster east's provider"),
        ("west-apps", "this Kubernetes object has no cluster provider (default or unknown provider)"),
        ("apps", "this Kubernetes object belongs to no cluster by parent or name"),
    ]


# --------------------------------------------------------------------------
# The catalogue and the pack config


def test_every_rule_has_the_crossguard_fields():
    assert len(RULES) == len(RULES_BY_NAME) == 14
    for rule in RULES:
        assert rule.severity in ("low", "medium", "high", "critical")
        assert rule.enforcement in ("advisory", "mandatory")
        assert (rule.resource_check is None) != (rule.stack_check is None)
        assert rule.description and rule.why
    assert [r.name for r in RULES if r.enforcement == "advisory"] == [
        "aws-elastic-ip-quota",
        "kubernetes-version-support",
    ]


def test_schema_file_is_current_and_validates_the_config():
    import jsonschema

    committed = json.loads(pack_config.SCHEMA_FILE.read_text())
    assert committed == pack_config.schema(), "regenerate policies/guardrails/config.schema.json from config.schema()"
    jsonschema.validate(json.loads(pack_config.DEFAULT_CONFIG.read_text()), committed)
    loaded = pack_config.load()
    assert loaded.levels == {"kubernetes-version-support": "advisory"}
    assert loaded.settings["kubernetes-version-support"] == {"warnDays": 90}


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"fleet-tag": "advisory"}, "fleet-tag: no such rule; allowed: all, mesh-mtls-strict,"),
        (
            {"fleet-tags": "warn"},
            'fleet-tags.enforcementLevel: "warn" is not a level; allowed: advisory, mandatory, disabled',
        ),
        (
            {"kubernetes-version-support": {"warnDays": "90"}},
            'kubernetes-version-support.warnDays: "90" is not an integer',
        ),
        (
            {"node-pool-autoscaling": {"maxNodes": 0}},
            "node-pool-autoscaling.maxNodes: 0 is out of range; allowed 1 to 1000",
        ),
        (
            {"helm-pinned": {"strict": True}},
            "helm-pinned.strict: helm-pinned has no setting 'strict'; allowed: enforcementLevel",
        ),
        ({"all": "off"}, 'all: "off" is not an enforcement level'),
        ([], "the file must hold a JSON object of rule names"),
    ],
)
def test_bad_pack_config_names_the_key_and_the_allowed_values(doc, problem):
    import jsonschema

    with pytest.raises(pack_config.PackConfigError) as err:
        pack_config.parse(doc, "c.json")
    assert err.value.problems[0].startswith(problem), err.value.problems
    # The JSON schema (what the Pulumi CLI and editors see) refuses the same documents.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, pack_config.schema())


def test_levels_from_the_config_file_apply():
    rs = [fleet(), res("aws:ec2/vpc:Vpc", "v", {})]
    assert [f.level for f in evaluate(rs, {}, {}, CTX)] == ["mandatory"]
    cfg = pack_config.parse({"all": "advisory", "node-pool-autoscaling": "mandatory"})
    assert [f.level for f in evaluate(rs, cfg.levels, cfg.settings, CTX)] == ["advisory"]
    cfg = pack_config.parse({"fleet-tags": {"enforcementLevel": "disabled"}})
    assert evaluate(rs, cfg.levels, cfg.settings, CTX) == []


def test_cli_bad_pack_config_exits_2(tmp_path, capsys):
    bad = tmp_path / "c.json"
    bad.write_text('{"fleet-tags": "warn"}')
    assert main(["guard", str(tmp_path), "--policy-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad policy pack config" in err and "fleet-tags.enforcementLevel" in err and "Traceback" not in err
    bad.write_text("{")
    assert main(["guard", str(tmp_path), "--policy-config", str(bad)]) == 2
    assert "line 1 column 2" in capsys.readouterr().err
    # A missing plan: exit 2 and how to write one.
    assert main(["guard", str(tmp_path / "nowhere")]) == 2
    assert "meshfleet plan --stack NAME --out" in capsys.readouterr().err


# --------------------------------------------------------------------------
# The rule module in the program's environment


def test_rule_modules_import_without_pulumi_policy_in_the_programs_venv():
    code = (
        "import sys\n"
        "import policies.guardrails.rules, policies.guardrails.config, policies.guardrails.support, ops.guard\n"
        "assert 'pulumi_policy' not in sys.modules, 'pulumi_policy imported'\n"
        "import google.protobuf\n"
        "print(google.protobuf.__version__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    # The program's environment keeps protobuf 6 (pulumi-policy would need 5.29).
    assert out.stdout.strip().split(".")[0] == "6"
    with pytest.raises(ImportError):
        import pulumi_policy  # noqa: F401


# --------------------------------------------------------------------------
# Offline: every stack, and a mutated plan with one violation per rule


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_stack_has_no_mandatory_violation(stack):
    findings = guard.check_plan(plan_stack(stack), pack_config.load(), TODAY)
    assert [f for f in findings if f.level == "mandatory"] == []


@pytest.fixture(scope="module")
def dev_contract() -> dict[str, Any]:
    return plan_stack("dev").to_json(show_secrets=False)


def _find(doc: dict[str, Any], type_: str, name_part: str = "") -> dict[str, Any]:
    return next(r for r in doc["resources"] if r["type"] == type_ and name_part in r["name"])


def mutate(doc: dict[str, Any]) -> dict[str, str]:
    """One deliberate violation per rule; returns rule -> URN that must be reported."""
    want: dict[str, str] = {}
    fleet_r = _find(doc, "meshfleet:index:Fleet")
    fleet_r["inputs"]["facts"].update(environment="production", protect=True)
    providers = [r for r in doc["resources"] if r["type"] == "pulumi:providers:kubernetes"]
    # mesh-mtls-strict: the compiled mesh-wide PeerAuthentication removed from the first cluster only.
    first = providers[0]["urn"] + "::"
    peer_auth = "kubernetes:security.istio.io/v1:PeerAuthentication"
    assert all(
        any(r["type"] == peer_auth and r["provider"].startswith(p["urn"] + "::") for r in doc["resources"])
        for p in providers
    ), "dev compiles mesh-mtls: strict in every cluster"
    doc["resources"] = [r for r in doc["resources"] if not (r["type"] == peer_auth and r["provider"].startswith(first))]
    want["mesh-mtls-strict"] = providers[0]["urn"]
    eks = _find(doc, "aws:eks/cluster:Cluster")
    eks["inputs"]["vpcConfig"]["publicAccessCidrs"].append("0.0.0.0/0")
    want["no-open-endpoints"] = eks["urn"]
    pool = _find(doc, "azure-native:containerservice:AgentPool")
    pool["inputs"]["maxCount"] = 1000
    want["node-pool-autoscaling"] = pool["urn"]
    gke = _find(doc, "gcp:container/cluster:Cluster")
    del gke["inputs"]["loggingConfig"]
    want["encryption-and-logging"] = gke["urn"]
    root = _find(doc, "tls:index/selfSignedCert:SelfSignedCert")
    root["protect"] = False
    want["trust-root-protected"] = root["urn"]
    key = _find(doc, "tls:index/privateKey:PrivateKey", "gcp-euw1")
    key["inputs"]["ecdsaCurve"] = "P224"
    want["trust-key-algorithms"] = key["urn"]
    inter = _find(doc, "tls:index/locallySignedCert:LocallySignedCert", "azure-weu")
    inter["inputs"]["validityPeriodHours"] = 10**6
    want["trust-intermediate-lifetime"] = inter["urn"]
    istiod = _find(doc, HELM, "istiod")
    istiod["inputs"]["version"] = "1.30.*"
    want["helm-pinned"] = istiod["urn"]
    autoscaler = _find(doc, HELM, "cluster-autoscaler")
    autoscaler["inputs"]["values"]["image"]["tag"] = "latest"
    want["no-latest-images"] = autoscaler["urn"]
    vpc = _find(doc, "aws:ec2/vpc:Vpc")
    del vpc["inputs"]["tags"]["owner"]
    want["fleet-tags"] = vpc["urn"]
    want["kubernetes-version-support"] = eks["urn"]  # through the injected verdict below
    first = providers[0]
    second = copy.deepcopy(first)
    second["urn"] += "-2"
    second["name"] += "-2"
    doc["resources"].append(second)
    component = doc_by_urn(doc)[first["parent"]]
    want["one-provider-per-cluster"] = component["urn"]
    namespace = _find(doc, "kubernetes:core/v1:Namespace", providers[1]["name"].removesuffix("-k8s"))
    namespace["provider"] = providers[2]["provider"] or providers[2]["urn"] + "::id"
    want["in-cluster-provider"] = namespace["urn"]
    # One Elastic IP more in the first EKS network's account and region than the quota (6, dev's count).
    eip = _find(doc, "aws:ec2/eip:Eip")
    extra = copy.deepcopy(eip)
    extra["urn"] += "-extra"
    extra["name"] += "-extra"
    doc["resources"].append(extra)
    want["aws-elastic-ip-quota"] = eip["urn"]
    return want


def doc_by_urn(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in doc["resources"]}


def test_dev_plan_json_has_no_violation_and_a_mutated_one_reports_each_rule(
    dev_contract, tmp_path, monkeypatch, capsys
):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "plan.json").write_text(json.dumps(dev_contract))
    assert main(["guard", str(clean)]) == 0
    out = capsys.readouterr().out.splitlines()
    # AWS's default Elastic IP quota (5 a region) is one short of dev's EKS network (two a zone).
    assert out[0].startswith("ADVISORY [aws-elastic-ip-quota] ") and out[0].endswith(
        "aws-use1-network-egress-us-east-1a"
    )
    assert (
        out[1]
        .strip()
        .startswith("6 Elastic IPs in region us-east-1 of account 111111111111 (aws-use1-network), over the quota of 5")
    )
    assert out[2] == "guardrails: 0 mandatory, 1 advisory violation(s) (policies/guardrails/config.json)"
    # With the quota raised (as the config says it is), nothing.
    config = tmp_path / "raised.json"
    config.write_text(
        json.dumps({**json.loads(pack_config.DEFAULT_CONFIG.read_text()), "aws-elastic-ip-quota": {"perRegion": 6}})
    )
    assert main(["guard", str(clean), "--policy-config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"guardrails: 0 mandatory, 0 advisory violation(s) ({config})"
    # The plan.json itself names the same plan (as `diff` and `diagram --plan` take it).
    assert main(["guard", str(clean / "plan.json"), "--policy-config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("guardrails: 0 mandatory, 0 advisory")

    doc = copy.deepcopy(dev_contract)
    want = mutate(doc)
    assert sorted(want) == sorted(RULES_BY_NAME)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "plan.json").write_text(json.dumps(doc))
    eks_version = _find(doc, "aws:eks/cluster:Cluster")["inputs"]["version"]
    monkeypatch.setattr(guard, "support_check", lambda: fake_support({eks_version: date(2026, 2, 1)}))
    assert main(["guard", str(bad), "--policy-config", str(config)]) == 3
    out = capsys.readouterr().out
    reported = {
        (line.split()[1].strip("[]"), line.split()[2])
        for line in out.splitlines()
        if line.startswith(("MANDATORY", "ADVISORY"))
    }
    for rule, urn in sorted(want.items()):
        assert (rule, urn) in reported, f"{rule} not reported on {urn}\n{out}"
    assert f"ADVISORY [kubernetes-version-support] {want['kubernetes-version-support']}" in out


def test_plan_exits_3_on_a_mandatory_violation(tmp_path, capsys):
    """`meshfleet plan` runs the pack's rules with the pack config it is given: the version-support rule
    made mandatory with a two-year window (EKS 1.33 leaves extended support on 2027-07-29) stops the dev plan."""
    config = tmp_path / "strict.json"
    config.write_text(json.dumps({"kubernetes-version-support": {"enforcementLevel": "mandatory", "warnDays": 730}}))
    assert main(["plan", "--stack", "dev", "--policy-config", str(config)]) == 3
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("MANDATORY")]
    assert lines and all(line.startswith("MANDATORY [kubernetes-version-support] ") for line in lines)
    assert "urn:pulumi:dev::meshfleet::meshfleet:cluster:Eks$aws:eks/cluster:Cluster::aws-use1-cluster" in out
    # (and the Elastic IP quota, advisory: this config does not raise it)
    assert "ADVISORY [aws-elastic-ip-quota] " in out
    assert f"guardrails: {len(lines)} mandatory, 1 advisory violation(s)" in out


def test_plan_on_2026_11_30_reports_each_eks_cluster_in_extended_support(capsys):
    """`meshfleet plan` judged on 2026-11-30 (a real preview judges today): prod's two EKS 1.33 clusters left
    standard support on 2026-07-29 and run on billed extended support, one advisory each; its AKS and GKE
    1.35 clusters are in standard support beyond warnDays."""
    assert main(["plan", "--stack", "prod", "--now", "2026-11-30T00:00:00Z"]) == 0
    out = capsys.readouterr().out
    message = (
        "    Kubernetes 1.33 is past its standard support on aws (ended 2026-07-29) and runs on extended support "
        "(an extra per-cluster-hour charge; meshfleet sets upgrade policy EXTENDED) until 2027-07-29: upgrade one "
        "minor version at a time (version)"
    )
    lines = out.splitlines()
    found = [(line, lines[i + 1]) for i, line in enumerate(lines) if "[kubernetes-version-support]" in line]
    assert found == [
        (
            f"ADVISORY [kubernetes-version-support] urn:pulumi:prod::meshfleet::meshfleet:cluster:Eks$"
            f"aws:eks/cluster:Cluster::{name}-cluster",
            message,
        )
        for name in ("aws-use1", "aws-usw2")
    ]
    # (and the two Elastic IP quota advisories, one per EKS network)
    assert "guardrails: 0 mandatory, 4 advisory violation(s) (policies/guardrails/config.json)" in out


def test_guard_exit_codes_are_documented():
    assert guard.EXIT_MANDATORY == 3
    from ops import cli

    assert cli.__doc__ is not None and "3 a mandatory guardrail is violated" in cli.__doc__
    assert Path(ROOT / "policies" / "guardrails" / "PulumiPolicy.yaml").read_text().count("virtualenv: .venv") == 1


# --------------------------------------------------------------------------
# The pack itself, in its own virtualenv (built by `make install`)

PACK_PYTHON = ROOT / "policies" / "guardrails" / ".venv" / "bin" / "python"

#: Runs in the pack's venv: the real pulumi_policy argument shapes through pack.py, no server started.
_PACK_PROBE = """
import json, sys
from datetime import date
from pulumi_policy import (
    PolicyCustomTimeouts, PolicyProviderResource, PolicyResource, PolicyResourceOptions,
    ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy
from policies.guardrails.pack import policies
from policies.guardrails.rules import VersionSupport

def opts(protect=False, parent=None):
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)

S = "urn:pulumi:prod::meshfleet::"
END = date(2026, 2, 1)
support = lambda c, v, d: VersionSupport("standard" if d < END else "end-of-life", END)
by_name = {p.name: p for p in policies(today=lambda: date(2026, 1, 1), supported=support)}
out = {"names": sorted(by_name), "kinds": {n: type(p).__name__ for n, p in by_name.items()}}

# A resource rule: an EKS endpoint open to the internet, its version near the end, an unknown field.
props = unknown_checking_proxy({"version": "1.33", "roleArn": UNKNOWN_STRING_VALUE,
    "vpcConfig": {"publicAccessCidrs": ["0.0.0.0/0"]}, "tags": {"fleet": "f", "environment": "e", "owner": "o", "managed-by": "m"}})
eks = S + "aws:eks/cluster:Cluster::c"
reports = []
for name in ("no-open-endpoints", "kubernetes-version-support", "fleet-tags"):
    args = ResourceValidationArgs("aws:eks/cluster:Cluster", props, eks, "c", opts(), None, {"warnDays": 90} if name == "kubernetes-version-support" else {})
    by_name[name].validate(args, lambda m, u=None, n=name: reports.append([n, u, m]))
out["resource"] = reports

# A stack rule: a production fleet whose cluster has no strict mTLS object.
fleet = PolicyResource("meshfleet:index:Fleet", unknown_checking_proxy({"clusters": ["east"], "facts": {"environment": "production", "protect": True, "mesh": "istio"}}),
    S + "meshfleet:index:Fleet::acme", "acme", opts(), None, None, [], {})
comp = PolicyResource("meshfleet:cluster:Existing", unknown_checking_proxy({}), S + "meshfleet:cluster:Existing::east", "east", opts(), None, fleet, [], {})
prov = PolicyResource("pulumi:providers:kubernetes", unknown_checking_proxy({"clusterIdentifier": "meshfleet/acme-east"}),
    S + "pulumi:providers:kubernetes::east-k8s", "east-k8s", opts(), None, comp, [], {})
stack_reports = []
for name in ("mesh-mtls-strict", "one-provider-per-cluster"):
    by_name[name].validate(StackValidationArgs([fleet, comp, prov], {}), lambda m, u=None, n=name: stack_reports.append([n, u, m]))
out["stack"] = stack_reports

# A provider the stack's list lacks: read from the resources that name it (Elastic IPs over the quota).
aws = PolicyProviderResource("pulumi:providers:aws", {"region": "us-east-1", "allowedAccountIds": '["111111111111"]'},
    S + "pulumi:providers:aws::use1", "use1")
eips = [PolicyResource("aws:ec2/eip:Eip", unknown_checking_proxy({"domain": "vpc"}), S + f"aws:ec2/eip:Eip::e{k}", f"e{k}",
    opts(), aws, None, [], {}) for k in range(6)]
quota = []
by_name["aws-elastic-ip-quota"].validate(StackValidationArgs(eips, {}), lambda m, u=None: quota.append([u, m]))
out["quota"] = quota
import google.protobuf
out["protobuf"] = google.protobuf.__version__
# The support data's package (components.config) imports in the pack's venv.
import components.config
from policies.guardrails.support import support_check
out["support"] = support_check() is not None
print(json.dumps(out))
"""


@pytest.mark.skipif(not PACK_PYTHON.exists(), reason="the pack's venv is built by `make install`")
def test_pack_glue_runs_in_the_packs_own_venv():
    check = subprocess.run([str(PACK_PYTHON), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run([str(PACK_PYTHON), "-c", _PACK_PROBE], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["protobuf"].startswith("5.29.")
    try:
        import components.config.cloudfacts  # noqa: F401

        assert out["support"] is True
    except ImportError:
        assert out["support"] is False
    assert out["names"] == sorted(RULES_BY_NAME)
    assert {n: k for n, k in out["kinds"].items()} == {
        r.name: "ResourceValidationPolicy" if r.resource_check else "StackValidationPolicy" for r in RULES
    }
    eks = "urn:pulumi:prod::meshfleet::aws:eks/cluster:Cluster::c"
    assert [(n, u) for n, u, _ in out["resource"]] == [("no-open-endpoints", eks), ("kubernetes-version-support", eks)]
    assert out["resource"][1][2].startswith("Kubernetes 1.33 reaches its end of support on aws within 90 days")
    prov = "urn:pulumi:prod::meshfleet::pulumi:providers:kubernetes::east-k8s"
    assert [(n, u) for n, u, _ in out["stack"]] == [("mesh-mtls-strict", prov)]
    [[urn, message]] = out["quota"]
    assert urn == "urn:pulumi:prod::meshfleet::aws:ec2/eip:Eip::e0"
    assert message.startswith("6 Elastic IPs in region us-east-1 of account 111111111111, over the quota of 5")


def test_the_fleet_outputs_carry_the_stack_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stack policies see each resource's outputs (the engine's AnalyzeStack), so the facts are outputs too."""
    import components.fleet

    registered: dict[str, Any] = {}
    original = components.fleet.Fleet.register_outputs

    def capture(self: Any, outputs: dict[str, Any]) -> None:
        registered.update(outputs)
        original(self, outputs)

    monkeypatch.setattr(components.fleet.Fleet, "register_outputs", capture)
    plan = plan_stack("prod")
    [fleet] = [r for r in plan.resources if r.type == "meshfleet:index:Fleet"]
    assert (
        registered["facts"] == fleet.inputs["facts"] == {"environment": "production", "protect": True, "mesh": "istio"}
    )
