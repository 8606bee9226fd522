"""Per-cloud requirements: a deployer identity and the add-ons a cloud needs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    FleetSpec,
)


def _rule_deployers_and_addons(spec: FleetSpec) -> Iterable[Problem]:
    clouds = {c.cloud for c in spec.clusters}
    for cloud in ("aws", "azure", "gcp"):
        if cloud in clouds and getattr(spec.fleet.deployers, cloud) is None:
            yield Problem(
                path=f"fleet.deployers.{cloud}",
                message=f"the fleet has {cloud} clusters but no {cloud} deployer",
                fix="name the identity that runs `pulumi up` so it is granted cluster admin explicitly",
            )
    if "aws" in clouds:
        for key, attr in (
            ("eks", "eks"),
            ("awsLoadBalancerController", "aws_load_balancer_controller"),
            ("clusterAutoscaler", "cluster_autoscaler"),
        ):
            if getattr(spec.addons, attr) is None:
                yield Problem(
                    path=f"addons.{key}",
                    message="required because the fleet has EKS clusters",
                    fix="pin it in Pulumi.yaml's defaults or the stack config",
                )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_deployers_and_addons,)
