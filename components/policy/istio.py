"""Istio compiler (sidecar and ambient): rules -> security.istio.io / networking.istio.io objects.

Ambient differences: ztunnel enforces L4 (PeerAuthentication, AuthorizationPolicy
with a selector and no HTTP conditions); anything L7 (methods, paths,
timeouts, retries, circuit breaking, locality) is enforced by a waypoint, so
the namespace gets a waypoint Gateway and L7 authorization binds to the
Service with `targetRefs`. The Service opts into the waypoint with the label
`istio.io/use-waypoint: waypoint`, set by the app team; in a default-deny
namespace, only the services whose policies need the waypoint get through
it (`_deny_through_waypoints`).
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
    MtlsRule,
    PolicyRule,
    Target,
    TrafficRule,
    VisibilityRule,
)

#: Istio's root namespace: a PeerAuthentication here applies mesh-wide.
ROOT_NAMESPACE = "istio-system"
SECURITY = "security.istio.io/v1"
NETWORKING = "networking.istio.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
#: The waypoint each namespace with L7 policies gets (ambient), and the label that selects it.
WAYPOINT = "waypoint"
USE_WAYPOINT = "istio.io/use-waypoint"
GLOBAL_LABEL = "istio.io/global"


def compile_istio(rules: Mapping[str, PolicyRule], target: Target) -> Compiled:
    """Istio objects and istiod values for `target` (sidecar or ambient)."""
    require(rules, target)
    ambient = target.name == "istio-ambient"
    waypointed = _waypointed(rules) if ambient else set()
    out = Compiled()
    for name, rule in sorted(rules.items()):
        if isinstance(rule, MtlsRule):
            _mtls(out, name, rule)
        elif isinstance(rule, DefaultDenyRule):
            for ns in rule.namespaces:
                # An empty spec is Istio's "allow nothing" for the namespace.
                out.object(name, SECURITY, "AuthorizationPolicy", ns, name)
        elif isinstance(rule, AuthorizationRule):
            _authorization(out, name, rule, target, (rule.service.namespace, rule.service.name) in waypointed)
        elif isinstance(rule, TrafficRule):
            _traffic(out, name, rule, ambient)
        elif isinstance(rule, VisibilityRule):
            _visibility(out, name, rule, ambient)
    if ambient:
        _deny_through_waypoints(out, rules, target, waypointed)
    return out


def _waypointed(rules: Mapping[str, PolicyRule]) -> set[tuple[str, str]]:
    """(namespace, service) of every service whose policies need a waypoint (ambient)."""
    out = set()
    for rule in rules.values():
        if isinstance(rule, TrafficRule) or (isinstance(rule, AuthorizationRule) and any(a.l7 for a in rule.allow)):
            out.add((rule.service.namespace, rule.service.name))
    return out


def _deny_through_waypoints(
    out: Compiled, rules: Mapping[str, PolicyRule], target: Target, waypointed: set[tuple[str, str]]
) -> None:
    """Keep a default-deny namespace denying for traffic that goes through its waypoint.

    Traffic through a waypoint reaches the pod as the waypoint (its service
    account is named after the Gateway), and the waypoint enforces only the
    policies bound to it. So, per default-deny namespace with a waypoint:
    - at the waypoint, an allow-nothing policy bound to the Gateway: a
      service the waypoint serves for a traffic rule alone, with no
      authorization rule, stays denied (as a sidecar would deny it), and
      only a rule's Service-bound ALLOW admits its callers;
    - at ztunnel, the waypoint's identity is admitted by the pods of the
      services that use the waypoint only: a Service or namespace that an app
      team sends through the waypoint without meshfleet knowing stays denied
      (ambientmesh.io, "Waypoint authorization": bind a default deny to the
      waypoint, and admit it at ztunnel per workload).
    """
    for name, rule in sorted(rules.items()):
        if not isinstance(rule, DefaultDenyRule):
            continue
        for ns in sorted({ns for ns, _ in waypointed} & set(rule.namespaces)):
            at_waypoint = out.object(
                name, SECURITY, "AuthorizationPolicy", ns, policy_object_name(name, "at", WAYPOINT)
            )
            at_waypoint["spec"] = {
                "targetRefs": [{"group": GATEWAY_API.split("/")[0], "kind": "Gateway", "name": WAYPOINT}]
            }
            for svc in sorted(s for n, s in waypointed if n == ns):
                policy = out.object(name, SECURITY, "AuthorizationPolicy", ns, policy_object_name(name, WAYPOINT, svc))
                policy["spec"] = {
                    "action": "ALLOW",
                    "selector": {"matchLabels": {"app": svc}},
                    "rules": [{"from": [{"source": {"principals": [principal(target, ns, WAYPOINT)]}}]}],
                }


def _mtls(out: Compiled, name: str, rule: MtlsRule) -> None:
    # ztunnel enforces PeerAuthentication too (mesh and namespace level), so
    # the same object serves both data-plane modes.
    for ns in rule.namespaces or [ROOT_NAMESPACE]:
        pa = out.object(name, SECURITY, "PeerAuthentication", ns, name)
        pa["spec"] = {"mtls": {"mode": rule.mode.upper()}}


def principal(target: Target, namespace: str, service_account: str) -> str:
    """Istio's principal of a workload identity (the SPIFFE id without `spiffe://`)."""
    return f"{target.trust_domain}/ns/{namespace}/sa/{service_account}"


