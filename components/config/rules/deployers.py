"""Per-cloud requirements: a deployer identity and the add-ons a cloud needs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    AwsCluster,
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


def _rule_aws_accounts(spec: FleetSpec) -> Iterable[Problem]:
    # Each cluster's AWS provider admits only its accountId (allowed_account_ids)
    # and runs as the deployer role, with no cross-account role to assume: a
    # cluster in another account fails on its first API call, mid-deploy.
    deployer = spec.fleet.deployers.aws
    if deployer is None:
        return  # reported above
    account = deployer.role_arn.split(":")[4]
    for i, c in enumerate(spec.clusters):
        if isinstance(c, AwsCluster) and c.account_id != account:
            yield Problem(
                path=f"clusters[{i}].accountId",
                message=f"{c.account_id} is not the account of fleet.deployers.aws.roleArn ({account}): "
                "`pulumi up` runs as that role, and meshfleet assumes no role in another account",
                fix=f"use accountId {account!r}, or deploy this cluster from a stack whose deployer role "
                f"lives in {c.account_id}",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_deployers_and_addons, _rule_aws_accounts)
