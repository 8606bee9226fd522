"""Simulated aws resources for the offline plan.

Outputs look like the real ones (ids with their AWS prefixes, ARNs carrying
the provider's account and region, EKS endpoints and a real CA certificate)
and are deterministic: ids derive from the resource's URN (stack, type and
name) through the SimContext, Elastic IPs come from the stack's own block of
EIP_POOL. The account and region come from the resource's
explicit `aws.Provider` (meshfleet creates one per cluster).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pulumi.runtime import MockResourceArgs

from ops.sim import Call, Handler, SimContext

#: Public addresses of simulated Elastic IPs: the upper half of the RFC 2544
#: benchmarking range, disjoint from the other simulators' pools (Azure
#: 198.18.0.0/16, GCP 34.0.0.0/10 and 35.190.0.0/16, Kubernetes load
#: balancers 100.64.0.0/16) and from the documentation ranges stacks use for
#: operators, so egress addresses never collide across clusters or clouds
#: (and, by ops/sim/pools.py, never across stacks).
EIP_POOL = "198.19.0.0/16"
PROVIDER_TYPE = "pulumi:providers:aws"
EIP_TYPE = "aws:ec2/eip:Eip"
SUBNET_TYPE = "aws:ec2/subnet:Subnet"


# --------------------------------------------------------------------------
# Where a resource lives


def _provider_inputs(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    """Inputs of the resource's explicit aws provider (`urn::id` reference)."""
    urn = (args.provider or "").rsplit("::", 1)[0]
    name = urn.split("::")[-1] if urn else ""
    return ctx.state.get((PROVIDER_TYPE, name), {})


def _account(args: MockResourceArgs, ctx: SimContext) -> str:
    ids = _provider_inputs(args, ctx).get("allowedAccountIds") or ["123456789012"]
    if isinstance(ids, str):  # provider config may arrive JSON-encoded
        ids = json.loads(ids)
    return str(ids[0])


