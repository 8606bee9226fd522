"""Shared mesh policies: a mesh-neutral model compiled to each mesh's native objects.

Two things flow out of the compilers: Kubernetes objects applied per cluster
after the mesh's CRDs and admission webhooks exist (`apply.ClusterPolicies`),
and control-plane chart values for what a mesh expresses only at install time
(Linkerd's default inbound policy, Istio's `meshConfig.serviceSettings`).

Nothing in this package but `apply` imports components.config: the config's
`PolicySpec` is `model.PolicyRule`, so the config imports the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from components.naming import consul_peer_name
from components.policy.compiled import Compiled
from components.policy.consul import compile_consul
from components.policy.istio import compile_istio
from components.policy.linkerd import compile_linkerd
from components.policy.model import PolicyRule, Target, TargetName

Compiler = Callable[[Mapping[str, PolicyRule], Target], Compiled]

#: One compiler per mesh (Istio's covers both data-plane modes).
COMPILERS: dict[str, Compiler] = {"istio": compile_istio, "linkerd": compile_linkerd, "consul": compile_consul}


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _Policies(Protocol):
    @property
    def rules(self) -> Mapping[str, PolicyRule]: ...


class FleetView(Protocol):
    """The part of a FleetSpec the compilers read (a Protocol: this package never imports the config)."""

    @property
    def mesh(self) -> Any: ...
    @property
    def clusters(self) -> Sequence[_Named]: ...
    @property
    def policies(self) -> _Policies: ...


def _peer_name(mesh: Any, cluster: str) -> str:
    """What `cluster` is called as a peer: Consul names peers after datacenters
    (the same names as its peering objects, `components.mesh.consul.consul_peers`)."""
    datacenter_of = getattr(mesh, "datacenter_of", None)
    return consul_peer_name(datacenter_of(cluster)) if callable(datacenter_of) else cluster


def target_of(spec: FleetView, cluster: str) -> Target:
    """The compile target of one cluster of the fleet."""
    mesh = spec.mesh
    names: dict[tuple[str, str], TargetName] = {
        ("istio", "sidecar"): "istio-sidecar",
        ("istio", "ambient"): "istio-ambient",
        ("linkerd", "sidecar"): "linkerd",
        ("consul", "sidecar"): "consul",
    }
    name = names[(mesh.kind, getattr(mesh, "mode", "sidecar"))]
    # Linkerd: callers from other clusters keep their identity only when this
    # cluster exports pod to pod; through a gateway they carry its identity.
    modes_of = getattr(mesh, "export_modes_of", None)
    modes = modes_of(cluster) if callable(modes_of) else getattr(mesh, "export_modes", ["gateway"])
    return Target(
        name=name,
        cluster=cluster,
        peers=tuple(_peer_name(mesh, c.name) for c in spec.clusters if c.name != cluster),
        trust_domain=mesh.trust_domain,
        linkerd_gateway="gateway" in modes,
        linkerd_export_modes=tuple(modes),
    )


def compile_cluster(spec: FleetView, cluster: str) -> Compiled:
    """Every policy object and installer value of one cluster."""
    target = target_of(spec, cluster)
    return COMPILERS[target.mesh](spec.policies.rules, target)


def installer_values(spec: FleetView, cluster: str) -> dict[str, Any]:
    """Chart values the fleet's policies add to `cluster`'s mesh control plane.

    The mesh installers deep-merge this over their own values (Istio: istiod;
    Linkerd: linkerd-control-plane; Consul: the consul chart).
    """
    return compile_cluster(spec, cluster).values
