"""Linkerd (edge channel) across the fleet, every ordered pair of clusters linked.

Per cluster, in order: namespaces `linkerd` and `linkerd-multicluster` (the
charts create them only on the CLI path, so they carry the CLI's labels and
annotations here); the identity issuer Secret; Helm releases `linkerd-crds`
(no Gateway API CRDs: the fleet installs those) -> `linkerd-control-plane`
-> `linkerd-multicluster` (the gateway, one remote-access service account
per reading peer, one service-mirror controller per linked peer).
Per ordered pair (A links to B, A mirrors B's exported services): in B the
token Secret of A's remote-access account; in A the `cluster-credentials-<B>`
Secret in `linkerd-multicluster` and its copy in `linkerd` (for the
destination controller), and the `Link` to B. Everything is declarative (no
`linkerd multicluster link`); the procedure for upgrades is docs/linkerd.md.

Identity issuer: scheme `kubernetes.io/tls` (an external issuer Secret
`linkerd-identity-issuer` with `tls.crt`/`tls.key`/`ca.crt`), not the
chart's `identity.issuer.tls.crtPEM/keyPEM` values. The issuer is the
cluster's intermediate CA from `ClusterCa`, signed by the fleet root:
- its private key stays out of Helm values, so it is in no Helm release
  Secret (Helm keeps every revision's values, HELM_MAX_HISTORY of them, in
  the cluster) and `helm get values` never prints it;
- the identity controller reloads the mounted Secret when the intermediate is
  re-issued (rotation phase 2, early renewal): no Helm upgrade and no
  control-plane rollout for a certificate change, as Istio's `cacerts`;
- Linkerd verifies the issuer against `identityTrustAnchorsPEM` (a CA with
  an ECDSA P-256 key; not by name: linkerd2 pkg/identity verifies with an
  empty DNS name). Every fleet intermediate still carries the name its
  tooling gives an issuer, `identity.linkerd.<trustDomain>`, whatever the
  mesh (`issuer_dns_names`), so switching to Linkerd re-issues nothing.
Trust anchors are the fleet bundle (both roots during a rotation); proxies
read them only at start, so workloads restart between rotation phases.

Webhook certificates: the chart would generate a new self-signed serving
certificate (and `caBundle`) for the proxy injector and the two validators at
every render, so every upgrade of the release (a version bump, a rotation
phase, a changed policy value) would swap them while the running pods still
serve the old ones, and the API server, failing closed in production, would
refuse pod creation in injected namespaces until the rollout ended. Here each
cluster has a webhook CA (ten years) whose certificate is the `caBundle`, and
per webhook a one-year serving certificate in the Secret the chart would have
written (`externalSecret`), re-issued 90 days before it ends without changing
the `caBundle`. Their keys stay out of Helm values, as the issuer's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls
from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict

from components.common import helm_release
from components.config import FleetSpec, LinkerdMeshSpec
from components.handle import ClusterHandle, service_account_token, token_kubeconfig
from components.mesh import MeshArgs, gateway_grace_seconds, gateway_wait_seconds, trust_bundle_annotations
from components.naming import linkerd_pair_names
from components.policy import installer_values

# The Service labels that export a service per mode (link-gen's default selectors), set by the
# policy compiler on global services.
from components.policy.linkerd import EXPORTED, FEDERATED

NAMESPACE = "linkerd"
MC_NAMESPACE = "linkerd-multicluster"

#: Release name -> published chart (release names are the chart names, as the docs install them).
CRDS = "linkerd-crds"
CONTROL_PLANE = "linkerd-control-plane"
MULTICLUSTER = "linkerd-multicluster"

#: The chart's default names and ports (linkerd-multicluster values.yaml), set explicitly.
GATEWAY_NAME = "linkerd-gateway"
GATEWAY_PORT = 4143
PROBE_PORT = 4191
PROBE_PATH = "/ready"
PROBE_SECONDS = 3

#: The external issuer Secret the identity controller mounts with scheme kubernetes.io/tls.
ISSUER_SECRET = "linkerd-identity-issuer"
ISSUER_SCHEME = "kubernetes.io/tls"

#: The control plane's admission webhooks: chart values key -> the Service (and Secret `<name>-k8s-tls`)
#: the chart names after it (templates/proxy-injector-rbac.yaml, destination-rbac.yaml).
WEBHOOKS = {
    "proxyInjector": "linkerd-proxy-injector",
    "profileValidator": "linkerd-sp-validator",
    "policyValidator": "linkerd-policy-validator",
}
#: Lifetimes of the webhook CA and of its serving certificates, and when `pulumi up` re-issues a serving
#: certificate before it ends (the provider plans a replacement inside that window).
WEBHOOK_CA_HOURS = 10 * 365 * 24
WEBHOOK_CERT_HOURS = 365 * 24
WEBHOOK_RENEWAL_HOURS = 90 * 24  # `linkerd check` warns at 60 days left

#: Secret type and key of link credentials (pkg/k8s MirrorSecretType, ConfigKeyName).
MIRROR_SECRET_TYPE = "mirror.linkerd.io/remote-kubeconfig"
MIRROR_SECRET_KEY = "kubeconfig"
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
#: The destination controller reads credentials in `linkerd` only with these (else it skips the Secret).
CLUSTER_NAME_LABEL = "multicluster.linkerd.io/cluster-name"
TRUST_DOMAIN_ANNOTATION = "multicluster.linkerd.io/trust-domain"
CLUSTER_DOMAIN_ANNOTATION = "multicluster.linkerd.io/cluster-domain"
#: Kubernetes DNS domain of every cluster: no cloud here changes it, nor does the chart value.
CLUSTER_DOMAIN = "cluster.local"


#: pod-security level proxy-init needs: it runs with NET_ADMIN/NET_RAW (no CNI plugin installed).
POD_SECURITY = {"pod-security.kubernetes.io/enforce": "privileged"}

#: Helm waits (atomic): the control plane is Deployments and webhooks; the
#: multicluster release waits for the gateway's LoadBalancer to get an address.
CONTROL_PLANE_TIMEOUT = 600
GATEWAY_TIMEOUT = 900

#: values-ha.yaml of the 2026.6.3 charts (what `helm install -f values-ha.yaml` adds), applied on
#: production. Left out: `controllerResources` (only a YAML anchor for the others) and
#: `highAvailability` (read by `linkerd check`, by no template). `heartbeatResources` (the daily
#: heartbeat CronJob's) is absent from the chart's defaults, but templates/heartbeat.yaml reads it.
_CONTROLLER_RESOURCES = {"cpu": {"limit": "", "request": "100m"}, "memory": {"limit": "250Mi", "request": "50Mi"}}
CONTROL_PLANE_HA: dict[str, Any] = {
    "enablePodDisruptionBudget": True,
    "controller": {"podDisruptionBudget": {"maxUnavailable": 1}},
    "deploymentStrategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
    "enablePodAntiAffinity": True,
    "proxy": {"resources": {"cpu": {"request": "100m"}, "memory": {"limit": "250Mi", "request": "20Mi"}}},
    "controllerReplicas": 3,
    "destinationResources": _CONTROLLER_RESOURCES,
    "identityResources": {"cpu": {"limit": "", "request": "100m"}, "memory": {"limit": "250Mi", "request": "10Mi"}},
    "proxyInjectorResources": _CONTROLLER_RESOURCES,
    "webhookFailurePolicy": "Fail",
    "spValidatorResources": _CONTROLLER_RESOURCES,
    "heartbeatResources": _CONTROLLER_RESOURCES,
}
#: The gateway carries every cross-cluster call: on every stack at least two
#: pods, one per node, and the chart's PodDisruptionBudget (one unavailable),
#: both of which it renders only with `enablePodAntiAffinity`. Production
#: runs values-ha.yaml's three.
MULTICLUSTER_GATEWAY: dict[str, Any] = {"gateway": {"replicas": 2}, "enablePodAntiAffinity": True}
MULTICLUSTER_HA: dict[str, Any] = {"gateway": {"replicas": 3}, "enablePodAntiAffinity": True}
#: The proxy injector reads these from the gateway's pod template.
NATIVE_SIDECAR_ANNOTATION = "config.linkerd.io/proxy-enable-native-sidecar"
WAIT_BEFORE_EXIT_ANNOTATION = "config.alpha.linkerd.io/proxy-wait-before-exit-seconds"


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge key by key, anything else replaces (Outputs are kept, not copied)."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        merged[key] = (
            merge_values(current, value) if isinstance(current, Mapping) and isinstance(value, Mapping) else value
        )
    return merged


def linkerd_spec(spec: FleetSpec) -> LinkerdMeshSpec:
    """The fleet's mesh as Linkerd's spec (the fleet only builds LinkerdMesh for `kind: linkerd`)."""
    if not isinstance(spec.mesh, LinkerdMeshSpec):
        raise TypeError(f"LinkerdMesh built for mesh kind {spec.mesh.kind!r}")
    return spec.mesh


def issuer_dns_names(spec: FleetSpec) -> list[str]:
    """DNS SANs the intermediates need to serve as Linkerd identity issuers.

    The identity controller (and `linkerd install`) verify the issuer as
    `identity.<control-plane namespace>.<trust domain>`.
    """
    return [f"identity.{NAMESPACE}.{spec.mesh.trust_domain}"]


def gateway_identity(trust_domain: str) -> str:
    """The gateway's mTLS identity: `<sa>.<ns>.serviceaccount.identity.<linkerd ns>.<trust domain>`."""
    return f"{GATEWAY_NAME}.{MC_NAMESPACE}.serviceaccount.identity.{NAMESPACE}.{trust_domain}"


