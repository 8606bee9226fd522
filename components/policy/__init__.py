"""Shared mesh policies: a mesh-neutral model compiled to each mesh's native objects.

Two things flow out of the compilers: Kubernetes objects applied per cluster
after the mesh's CRDs and admission webhooks exist, and control-plane chart
values for what a mesh expresses only at install time (Linkerd's default
inbound policy, Istio's `meshConfig.serviceSettings`).
"""

from __future__ import annotations

from typing import Any

from components.config import FleetSpec


def installer_values(spec: FleetSpec, cluster: str) -> dict[str, Any]:
    """Chart values the fleet's policies add to `cluster`'s mesh control plane.

    The mesh installers deep-merge this over their own values. Filled in by
    the policy compilers; empty while no compiler contributes values.
    """
    del spec, cluster
    return {}
