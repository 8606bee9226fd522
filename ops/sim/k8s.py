"""Simulated Kubernetes objects for the offline plan.

Only what a real API server (or pulumi-kubernetes' await logic) adds to an
object and what downstream code reads is simulated:

- A Secret of type `kubernetes.io/service-account-token` comes back with
  `data.token`, `data["ca.crt"]` and `data.namespace` (base64), filled in by
  the token controller. pulumi-kubernetes waits for that data before it
  reports the Secret created, so the created Secret's `data` output carries
  the token (the remote secrets of a mesh read it from there).
- A Helm release (`helm.v3.Release`) comes back with `status` as the provider
  reports it after a successful install.
- A LoadBalancer Service gets an ingress address, also when read back (`Service.get`).
- A Consul `PeeringAcceptor`: the consul-k8s controller generates a peering
  token and writes it into the Secret `spec.peer.secret` names (in the
  acceptor's namespace, under its key) before marking the acceptor Synced;
  reading that Secret (`Secret.get`) returns it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pulumi.runtime import MockResourceArgs

from ops.sim import Call, Handler, SimContext, unwrap

SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
PEERING_ACCEPTOR = "kubernetes:consul.hashicorp.com/v1alpha1:PeeringAcceptor"

SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SERVICE_ACCOUNT_ANNOTATION = "kubernetes.io/service-account.name"

#: Simulated load-balancer addresses: RFC 6598 shared address space (never
#: routed on the internet), large enough for a block per stack and cluster
#: (ops/sim/pools.py) and disjoint from the clouds' pools and the
#: documentation ranges stacks use for operators.
LOAD_BALANCER_POOL = "100.64.0.0/16"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _meta(args: MockResourceArgs) -> dict[str, Any]:
    meta = unwrap(args.inputs.get("metadata") or {})
    return meta if isinstance(meta, dict) else {}


def _uid(ctx: SimContext, *parts: str) -> str:
    h = ctx.hex(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _peering_key(provider: str | None, namespace: str, name: str) -> tuple[str, str]:
    return ("consul-peering-token", f"{provider or ''}|{namespace}/{name}")


def _peering_acceptor(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    """What the consul-k8s controller does: a token in the named Secret, then `status` Synced."""
    meta = _meta(args)
    namespace = str(meta.get("namespace") or "default")
    spec = unwrap(args.inputs.get("spec") or {})
    secret = (spec.get("peer") or {}).get("secret") or {}
    # A peering token is base64 JSON (CA, server name and addresses, peer id, secret).
    token = _b64(
        json.dumps(
            {
                "CA": None,
                "ServerName": "server.simulated.peering.consul",
                "ServerAddresses": [f"mesh-gateway.{ctx.hex('peering-gateway', args.name, length=8)}:443"],
                "PeerID": _uid(ctx, "peer-id", args.name),
                "EstablishmentSecret": _uid(ctx, "establishment", args.name),
            },
            sort_keys=True,
        )
    )
    ctx.state[_peering_key(args.provider, namespace, str(secret.get("name")))] = {str(secret.get("key")): _b64(token)}
    return {
        "status": {
            "conditions": [{"type": "Synced", "status": "True"}],
            "secret": {**secret, "latestHash": ctx.hex("peering-hash", args.name)},
        }
    }


def _secret(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    if args.resource_id and "/" in args.resource_id:
        namespace, name = args.resource_id.split("/", 1)
        written = ctx.state.get(_peering_key(args.provider, namespace, name))
        if written is not None:
            return {"data": dict(written), "metadata": {"name": name, "namespace": namespace}, "type": "Opaque"}
    if args.inputs.get("type") != SERVICE_ACCOUNT_TOKEN:
        return {}
    meta = _meta(args)
    namespace = str(meta.get("namespace") or "default")
    account = str((meta.get("annotations") or {}).get(SERVICE_ACCOUNT_ANNOTATION, "default"))
    # A JWT-shaped token: header.claims.signature, deterministic per secret.
    header = _b64url(json.dumps({"alg": "RS256", "kid": ctx.hex("kid", args.name)}).encode())
    claims = _b64url(
        json.dumps(
            {
                "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/namespace": namespace,
                "kubernetes.io/serviceaccount/secret.name": meta.get("name", args.name),
                "kubernetes.io/serviceaccount/service-account.name": account,
                "sub": f"system:serviceaccount:{namespace}:{account}",
            },
            sort_keys=True,
        ).encode()
    )
    token = f"{header}.{claims}.{_b64url(ctx.digest('token-signature', args.name))}"
    ca = f"-----BEGIN CERTIFICATE-----\nsimulated-cluster-ca-{ctx.hex('ca', args.provider or '')}\n-----END CERTIFICATE-----\n"
    return {
        "data": {"token": _b64(token), "ca.crt": _b64(ca), "namespace": _b64(namespace)},
        "metadata": {
            **meta,
            "annotations": {
                **(meta.get("annotations") or {}),
                "kubernetes.io/service-account.uid": _uid(ctx, "sa", namespace, account, args.provider or ""),
            },
        },
    }


def _namespace(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    return {"status": {"phase": "Active"}}


def _service(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    if args.resource_id and not args.inputs.get("spec"):
        # A read (`Service.get`) of a chart's LoadBalancer Service after its
        # release: Helm's wait returned once the load balancer had an address.
        ip = ctx.address(LOAD_BALANCER_POOL, "service", str(args.resource_id), args.provider or "")
        return {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
    spec = unwrap(args.inputs.get("spec") or {})
    if not isinstance(spec, dict) or spec.get("type") != "LoadBalancer":
        return {}
    ip = ctx.allocate(LOAD_BALANCER_POOL, args.typ, args.name)
    return {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}


def _helm_release(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    name = inputs.get("name") or args.name
    version = str(inputs.get("version") or "")
    return {
        "name": name,
        "status": {
            "name": name,
            "namespace": inputs.get("namespace") or "default",
            "chart": inputs.get("chart"),
            "version": version,
            "appVersion": version,
            "revision": 1,
            "status": "deployed",
        },
    }


HANDLERS: dict[str, Handler] = {
    SECRET: _secret,
    NAMESPACE: _namespace,
    SERVICE: _service,
    HELM_RELEASE: _helm_release,
    PEERING_ACCEPTOR: _peering_acceptor,
}
CALLS: dict[str, Call] = {}