def peers(spec: FleetSpec, cluster: str) -> list[str]:
    """The other clusters, in config order (each is linked both ways)."""
    return [c.name for c in spec.clusters if c.name != cluster]


# --------------------------------------------------------------------------
# Objects and chart values (pure functions, tested directly)


def control_plane_namespace_metadata() -> ObjectMetaArgsDict:
    """As the control-plane chart's namespace template renders it on the CLI path."""
    return {
        "name": NAMESPACE,
        "annotations": {"linkerd.io/inject": "disabled"},
        "labels": {
            "linkerd.io/is-control-plane": "true",
            "config.linkerd.io/admission-webhooks": "disabled",
            "linkerd.io/control-plane-ns": NAMESPACE,
            **POD_SECURITY,
        },
    }


def multicluster_namespace_metadata(cluster: ClusterHandle) -> ObjectMetaArgsDict:
    """As the multicluster chart's namespace template renders it on the CLI path, plus what the cluster's
    load balancer asks of the gateway's namespace (the AWS Load Balancer Controller's readiness gate)."""
    labels = {"linkerd.io/extension": "multicluster", **POD_SECURITY, **cluster.load_balancer_namespace_labels}
    return {"name": MC_NAMESPACE, "labels": labels}


def crds_values() -> dict[str, Any]:
    """No Gateway API CRDs from Linkerd: the fleet installs them (components/gateway_api.py).

    `installGatewayAPI` is only the default of the per-kind switches, so each
    is set too: a later chart flipping one default cannot bring them back.
    """
    return {"installGatewayAPI": False, "enableHttpRoutes": False, "enableTlsRoutes": False, "enableTcpRoutes": False}