def _authorization(out: Compiled, name: str, rule: AuthorizationRule, target: Target, waypoint: bool) -> None:
    svc = rule.service
    policy = out.object(name, SECURITY, "AuthorizationPolicy", svc.namespace, name)
    spec: dict[str, Any] = {"action": "ALLOW", "rules": [_istio_rule(a, target) for a in rule.allow]}
    if waypoint:
        # Ambient, a Service behind a waypoint: the waypoint enforces its
        # policies (ztunnel would see the waypoint, not the caller).
        spec["targetRefs"] = [{"group": "", "kind": "Service", "name": svc.name}]
        _waypoint(out, name, svc.namespace)
    else:
        spec["selector"] = {"matchLabels": {"app": svc.name}}
    policy["spec"] = spec


def _istio_rule(allow: Allow, target: Target) -> dict[str, Any]:
    out: dict[str, Any] = {
        "from": [{"source": {"principals": [principal(target, i.namespace, i.service_account) for i in allow.from_]}}]
    }
    operation: dict[str, Any] = {}
    if allow.ports:
        operation["ports"] = [str(p) for p in allow.ports]
    if allow.methods:
        operation["methods"] = list(allow.methods)
    if allow.paths:
        operation["paths"] = list(allow.paths)
    if operation:
        out["to"] = [{"operation": operation}]
    return out


def _traffic(out: Compiled, name: str, rule: TrafficRule, ambient: bool) -> None:
    svc = rule.service
    host = svc.host()
    if ambient:
        _waypoint(out, name, svc.namespace)
    if rule.timeout or rule.retries:
        route: dict[str, Any] = {"route": [{"destination": {"host": host}}]}
        if rule.timeout:
            route["timeout"] = rule.timeout
        if rule.retries:
            retries: dict[str, Any] = {"attempts": rule.retries.attempts, "retryOn": ",".join(rule.retries.retry_on)}
            if rule.retries.per_try_timeout:
                retries["perTryTimeout"] = rule.retries.per_try_timeout
            route["retries"] = retries
        vs = out.object(name, NETWORKING, "VirtualService", svc.namespace, name)
        vs["spec"] = {"hosts": [host], "http": [route]}
    cb = rule.circuit_breaker
    if cb is None:
        return
    policy: dict[str, Any] = {}
    if cb.max_connections is not None or cb.max_pending_requests is not None:
        pool: dict[str, Any] = {}
        if cb.max_connections is not None:
            pool["tcp"] = {"maxConnections": cb.max_connections}
        if cb.max_pending_requests is not None:
            pool["http"] = {"http1MaxPendingRequests": cb.max_pending_requests}
        policy["connectionPool"] = pool
    if cb.consecutive_errors is not None:
        policy["outlierDetection"] = {
            "consecutive5xxErrors": cb.consecutive_errors,
            "interval": cb.interval,
            "baseEjectionTime": cb.base_ejection_time,
        }
    if rule.locality_failover:
        # Istio fails over by locality only when outlier detection ejects the
        # local endpoints (the model requires consecutiveErrors with it).
        policy["loadBalancer"] = {"localityLbSetting": {"enabled": True}}
    dr = out.object(name, NETWORKING, "DestinationRule", svc.namespace, name)
    dr["spec"] = {"host": host, "trafficPolicy": policy}


def _waypoint(out: Compiled, rule: str, namespace: str) -> None:
    gw = out.object(rule, GATEWAY_API, "Gateway", namespace, WAYPOINT)
    gw["metadata"]["labels"]["istio.io/waypoint-for"] = "service"
    gw["spec"] = {
        "gatewayClassName": "istio-waypoint",
        "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
    }


def _visibility(out: Compiled, name: str, rule: VisibilityRule, ambient: bool) -> None:
    svc = rule.service
    if ambient and rule.scope == "global":
        # Ambient multicluster shares only services labelled global.
        meta = out.object(name, "v1", "Service", svc.namespace, svc.name)["metadata"]
        meta.setdefault("labels", {})[GLOBAL_LABEL] = "true"
        return
    # An istiod value (meshConfig.serviceSettings), so it reaches the mesh
    # installer through installer_values.
    local = rule.scope == "local"
    settings = out.value(name).setdefault("meshConfig", {}).setdefault("serviceSettings", [])
    entry = next((s for s in settings if s["settings"]["clusterLocal"] == local), None)
    if entry is None:
        entry = {"settings": {"clusterLocal": local}, "hosts": []}
        settings.append(entry)
        settings.sort(key=lambda s: s["settings"]["clusterLocal"])
    entry["hosts"] = sorted({*entry["hosts"], svc.host()})
