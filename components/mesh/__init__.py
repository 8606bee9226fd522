"""Mesh installers. Each consumes only cluster handles and the fleet trust."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi

from components.config import FleetSpec
from components.handle import ClusterHandle
from components.trust import FleetTrust

#: Ports the control plane's admission webhooks listen on, per mesh. Private
#: GKE clusters let the control plane reach nodes only on 443 and 10250, so
#: the GKE firewall opens these from the control-plane range.
ADMISSION_WEBHOOK_PORTS: dict[str, tuple[int, ...]] = {
    # istiod serves sidecar injection and config validation on 15017.
    "istio": (15017,),
    # proxy-injector and sp-validator (8443), policy-validator (9443).
    "linkerd": (8443, 9443),
    # connect-injector webhook.
    "consul": (8080,),
}


def admission_webhook_ports(kind: str) -> list[int]:
    return list(ADMISSION_WEBHOOK_PORTS[kind])


#: Where replicas go apart, first to last: zones, then nodes.
SPREAD_TOPOLOGY = ("topology.kubernetes.io/zone", "kubernetes.io/hostname")


def zone_spread(selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """Spread pods over zones, then nodes; never block scheduling on one-zone clusters."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
        for key in SPREAD_TOPOLOGY
    ]


def zone_anti_affinity(selector: Mapping[str, str]) -> dict[str, Any]:
    """The same as a preferred pod anti-affinity, zones weighing more than nodes, for charts that take an
    affinity but no spread; preferred, so a one-node cluster still schedules every replica."""
    terms = [
        {"weight": weight, "podAffinityTerm": {"labelSelector": {"matchLabels": dict(selector)}, "topologyKey": key}}
        for weight, key in zip((100, 50), SPREAD_TOPOLOGY, strict=True)
    ]
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": terms}}


#: PDB of every gateway: one pod may go at a time; an unready pod never
#: blocks a node drain (it serves nothing anyway).
GATEWAY_PDB = {"minAvailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"}

#: Pod annotation of a mesh control plane: a digest of the trust bundle it
#: read at start. istiod (unless ISTIO_MULTIROOT_MESH) and Linkerd's identity
#: controller read the roots only at start, and ignore a changed bundle
#: (istiod 1.30 pilot/pkg/bootstrap/istio_ca.go: "Multi root is disabled";
#: linkerd2 controller/cmd/identity/main.go reads the anchors once). A bundle
#: change (root rotation phases 1 and 3) changes this annotation, so the Helm
#: upgrade rolls the control plane's Deployments (a rolling update never
#: drops below the running pods).
TRUST_BUNDLE_ANNOTATION = "meshfleet.io/trust-bundle-sha256"


def trust_bundle_annotations(bundle_pem: pulumi.Input[str]) -> pulumi.Output[dict[str, str]]:
    """`{TRUST_BUNDLE_ANNOTATION: <sha256 of the bundle>}` for a control plane's pods."""
    return pulumi.Output.from_input(bundle_pem).apply(
        lambda pem: {TRUST_BUNDLE_ANNOTATION: hashlib.sha256(pem.encode()).hexdigest()}
    )


#: Seconds a terminating gateway pod keeps serving beyond its load
#: balancer's own drain: endpoint removal takes a few seconds to reach
#: kube-proxy and cloud load balancers (EKS NLBs keep sending new flows to
#: a deregistering target for a while).
PRESTOP_MARGIN_SECONDS = 10
#: The gateway proxy's own drain once that wait is over (Envoy's default
#: drain is 5 s; the rest bounds long-lived connections).
PROXY_DRAIN_SECONDS = 30


def gateway_wait_seconds(cluster: ClusterHandle) -> int:
    """How long a terminating gateway pod keeps serving: longer than its load balancer's drain."""
    return cluster.load_balancer_drain_seconds + PRESTOP_MARGIN_SECONDS


def gateway_grace_seconds(cluster: ClusterHandle) -> int:
    """A gateway pod's `terminationGracePeriodSeconds`: the wait, then the proxy's drain."""
    return gateway_wait_seconds(cluster) + PROXY_DRAIN_SECONDS


@dataclass(frozen=True)
class MeshArgs:
    """What every mesh installer receives."""

    spec: FleetSpec
    clusters: list[ClusterHandle]
    trust: FleetTrust
    #: Per cluster: the Gateway API CRD install (gateways depend on it).
    gateway_api: Mapping[str, pulumi.Resource]
    #: Per cluster: peers' egress CIDRs, for gateway loadBalancerSourceRanges.
    source_ranges: Mapping[str, pulumi.Output[list[str]]]


class MeshInstaller(Protocol):
    """What the fleet needs of a mesh component once it is built."""

    #: Per cluster: what policy objects wait for (the CRD-owning release and
    #: the policy admission webhook's release; never the gateways).
    policy_ready: dict[str, list[pulumi.Resource]]