def control_plane_values(
    spec: FleetSpec, cluster: str, trust_anchors: pulumi.Input[str], webhook_ca: pulumi.Input[str]
) -> dict[str, Any]:
    mesh = linkerd_spec(spec)
    values: dict[str, Any] = {
        "identityTrustAnchorsPEM": trust_anchors,
        "identityTrustDomain": mesh.trust_domain,
        "clusterDomain": CLUSTER_DOMAIN,
        "identity": {"issuer": {"scheme": ISSUER_SCHEME}},
        # Serving certificates from Pulumi-managed Secrets, verified against one CA (module docstring).
        **{key: {"externalSecret": True, "caBundle": webhook_ca} for key in WEBHOOKS},
        # The identity controller and the control plane's proxies read the
        # anchors only at start: a new bundle rolls them (rotation phases 1, 3).
        "podAnnotations": trust_bundle_annotations(trust_anchors),
    }
    if spec.fleet.environment == "production":
        values = merge_values(CONTROL_PLANE_HA, values)
    # What the fleet's shared policies add (e.g. proxy.defaultInboundPolicy).
    return merge_values(values, installer_values(spec, cluster))


def controller_entry(mesh: LinkerdMeshSpec, target: str) -> dict[str, Any]:
    """A `controllers:` entry: the service-mirror controller of the Link to `target`."""
    entry: dict[str, Any] = {"link": {"ref": {"name": linkerd_pair_names("", target).link}}}
    if "gateway" not in mesh.export_modes_of(target):
        # No gateway in the target: no probe Service for it.
        entry["gateway"] = {"enabled": False}
    return entry


