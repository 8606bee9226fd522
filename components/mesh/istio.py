"""Istio multi-primary on different networks, sidecar or ambient, with canary revisions.

Per cluster, in order: namespace `istio-system` labelled with the cluster's
mesh network (read by ambient istiod and ztunnel and by gateways; sidecars
take their network from istiod's `global.network`); secret `cacerts` (the
cluster's intermediate CA under the fleet root); Helm release `base`; the
revision tag `default` (a MutatingWebhookConfiguration and a Service owned
by Pulumi, not by any Helm release); one `istiod` release per installed
revision; the data plane (sidecar: the east-west gateway release and the
`cross-network-gateway` Gateway; ambient: `istio-cni`, `ztunnel`, the
`istio-east-west` Gateway `istio-ambient-eastwest` and its parameters
ConfigMap). The two modes' east-west gateways have different names, so a
mode switch never hands an object from one owner to another.
Per ordered pair (A reads B): a reader token in B (after B's `base`, which
creates the account, and B's stable istiod, which binds its read access) and
the remote secret `istio-remote-secret-<B>` in A; `mesh.peerCredentialGeneration`
names the tokens, so raising it rotates them. Everything is declarative (no
istioctl); the procedures for upgrades and mode switches are docs/istio.md.

Revisions: every istiod is revisioned (`1-30-3`), so versions can sit side by
side. `mesh.stableRevision` is the one data-plane pointer: the revision tag
(`default`), `base`'s `defaultRevision`, the east-west gateway, ztunnel and
istio-cni all follow it. Moving it changes nothing else, and the tag objects
are updated in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.common import helm_release
from components.config import FleetSpec, IstioMeshSpec, deep_merge
from components.handle import ClusterHandle, service_account_token, token_kubeconfig
from components.mesh import (
    GATEWAY_PDB,
    MeshArgs,
    gateway_grace_seconds,
    gateway_wait_seconds,
    trust_bundle_annotations,
    zone_spread,
)
from components.mesh.istio_tags import (
    tag_labels,
    tag_service_name,
    tag_service_spec,
    tag_webhook_name,
    tag_webhooks,
)
from components.naming import pair_names, revision_of
from components.policy import installer_values

NAMESPACE = "istio-system"
NETWORK_LABEL = "topology.istio.io/network"

#: The revision tag whose objects (MutatingWebhookConfiguration
#: `istio-revision-tag-default`, Service `istiod-revision-tag-default`) point
#: at the stable revision. `default` is the tag that also serves namespaces
#: labelled `istio-injection=enabled` and pods labelled
#: `sidecar.istio.io/inject=true`, which is how the multicluster docs enable
#: injection; istiod also takes "the revision the default tag points at" as
#: the one that programs unlabelled (e.g. east-west) Gateways.
STABLE_TAG = "default"

#: Service account the `base` chart creates for peers' control planes.
READER_SERVICE_ACCOUNT = "istio-reader-service-account"
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"

#: What istioctl create-remote-secret puts on a remote secret; istiod's
#: secret controller selects on the label and takes each data key as a
#: cluster id.
REMOTE_SECRET_LABEL = {"istio/multiCluster": "true"}
REMOTE_SECRET_CLUSTER_ANNOTATION = "networking.istio.io/cluster"

#: Release names. The east-west gateway's release name is also the chart's
#: default for `app`/`istio` labels (`istio: eastwestgateway` after the
#: chart trims `istio-`); the labels are set explicitly as well.
BASE_RELEASE = "istio-base"
EASTWEST_RELEASE = "istio-eastwestgateway"
#: The pod-security level ambient's node agents need in the system namespace.
POD_SECURITY_PRIVILEGED = {"pod-security.kubernetes.io/enforce": "privileged"}
CNI_RELEASE = "istio-cni"
ZTUNNEL_RELEASE = "ztunnel"
EASTWEST_SELECTOR = {"istio": "eastwestgateway", "app": "istio-eastwestgateway"}

#: The ambient east-west Gateway. istiod names the Deployment, Service,
#: ServiceAccount, HPA and PDB it generates after the Gateway; had it the
#: sidecar release's name, a sidecar -> ambient switch would find the Helm
#: release's objects in place (istiod does not adopt objects without
#: `gateway.istio.io/managed`), and Helm deleting them later is an event
#: istiod never sees, so the ambient gateway stayed missing until an istiod
#: restart.
AMBIENT_EASTWEST = "istio-ambient-eastwest"
#: Label istiod puts on the pods of a Gateway it deploys.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"

#: East-west gateways run at least two pods spread over zones, with a PDB:
#: one pod per cluster means every node upgrade or drain takes that
#: network's only way in down. The sidecar chart autoscales by default
#: (`replicaCount` is then ignored), so the floor is the HPA's minimum.
GATEWAY_MIN_REPLICAS = 2
GATEWAY_MAX_REPLICAS = 5
#: istiod too: two replicas (the chart then renders its PDB) over zones.
ISTIOD_MIN_REPLICAS = 2
#: Multi-primary needs only these on the east-west gateway: the status port
#: (health checks of the load balancer) and the mTLS passthrough port that
#: carries cross-network service traffic. 15012 (istiod XDS) and 15017
#: (webhooks) serve primary-remote only and stay closed.
EASTWEST_PORTS = (("status-port", 15021), ("tls", 15443))
#: Ambient east-west traffic is HBONE (mTLS over HTTP CONNECT).
HBONE_PORT = 15008

#: Helm charts of the Istio repository (published names).
CHARTS = {"base": "base", "istiod": "istiod", "gateway": "gateway", "cni": "cni", "ztunnel": "ztunnel"}

#: ConfigMap the ambient east-west Gateway names in
#: `spec.infrastructure.parametersRef`. istiod's gateway deployment
#: controller (1.30: pilot/pkg/config/kube/gatewaycommon) reads it from the
#: Gateway's own namespace and strategic-merges its `service` key over the
#: Service it generates; the class template itself renders no
#: loadBalancerSourceRanges.
EASTWEST_OPTIONS = f"{AMBIENT_EASTWEST}-options"

#: Helm waits (atomic implies --wait) per release. A failed wait rolls the
#: release back, so these bound real cloud work, not only pod starts:
#: - control plane (base, istiod): CRDs and one Deployment;
#: - east-west gateway: Helm's wait also requires a LoadBalancer Service to
#:   have `status.loadBalancer.ingress` (helm pkg/kube/ready.go), i.e. the
#:   cloud load balancer provisioned (NLB through the AWS LBC takes minutes);
#: - ztunnel and istio-cni: Helm waits until every node runs the updated pod,
#:   and the ztunnel chart replaces one node at a time (maxSurge 1,
#:   maxUnavailable 0), so the time grows with the node count.
CONTROL_PLANE_TIMEOUT = 300
GATEWAY_TIMEOUT = 900
NODE_AGENT_TIMEOUT = 1800


@dataclass(frozen=True)
class Revision:
    """One installed Istio control plane."""

    version: str
    #: `1-30-3`: istiod's `revision` value, part of its object names.
    name: str
    stable: bool


def istio_spec(spec: FleetSpec) -> IstioMeshSpec:
    """The fleet's mesh as Istio's spec (the fleet only builds IstioMesh for `kind: istio`)."""
    if not isinstance(spec.mesh, IstioMeshSpec):
        raise TypeError(f"IstioMesh built for mesh kind {spec.mesh.kind!r}")
    return spec.mesh


def revisions(mesh: IstioMeshSpec) -> list[Revision]:
    """Installed revisions, oldest first as listed; exactly one is stable."""
    return [Revision(version=v, name=revision_of(v), stable=v == mesh.stable_version) for v in mesh.installed_versions]


# --------------------------------------------------------------------------
# Chart values (pure functions, tested directly)


def base_values(mesh: IstioMeshSpec) -> dict[str, Any]:
    # With only revisioned istiods there is no Service `istiod`: the default
    # validating webhook must call the stable revision's `istiod-<rev>`.
    return {"defaultRevision": revision_of(mesh.stable_version)}


def istiod_values(mesh: IstioMeshSpec, cluster: ClusterHandle, revision: Revision) -> dict[str, Any]:
    values: dict[str, Any] = {
        "revision": revision.name,
        # No release renders a tag: the tag objects are Pulumi resources of
        # their own (components/mesh/istio_tags.py), moved in place.
        "revisionTags": [],
        # With autoscaleMin > 1 the chart also renders a PDB (minAvailable 1).
        "autoscaleMin": ISTIOD_MIN_REPLICAS,
        "topologySpreadConstraints": zone_spread({"app": "istiod", "istio.io/rev": revision.name}),
        "global": {
            "meshID": mesh.mesh_id,
            "multiCluster": {"clusterName": cluster.names.mesh_cluster},
            "network": cluster.names.mesh_network,
        },
        # `meshConfig.trustDomain` is the real key (`global.trustDomain` is
        # silently ignored by the chart).
        "meshConfig": {"trustDomain": mesh.trust_domain},
    }
    if mesh.trust_domain_aliases:
        # istiod expands every authorization principal to these domains too,
        # so callers holding certificates of a former domain stay authorized.
        values["meshConfig"]["trustDomainAliases"] = list(mesh.trust_domain_aliases)
    if mesh.mode == "ambient":
        values["profile"] = "ambient"
        # Top-level `env` (not `pilot.env`): both render, only this passes
        # the values check. Without it istiod registers no `istio-east-west`
        # GatewayClass and keeps ambient traffic in-network.
        # Baggage carries the peer's cluster and network across the east-west
        # gateway, so waypoints' cross-network L7 telemetry names the peer
        # (upstream's ambient multicluster install sets both).
        values["env"] = {"AMBIENT_ENABLE_MULTI_NETWORK": "true", "AMBIENT_ENABLE_BAGGAGE": "true"}
    return values


def eastwest_gateway_values(
    cluster: ClusterHandle, revision: Revision, source_ranges: pulumi.Input[list[str]]
) -> dict[str, Any]:
    """Values of the sidecar-mode east-west gateway (chart `gateway`).

    The chart's `networkGateway` is deliberately NOT set: with it the chart
    ignores `service.ports` and always exposes 15021, 15443, 15012 and 15017.
    Everything else `networkGateway` does is set here explicitly, so the
    gateway is the same network gateway with only the ports multi-primary
    needs: the `topology.istio.io/network` label on pods and Service (istiod
    finds a network's gateway by that Service label) and the proxy env
    `ISTIO_META_REQUESTED_NETWORK_VIEW`.
    """
    network = cluster.names.mesh_network
    prestop = gateway_wait_seconds(cluster)
    return {
        "name": EASTWEST_RELEASE,
        # Injected by the stable revision; moves when the tag moves.
        "revision": revision.name,
        "labels": {**EASTWEST_SELECTOR, NETWORK_LABEL: network},
        "env": {"ISTIO_META_REQUESTED_NETWORK_VIEW": network},
        # The chart autoscales by default and then ignores replicaCount; it
        # renders the PDB only when minReplicas > 1.
        "autoscaling": {
            "enabled": True,
            "minReplicas": GATEWAY_MIN_REPLICAS,
            "maxReplicas": GATEWAY_MAX_REPLICAS,
        },
        "podDisruptionBudget": dict(GATEWAY_PDB),
        "topologySpreadConstraints": zone_spread(EASTWEST_SELECTOR),
        # No Role to read Secrets in istio-system (the chart's default): the gateway only passes
        # mTLS through (AUTO_PASSTHROUGH) and serves no credentialName certificate, while that
        # namespace holds `cacerts` (this cluster's intermediate CA key) and the peers' remote
        # secrets. An internet-facing pod must not be one exploit away from them.
        "rbac": {"enabled": False},
        # Keep serving while the load balancer stops sending (and drains)
        # new connections, then let Envoy drain.
        "lifecycle": {"preStop": {"sleep": {"seconds": prestop}}},
        "terminationGracePeriodSeconds": gateway_grace_seconds(cluster),
        "service": {
            "type": "LoadBalancer",
            "ports": [
                {"name": name, "port": port, "protocol": "TCP", "targetPort": port} for name, port in EASTWEST_PORTS
            ],
            # Peers' egress only: the same allow-list function as the API servers.
            "loadBalancerSourceRanges": source_ranges,
            # EKS: AWS Load Balancer Controller NLB (internet-facing, target
            # type ip, static EIPs); empty elsewhere.
            "annotations": dict(cluster.load_balancer_annotations),
        },
    }


def cni_values(cluster: ClusterHandle, revision: Revision) -> dict[str, Any]:
    values: dict[str, Any] = {"profile": "ambient", "revision": revision.name}
    if cluster.platform:
        values["platform"] = cluster.platform
    return values


def ztunnel_values(cluster: ClusterHandle, revision: Revision) -> dict[str, Any]:
    # The ztunnel chart flattens `global.*`, but only the top-level keys pass
    # the values check. `revision` points ztunnel's CA/XDS at istiod-<rev>.
    values: dict[str, Any] = {
        "profile": "ambient",
        "revision": revision.name,
        "network": cluster.names.mesh_network,
        "multiCluster": {"clusterName": cluster.names.mesh_cluster},
    }
    if cluster.platform:
        values["platform"] = cluster.platform
    return values


def eastwest_service_overlay(source_ranges: list[str]) -> str:
    """The `service` key of the ambient east-west Gateway's parameters ConfigMap.

    A strategic-merge patch of the generated Service; a plain string list
    such as `loadBalancerSourceRanges` is replaced, not merged.
    """
    return yaml.safe_dump({"spec": {"loadBalancerSourceRanges": list(source_ranges)}}, sort_keys=True)


def eastwest_ambient_options(cluster: ClusterHandle, source_ranges: list[str]) -> dict[str, str]:
    """Data of the ambient east-west Gateway's parameters ConfigMap.

    istiod renders no HPA or PDB for a Gateway without the
    `horizontalPodAutoscaler` / `podDisruptionBudget` keys (one pod); each key
    is strategic-merged over what istiod generates (the Deployment's
    container `istio-proxy` is merged by name).
    """
    prestop = gateway_wait_seconds(cluster)
    deployment = {
        "spec": {
            "template": {
                "spec": {
                    "topologySpreadConstraints": zone_spread({GATEWAY_NAME_LABEL: AMBIENT_EASTWEST}),
                    "terminationGracePeriodSeconds": gateway_grace_seconds(cluster),
                    "containers": [{"name": "istio-proxy", "lifecycle": {"preStop": {"sleep": {"seconds": prestop}}}}],
                }
            }
        }
    }
    return {
        "deployment": yaml.safe_dump(deployment, sort_keys=True),
        "horizontalPodAutoscaler": yaml.safe_dump(
            {"spec": {"minReplicas": GATEWAY_MIN_REPLICAS, "maxReplicas": GATEWAY_MAX_REPLICAS}}, sort_keys=True
        ),
        "podDisruptionBudget": yaml.safe_dump({"spec": dict(GATEWAY_PDB)}, sort_keys=True),
        "service": eastwest_service_overlay(source_ranges),
    }


# --------------------------------------------------------------------------
# The component


@dataclass
class _ClusterPlane:
    """What one cluster's install exposes to the pairwise step."""

    handle: ClusterHandle
    namespace: k8s.core.v1.Namespace
    #: Creates `istio-reader-service-account`.
    base: k8s.helm.v3.Release
    #: The stable istiod: the istiod chart (not base) renders the reader
    #: ClusterRole/Binding `istio-reader-clusterrole-<rev>-istio-system`
    #: that gives that account its read access. The stable revision is the
    #: one never removed by a canary step.
    reader_rbac: k8s.helm.v3.Release


class IstioMesh(pulumi.ComponentResource):
    """One Istio mesh across every cluster of the fleet."""

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:mesh:Istio", name, None, opts)
        mesh = istio_spec(args.spec)
        revs = revisions(mesh)
        stable = next(r for r in revs if r.stable)

        # Per cluster: what policy objects wait for (CRDs from base, validation from the stable istiod).
        self.policy_ready: dict[str, list[pulumi.Resource]] = {}
        planes = {c.name: self._install_cluster(args, c, revs, stable) for c in args.clusters}

        # Per ordered pair (A reads B). Depends on B's `base` and stable
        # istiod (the reader service account and its ClusterRoleBinding)
        # through the token, and on A's namespace only: never on gateways or
        # A's own releases, so a slow cluster delays nothing else.
        self.remote_secrets: list[str] = []
        for a in args.clusters:
            for b in args.clusters:
                if a.name != b.name:
                    self._pair(planes[a.name], planes[b.name], mesh.peer_credential_generation)
                    self.remote_secrets.append(f"{a.name}/{pair_names(a.name, b.name).remote_secret}")

        self.revisions = [r.name for r in revs]
        self.stable_revision = stable.name
        self.register_outputs(
            {
                "revisions": self.revisions,
                "stableRevision": self.stable_revision,
                "remoteSecrets": self.remote_secrets,
            }
        )

    # ---------------------------------------------------------------- helpers

    def _release(
        self,
        cluster: ClusterHandle,
        child: str,
        *,
        release: str,
        chart: str,
        version: str,
        values: Mapping[str, Any],
        namespace: k8s.core.v1.Namespace,
        repository: str,
        timeout: int = CONTROL_PLANE_TIMEOUT,
        depends_on: Sequence[pulumi.Resource] = (),
        workload: bool = True,
    ) -> k8s.helm.v3.Release:
        return helm_release(
            cluster.names.child(child),
            release=release,
            chart=chart,
            version=version,
            repository=repository,
            namespace=namespace.metadata.name,
            values=values,
            # No Istio chart renders a Job, so no wait_for_jobs.
            timeout=timeout,
            opts=cluster.object_opts(self, depends_on, workload=workload),
        )

    # ------------------------------------------------------------ per cluster

    def _revision_tag(
        self,
        cluster: ClusterHandle,
        stable: Revision,
        namespace: k8s.core.v1.Namespace,
        after: Sequence[pulumi.Resource] = (),
    ) -> list[pulumi.Resource]:
        """The `default` tag's webhook and Service, pointing at the stable revision.

        A tag move changes `istio.io/rev`, the webhooks' Service and the
        Service's selector: an in-place update of both objects (same URN),
        never a delete and create, so injection never pauses.
        """
        annotations = {
            # Helm deletes objects a release stops rendering unless the live
            # object says `keep`; this adopts tag objects an istiod release
            # rendered before (see docs/istio.md, "Adopting the tag objects").
            "helm.sh/resource-policy": "keep",
            # Server-side apply: take over the fields Helm's field manager
            # owned on those objects instead of failing on the conflict.
            "pulumi.com/patchForce": "true",
        }
        labels = tag_labels(STABLE_TAG, stable.name)
        # Plain dicts in the API's camelCase (the SDK's typed dicts say the same).
        hooks: Any = tag_webhooks(STABLE_TAG, stable.name, NAMESPACE)
        hook_meta: Any = {
            "name": tag_webhook_name(STABLE_TAG),
            "labels": {**labels, "app": "sidecar-injector"},
            "annotations": annotations,
        }
        webhook = k8s.admissionregistration.v1.MutatingWebhookConfiguration(
            cluster.names.child("istio", "revision-tag", STABLE_TAG),
            metadata=hook_meta,
            webhooks=hooks,
            opts=pulumi.ResourceOptions.merge(
                cluster.object_opts(self, [namespace, *after]),
                # istiod patches its CA into webhooks labelled with its
                # revision; Pulumi never sets it and must not undo it.
                pulumi.ResourceOptions(ignore_changes=["webhooks[*].clientConfig.caBundle"]),
            ),
        )
        service_meta: Any = {
            "name": tag_service_name(STABLE_TAG),
            "namespace": namespace.metadata.name,
            "labels": {**labels, "app": "istiod", "istio": "pilot"},
            # pulumi-kubernetes waits for a selector Service to have endpoints;
            # the stable istiod's pods come after the tag objects on a first
            # install (the istiod releases wait for the tag), so that wait
            # would never end.
            "annotations": {**annotations, "pulumi.com/skipAwait": "true"},
        }
        service_spec: Any = tag_service_spec(stable.name)
        service = k8s.core.v1.Service(
            cluster.names.child("istio", "revision-tag", STABLE_TAG, "service"),
            metadata=service_meta,
            spec=service_spec,
            opts=cluster.object_opts(self, after),
        )
        return [webhook, service]

    def _install_cluster(
        self, args: MeshArgs, cluster: ClusterHandle, revs: list[Revision], stable: Revision
    ) -> _ClusterPlane:
        mesh = istio_spec(args.spec)
        repo = mesh.repository
        network = cluster.names.mesh_network

        # The network label serves ambient (istiod and ztunnel read the
        # system namespace's network from it) and gateways; sidecar
        # injection takes a proxy's network from istiod's `global.network`.
        # Plus what the cloud's load balancer needs of the gateways' namespace
        # (EKS: the pod readiness gate).
        labels = {**cluster.load_balancer_namespace_labels, NETWORK_LABEL: network}
        if mesh.mode == "ambient":
            # istio-cni and ztunnel are privileged DaemonSets in this namespace:
            # a cluster whose admission defaults to `baseline` (hardened
            # on-prem distributions) would refuse them (Istio, "Install with
            # Pod Security Admission"). The managed clouds enforce nothing by default.
            labels |= POD_SECURITY_PRIVILEGED
        namespace = k8s.core.v1.Namespace(
            cluster.names.child("istio", "namespace"),
            metadata={"name": NAMESPACE, "labels": labels},
            opts=cluster.object_opts(self, workload=False),
        )

        ca = args.trust.for_cluster(cluster.name)
        # istiod reads these four keys at start to act as an intermediate of
        # the fleet root; root-cert.pem is the whole bundle so a root
        # rotation (two roots) is trusted everywhere.
        plugin_ca: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            pulumi.Output.all(ca.cert_pem, ca.key_pem, ca.bundle_pem, ca.chain_pem).apply(
                lambda v: {"ca-cert.pem": v[0], "ca-key.pem": v[1], "root-cert.pem": v[2], "cert-chain.pem": v[3]}
            )
        )
        cacerts = k8s.core.v1.Secret(
            cluster.names.child("istio", "cacerts"),
            metadata={"name": "cacerts", "namespace": namespace.metadata.name},
            string_data=plugin_ca,
            opts=cluster.object_opts(self, ca.resources, workload=False),
        )

        # CRDs and the reader service account. Follows the newest version
        # (CRDs are backwards compatible); its validator follows the tag.
        # No pod: it installs while the nodes come up (2 minutes off every
        # cluster's chain); istiod waits for the nodes.
        base = self._release(
            cluster,
            "istio-base",
            release=BASE_RELEASE,
            chart=CHARTS["base"],
            version=mesh.version,
            values=base_values(mesh),
            namespace=namespace,
            repository=repo,
            workload=False,
        )

        # Which comes first, the tag or the istiods. With revisions side by side
        # (a canary), the tag waits for the stable istiod, so injection, which
        # fails closed, never points at an istiod that is not up: moving the tag
        # to the new revision waits for it even when the update that added it
        # failed and this one installs it. With one revision the istiods wait for
        # the tag: on a cluster whose tag an istiod release still renders
        # (meshfleet before tags were Pulumi's), the tag objects are adopted and
        # marked `keep` before that release's upgrade stops rendering them, so
        # Helm leaves them in place (the switch guard refuses a one-revision
        # change of version: components/mesh/switch.py).
        side_by_side = len(revs) > 1
        tag = [] if side_by_side else self._revision_tag(cluster, stable, namespace)

        istiods: dict[str, k8s.helm.v3.Release] = {}
        for rev in revs:
            istiods[rev.name] = self._release(
                cluster,
                f"istiod-{rev.name}",
                release=f"istiod-{rev.name}",
                chart=CHARTS["istiod"],
                version=rev.version,
                values={
                    **deep_merge(istiod_values(mesh, cluster, rev), installer_values(args.spec, cluster.name)),
                    # istiod reads `cacerts` root-cert.pem only at start (it
                    # ignores a new root while running): a new bundle rolls it
                    # (rotation phases 1 and 3). Added after the merge, which
                    # copies plain values only.
                    "podAnnotations": trust_bundle_annotations(ca.bundle_pem),
                },
                namespace=namespace,
                repository=repo,
                depends_on=[cacerts, base, *tag],
            )
        stable_istiod = istiods[stable.name]
        if side_by_side:
            self._revision_tag(cluster, stable, namespace, after=[stable_istiod])

        # With no peer there is nothing to expose, and an east-west gateway
        # whose source ranges are empty would admit the whole internet (an
        # empty loadBalancerSourceRanges means "anyone" on every cloud).
        has_peers = len(args.clusters) > 1
        if mesh.mode == "sidecar":
            if has_peers:
                self._sidecar_data_plane(args, cluster, stable, namespace, base, stable_istiod)
        else:
            self._ambient_data_plane(args, cluster, stable, namespace, stable_istiod, has_peers)
        self.policy_ready[cluster.name] = [base, stable_istiod]
        return _ClusterPlane(handle=cluster, namespace=namespace, base=base, reader_rbac=stable_istiod)

    def _sidecar_data_plane(
        self,
        args: MeshArgs,
        cluster: ClusterHandle,
        stable: Revision,
        namespace: k8s.core.v1.Namespace,
        base: k8s.helm.v3.Release,
        istiod: k8s.helm.v3.Release,
    ) -> None:
        self._release(
            cluster,
            "istio-eastwestgateway",
            release=EASTWEST_RELEASE,
            chart=CHARTS["gateway"],
            version=stable.version,
            values=eastwest_gateway_values(cluster, stable, args.source_ranges[cluster.name]),
            namespace=namespace,
            repository=istio_spec(args.spec).repository,
            timeout=GATEWAY_TIMEOUT,
            depends_on=[istiod],
        )
        # Expose every `*.local` service of this network to the others; the
        # gateway passes the peers' mTLS through by SNI (istio's
        # samples/multicluster/expose-services.yaml).
        k8s.apiextensions.CustomResource(
            cluster.names.child("istio", "cross-network-gateway"),
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata={"name": "cross-network-gateway", "namespace": namespace.metadata.name},
            spec={
                "selector": {"istio": EASTWEST_SELECTOR["istio"]},
                "servers": [
                    {
                        "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                        "tls": {"mode": "AUTO_PASSTHROUGH"},
                        "hosts": ["*.local"],
                    }
                ],
            },
            # The CRD comes from base; istiod's validating webhook must answer.
            opts=cluster.object_opts(self, [base, istiod]),
        )

    def _ambient_data_plane(
        self,
        args: MeshArgs,
        cluster: ClusterHandle,
        stable: Revision,
        namespace: k8s.core.v1.Namespace,
        istiod: k8s.helm.v3.Release,
        has_peers: bool,
    ) -> None:
        repo = istio_spec(args.spec).repository
        # Per-node DaemonSets without side-by-side revisions: upgraded in
        # place when the tag moves (docs/istio.md, cordon and drain).
        cni = self._release(
            cluster,
            "istio-cni",
            release=CNI_RELEASE,
            chart=CHARTS["cni"],
            version=stable.version,
            values=cni_values(cluster, stable),
            namespace=namespace,
            repository=repo,
            timeout=NODE_AGENT_TIMEOUT,
        )
        self._release(
            cluster,
            "ztunnel",
            release=ZTUNNEL_RELEASE,
            chart=CHARTS["ztunnel"],
            version=stable.version,
            values=ztunnel_values(cluster, stable),
            namespace=namespace,
            repository=repo,
            timeout=NODE_AGENT_TIMEOUT,
            depends_on=[istiod, cni],
        )
        if not has_peers:
            return
        # The class renders its own Service with no loadBalancerSourceRanges;
        # istiod overlays this ConfigMap's `service` patch on it (the
        # Gateway's parametersRef). Peers' egress only, as in sidecar mode.
        options = k8s.core.v1.ConfigMap(
            cluster.names.child("istio", "ambient-eastwest-options"),
            metadata={"name": EASTWEST_OPTIONS, "namespace": namespace.metadata.name},
            data=pulumi.Output.from_input(args.source_ranges[cluster.name]).apply(
                lambda ranges: eastwest_ambient_options(cluster, ranges)
            ),
            opts=cluster.object_opts(self),
        )
        gateway_spec: dict[str, Any] = {
            "gatewayClassName": "istio-east-west",
            "listeners": [
                {
                    "name": "mesh",
                    "port": HBONE_PORT,
                    "protocol": "HBONE",
                    "tls": {
                        "mode": "Terminate",
                        "options": {"gateway.istio.io/tls-terminate-mode": "ISTIO_MUTUAL"},
                    },
                }
            ],
        }
        infrastructure: dict[str, Any] = {
            # Only a core ConfigMap in the Gateway's namespace is accepted.
            "parametersRef": {"group": "", "kind": "ConfigMap", "name": EASTWEST_OPTIONS},
        }
        # The class copies infrastructure annotations onto its Service (and
        # Deployment and pods). Always a map, even an empty one: without one
        # istiod copies the Gateway's own annotations instead (the waitFor
        # below; 1.30 gateway deployment controller), which would roll the
        # gateway's pods for nothing.
        infrastructure["annotations"] = dict(cluster.load_balancer_annotations)
        gateway_spec["infrastructure"] = infrastructure
        # istiod uses a peer's gateway only with the network label, this
        # class and an HBONE listener terminating ISTIO_MUTUAL.
        k8s.apiextensions.CustomResource(
            cluster.names.child("istio", "ambient-eastwest-gateway"),
            api_version="gateway.networking.k8s.io/v1",
            kind="Gateway",
            metadata={
                "name": AMBIENT_EASTWEST,
                "namespace": namespace.metadata.name,
                "labels": {NETWORK_LABEL: cluster.names.mesh_network},
                # The provider awaits no custom resource on its own: without
                # this an `up` succeeds while the load balancer never gets an
                # address (no implementation on-prem, a cloud quota), and the
                # peers dial nothing. istiod reports Programmed only once the
                # Service has its address, as Helm's wait does for the
                # sidecar-mode gateway release (GATEWAY_TIMEOUT).
                "annotations": {
                    "pulumi.com/waitFor": "condition=Programmed",
                    "pulumi.com/timeoutSeconds": str(GATEWAY_TIMEOUT),
                },
            },
            spec=gateway_spec,
            # The ConfigMap first: istiod renders nothing for a Gateway whose
            # parametersRef is missing (it logs and waits for the ConfigMap).
            opts=cluster.object_opts(self, [args.gateway_api[cluster.name], istiod, options]),
        )

    # --------------------------------------------------------------- per pair

    def _pair(self, reader: _ClusterPlane, target: _ClusterPlane, generation: int) -> None:
        names = pair_names(reader.handle.name, target.handle.name, generation)
        b = target.handle
        # One long-lived token per reading peer, so one peer's access can be
        # revoked alone. The service account comes from `base`; a token for a
        # missing account is deleted by the token controller, so wait for it.
        # Its permissions come from istiod's reader ClusterRoleBinding: wait
        # for that too, so a peer never starts with a token it cannot use.
        # Rotation: a new generation renames the Secret, which Pulumi
        # replaces create-before-delete under the same URN: the new token
        # exists first, the remote secret below is updated in place to it,
        # and the old token is deleted last, so a peer never holds a token
        # that no longer exists.
        token = k8s.core.v1.Secret(
            f"{names.stem}-reader-token",
            metadata={
                "name": names.reader_token,
                "namespace": target.namespace.metadata.name,
                "annotations": {"kubernetes.io/service-account.name": READER_SERVICE_ACCOUNT},
            },
            type=SERVICE_ACCOUNT_TOKEN,
            opts=b.object_opts(self, [target.base, target.reader_rbac]),
        )
        # The token controller fills `data.token` after creation.
        # pulumi-kubernetes waits for a service-account-token Secret's data
        # before reporting it created (pulumi-kubernetes#2048), so the created
        # Secret's `data` output carries the token: no Secret.get, no second
        # read that could race the controller.
        # One apply per pair (the pairs are N(N-1): 2,450 at 50 clusters).
        remote_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            pulumi.Output.all(b.api_endpoint, b.ca_pem, token.data).apply(
                lambda v: {
                    b.names.mesh_cluster: token_kubeconfig(
                        b.names.mesh_cluster, v[0], v[1], service_account_token(v[2])
                    )
                }
            )
        )
        a = reader.handle
        k8s.core.v1.Secret(
            f"{names.stem}-remote-secret",
            metadata={
                "name": names.remote_secret,
                "namespace": reader.namespace.metadata.name,
                "labels": dict(REMOTE_SECRET_LABEL),
                "annotations": {REMOTE_SECRET_CLUSTER_ANNOTATION: b.names.mesh_cluster},
            },
            string_data=remote_data,
            # No depends_on: the namespace and the token (through its data)
            # are all this secret needs. Not even the cluster's readiness
            # list, which may hold node pools and controllers.
            opts=pulumi.ResourceOptions(parent=self, provider=a.provider),
        )
