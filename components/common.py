"""Small helpers every component shares: tags, protection, timeouts."""

from __future__ import annotations

import pulumi

from components.config import FleetMeta


def fleet_tags(meta: FleetMeta) -> dict[str, str]:
    """Tags (AWS, Azure) and labels (GCP) set on every taggable resource.

    Set on the resources themselves, not only as provider defaults, so
    guardrails and cost reports that read resource tags see them. Keys and
    values are lowercase DNS labels, valid as GCP labels too.
    """
    return {
        "fleet": meta.name,
        "environment": meta.environment,
        "owner": meta.owner,
        "managed-by": "meshfleet",
    }


def protected(meta: FleetMeta, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
    """Options for a resource the stack's protection setting covers."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=meta.protect))


#: Control planes take 10-20 minutes to create and longer to upgrade.
CLUSTER_TIMEOUTS = pulumi.CustomTimeouts(create="45m", update="90m", delete="45m")
#: Node pools drain node by node on update.
NODE_POOL_TIMEOUTS = pulumi.CustomTimeouts(create="30m", update="90m", delete="45m")