def gateway_drain(cluster: ClusterHandle) -> dict[str, Any]:
    """Keep a terminating gateway pod serving until its load balancer has stopped sending to it.

    The gateway pod is a `pause` container plus the injected proxy, which
    stops accepting connections on SIGTERM. As a native sidecar (the default
    since edge-26.5.2) the proxy gets SIGTERM as soon as `pause` exits, and
    the injector ignores the wait annotation; as a plain sidecar it sleeps
    in a preStop hook first, long enough for an EKS NLB to finish
    deregistering the pod (60 s) instead of resetting new flows. The pod's
    grace period covers the wait and the proxy's drain.
    """
    return {
        "deploymentAnnotations": {
            NATIVE_SIDECAR_ANNOTATION: "false",
            WAIT_BEFORE_EXIT_ANNOTATION: str(gateway_wait_seconds(cluster)),
        },
        "terminationGracePeriodSeconds": gateway_grace_seconds(cluster),
    }


def multicluster_values(
    spec: FleetSpec, cluster: ClusterHandle, source_ranges: pulumi.Input[list[str]]
) -> dict[str, Any]:
    mesh = linkerd_spec(spec)
    others = peers(spec, cluster.name)
    # With no peer there is nothing to expose: an empty loadBalancerSourceRanges admits the whole internet.
    gateway = bool(others) and "gateway" in mesh.export_modes_of(cluster.name)
    values: dict[str, Any] = {
        "linkerdNamespace": NAMESPACE,
        "identityTrustDomain": mesh.trust_domain,
        "gateway": {
            "enabled": gateway,
            "name": GATEWAY_NAME,
            "port": GATEWAY_PORT,
            "probe": {"path": PROBE_PATH, "port": PROBE_PORT, "seconds": PROBE_SECONDS},
            "serviceType": "LoadBalancer",
            # Peers' egress only: the same allow-list function as the API servers.
            "loadBalancerSourceRanges": source_ranges,
            # EKS: AWS Load Balancer Controller NLB (internet-facing, IP targets, static EIPs).
            "serviceAnnotations": dict(cluster.load_balancer_annotations),
            **gateway_drain(cluster),
        },
        # One account per peer that links to this cluster, so one peer's access is revoked alone.
        "remoteMirrorServiceAccount": True,
        "remoteMirrorServiceAccountName": [linkerd_pair_names(a, cluster.name).remote_access_account for a in others],
        # One service-mirror controller per peer this cluster links to.
        "controllers": [controller_entry(mesh, b) for b in others],
    }
    ha = MULTICLUSTER_HA if spec.fleet.environment == "production" else MULTICLUSTER_GATEWAY
    return merge_values(ha, values)


def link_spec(mesh: LinkerdMeshSpec, target: str, gateway_address: str | None) -> dict[str, Any]:
    """The `Link` spec `linkerd multicluster link-gen --cluster-name <target>` writes.

    Each export mode the target offers sets its selector; a mode it does not
    offer leaves its selector out, and the service mirror treats an unset or
    empty selector as matching no service (isExported, isRemoteDiscovery,
    isFederatedServiceMember), never every service. Without the gateway mode
    the Link has no gateway fields, as link-gen writes with `--gateway=false`.
    """
    names = linkerd_pair_names("", target)
    modes = mesh.export_modes_of(target)
    spec: dict[str, Any] = {
        "targetClusterName": target,
        "targetClusterDomain": CLUSTER_DOMAIN,
        "targetClusterLinkerdNamespace": NAMESPACE,
        "clusterCredentialsSecret": names.credentials_secret,
    }
    if "remote-discovery" in modes:
        spec["remoteDiscoverySelector"] = {"matchLabels": {EXPORTED: "remote-discovery"}}
    if "federated" in modes:
        spec["federatedServiceSelector"] = {"matchLabels": {FEDERATED: "member"}}
    if "gateway" in modes:
        if not gateway_address:
            raise ValueError(f"the gateway of {target} has no load-balancer address")
        spec.update(
            gatewayAddress=gateway_address,
            # Strings, as the CRD types them.
            gatewayPort=str(GATEWAY_PORT),
            gatewayIdentity=gateway_identity(mesh.trust_domain),
            probeSpec={"path": PROBE_PATH, "port": str(PROBE_PORT), "period": f"{PROBE_SECONDS}s"},
            selector={"matchLabels": {EXPORTED: "true"}},
        )
    return spec


