"""The cluster contract: everything mesh, trust and policy code may know of a cluster.

Each cluster component (EKS, AKS, GKE, existing) yields one ClusterHandle.
Code downstream of cluster creation depends on this object only, never on a
cloud component's internals, so adding a cloud never touches the meshes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.config import AwsCluster, AzureCluster, ExistingCluster, FleetSpec, GcpCluster
from components.naming import ClusterNames, cluster_names
from components.yamlio import SAFE_DUMPER

Cloud = Literal["aws", "azure", "gcp", "existing"]


@dataclass(frozen=True)
class ClusterHandle:
    """A cluster as the rest of the fleet sees it."""

    #: Cluster name from the stack config (unique in the fleet).
    name: str
    cloud: Cloud
    region: str
    #: Every derived name of this cluster (mesh network, physical name, ...).
    names: ClusterNames
    #: Kubernetes provider for this cluster; every in-cluster object uses it.
    provider: k8s.Provider
    #: API server URL reachable by the peers' control planes.
    api_endpoint: pulumi.Output[str]
    #: PEM of the API server's CA (not base64).
    ca_pem: pulumi.Output[str]
    #: Deployer kubeconfig (secret); None where the deployer uses a local context.
    kubeconfig: pulumi.Output[str] | None
    node_cidr: str
    pod_cidr: str
    service_cidr: str
    #: Addresses this cluster's traffic leaves from (created before any cluster).
    egress_cidrs: pulumi.Output[list[str]]
    #: Whether this cluster is protected (`clusters[].protect`, else `fleet.protect`): what in-cluster
    #: installs keep when they go (Consul's server volumes).
    protected: bool
    #: Resources in-cluster installs must wait for (e.g. node groups, the
    #: deployer's RBAC grant, the load-balancer controller): a release
    #: installed before nodes exist never becomes ready.
    ready: list[pulumi.Resource] = field(default_factory=list)
    #: What objects with no workload (CRDs, namespaces, Secrets) wait for
    #: beyond the provider, which already waits for the deployer's access:
    #: they need the API server, not nodes, so they go in while the node
    #: pools come up instead of lengthening every cluster's chain.
    api_ready: list[pulumi.Resource] = field(default_factory=list)
    #: Extra Service annotations a LoadBalancer needs on this cloud (EKS: the
    #: AWS Load Balancer Controller's NLB with static EIPs); may hold Outputs.
    load_balancer_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    #: Value of the charts' `platform` setting (Istio cni/ztunnel need `gke`).
    platform: str | None = None
    #: StorageClass of the volumes mesh workloads claim (Consul's servers);
    #: None: the cluster's default class.
    storage_class: str | None = None
    #: Labels a namespace whose pods sit behind such a load balancer needs, so
    #: a new pod counts as Ready only once the load balancer sends it traffic
    #: (EKS: the AWS Load Balancer Controller's pod readiness gate).
    load_balancer_namespace_labels: dict[str, str] = field(default_factory=dict)
    #: Seconds the load balancer keeps draining a target it has deregistered
    #: (0: it follows the endpoints at once); pods behind it must keep serving
    #: at least that long after they start terminating.
    load_balancer_drain_seconds: int = 0

    def object_opts(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (), *, workload: bool = True
    ) -> pulumi.ResourceOptions:
        """Options of an object in this cluster: a child of `parent`, through this cluster's provider,
        after `ready` (`workload=False`: after `api_ready`, for an object that runs no pod) and `depends_on`."""
        ready = self.ready if workload else self.api_ready
        return pulumi.ResourceOptions(parent=parent, provider=self.provider, depends_on=[*ready, *depends_on])

    @classmethod
    def of(
        cls,
        spec: FleetSpec,
        cluster: AwsCluster | AzureCluster | GcpCluster | ExistingCluster,
        *,
        provider: k8s.Provider,
        api_endpoint: pulumi.Output[str],
        ca_pem: pulumi.Output[str],
        kubeconfig: pulumi.Output[str] | None,
        egress_cidrs: pulumi.Output[list[str]],
        ready: list[pulumi.Resource] | None = None,
        load_balancer_annotations: dict[str, pulumi.Input[str]] | None = None,
        platform: str | None = None,
        storage_class: str | None = None,
    ) -> ClusterHandle:
        """A handle whose config-derived facts (names, region, ranges, protection) come from the config."""
        return cls(
            name=cluster.name,
            cloud=cluster.cloud,
            region=cluster.region,
            names=cluster_names(spec.fleet.name, cluster.name),
            provider=provider,
            api_endpoint=api_endpoint,
            ca_pem=ca_pem,
            kubeconfig=kubeconfig,
            node_cidr=cluster.network.node_cidr,
            pod_cidr=cluster.network.pod_cidr,
            service_cidr=cluster.network.service_cidr,
            egress_cidrs=egress_cidrs,
            protected=spec.protect_of(cluster),
            ready=list(ready or []),
            platform=platform,
            storage_class=storage_class,
            **_load_balancer_facts(dict(load_balancer_annotations or {})),
        )


#: AWS Load Balancer Controller: with target type `ip` the NLB sends traffic
#: straight to pod IPs, so Kubernetes' own readiness no longer says whether
#: the NLB reaches a pod.
AWS_LBC_TARGET_TYPE = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
#: The controller's webhook adds a readiness gate to pods of namespaces with
#: this label: a new pod is Ready only once its target is healthy in the NLB,
#: so a rollout or drain never removes the old pod before the new one serves.
AWS_LBC_READINESS_GATE = {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}
AWS_LBC_TARGET_GROUP_ATTRIBUTES = "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
#: NLB target groups keep a deregistered target draining for 300 s by
#: default; 60 s bounds how long a terminating gateway pod must keep serving
#: (its preStop wait is longer than this).
AWS_NLB_DEREGISTRATION_SECONDS = 60
_DEREGISTRATION_DELAY = "deregistration_delay.timeout_seconds"


def _load_balancer_facts(annotations: dict[str, pulumi.Input[str]]) -> dict[str, Any]:
    """Handle fields that follow from how the cloud's load balancer reaches pods.

    An NLB of target type `ip` (EKS, or an existing cluster running the AWS
    Load Balancer Controller) gets the readiness gate and a bounded
    deregistration delay; target-group attributes given in the annotations
    are kept, and a delay among them is the drain time pods must cover.
    """
    if annotations.get(AWS_LBC_TARGET_TYPE) != "ip":
        return {"load_balancer_annotations": annotations}
    given = annotations.get(AWS_LBC_TARGET_GROUP_ATTRIBUTES)
    attributes = [a.strip() for a in given.split(",") if a.strip()] if isinstance(given, str) else []
    delay = next((a.split("=", 1)[1] for a in attributes if a.startswith(f"{_DEREGISTRATION_DELAY}=")), None)
    if delay is None or not delay.strip().isdigit():
        attributes = [a for a in attributes if not a.startswith(f"{_DEREGISTRATION_DELAY}=")]
        attributes.append(f"{_DEREGISTRATION_DELAY}={AWS_NLB_DEREGISTRATION_SECONDS}")
        delay = str(AWS_NLB_DEREGISTRATION_SECONDS)
    return {
        "load_balancer_annotations": {**annotations, AWS_LBC_TARGET_GROUP_ATTRIBUTES: ",".join(attributes)},
        "load_balancer_namespace_labels": dict(AWS_LBC_READINESS_GATE),
        "load_balancer_drain_seconds": int(delay.strip()),
    }


def cluster_provider(
    names: ClusterNames,
    parent: pulumi.Resource,
    *,
    kubeconfig: pulumi.Input[str] | None = None,
    context: str | None = None,
    depends_on: list[pulumi.Resource] | None = None,
) -> k8s.Provider:
    """The Kubernetes provider a cluster component owns and exposes.

    `cluster_identifier` is the cluster's stable id: a changed kubeconfig
    (token, exec arguments, deployer) then updates the provider instead of
    replacing it, which would re-create every object in the cluster.
    Server-side apply gives each field manager its own fields, so objects
    that controllers also touch do not fight Pulumi.

    Creating an object that already exists takes it over (upsert), as
    pulumi-kubernetes did before 4.29, which now refuses with AlreadyExists
    unless told: an upgraded cluster adopts objects an earlier release's
    Helm chart owned (Istio's revision-tag objects, docs/istio.md), and an
    existing cluster may already have a mesh namespace or the Gateway API
    CRDs (cloud-provider-kind installs them on kind). Only the fields
    meshfleet sets become Pulumi's; other managers keep theirs.
    """
    return k8s.Provider(
        names.k8s_provider,
        # With only a context, "" and not None: the SDK would copy $KUBECONFIG's value into the
        # provider's inputs (state, and the plan: a path of this machine, or a whole kubeconfig
        # if the variable holds one, in plain text), and a `KUBECONFIG=a:b` list would reach the
        # provider as one path it cannot read. An empty kubeconfig makes the provider load the
        # deployer's own with client-go's rules (pulumi-kubernetes provider.go, Configure), as
        # rules/existing.py `deployer_kubeconfig` checks it.
        kubeconfig="" if kubeconfig is None and context is not None else kubeconfig,
        context=context,
        cluster_identifier=names.cluster_identifier,
        enable_server_side_apply=True,
        upsert_existing_objects=True,
        # A Secret or ConfigMap whose data changes is otherwise replaced, and a named one is
        # deleted before its replacement is created: a rotated cacerts, remote secret, peering
        # token or Linkerd credential would vanish for a moment (istiod drops a remote cluster
        # whose secret is deleted, with its endpoints). Mutable, they are updated in place, as
        # `kubectl apply` updates them. Stated here, not left to the deployer's PULUMI_K8S_* variables.
        enable_secret_mutable=True,
        enable_config_map_mutable=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )


def kubeconfig_document(
    name: pulumi.Input[str], server: pulumi.Input[str], ca_data: pulumi.Input[str], user: dict[str, Any]
) -> dict[str, Any]:
    """A one-cluster kubeconfig: cluster, context and user all called `name`.

    `ca_data` is base64 (kubeconfig `certificate-authority-data`); `user` is
    the auth block (an `exec` plugin for deployers, a `token` for peers).
    Values may be Outputs: serialize with `pulumi.Output.json_dumps`.
    """
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": user}],
    }


def token_kubeconfig(cluster: str, server: str, ca_pem: str, token: str) -> str:
    """A peer's kubeconfig with bearer-token auth: what `istioctl create-remote-secret`
    and `linkerd multicluster link-gen` write."""
    ca_data = base64.b64encode(ca_pem.encode()).decode()
    doc = kubeconfig_document(cluster, server, ca_data, {"token": token})
    return yaml.dump(doc, Dumper=SAFE_DUMPER, sort_keys=True, default_flow_style=False)


def service_account_token(data: Mapping[str, str] | None) -> str:
    """The token of a `kubernetes.io/service-account-token` Secret's (base64) data."""
    return base64.b64decode((data or {}).get("token", "")).decode()
