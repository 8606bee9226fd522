"""EKS: the network and cluster of `aws-use1` from the dev stack, planned offline."""

from __future__ import annotations

import base64
import ipaddress
import json
from collections import Counter
from typing import Any

import pytest

from components.clusters.eks import (
    LOG_TYPES,
    ami_type,
    autoscaler_policy,
    lb_controller_policy,
)
from components.networks.aws import subnet_layout
from ops.plan import Plan, Recorded, is_secret
from ops.sim.aws import EIP_POOL
from tests.helpers import PlanChange, fleet_of, inputs, of_type, only_clusters, plan_fleet

CLUSTER = "aws-use1"
NET = f"{CLUSTER}-network"
PHYSICAL = "acme-dev-aws-use1"
ACCOUNT = "111111111111"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/meshfleet-deployer"
NEW_DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/meshfleet-ci"
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
TAGS = {"fleet": "acme-dev", "environment": "dev", "owner": "platform", "managed-by": "meshfleet"}

EXPECTED_AWS = {
    "pulumi:providers:aws": 1,
    "aws:ec2/vpc:Vpc": 1,
    "aws:ec2/subnet:Subnet": 6,
    "aws:ec2/internetGateway:InternetGateway": 1,
    "aws:ec2/eip:Eip": 6,
    "aws:ec2/natGateway:NatGateway": 3,
    "aws:ec2/routeTable:RouteTable": 4,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 6,
    "aws:iam/role:Role": 5,
    "aws:iam/rolePolicy:RolePolicy": 3,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 5,
    "aws:kms/key:Key": 1,
    "aws:kms/alias:Alias": 1,
    "aws:cloudwatch/logGroup:LogGroup": 1,
    "aws:eks/cluster:Cluster": 1,
    "aws:eks/accessEntry:AccessEntry": 1,
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": 1,
    "aws:eks/addon:Addon": 6,
    "aws:eks/nodeGroup:NodeGroup": 3,
    "aws:ec2/launchTemplate:LaunchTemplate": 1,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": 2,
}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_fleet(only_clusters(fleet_of("dev"), CLUSTER))


@pytest.fixture(scope="module")
def with_peer() -> Plan:
    """The EKS cluster beside one existing peer: the mesh then exposes an east-west gateway."""
    fleet = only_clusters(fleet_of("dev"), CLUSTER)
    fleet["clusters"].append(fleet_of("local")["clusters"][0])
    return plan_fleet(fleet)


@pytest.fixture(scope="module")
def changed() -> Plan:
    """Protection on and another deploying role: what an operator changes later."""
    fleet = only_clusters(fleet_of("dev"), CLUSTER)
    fleet["fleet"]["protect"] = True
    fleet["fleet"]["deployers"]["aws"]["roleArn"] = NEW_DEPLOYER
    return plan_fleet(fleet)


def one(plan: Plan, type_: str, name: str) -> Recorded:
    return plan.get(type_, name)


def aws_resources(plan: Plan) -> list[Recorded]:
    """The cluster's AWS resources (its network's and its own are all named `aws-use1-...`)."""
    return [r for r in plan.resources if r.type.startswith("aws:") and r.name.startswith(CLUSTER + "-")]


def cluster(plan: Plan) -> Recorded:
    return one(plan, "aws:eks/cluster:Cluster", f"{CLUSTER}-cluster")


def k8s_provider(plan: Plan) -> Recorded:
    return one(plan, "pulumi:providers:kubernetes", f"{CLUSTER}-k8s")


def urn(plan: Plan, type_: str, name: str) -> str:
    return one(plan, type_, name).urn


def groups(plan: Plan) -> list[Recorded]:
    """The system pool's node groups, one per zone, in zone order."""
    return [one(plan, "aws:eks/nodeGroup:NodeGroup", f"{CLUSTER}-nodes-system-{z}") for z in ZONES]


# --------------------------------------------------------------------------
# Resource graph


def test_exact_aws_resource_types_and_counts(plan: Plan) -> None:
    counts = Counter(r.type for r in aws_resources(plan))
    counts["pulumi:providers:aws"] = len(of_type(plan, "pulumi:providers:aws", CLUSTER))
    assert dict(counts) == EXPECTED_AWS


def test_in_cluster_objects_of_the_eks_component(plan: Plan) -> None:
    eks = one(plan, "meshfleet:cluster:Eks", CLUSTER)
    children = sorted(
        (r.type, r.name)
        for r in plan.resources
        if r.parent == eks.urn and r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes"))
    )
    assert children == [
        ("kubernetes:helm.sh/v3:Release", f"{CLUSTER}-cluster-autoscaler"),
        ("kubernetes:helm.sh/v3:Release", f"{CLUSTER}-lb-controller"),
        ("kubernetes:storage.k8s.io/v1:StorageClass", f"{CLUSTER}-gp3"),
        ("pulumi:providers:kubernetes", f"{CLUSTER}-k8s"),
    ]