def gateway_address(status: Mapping[str, Any] | None) -> str:
    """The gateway Service's load-balancer addresses, as link-gen joins them (IP, else hostname)."""
    ingress = ((status or {}).get("loadBalancer") or {}).get("ingress") or []
    return ",".join(str(i.get("ip") or i.get("hostname")) for i in ingress if i.get("ip") or i.get("hostname"))


def _status_dict(status: Any) -> dict[str, Any]:
    """A Service status output (typed object) as the API's plain shape."""
    lb = getattr(status, "load_balancer", None)
    if lb is None:
        return dict(status or {}) if isinstance(status, Mapping) else {}
    ingress = [{"ip": i.ip, "hostname": i.hostname} for i in (lb.ingress or [])]
    return {"loadBalancer": {"ingress": ingress}}


# --------------------------------------------------------------------------
# The component


@dataclass
class _ClusterPlane:
    """What one cluster's install exposes to the pairwise step."""

    handle: ClusterHandle
    namespace: k8s.core.v1.Namespace
    mc_namespace: k8s.core.v1.Namespace
    #: Creates the Link CRD, the remote-access accounts and their RBAC, the gateway.
    multicluster: k8s.helm.v3.Release
    #: The gateway Service as the cloud load balancer left it (None without a gateway).
    gateway: k8s.core.v1.Service | None


