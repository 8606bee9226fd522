"""Linkerd compiler: rules -> policy.linkerd.io objects and linkerd-control-plane values.

Strict mTLS mesh-wide is the control plane's default inbound policy (a chart
value); per namespace it is the namespace's default-inbound-policy annotation
(read when a pod is injected: restart workloads after changing it).
Authorization is a Server per port, MeshTLSAuthentication per allow entry
and AuthorizationPolicy on the Server (L4) or on an HTTPRoute (L7).
Timeouts and retries are annotations on an HTTPRoute whose parent is the
Service; failure accrual (circuit breaking) is an annotation on the Service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.naming import policy_object_name
from components.policy.capabilities import require
from components.policy.compiled import Compiled
from components.policy.model import (
    Allow,
    AuthorizationRule,
    DefaultDenyRule,
    Identity,
    MtlsRule,
    PolicyRule,
    Target,
    TrafficRule,
    VisibilityRule,
    duration_seconds,
)

#: Namespace annotation overriding the control plane's default inbound policy (read at injection).
INBOUND_POLICY = "config.linkerd.io/default-inbound-policy"
#: Strictest wins when several rules set one namespace's default.
_STRICTNESS = ("all-unauthenticated", "all-authenticated", "deny")
POLICY = "policy.linkerd.io"
#: Gateway-mode mirror services are served by this identity in the target cluster.
GATEWAY_ACCOUNT = ("linkerd-multicluster", "linkerd-gateway")
#: The labels a Link's selectors match (components/mesh/linkerd.py `link_spec`):
#: `exported: "true"` (gateway mode), `exported: remote-discovery`, `federated: member`.
EXPORTED = "mirror.linkerd.io/exported"
FEDERATED = "mirror.linkerd.io/federated"


#: Linkerd's default `failure-accrual-consecutive-max-penalty`.
MAX_PENALTY_DEFAULT_SECONDS = 60


def compile_linkerd(rules: Mapping[str, PolicyRule], target: Target) -> Compiled:
    """Linkerd objects and control-plane values for `target`."""
    require(rules, target)
    out = Compiled()
    for name, rule in sorted(rules.items()):
        if isinstance(rule, MtlsRule):
            _mtls(out, name, rule)
        elif isinstance(rule, DefaultDenyRule):
            for ns in rule.namespaces:
                _namespace_policy(out, name, ns, "deny")
        elif isinstance(rule, AuthorizationRule):
            _authorization(out, name, rule, target)
        elif isinstance(rule, TrafficRule):
            _traffic(out, name, rule)
        elif isinstance(rule, VisibilityRule):
            meta = out.object(name, "v1", "Service", rule.service.namespace, rule.service.name)["metadata"]
            meta.setdefault("labels", {}).update(_export_labels(rule.scope, target.linkerd_export_modes))
    return out


def _export_labels(scope: str, modes: tuple[str, ...]) -> dict[str, str]:
    """The Service labels that export it every way this cluster's peers link to it (or keep it local).

    `exported` takes one value, so gateway mode (`true`) wins over
    remote-discovery; a federated cluster also marks the service a member of
    its federated service, which the peers' Links select separately.
    """
    if scope != "global":
        return {EXPORTED: "false"}
    labels = {}
    if "gateway" in modes:
        labels[EXPORTED] = "true"
    elif "remote-discovery" in modes:
        labels[EXPORTED] = "remote-discovery"
    if "federated" in modes:
        labels[FEDERATED] = "member"
    return labels


def _mtls(out: Compiled, name: str, rule: MtlsRule) -> None:
    policy = "all-authenticated" if rule.mode == "strict" else "all-unauthenticated"
    if not rule.namespaces:
        # Strict mTLS is no object in Linkerd: it is the control plane's
        # default inbound policy for every meshed pod.
        out.value(name).setdefault("proxy", {})["defaultInboundPolicy"] = policy
        return
    for ns in rule.namespaces:
        _namespace_policy(out, name, ns, policy)


def _namespace_policy(out: Compiled, name: str, namespace: str, policy: str) -> None:
    annotations = out.object(name, "v1", "Namespace", "", namespace)["metadata"].setdefault("annotations", {})
    current = annotations.get(INBOUND_POLICY, _STRICTNESS[0])
    annotations[INBOUND_POLICY] = max(current, policy, key=_STRICTNESS.index)


def identity(target: Target, namespace: str, service_account: str) -> str:
    """A workload's Linkerd identity (the proxy certificate's DNS name)."""
    return f"{service_account}.{namespace}.serviceaccount.identity.linkerd.{target.trust_domain}"


def _authorization(out: Compiled, name: str, rule: AuthorizationRule, target: Target) -> None:
    svc = rule.service
    for i, allow in enumerate(rule.allow):
        authn = policy_object_name(name, i)
        mtls = out.object(name, f"{POLICY}/v1alpha1", "MeshTLSAuthentication", svc.namespace, authn)
        mtls["spec"] = {"identities": _identities(allow.from_, rule, target)}
        for port in allow.ports:
            server = _server(out, name, svc.namespace, svc.name, port)
            if allow.l7:
                route = policy_object_name(name, i, port)
                http = out.object(name, f"{POLICY}/v1beta3", "HTTPRoute", svc.namespace, route)
                http["spec"] = {
                    "parentRefs": [{"group": POLICY, "kind": "Server", "name": server}],
                    "rules": [{"matches": _matches(allow)}],
                }
                ref = {"group": POLICY, "kind": "HTTPRoute", "name": route}
            else:
                ref = {"group": POLICY, "kind": "Server", "name": server}
            ap = out.object(
                name, f"{POLICY}/v1alpha1", "AuthorizationPolicy", svc.namespace, policy_object_name(name, i, port)
            )
            ap["spec"] = {
                "targetRef": ref,
                "requiredAuthenticationRefs": [{"group": POLICY, "kind": "MeshTLSAuthentication", "name": authn}],
            }


def _identities(callers: list[Identity], rule: AuthorizationRule, target: Target) -> list[str]:
    ids = {identity(target, c.namespace, c.service_account) for c in callers}
    if rule.remote_callers == "gateway" and target.linkerd_gateway and target.peers:
        # Remote callers arrive as the peer's multicluster gateway: authorizing
        # it admits every remote caller the gateway forwards (said in the README).
        ids.add(identity(target, *GATEWAY_ACCOUNT))
    return sorted(ids)


def _server(out: Compiled, rule: str, namespace: str, service: str, port: int) -> str:
    name = policy_object_name(service, port)
    server = out.object(rule, f"{POLICY}/v1beta3", "Server", namespace, name)
    server["spec"] = {"podSelector": {"matchLabels": {"app": service}}, "port": port}
    return name


def _matches(allow: Allow) -> list[dict[str, Any]]:
    paths: list[dict[str, Any]] = [
        {"type": "PathPrefix", "value": p[:-1] or "/"} if p.endswith("*") else {"type": "Exact", "value": p}
        for p in allow.paths
    ] or [{"type": "PathPrefix", "value": "/"}]
    methods: list[str | None] = list(allow.methods) or [None]
    out = []
    for path in paths:
        for method in methods:
            match: dict[str, Any] = {"path": path}
            if method:
                match["method"] = method
            out.append(match)
    return out


def _traffic(out: Compiled, name: str, rule: TrafficRule) -> None:
    svc = rule.service
    if rule.timeout or rule.retries:
        annotations: dict[str, str] = {}
        if rule.timeout:
            annotations["timeout.linkerd.io/request"] = rule.timeout
        if rule.retries:
            annotations["retry.linkerd.io/http"] = ",".join(rule.retries.retry_on)
            annotations["retry.linkerd.io/limit"] = str(rule.retries.attempts)
            if rule.retries.per_try_timeout:
                annotations["retry.linkerd.io/timeout"] = rule.retries.per_try_timeout
        route = out.object(name, "gateway.networking.k8s.io/v1", "HTTPRoute", svc.namespace, name)
        route["metadata"]["annotations"] = annotations
        # An outbound route (parent: the Service) with no backendRefs: Linkerd
        # sends its requests to the parent Service itself.
        route["spec"] = {
            "parentRefs": [{"group": "core", "kind": "Service", "name": svc.name}],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}],
        }
    cb = rule.circuit_breaker
    if cb is not None and cb.consecutive_errors is not None:
        # Failure accrual is configured on the Service only (app-owned: the
        # platform patches just these annotations).
        meta = out.object(name, "v1", "Service", svc.namespace, svc.name)["metadata"]
        accrual = {
            "balancer.linkerd.io/failure-accrual": "consecutive",
            "balancer.linkerd.io/failure-accrual-consecutive-max-failures": str(cb.consecutive_errors),
            "balancer.linkerd.io/failure-accrual-consecutive-min-penalty": cb.base_ejection_time,
        }
        if duration_seconds(cb.base_ejection_time) > MAX_PENALTY_DEFAULT_SECONDS:
            # The maximum penalty defaults to 60 s, and a minimum above the
            # maximum makes Linkerd drop failure accrual for the Service with
            # only a warning in its log (policy-controller, outbound index).
            accrual["balancer.linkerd.io/failure-accrual-consecutive-max-penalty"] = cb.base_ejection_time
        meta.setdefault("annotations", {}).update(accrual)