def test_every_aws_resource_uses_the_clusters_provider_and_carries_fleet_tags(plan: Plan) -> None:
    provider = one(plan, "pulumi:providers:aws", f"{NET}-provider")
    assert inputs(provider)["region"] == "us-east-1"
    assert json.loads(inputs(provider)["allowedAccountIds"]) == [ACCOUNT]
    assert json.loads(inputs(provider)["defaultTags"]) == {"tags": TAGS}
    untaggable = {
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:kms/alias:Alias",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    }
    for r in aws_resources(plan):
        assert r.provider_urn == provider.urn, r.urn
        if r.type not in untaggable:
            tags = inputs(r).get("tags", {})
            assert {k: tags.get(k) for k in TAGS} == TAGS, r.urn


# --------------------------------------------------------------------------
# Network


def test_vpc_subnets_and_load_balancer_discovery_tags(plan: Plan) -> None:
    vpc = inputs(one(plan, "aws:ec2/vpc:Vpc", f"{NET}-vpc"))
    assert (vpc["cidrBlock"], vpc["enableDnsSupport"], vpc["enableDnsHostnames"]) == ("10.10.0.0/16", True, True)
    privates = ["10.10.0.0/18", "10.10.64.0/18", "10.10.128.0/18"]
    publics = ["10.10.192.0/20", "10.10.208.0/20", "10.10.224.0/20"]
    for zone, private_cidr, public_cidr in zip(ZONES, privates, publics, strict=True):
        private = inputs(one(plan, "aws:ec2/subnet:Subnet", f"{NET}-private-{zone}"))
        public = inputs(one(plan, "aws:ec2/subnet:Subnet", f"{NET}-public-{zone}"))
        assert (private["cidrBlock"], private["availabilityZone"]) == (private_cidr, zone)
        assert (public["cidrBlock"], public["availabilityZone"]) == (public_cidr, zone)
        assert private["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert "kubernetes.io/role/elb" not in private["tags"]
        assert public["tags"]["kubernetes.io/role/elb"] == "1"
        assert public["mapPublicIpOnLaunch"] is False
        assert public["tags"][f"kubernetes.io/cluster/{PHYSICAL}"] == "shared"


def test_one_nat_per_zone_with_a_static_eip_and_private_routes_through_it(plan: Plan) -> None:
    igw = urn(plan, "aws:ec2/internetGateway:InternetGateway", f"{NET}-igw")
    for zone in ZONES:
        nat = one(plan, "aws:ec2/natGateway:NatGateway", f"{NET}-nat-{zone}")
        eip = one(plan, "aws:ec2/eip:Eip", f"{NET}-egress-{zone}")
        assert inputs(eip)["domain"] == "vpc"
        assert inputs(nat)["connectivityType"] == "public"
        assert inputs(nat)["allocationId"].startswith("eipalloc-")
        assert nat.property_dependencies["allocationId"] == [eip.urn]
        assert nat.property_dependencies["subnetId"] == [urn(plan, "aws:ec2/subnet:Subnet", f"{NET}-public-{zone}")]
        assert igw in nat.dependencies
        rt = one(plan, "aws:ec2/routeTable:RouteTable", f"{NET}-private-rt-{zone}")
        assert [route["cidrBlock"] for route in inputs(rt)["routes"]] == ["0.0.0.0/0"]
        assert inputs(rt)["routes"][0]["natGatewayId"].startswith("nat-")
        assert rt.property_dependencies["routes"] == [nat.urn]
        assoc = one(plan, "aws:ec2/routeTableAssociation:RouteTableAssociation", f"{NET}-private-{zone}")
        assert assoc.property_dependencies["subnetId"] == [urn(plan, "aws:ec2/subnet:Subnet", f"{NET}-private-{zone}")]
        assert assoc.property_dependencies["routeTableId"] == [rt.urn]
    public_rt = one(plan, "aws:ec2/routeTable:RouteTable", f"{NET}-public-rt")
    assert inputs(public_rt)["routes"][0]["gatewayId"].startswith("igw-")
    assert public_rt.property_dependencies["routes"] == [igw]


def test_egress_is_the_nat_eips_as_distinct_host_cidrs(plan: Plan) -> None:
    egress = plan.outputs[CLUSTER]["egressCidrs"]
    assert len(egress) == len(set(egress)) == 3
    for cidr in egress:
        net = ipaddress.IPv4Network(cidr)
        assert net.prefixlen == 32 and net.subnet_of(ipaddress.IPv4Network(EIP_POOL)), cidr


def test_gateway_eips_feed_the_load_balancer_annotations(with_peer: Plan) -> None:
    plan = with_peer
    annotated = [
        values["service"]["annotations"]
        for r in plan.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and r.name.startswith(CLUSTER + "-")
        for values in [inputs(r).get("values", {})]
        if "aws-load-balancer-eip-allocations" in json.dumps(values)
    ]
    assert annotated, "no Service of aws-use1 asks for the static EIPs"
    annotations = annotated[0]
    assert {k: v for k, v in annotations.items() if not k.endswith(("eip-allocations", "-subnets"))} == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        # Every EIP reaches every gateway pod, whatever zone it runs in.
        "service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
        # A draining gateway pod is deregistered within a bounded time (its preStop waits longer).
        "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "deregistration_delay.timeout_seconds=60",
    }
    allocations = annotations["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"].split(",")
    subnets = annotations["service.beta.kubernetes.io/aws-load-balancer-subnets"].split(",")
    nat_allocations = {inputs(r)["allocationId"] for r in of_type(plan, "aws:ec2/natGateway:NatGateway", CLUSTER)}
    nat_subnets = [inputs(one(plan, "aws:ec2/natGateway:NatGateway", f"{NET}-nat-{z}"))["subnetId"] for z in ZONES]
    # One gateway EIP per public subnet (zone order), never an egress EIP.
    assert len(allocations) == len(set(allocations)) == 3
    assert all(a.startswith("eipalloc-") for a in allocations)
    assert not nat_allocations & set(allocations)
    assert subnets == nat_subnets


# --------------------------------------------------------------------------
# Control plane


def test_cluster_endpoint_auth_encryption_and_logging(plan: Plan) -> None:
    c = inputs(cluster(plan))
    assert c["name"] == PHYSICAL and c["version"] == "1.33"
    vpc = c["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is True
    # The control plane spans every zone's private subnet; each zone's node group runs in its own.
    private_ids = [subnet for g in groups(plan) for subnet in inputs(g)["subnetIds"]]
    assert vpc["subnetIds"] == private_ids and len(set(private_ids)) == 3
    assert c["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert c["encryptionConfig"]["resources"] == ["secrets"]
    assert c["encryptionConfig"]["provider"]["keyArn"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    key = one(plan, "aws:kms/key:Key", f"{CLUSTER}-secrets-key")
    assert cluster(plan).property_dependencies["encryptionConfig"] == [key.urn]
    assert inputs(key)["enableKeyRotation"] is True
    assert sorted(c["enabledClusterLogTypes"]) == sorted(LOG_TYPES) and len(LOG_TYPES) == 5
    assert c["kubernetesNetworkConfig"] == {"ipFamily": "ipv4", "serviceIpv4Cidr": "172.20.0.0/16"}
    assert c["bootstrapSelfManagedAddons"] is False
    assert c["deletionProtection"] is False
    assert c["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{PHYSICAL}-cluster"
    assert cluster(plan).custom_timeouts == {"create": "45m", "update": "90m", "delete": "45m"}
    logs = one(plan, "aws:cloudwatch/logGroup:LogGroup", f"{CLUSTER}-control-plane-logs")
    assert inputs(logs)["name"] == f"/aws/eks/{PHYSICAL}/cluster"
    deps = set(cluster(plan).dependencies)
    assert {
        logs.urn,
        urn(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{CLUSTER}-cluster-role-eks"),
    } <= deps


def test_public_endpoint_admits_exactly_operators_ci_and_own_egress(plan: Plan) -> None:
    cidrs = inputs(cluster(plan))["vpcConfig"]["publicAccessCidrs"]
    own = plan.outputs[CLUSTER]["egressCidrs"]
    assert cidrs == sorted(["198.51.100.0/28", "192.0.2.64/27", *own])


def test_iam_roles_and_managed_policies(plan: Plan) -> None:
    roles = {r.name: inputs(r) for r in of_type(plan, "aws:iam/role:Role", CLUSTER)}
    services = {
        name: json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"]
        for name, role in roles.items()
    }
    assert services == {
        f"{CLUSTER}-cluster-role": "eks.amazonaws.com",
        f"{CLUSTER}-node-role": "ec2.amazonaws.com",
        f"{CLUSTER}-ebs-csi-role": "pods.eks.amazonaws.com",
        f"{CLUSTER}-autoscaler-role": "pods.eks.amazonaws.com",
        f"{CLUSTER}-lb-controller-role": "pods.eks.amazonaws.com",
    }
    assert roles[f"{CLUSTER}-lb-controller-role"]["name"] == f"{PHYSICAL}-lb-controller"
    # Pod Identity roles are usable only by their own service account in this cluster.
    for role, account in (("ebs-csi", "ebs-csi-controller-sa"), ("autoscaler", "cluster-autoscaler")):
        trust = json.loads(roles[f"{CLUSTER}-{role}-role"]["assumeRolePolicy"])["Statement"][0]
        assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
        assert trust["Condition"] == {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-name": PHYSICAL,
                "aws:RequestTag/kubernetes-namespace": "kube-system",
                "aws:RequestTag/kubernetes-service-account": account,
            }
        }
    attached = sorted(
        (r.name, inputs(r)["policyArn"])
        for r in of_type(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", CLUSTER)
    )
    assert attached == [
        (f"{CLUSTER}-cluster-role-eks", "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"),
        (f"{CLUSTER}-ebs-csi-role-policy", "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"),
        (f"{CLUSTER}-node-role-cni", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"),
        (f"{CLUSTER}-node-role-ecr", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"),
        (f"{CLUSTER}-node-role-worker", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"),
    ]
    kms = json.loads(inputs(one(plan, "aws:iam/rolePolicy:RolePolicy", f"{CLUSTER}-cluster-role-kms"))["policy"])
    assert kms["Statement"][0]["Resource"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")


def test_deployer_access_entry_and_cluster_admin_association(plan: Plan) -> None:
    entry = one(plan, "aws:eks/accessEntry:AccessEntry", f"{CLUSTER}-deployer-access")
    assert (inputs(entry)["principalArn"], inputs(entry)["type"]) == (DEPLOYER, "STANDARD")
    assoc = one(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", f"{CLUSTER}-deployer-admin")
    assert inputs(assoc) == {
        "accessScope": {"type": "cluster"},
        "clusterName": PHYSICAL,
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        "principalArn": DEPLOYER,
    }
    assert entry.urn in assoc.dependencies
    # The Kubernetes provider (so every in-cluster object) waits for the association.
    assert assoc.urn in k8s_provider(plan).dependencies


def test_in_cluster_installs_of_the_fleet_wait_for_nodes_access_storage_and_lb_controller(plan: Plan) -> None:
    crds = one(plan, "kubernetes:yaml/v2:ConfigFile", f"{CLUSTER}-gateway-api-standard")
    assert {
        *(g.urn for g in groups(plan)),
        urn(plan, "aws:eks/addon:Addon", f"{CLUSTER}-addon-coredns"),
        # Helm's API discovery fails while an aggregated API (metrics.k8s.io) is registered but not serving.
        urn(plan, "aws:eks/addon:Addon", f"{CLUSTER}-addon-metrics-server"),
        urn(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", f"{CLUSTER}-deployer-admin"),
        urn(plan, "kubernetes:storage.k8s.io/v1:StorageClass", f"{CLUSTER}-gp3"),
        urn(plan, "kubernetes:helm.sh/v3:Release", f"{CLUSTER}-lb-controller"),
    } <= set(crds.dependencies)


# --------------------------------------------------------------------------
# Add-ons and nodes


def test_addons_are_pinned_and_ordered_around_the_node_groups(plan: Plan) -> None:
    addon = {inputs(r)["addonName"]: r for r in of_type(plan, "aws:eks/addon:Addon", CLUSTER)}
    assert {n: inputs(r)["addonVersion"] for n, r in addon.items()} == {
        "vpc-cni": "v1.20.4-eksbuild.2",
        "kube-proxy": "v1.33.5-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.1",
        "coredns": "v1.12.4-eksbuild.1",
        "aws-ebs-csi-driver": "v1.51.1-eksbuild.1",
        "metrics-server": "v0.8.0-eksbuild.1",
    }
    before = {addon[n].urn for n in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")}
    after_nodes = ("coredns", "aws-ebs-csi-driver", "metrics-server")
    for nodes in groups(plan):
        assert before <= set(nodes.dependencies)
        assert not {addon[n].urn for n in after_nodes} & set(nodes.dependencies)
        for after in after_nodes:
            assert nodes.urn in addon[after].dependencies, after
        for before_name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
            assert nodes.urn not in addon[before_name].dependencies
    ebs = inputs(addon["aws-ebs-csi-driver"])
    assert ebs["podIdentityAssociations"] == [
        {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/{PHYSICAL}-ebs-csi", "serviceAccount": "ebs-csi-controller-sa"}
    ]
    for r in addon.values():
        assert inputs(r)["resolveConflictsOnCreate"] == "OVERWRITE"
        assert inputs(r)["resolveConflictsOnUpdate"] == "OVERWRITE"


def test_a_node_group_per_zone_dividing_the_pools_bounds(plan: Plan) -> None:
    """The pool (2 to 5 nodes over three zones) is three zonal groups whose bounds add up to the pool's."""
    scaling = [inputs(g)["scalingConfig"] for g in groups(plan)]
    assert scaling == [
        {"minSize": 1, "maxSize": 2, "desiredSize": 1},
        {"minSize": 1, "maxSize": 2, "desiredSize": 1},
        {"minSize": 0, "maxSize": 1, "desiredSize": 0},
    ]
    # Each group runs in its own zone's private subnet.
    private = [urn(plan, "aws:ec2/subnet:Subnet", f"{NET}-private-{z}") for z in ZONES]
    assert [g.property_dependencies["subnetIds"] for g in groups(plan)] == [[u] for u in private]
    assert all(len(inputs(g)["subnetIds"]) == 1 for g in groups(plan))
    assert [inputs(g)["nodeGroupNamePrefix"] for g in groups(plan)] == ["system-a-", "system-b-", "system-c-"]
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate", f"{CLUSTER}-nodes-system-template")
    assert all(g.property_dependencies["launchTemplate"] == [template.urn] for g in groups(plan))
    # The groups are alike but for zone and size: the autoscaler balances them
    # (--balance-similar-node-groups) and scales the one in the zone a pending pod needs.
    alike = [
        {k: v for k, v in inputs(g).items() if k not in ("scalingConfig", "subnetIds", "nodeGroupNamePrefix")}
        for g in groups(plan)
    ]
    assert alike[0] == alike[1] == alike[2]


def test_node_group_autoscaling_bounds_and_ignored_desired_size(plan: Plan) -> None:
    nodes = groups(plan)[0]
    n = inputs(nodes)
    assert n["scalingConfig"] == {"minSize": 1, "maxSize": 2, "desiredSize": 1}
    assert nodes.ignore_changes == ["scalingConfig.desiredSize"]
    assert nodes.custom_timeouts == {"create": "30m", "update": "90m", "delete": "45m"}
    assert (n["nodeGroupNamePrefix"], n["instanceTypes"]) == ("system-a-", ["m6i.large"])
    # The disk is the launch template's: EKS refuses disk_size beside a template.
    assert "diskSize" not in n
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate", f"{CLUSTER}-nodes-system-template")
    assert n["launchTemplate"]["id"].startswith("lt-") and template.urn in nodes.dependencies
    assert n["launchTemplate"]["version"] == str(plan.state[(template.type, template.name)]["latestVersion"]) == "1"
    t = inputs(template)
    assert t["namePrefix"] == f"{PHYSICAL}-system-"
    # IMDSv2 only, one hop: pods (not on the host network) never reach the node role's credentials.
    assert t["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
    assert t["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {"volumeSize": 100, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"},
        }
    ]
    # Instances and their volumes carry the fleet's identity tags (the node group's tags stop at the
    # group); not owner or environment, whose change would roll every node through a new version.
    identity = {"fleet": "acme-dev", "managed-by": "meshfleet"}
    assert t["tagSpecifications"] == [
        {"resourceType": "instance", "tags": identity},
        {"resourceType": "volume", "tags": identity},
    ]
    assert t["tags"] == TAGS
    # No fixed name: a change that forces a new group (instance type, AMI type) creates it
    # before the old one is drained and deleted, instead of deleting every node of the pool first.
    assert "nodeGroupName" not in n
    assert (n["amiType"], n["capacityType"], n["version"]) == ("AL2023_x86_64_STANDARD", "ON_DEMAND", "1.33")
    assert n["nodeRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{PHYSICAL}-node"
    # Nodes boot only with their policies and a NAT route to pull images.
    deps = set(nodes.dependencies)
    for slug in ("worker", "cni", "ecr"):
        assert urn(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{CLUSTER}-node-role-{slug}") in deps
    for zone in ZONES:
        assert urn(plan, "aws:ec2/routeTableAssociation:RouteTableAssociation", f"{NET}-private-{zone}") in deps


def test_default_gp3_storage_class(plan: Plan) -> None:
    sc = one(plan, "kubernetes:storage.k8s.io/v1:StorageClass", f"{CLUSTER}-gp3")
    body = inputs(sc)
    assert body["metadata"] == {
        "name": "gp3",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    }
    assert body["provisioner"] == "ebs.csi.aws.com"
    # Every volume the driver provisions carries the fleet's identity tags, one `key=value` per
    # tagSpecification_<n> (immutable parameters: a changing tag would re-create the class).
    assert body["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
        "fsType": "ext4",
        "tagSpecification_1": "fleet=acme-dev",
        "tagSpecification_2": "managed-by=meshfleet",
    }
    assert body["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc.provider_urn == k8s_provider(plan).urn
    assert urn(plan, "aws:eks/addon:Addon", f"{CLUSTER}-addon-aws-ebs-csi-driver") in sc.dependencies


# --------------------------------------------------------------------------
# Controllers


def test_cluster_autoscaler_release_and_pod_identity(plan: Plan) -> None:
    release = one(plan, "kubernetes:helm.sh/v3:Release", f"{CLUSTER}-cluster-autoscaler")
    body = inputs(release)
    assert {k: body[k] for k in ("name", "chart", "version", "namespace", "atomic", "cleanupOnFail")} == {
        "name": "cluster-autoscaler",
        "chart": "cluster-autoscaler",
        "version": "9.50.1",
        "namespace": "kube-system",
        "atomic": True,
        "cleanupOnFail": True,
    }
    assert body["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}
    values = body["values"]
    assert values["autoDiscovery"] == {
        "clusterName": PHYSICAL,
        "tags": ["k8s.io/cluster-autoscaler/enabled", f"k8s.io/cluster-autoscaler/{PHYSICAL}"],
    }
    assert (values["cloudProvider"], values["awsRegion"]) == ("aws", "us-east-1")
    assert values["rbac"]["serviceAccount"] == {"create": True, "name": "cluster-autoscaler"}
    # The image follows the cluster's minor, pinned in config (addons.eks.clusterAutoscalerImage),
    # never the chart's default (the newest autoscaler).
    assert values["image"] == {"tag": "v1.33.6"}
    assert release.provider_urn == k8s_provider(plan).urn
    identity = one(plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation", f"{CLUSTER}-autoscaler-identity")
    assert {k: inputs(identity)[k] for k in ("clusterName", "namespace", "serviceAccount", "roleArn")} == {
        "clusterName": PHYSICAL,
        "namespace": "kube-system",
        "serviceAccount": "cluster-autoscaler",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{PHYSICAL}-autoscaler",
    }
    deps = set(release.dependencies)
    assert {
        identity.urn,
        *(g.urn for g in groups(plan)),
        urn(plan, "aws:eks/addon:Addon", f"{CLUSTER}-addon-coredns"),
    } <= deps


def test_load_balancer_controller_release_and_pod_identity(plan: Plan) -> None:
    release = one(plan, "kubernetes:helm.sh/v3:Release", f"{CLUSTER}-lb-controller")
    body = inputs(release)
    assert (body["name"], body["chart"], body["version"], body["namespace"]) == (
        "aws-load-balancer-controller",
        "aws-load-balancer-controller",
        "1.14.1",
        "kube-system",
    )
    assert (body["atomic"], body["cleanupOnFail"]) == (True, True)
    assert body["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    values = body["values"]
    assert (values["clusterName"], values["region"]) == (PHYSICAL, "us-east-1")
    assert values["vpcId"].startswith("vpc-")
    assert values["serviceAccount"] == {"create": True, "name": "aws-load-balancer-controller"}
    # Only Services that ask for it (type `external`); no takeover of every LoadBalancer.
    assert values["enableServiceMutatorWebhook"] is False
    # The NLBs, target groups and security groups it creates carry the fleet tags.
    assert values["defaultTags"] == TAGS
    assert urn(plan, "aws:ec2/vpc:Vpc", f"{NET}-vpc") in release.property_dependencies["values"]
    identity = one(plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation", f"{CLUSTER}-lb-controller-identity")
    assert (inputs(identity)["serviceAccount"], inputs(identity)["namespace"]) == (
        "aws-load-balancer-controller",
        "kube-system",
    )
    assert identity.urn in release.dependencies
    policy = json.loads(inputs(one(plan, "aws:iam/rolePolicy:RolePolicy", f"{CLUSTER}-lb-controller-policy"))["policy"])
    assert policy == json.loads(lb_controller_policy(PHYSICAL, "aws", "us-east-1", ACCOUNT))


@pytest.mark.parametrize("purpose", ["autoscaler", "lb-controller"])
def test_each_controller_identity_waits_for_its_policy(plan: Plan, purpose: str) -> None:
    # Created after the permissions, so the controller never starts without them; destroyed before
    # them, so the controller can still delete its load balancers (and free the EIPs) on its way out.
    identity = one(plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation", f"{CLUSTER}-{purpose}-identity")
    assert urn(plan, "aws:iam/rolePolicy:RolePolicy", f"{CLUSTER}-{purpose}-policy") in identity.dependencies


# --------------------------------------------------------------------------
# Kubernetes provider and kubeconfig


def test_kubeconfig_is_secret_and_uses_the_get_token_exec_plugin(plan: Plan) -> None:
    provider = k8s_provider(plan)
    assert is_secret(provider.inputs["kubeconfig"])
    assert inputs(provider)["clusterIdentifier"] == f"meshfleet/{PHYSICAL}"
    kubeconfig = json.loads(inputs(provider)["kubeconfig"])
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://") and server.endswith(".gr7.us-east-1.eks.amazonaws.com")
    ca = kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
    assert base64.b64decode(ca).startswith(b"-----BEGIN CERTIFICATE-----")
    exec_ = kubeconfig["users"][0]["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["command"] == "aws"
    assert exec_["args"][:2] == ["eks", "get-token"]
    args = dict(zip(exec_["args"][2::2], exec_["args"][3::2], strict=True))
    assert args == {"--cluster-name": PHYSICAL, "--region": "us-east-1", "--role-arn": DEPLOYER, "--output": "json"}
    assert is_secret(plan.outputs[f"{CLUSTER}-kubeconfig"])
    assert plan.outputs[CLUSTER]["apiEndpoint"] == server


def test_changing_the_deployer_role_keeps_the_provider_identity(plan: Plan, changed: Plan) -> None:
    before, after = k8s_provider(plan), k8s_provider(changed)
    assert before.urn == after.urn
    assert inputs(after)["clusterIdentifier"] == inputs(before)["clusterIdentifier"] == f"meshfleet/{PHYSICAL}"
    assert DEPLOYER in inputs(before)["kubeconfig"]
    assert NEW_DEPLOYER in inputs(after)["kubeconfig"] and DEPLOYER not in inputs(after)["kubeconfig"]
    entry = one(changed, "aws:eks/accessEntry:AccessEntry", f"{CLUSTER}-deployer-access")
    assert inputs(entry)["principalArn"] == NEW_DEPLOYER


def test_a_new_instance_type_changes_only_the_node_group_which_comes_up_before_the_old_goes(plan: Plan) -> None:
    # Day 2: an instance type (or AMI type) forces a new node group. Same URN and prefix,
    # no fixed name: the provider names the new group afresh, so Pulumi creates it before it
    # deletes (and EKS drains) the old one; nothing else of the fleet changes.
    fleet = only_clusters(fleet_of("dev"), CLUSTER)
    fleet["clusters"][0]["nodePools"][0]["machineType"] = "m7g.large"
    change = PlanChange(plan, plan_fleet(fleet))
    assert change.added == [] and change.removed == set()
    assert change.inputs_changed() == {g.urn: [".amiType", ".instanceTypes[0]"] for g in groups(plan)}
    for zone, group in zip("abc", groups(plan), strict=True):
        old, new = inputs(change.old[group.urn]), inputs(change.new[group.urn])
        assert (new["instanceTypes"], new["amiType"]) == (["m7g.large"], "AL2023_ARM_64_STANDARD")
        assert new["nodeGroupNamePrefix"] == old["nodeGroupNamePrefix"] == f"system-{zone}-"
        assert "nodeGroupName" not in new


def test_a_new_disk_size_is_a_new_template_version_rolled_in_place(plan: Plan) -> None:
    """Day 2: the disk lives in the launch template; a new size is a new template version, which EKS rolls
    node by node (max one unavailable) on the same node group: no new group, nothing else changes."""
    fleet = only_clusters(fleet_of("dev"), CLUSTER)
    fleet["clusters"][0]["nodePools"][0]["diskSizeGb"] = 200
    after = plan_fleet(fleet)
    change = PlanChange(plan, after)
    assert change.added == [] and change.removed == set()
    template = urn(plan, "aws:ec2/launchTemplate:LaunchTemplate", f"{CLUSTER}-nodes-system-template")
    assert change.inputs_changed() == {template: [".blockDeviceMappings[0].ebs.volumeSize"]}
    assert inputs(change.new[template])["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 200
    # The group names the template by id and version: the version moves (in place), the id does not.
    assert all(template in g.dependencies for g in groups(after))


# --------------------------------------------------------------------------
# Protection


PROTECTED = {
    ("aws:ec2/vpc:Vpc", f"{NET}-vpc"),
    *(("aws:ec2/subnet:Subnet", f"{NET}-{kind}-{z}") for kind in ("private", "public") for z in ZONES),
    *(("aws:ec2/natGateway:NatGateway", f"{NET}-nat-{z}") for z in ZONES),
    # The egress addresses allow-lists hold; not the gateway's, which a mesh or mode switch replaces.
    *(("aws:ec2/eip:Eip", f"{NET}-egress-{z}") for z in ZONES),
    ("aws:kms/key:Key", f"{CLUSTER}-secrets-key"),
    ("aws:eks/cluster:Cluster", f"{CLUSTER}-cluster"),
}


def protected_set(plan: Plan) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in aws_resources(plan) if r.protect}


def test_dev_protects_nothing(plan: Plan) -> None:
    assert protected_set(plan) == set()
    assert inputs(cluster(plan))["deletionProtection"] is False


def test_protection_on_covers_network_nat_addresses_key_and_cluster(changed: Plan) -> None:
    assert protected_set(changed) == PROTECTED
    assert inputs(cluster(changed))["deletionProtection"] is True
    logs = one(changed, "aws:cloudwatch/logGroup:LogGroup", f"{CLUSTER}-control-plane-logs")
    assert inputs(logs)["deletionProtectionEnabled"] is True


# --------------------------------------------------------------------------
# Pure helpers


@pytest.mark.parametrize(
    ("cidr", "zones", "expected"),
    [
        (
            "10.10.0.0/16",
            3,
            [
                ("10.10.0.0/18", "10.10.192.0/20"),
                ("10.10.64.0/18", "10.10.208.0/20"),
                ("10.10.128.0/18", "10.10.224.0/20"),
            ],
        ),
        ("10.0.0.0/20", 2, [("10.0.0.0/22", "10.0.12.0/23"), ("10.0.4.0/22", "10.0.14.0/23")]),
    ],
)
def test_subnet_layout(cidr: str, zones: int, expected: list[tuple[str, str]]) -> None:
    names = [f"us-east-1{chr(ord('a') + i)}" for i in range(zones)]
    layout = subnet_layout(cidr, names)
    assert [(z.private, z.public) for z in layout] == expected
    assert [z.zone for z in layout] == names


def test_subnet_layout_rejects_a_range_too_small() -> None:
    with pytest.raises(ValueError, match=r"10.0.0.0/26 is too small for 3 zones.*/28"):
        subnet_layout("10.0.0.0/26", ["us-east-1a", "us-east-1b", "us-east-1c"])


@pytest.mark.parametrize(
    ("machine", "ami"),
    [
        ("m6i.large", "AL2023_x86_64_STANDARD"),
        ("c7i.2xlarge", "AL2023_x86_64_STANDARD"),
        # GPU and Neuron families need the accelerated AMIs (drivers).
        ("g5.xlarge", "AL2023_x86_64_NVIDIA"),
        ("p4d.24xlarge", "AL2023_x86_64_NVIDIA"),
        ("g5g.xlarge", "AL2023_ARM_64_NVIDIA"),
        ("inf2.xlarge", "AL2023_x86_64_NEURON"),
        # g4ad is AMD, not NVIDIA: no accelerated AL2023 variant.
        ("g4ad.xlarge", "AL2023_x86_64_STANDARD"),
        ("m7g.large", "AL2023_ARM_64_STANDARD"),
        ("c6gn.xlarge", "AL2023_ARM_64_STANDARD"),
        ("t4g.medium", "AL2023_ARM_64_STANDARD"),
    ],
)
def test_ami_type(machine: str, ami: str) -> None:
    assert ami_type(machine) == ami


def test_controller_policies_are_scoped_to_the_cluster() -> None:
    autoscaler: dict[str, Any] = json.loads(autoscaler_policy("c1"))
    writes = next(s for s in autoscaler["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert writes["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/c1": "owned"}}
    lbc: dict[str, Any] = json.loads(lb_controller_policy("c1", "aws", "eu-west-1", ACCOUNT))
    by_sid = {s["Sid"]: s for s in lbc["Statement"]}
    assert by_sid["CreateTagged"]["Condition"] == {"StringEquals": {"aws:RequestTag/elbv2.k8s.aws/cluster": "c1"}}
    assert by_sid["ManageOwned"]["Condition"]["StringEquals"] == {"aws:ResourceTag/elbv2.k8s.aws/cluster": "c1"}
    assert "elasticloadbalancing:DeleteLoadBalancer" in by_sid["ManageOwned"]["Action"]
    assert all(f":eu-west-1:{ACCOUNT}:" in arn for arn in by_sid["ListenersRulesTargets"]["Resource"])
    # Re-tagging without the ownership condition reaches listeners and rules only, never
    # another cluster's load balancers or target groups.
    assert by_sid["TagListenersAndRules"]["Resource"] == [
        f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:listener/*",
        f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:listener-rule/*",
    ]
    unconditioned_tagging = [
        s for s in lbc["Statement"] if "elasticloadbalancing:AddTags" in s["Action"] and "Condition" not in s
    ]
    assert [s["Sid"] for s in unconditioned_tagging] == ["TagListenersAndRules"]


def test_add_on_releases_never_stay_half_installed(plan: Plan) -> None:
    for release, chart, pin in (
        ("cluster-autoscaler", "cluster-autoscaler", "9.50.1"),
        ("lb-controller", "aws-load-balancer-controller", "1.14.1"),
    ):
        r = inputs(one(plan, "kubernetes:helm.sh/v3:Release", f"{CLUSTER}-{release}"))
        assert (r["chart"], r["version"], r["namespace"]) == (chart, pin, "kube-system")
        assert (r["atomic"], r["cleanupOnFail"], r["maxHistory"], r["timeout"]) == (True, True, 10, 900)


# --------------------------------------------------------------------------
# The gateway's static addresses across mesh and mode switches


#: The one resource of each gateway that takes its Elastic IPs (its Service's annotations).
USERS = {
    "istio-sidecar": f"{CLUSTER}-istio-eastwestgateway",
    "istio-ambient": f"{CLUSTER}-istio-ambient-eastwest-gateway",
    "linkerd": f"{CLUSTER}-linkerd-multicluster",
}


def _gateway_eips(plan: Plan) -> dict[str, Recorded]:
    return {r.name: r for r in of_type(plan, "aws:ec2/eip:Eip", CLUSTER) if r.name.startswith(f"{NET}-gateway-")}


def test_each_gateway_has_its_own_elastic_ips_so_a_switch_brings_the_new_one_up_beside_the_old() -> None:
    """An Elastic IP serves one load balancer at a time, and a mesh or mode switch creates the new gateway's
    Service before it deletes the old one: shared addresses would leave the new load balancer waiting (and
    a Helm release waiting for it would roll the switch back). Each gateway's addresses are its own, the
    deployed gateway adopts those named before (`<network>-gateway-<zone>`) unless a kind switch is named,
    and they are never protected (a switch deletes the old ones), unlike the egress addresses."""
    from tests.test_linkerd import with_linkerd

    sidecar = plan_fleet(fleet_of("dev"), stack="dev")
    fleet = fleet_of("dev")
    fleet["mesh"]["mode"] = "ambient"
    ambient = plan_fleet(fleet, stack="dev")
    linkerd = plan_fleet(with_linkerd(fleet_of("dev"), migrateFrom="istio"), stack="dev")
    eips = {
        slot: _gateway_eips(p)
        for slot, p in (("istio-sidecar", sidecar), ("istio-ambient", ambient), ("linkerd", linkerd))
    }
    for slot, found in eips.items():
        assert sorted(found) == [f"{NET}-gateway-{slot}-{z}" for z in ZONES], slot
        # Their allocations go to this gateway's load balancer (the resources that take them) only.
        plan = {"istio-sidecar": sidecar, "istio-ambient": ambient, "linkerd": linkerd}[slot]
        users = {r.name for r in plan.resources if set(r.dependencies) & {e.urn for e in found.values()}}
        assert users == {USERS[slot]}, slot
    assert all(
        e.aliases == [f"name={NET}-gateway-{z}"] for e, z in zip(eips["istio-sidecar"].values(), ZONES, strict=True)
    )
    assert all(e.aliases == [] for e in eips["linkerd"].values()), "a named kind switch adopts nothing"
    # An adopted address is the same cloud object under its new name (the plan simulates it under its former
    # name): the same allocation ids as before, so the gateway's annotations do not change; a switch's are new.
    plans = {"istio-sidecar": sidecar, "istio-ambient": ambient, "linkerd": linkerd}
    ids = {
        slot: [plans[slot].state[(e.type, e.name)]["allocationId"] for e in found.values()]
        for slot, found in eips.items()
    }
    assert ids["istio-sidecar"] == ids["istio-ambient"] and len(set(ids["istio-sidecar"])) == 3
    assert set(ids["linkerd"]).isdisjoint(ids["istio-sidecar"])
    prod = plan_fleet(fleet_of("prod"), stack="prod")
    assert {r.protect for r in _gateway_eips(prod).values()} == {False}
    egress = [r for r in of_type(prod, "aws:ec2/eip:Eip", CLUSTER) if "-egress-" in r.name]
    assert len(egress) == 3 and {r.protect for r in egress} == {True}