class LinkerdMesh(pulumi.ComponentResource):
    """One Linkerd mesh across every cluster of the fleet, every ordered pair linked."""

    #: Per cluster: what policy objects wait for (CRDs and the policy admission webhook).
    policy_ready: dict[str, list[pulumi.Resource]]

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:mesh:Linkerd", name, None, opts)
        linkerd_spec(args.spec)
        self.policy_ready = {}
        # The webhook certificates' (default providers are disabled).
        self._tls = tls.Provider(f"{name}-tls", opts=pulumi.ResourceOptions(parent=self))
        planes = {c.name: self._install_cluster(args, c) for c in args.clusters}

        # Per ordered pair (A links to B). Depends on B's multicluster release
        # (the account and its RBAC) through the token, on B's gateway Service
        # through its address, and on A's namespaces and multicluster release
        # (the Link CRD) only: a slow cluster delays nothing else.
        self.links: list[str] = []
        for a in args.clusters:
            for b in args.clusters:
                if a.name != b.name:
                    self._pair(args.spec, planes[a.name], planes[b.name])
                    self.links.append(f"{a.name}/{linkerd_pair_names(a.name, b.name).link}")

        self.register_outputs({"links": self.links})

    # ---------------------------------------------------------------- helpers

    def _release(
        self,
        mesh: LinkerdMeshSpec,
        cluster: ClusterHandle,
        chart: str,
        *,
        namespace: k8s.core.v1.Namespace,
        values: Mapping[str, Any],
        timeout: int = CONTROL_PLANE_TIMEOUT,
        depends_on: Sequence[pulumi.Resource] = (),
        workload: bool = True,
    ) -> k8s.helm.v3.Release:
        return helm_release(
            cluster.names.child(chart),
            release=chart,
            chart=chart,
            version=mesh.chart_version(chart),
            repository=mesh.repository,
            namespace=namespace.metadata.name,
            values=values,
            timeout=timeout,
            opts=cluster.object_opts(self, depends_on, workload=workload),
        )

    # ------------------------------------------------------------ per cluster

    def _install_cluster(self, args: MeshArgs, cluster: ClusterHandle) -> _ClusterPlane:
        spec = args.spec
        mesh = linkerd_spec(spec)
        namespace = k8s.core.v1.Namespace(
            cluster.names.child("linkerd", "namespace"),
            metadata=control_plane_namespace_metadata(),
            opts=cluster.object_opts(self, workload=False),
        )
        mc_namespace = k8s.core.v1.Namespace(
            cluster.names.child("linkerd-multicluster", "namespace"),
            metadata=multicluster_namespace_metadata(cluster),
            opts=cluster.object_opts(self, workload=False),
        )

        ca = args.trust.for_cluster(cluster.name)
        # The issuer is the cluster's intermediate; ca.crt is its signing root
        # (what cert-manager writes, and what `linkerd check` compares).
        issuer_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            pulumi.Output.all(ca.cert_pem, ca.key_pem, ca.signing_root_pem or ca.bundle_pem).apply(
                lambda v: {"tls.crt": v[0], "tls.key": v[1], "ca.crt": v[2]}
            )
        )
        issuer = k8s.core.v1.Secret(
            cluster.names.child("linkerd", "identity-issuer"),
            metadata={"name": ISSUER_SECRET, "namespace": namespace.metadata.name},
            type="kubernetes.io/tls",
            string_data=issuer_data,
            opts=cluster.object_opts(self, ca.resources, workload=False),
        )

        webhook_ca, webhook_secrets = self._webhook_tls(cluster, namespace)

        # CRDs only: no pod, so not after the nodes (see ClusterHandle.api_ready).
        crds = self._release(mesh, cluster, CRDS, namespace=namespace, values=crds_values(), workload=False)
        control_plane = self._release(
            mesh,
            cluster,
            CONTROL_PLANE,
            namespace=namespace,
            values=control_plane_values(spec, cluster.name, ca.bundle_pem, webhook_ca),
            depends_on=[crds, issuer, *webhook_secrets],
        )
        self.policy_ready[cluster.name] = [crds, control_plane]

        # The gateway and controllers are injected (the control plane's
        # webhook); its policy objects need the policy CRDs.
        has_gateway = bool(peers(spec, cluster.name)) and "gateway" in mesh.export_modes_of(cluster.name)
        multicluster = self._release(
            mesh,
            cluster,
            MULTICLUSTER,
            namespace=mc_namespace,
            values=multicluster_values(spec, cluster, args.source_ranges[cluster.name]),
            timeout=GATEWAY_TIMEOUT if has_gateway else CONTROL_PLANE_TIMEOUT,
            depends_on=[control_plane],
        )
        gateway = None
        if has_gateway:
            # The chart's gateway Service, read once the release is up: Helm's
            # wait returned only after the load balancer published an address.
            gateway = k8s.core.v1.Service.get(
                cluster.names.child("linkerd", "gateway"),
                pulumi.Output.all(multicluster.status, mc_namespace.metadata.name).apply(
                    lambda v: f"{v[1]}/{GATEWAY_NAME}"
                ),
                opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=[multicluster]),
            )
        return _ClusterPlane(
            handle=cluster, namespace=namespace, mc_namespace=mc_namespace, multicluster=multicluster, gateway=gateway
        )

    def _webhook_tls(
        self, cluster: ClusterHandle, namespace: k8s.core.v1.Namespace
    ) -> tuple[pulumi.Output[str], list[k8s.core.v1.Secret]]:
        """The cluster's webhook CA certificate (the charts' caBundle) and each webhook's serving Secret."""
        opts = pulumi.ResourceOptions(parent=self, provider=self._tls)
        ca_key = tls.PrivateKey(
            cluster.names.child("linkerd", "webhook-ca-key"), algorithm="ECDSA", ecdsa_curve="P256", opts=opts
        )
        ca = tls.SelfSignedCert(
            cluster.names.child("linkerd", "webhook-ca"),
            private_key_pem=ca_key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"linkerd webhooks {cluster.name}"),
            validity_period_hours=WEBHOOK_CA_HOURS,
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            opts=opts,
        )
        secrets = []
        for service in WEBHOOKS.values():
            host, short = f"{service}.{NAMESPACE}.svc", service.removeprefix("linkerd-")
            key = tls.PrivateKey(
                cluster.names.child("linkerd", f"{short}-key"), algorithm="ECDSA", ecdsa_curve="P256", opts=opts
            )
            csr = tls.CertRequest(
                cluster.names.child("linkerd", f"{short}-csr"),
                private_key_pem=key.private_key_pem,
                subject=tls.CertRequestSubjectArgs(common_name=host),
                dns_names=[host],
                opts=opts,
            )
            cert = tls.LocallySignedCert(
                cluster.names.child("linkerd", f"{short}-cert"),
                cert_request_pem=csr.cert_request_pem,
                ca_cert_pem=ca.cert_pem,
                ca_private_key_pem=ca_key.private_key_pem,  # a secret output of the provider
                validity_period_hours=WEBHOOK_CERT_HOURS,
                early_renewal_hours=WEBHOOK_RENEWAL_HOURS,
                allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
                opts=opts,
            )
            data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
                # PKCS#8 ("PRIVATE KEY"): the policy validator's Rust webhook server (kubert) reads only
                # PKCS#8 and RSA keys, not SEC1 ("EC PRIVATE KEY"); the Go webhooks read either.
                pulumi.Output.all(cert.cert_pem, key.private_key_pem_pkcs8).apply(
                    lambda v: {"tls.crt": v[0], "tls.key": v[1]}
                )
            )
            secrets.append(
                k8s.core.v1.Secret(
                    cluster.names.child("linkerd", f"{short}-tls"),
                    metadata={
                        "name": f"{service}-k8s-tls",
                        "namespace": namespace.metadata.name,
                        # On a cluster where the chart wrote this Secret, the provider adopts it (upsert,
                        # taking over the fields Helm's manager owned), and the live `keep` stops Helm
                        # from deleting it when the upgraded release no longer renders it (as Istio's
                        # tag objects: docs/istio.md, "Adopting the tag objects").
                        "annotations": {"helm.sh/resource-policy": "keep", "pulumi.com/patchForce": "true"},
                    },
                    type="kubernetes.io/tls",
                    string_data=data,
                    opts=cluster.object_opts(self, workload=False),
                )
            )
        return ca.cert_pem, secrets

    # --------------------------------------------------------------- per pair

    def _pair(self, spec: FleetSpec, source: _ClusterPlane, target: _ClusterPlane) -> None:
        mesh = linkerd_spec(spec)
        names = linkerd_pair_names(source.handle.name, target.handle.name)
        a, b = source.handle, target.handle
        # In B: a long-lived token for A's account, created here rather than
        # read from the chart's `<account>-token` Secret (reading that races
        # the token controller). The account and its ClusterRoleBinding come
        # from B's multicluster release.
        token = k8s.core.v1.Secret(
            f"{names.stem}-remote-access-token",
            metadata={
                "name": names.remote_access_token,
                "namespace": target.mc_namespace.metadata.name,
                "annotations": {"kubernetes.io/service-account.name": names.remote_access_account},
            },
            type=SERVICE_ACCOUNT_TOKEN,
            opts=b.object_opts(self, [target.multicluster]),
        )
        # pulumi-kubernetes waits for the token controller to fill `data`
        # before reporting the Secret created (pulumi-kubernetes#2048).
        kubeconfig: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            pulumi.Output.all(b.api_endpoint, b.ca_pem, token.data).apply(
                lambda v: {
                    MIRROR_SECRET_KEY: token_kubeconfig(b.names.mesh_cluster, v[0], v[1], service_account_token(v[2]))
                }
            )
        )
        # In A: what the service-mirror controller reads (linkerd-multicluster)...
        credentials = k8s.core.v1.Secret(
            f"{names.stem}-credentials",
            metadata={"name": names.credentials_secret, "namespace": source.mc_namespace.metadata.name},
            type=MIRROR_SECRET_TYPE,
            string_data=kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, provider=a.provider),
        )
        # ... and the destination controller's copy (linkerd): it skips a
        # Secret without the cluster-name label and the domain annotations.
        k8s.core.v1.Secret(
            f"{names.stem}-destination-credentials",
            metadata={
                "name": names.credentials_secret,
                "namespace": source.namespace.metadata.name,
                "labels": {CLUSTER_NAME_LABEL: b.names.mesh_cluster},
                "annotations": {
                    TRUST_DOMAIN_ANNOTATION: mesh.trust_domain,
                    CLUSTER_DOMAIN_ANNOTATION: CLUSTER_DOMAIN,
                },
            },
            type=MIRROR_SECRET_TYPE,
            string_data=kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, provider=a.provider),
        )
        address: pulumi.Output[str | None] = (
            target.gateway.status.apply(lambda s: gateway_address(_status_dict(s)))
            if target.gateway is not None
            else pulumi.Output.from_input(None)
        )
        k8s.apiextensions.CustomResource(
            f"{names.stem}-link",
            api_version="multicluster.linkerd.io/v1alpha3",
            kind="Link",
            metadata={
                "name": names.link,
                "namespace": source.mc_namespace.metadata.name,
                "annotations": {"linkerd.io/created-by": "meshfleet"},
            },
            spec=address.apply(lambda addr: link_spec(mesh, b.name, addr)),
            # The CRD comes from A's multicluster release; the controller loads
            # the credentials when the Link appears.
            opts=pulumi.ResourceOptions(
                parent=self, provider=a.provider, depends_on=[source.multicluster, credentials]
            ),
        )
