"""Istio multi-primary on different networks. (STUB: issue 5 fills this in.)"""

from __future__ import annotations

import pulumi

from components.mesh import MeshArgs


class IstioMesh(pulumi.ComponentResource):
    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:mesh:Istio", name, None, opts)
        self.register_outputs({})