def _region(args: MockResourceArgs, ctx: SimContext) -> str:
    return str(_provider_inputs(args, ctx).get("region") or "us-east-1")


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _uuid(ctx: SimContext, *parts: str) -> str:
    h = ctx.hex(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _ec2_id(prefix: str, args: MockResourceArgs, ctx: SimContext) -> str:
    return f"{prefix}-{ctx.hex(args.typ, args.name, length=17)}"


def _ec2_arn(kind: str, rid: str, args: MockResourceArgs, ctx: SimContext) -> str:
    region = _region(args, ctx)
    return f"arn:{_partition(region)}:ec2:{region}:{_account(args, ctx)}:{kind}/{rid}"


def _created(ctx: SimContext) -> str:
    return ctx.now.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# EC2


def _vpc(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    rid = _ec2_id("vpc", args, ctx)
    return {
        "__id": rid,
        "arn": _ec2_arn("vpc", rid, args, ctx),
        "ownerId": _account(args, ctx),
        "mainRouteTableId": f"rtb-{ctx.hex(args.name, 'main', length=17)}",
        "defaultRouteTableId": f"rtb-{ctx.hex(args.name, 'main', length=17)}",
        "defaultSecurityGroupId": f"sg-{ctx.hex(args.name, 'default', length=17)}",
        "defaultNetworkAclId": f"acl-{ctx.hex(args.name, 'default', length=17)}",
        "dhcpOptionsId": f"dopt-{ctx.hex(args.name, 'dhcp', length=17)}",
        "instanceTenancy": "default",
    }


def _subnet(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    rid = _ec2_id("subnet", args, ctx)
    zone = str(args.inputs.get("availabilityZone", ""))
    return {
        "__id": rid,
        "arn": _ec2_arn("subnet", rid, args, ctx),
        "ownerId": _account(args, ctx),
        "availabilityZoneId": f"{zone[:-1].replace('-', '')[:4]}-az{ord(zone[-1]) - ord('a') + 1}" if zone else "",
    }


def _internet_gateway(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    rid = _ec2_id("igw", args, ctx)
    return {"__id": rid, "arn": _ec2_arn("internet-gateway", rid, args, ctx), "ownerId": _account(args, ctx)}


def _public_dns(ip: str, region: str) -> str:
    host = "ec2-" + ip.replace(".", "-")
    return f"{host}.compute-1.amazonaws.com" if region == "us-east-1" else f"{host}.{region}.compute.amazonaws.com"


def _eip(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    rid = _ec2_id("eipalloc", args, ctx)
    ip = ctx.allocate(EIP_POOL, args.typ, args.name)
    return {
        "__id": rid,
        "allocationId": rid,
        "arn": _ec2_arn("elastic-ip", rid, args, ctx),
        "domain": "vpc",
        "publicIp": ip,
        "publicDns": _public_dns(ip, _region(args, ctx)),
        "publicIpv4Pool": "amazon",
        "networkBorderGroup": _region(args, ctx),
    }


def _nat_gateway(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    rid = _ec2_id("nat", args, ctx)
    allocation = args.inputs.get("allocationId")
    public_ip = next(
        (
            s.get("publicIp")
            for (typ, _), s in ctx.state.items()
            if typ == EIP_TYPE and s.get("allocationId") == allocation
        ),
        None,
    )
    subnet_id = str(args.inputs.get("subnetId", ""))
    subnet_cidr = next(
        (
            s.get("cidrBlock")
            for (typ, _), s in ctx.state.items()
            if typ == SUBNET_TYPE and str(s.get("arn", "")).endswith(f"/{subnet_id}")
        ),
        None,
    )
    outputs: dict[str, Any] = {
        "__id": rid,
        "networkInterfaceId": f"eni-{ctx.hex(args.name, 'eni', length=17)}",
        "associationId": f"eipassoc-{ctx.hex(args.name, 'assoc', length=17)}",
        "availabilityMode": "zonal",
    }
    if public_ip:
        outputs["publicIp"] = public_ip
    if subnet_cidr:
        outputs["privateIp"] = ctx.address(str(subnet_cidr), args.name, "private")
    return outputs


def _route_table(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    rid = _ec2_id("rtb", args, ctx)
    return {"__id": rid, "arn": _ec2_arn("route-table", rid, args, ctx), "ownerId": _account(args, ctx)}


def _route_table_association(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    return {"__id": _ec2_id("rtbassoc", args, ctx)}


# --------------------------------------------------------------------------
# IAM, KMS, CloudWatch


def _iam_role(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    name = str(args.inputs.get("name") or args.name)
    return {
        "__id": name,
        "name": name,
        "arn": f"arn:{_partition(_region(args, ctx))}:iam::{_account(args, ctx)}:role/{name}",
        "uniqueId": "AROA" + ctx.hex(args.name, "role", length=17).upper(),
        "createDate": _created(ctx),
        "path": "/",
        "maxSessionDuration": 3600,
    }


def _iam_role_policy(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    return {"__id": f"{args.inputs.get('role')}:{args.inputs.get('name')}"}


def _iam_role_policy_attachment(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    return {"__id": f"{args.inputs.get('role')}-{ctx.hex(args.name, length=20)}"}


def _kms_key(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    key_id = _uuid(ctx, args.typ, args.name)
    region = _region(args, ctx)
    return {
        "__id": key_id,
        "keyId": key_id,
        "arn": f"arn:{_partition(region)}:kms:{region}:{_account(args, ctx)}:key/{key_id}",
        "keyUsage": "ENCRYPT_DECRYPT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "isEnabled": True,
        "rotationPeriodInDays": 365,
    }


def _kms_alias(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    region = _region(args, ctx)
    name = str(args.inputs.get("name"))
    return {
        "__id": name,
        "arn": f"arn:{_partition(region)}:kms:{region}:{_account(args, ctx)}:{name}",
        "targetKeyArn": f"arn:{_partition(region)}:kms:{region}:{_account(args, ctx)}:key/{args.inputs.get('targetKeyId')}",
    }


def _log_group(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    region = _region(args, ctx)
    name = str(args.inputs.get("name"))
    return {
        "__id": name,
        "arn": f"arn:{_partition(region)}:logs:{region}:{_account(args, ctx)}:log-group:{name}",
        "logGroupClass": "STANDARD",
    }


# --------------------------------------------------------------------------
# EKS


def _eks_arn(kind: str, path: str, args: MockResourceArgs, ctx: SimContext) -> str:
    region = _region(args, ctx)
    return f"arn:{_partition(region)}:eks:{region}:{_account(args, ctx)}:{kind}/{path}"


def cluster_ca_pem(ctx: SimContext, cluster: str) -> bytes:
    """EKS's cluster CA (CN `kubernetes`, 10 years)."""
    return ctx.api_server_ca("kubernetes", "eks", cluster, years=10).encode()


def _eks_cluster(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    name = str(args.inputs.get("name") or args.name)
    region = _region(args, ctx)
    endpoint_id = ctx.hex("eks-endpoint", name, length=32).upper()
    oidc_id = ctx.hex("eks-oidc", name, length=32).upper()
    vpc_config = dict(args.inputs.get("vpcConfig") or {})
    vpc_config.update(
        {
            "clusterSecurityGroupId": f"sg-{ctx.hex(name, 'cluster-sg', length=17)}",
            "vpcId": f"vpc-{ctx.hex(name, 'vpc', length=17)}",
        }
    )
    return {
        "__id": name,
        "name": name,
        "arn": _eks_arn("cluster", name, args, ctx),
        "endpoint": f"https://{endpoint_id}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": base64.b64encode(cluster_ca_pem(ctx, name)).decode()},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}],
        "clusterId": _uuid(ctx, "eks-cluster-id", name),
        "createdAt": _created(ctx),
        "platformVersion": "eks.1",
        "status": "ACTIVE",
        "vpcConfig": vpc_config,
    }


def _access_entry(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    cluster = str(args.inputs.get("clusterName"))
    principal = str(args.inputs.get("principalArn"))
    partition, account, role = principal.split(":")[1], principal.split(":")[4], principal.split("/")[-1]
    return {
        "__id": f"{cluster}:{principal}",
        "accessEntryArn": _eks_arn(
            "access-entry", f"{cluster}/role/{account}/{role}/{ctx.hex(args.name, length=16)}", args, ctx
        ),
        "createdAt": _created(ctx),
        "modifiedAt": _created(ctx),
        "kubernetesGroups": [],
        # What EKS derives for an IAM role principal.
        "userName": f"arn:{partition}:sts::{account}:assumed-role/{role}/{{{{SessionName}}}}",
        "type": args.inputs.get("type") or "STANDARD",
    }


def _access_policy_association(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = args.inputs
    return {
        "__id": f"{inputs.get('clusterName')}#{inputs.get('principalArn')}#{inputs.get('policyArn')}",
        "associatedAt": _created(ctx),
        "modifiedAt": _created(ctx),
    }


def _addon(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    cluster, addon = str(args.inputs.get("clusterName")), str(args.inputs.get("addonName"))
    return {
        "__id": f"{cluster}:{addon}",
        "arn": _eks_arn("addon", f"{cluster}/{addon}/{ctx.hex(args.name, length=16)}", args, ctx),
        "createdAt": _created(ctx),
        "modifiedAt": _created(ctx),
    }


def _prefixed_name(ctx: SimContext, prefix: str, *seed: str) -> str:
    """A name the provider completes from a prefix: it appends a timestamp and a counter (26
    digits); here the pinned clock and a digit string from the seed, the same every run."""
    counter = ctx.number(*seed, prefix, modulo=10**12)
    return f"{prefix}{ctx.now:%Y%m%d%H%M%S}{counter:012d}"


def _node_group(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    cluster = str(args.inputs.get("clusterName"))
    group = args.inputs.get("nodeGroupName") or _prefixed_name(
        ctx, str(args.inputs.get("nodeGroupNamePrefix", "")), "nodegroup-name", cluster
    )
    suffix = _uuid(ctx, "nodegroup", cluster, group)
    return {
        "__id": f"{cluster}:{group}",
        "nodeGroupName": group,
        "arn": _eks_arn("nodegroup", f"{cluster}/{group}/{suffix}", args, ctx),
        "status": "ACTIVE",
        "releaseVersion": f"{args.inputs.get('version')}.0-20260101",
        "resources": [
            {
                "autoscalingGroups": [{"name": f"eks-{group}-{suffix}"}],
                "remoteAccessSecurityGroupId": "",
            }
        ],
    }


def _launch_template(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    rid = _ec2_id("lt", args, ctx)
    name = args.inputs.get("name") or _prefixed_name(
        ctx, str(args.inputs.get("namePrefix", "")), "launch-template-name"
    )
    return {
        "__id": rid,
        "name": name,
        "arn": _ec2_arn("launch-template", rid, args, ctx),
        # A new template: version 1, the default too (a changed template is a new version in place).
        "latestVersion": 1,
        "defaultVersion": 1,
    }


def _pod_identity_association(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    cluster = str(args.inputs.get("clusterName"))
    association = "a-" + ctx.hex(args.typ, args.name, length=17)
    return {
        "__id": f"{cluster},{association}",
        "associationId": association,
        "associationArn": _eks_arn("podidentityassociation", f"{cluster}/{association}", args, ctx),
        "externalId": _uuid(ctx, "pod-identity", args.name),
    }


HANDLERS: dict[str, Handler] = {
    "aws:ec2/vpc:Vpc": _vpc,
    SUBNET_TYPE: _subnet,
    "aws:ec2/internetGateway:InternetGateway": _internet_gateway,
    EIP_TYPE: _eip,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/routeTable:RouteTable": _route_table,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _route_table_association,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/rolePolicy:RolePolicy": _iam_role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _iam_role_policy_attachment,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/accessEntry:AccessEntry": _access_entry,
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": _access_policy_association,
    "aws:eks/addon:Addon": _addon,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _pod_identity_association,
}
#: meshfleet invokes nothing on AWS: account and region come from config.
CALLS: dict[str, Call] = {}
