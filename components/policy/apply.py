"""Applying one cluster's compiled policies through its Kubernetes provider."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import FleetSpec
from components.handle import ClusterHandle
from components.policy import compile_cluster


@dataclass(frozen=True)
class ClusterPoliciesArgs:
    spec: FleetSpec
    cluster: ClusterHandle
    #: The mesh's `policy_ready[cluster]`: the release owning the policy CRDs and
    #: the one serving the policy admission webhook (never gateways), plus the
    #: Gateway API CRDs (Istio waypoints are Gateways).
    ready: Sequence[pulumi.Resource]


class ClusterPolicies(pulumi.ComponentResource):
    """The fleet's shared policies, compiled for one cluster's mesh and applied there."""

    def __init__(self, name: str, args: ClusterPoliciesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:policy:ClusterPolicies", name, None, opts)
        handle = args.cluster
        compiled = compile_cluster(args.spec, handle.name)
        child = handle.object_opts(self, args.ready)
        self.objects: list[str] = []
        for body in compiled.objects():
            meta = body["metadata"]
            ns = meta.get("namespace", "")
            kind = str(body["kind"])
            resource_name = f"{name}-{kind.lower()}-{ns + '-' if ns else ''}{meta['name']}"
            _apply(resource_name, body, child)
            self.objects.append(f"{kind}/{ns + '/' if ns else ''}{meta['name']}")
        self.register_outputs({"objects": self.objects})


def _apply(name: str, body: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.Resource:
    kind = body["kind"]
    # Namespaces and Services belong to the app teams: the platform patches
    # only the annotations and labels it owns (server-side apply).
    if kind == "Namespace":
        return k8s.core.v1.NamespacePatch(name, metadata=body["metadata"], opts=opts)
    if kind == "Service":
        return k8s.core.v1.ServicePatch(name, metadata=body["metadata"], opts=opts)
    return k8s.apiextensions.CustomResource(
        name,
        api_version=body["apiVersion"],
        kind=kind,
        metadata=body["metadata"],
        spec=body["spec"],
        opts=opts,
    )
