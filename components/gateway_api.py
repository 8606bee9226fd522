"""Gateway API CRDs, installed once per cluster by the fleet at a pinned release.

Meshes consume them (Istio ambient's east-west Gateway, GAMMA routing) but
never install them: two charts each shipping their own copy would fight over
the same CRDs (Consul's chart installs old ones unless told not to).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.handle import ClusterHandle

RELEASE_URL = "https://github.com/kubernetes-sigs/gateway-api/releases/download/{version}/standard-install.yaml"


@dataclass(frozen=True)
class GatewayApiCrdsArgs:
    cluster: ClusterHandle
    #: Gateway API release (e.g. v1.6.1), from `addons.gatewayApi`.
    version: str


class GatewayApiCrds(pulumi.ComponentResource):
    """The standard-channel Gateway API CRDs in one cluster."""

    crds: k8s.yaml.v2.ConfigFile

    def __init__(self, name: str, args: GatewayApiCrdsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:cluster:GatewayApiCrds", name, None, opts)
        # On a cluster meshfleet did not create, the CRDs may be shared (other
        # teams' Gateways and HTTPRoutes, or CRDs it adopted when they were
        # already installed): deleting a CRD deletes every object of its kind,
        # so a destroy or a removed cluster leaves them. The provider registers
        # each CRD as a child of this ConfigFile, and children inherit
        # retainOnDelete from their parent (pulumi/pulumi#18836).
        retain = pulumi.ResourceOptions(retain_on_delete=args.cluster.cloud == "existing")
        self.crds = k8s.yaml.v2.ConfigFile(
            f"{name}-standard",
            file=RELEASE_URL.format(version=args.version),
            opts=pulumi.ResourceOptions.merge(args.cluster.object_opts(self), retain),
        )
        self.register_outputs({})
