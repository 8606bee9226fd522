"""Consul compiler: rules -> consul.hashicorp.com config entries (CRDs).

Consul CE names a workload by its Consul service name, which consul-k8s
requires to equal the pod's service account: an identity (namespace,
service account) becomes the service name `<serviceAccount>`, and the
capability matrix refuses what that mapping cannot keep apart. Callers in
other clusters come through peering (`sources[].peer`), so every source is
listed locally and once per peer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.policy.capabilities import require
from components.policy.compiled import Compiled
from components.policy.model import (
    AuthorizationRule,
    MtlsRule,
    PolicyRule,
    Target,
    TrafficRule,
    VisibilityRule,
)

CONSUL = "consul.hashicorp.com/v1alpha1"
#: Where mesh-wide config entries live (consul-k8s reads them from any namespace).
CONSUL_NAMESPACE = "consul"
#: The one admin partition of Consul CE; ExportedServices is named after it.
PARTITION = "default"


def compile_consul(rules: Mapping[str, PolicyRule], target: Target) -> Compiled:
    """Consul config entries for `target`."""
    require(rules, target)
    out = Compiled()
    for name, rule in sorted(rules.items()):
        if isinstance(rule, MtlsRule):
            # Only mesh-wide strict passes the matrix. Sidecars accept only mTLS
            # unless a service opts into permissive mode; `strict` in the global
            # ProxyDefaults makes that explicit and refuses any opt-in.
            proxy = out.object(name, CONSUL, "ProxyDefaults", CONSUL_NAMESPACE, "global")
            proxy["spec"]["mutualTLSMode"] = "strict"
        elif isinstance(rule, AuthorizationRule):
            _authorization(out, name, rule, target)
        elif isinstance(rule, TrafficRule):
            _traffic(out, name, rule, target)
        elif isinstance(rule, VisibilityRule):
            _visibility(out, name, rule, target)
    return out


def _intentions(out: Compiled, rule: str, namespace: str, service: str) -> dict[str, Any]:
    """The one ServiceIntentions of a destination service (several rules may add to it)."""
    spec = out.object(rule, CONSUL, "ServiceIntentions", namespace, service)["spec"]
    spec.setdefault("destination", {"name": service})
    spec.setdefault("sources", [])
    return spec


def _source(spec: dict[str, Any], name: str, peer: str | None) -> dict[str, Any]:
    for source in spec["sources"]:
        if source["name"] == name and source.get("peer") == peer:
            return source
    source = {"name": name, **({"peer": peer} if peer else {})}
    spec["sources"].append(source)
    spec["sources"].sort(key=lambda s: (s.get("peer", ""), s["name"]))
    return source


def _http_service(out: Compiled, rule: str, namespace: str, service: str) -> None:
    """L7 config entries (intention permissions, routers) need the service's protocol to be http."""
    out.object(rule, CONSUL, "ServiceDefaults", namespace, service)["spec"]["protocol"] = "http"


def _authorization(out: Compiled, name: str, rule: AuthorizationRule, target: Target) -> None:
    svc = rule.service
    spec = _intentions(out, name, svc.namespace, svc.name)
    for allow in rule.allow:
        for ident in allow.from_:
            for peer in (None, *target.peers):
                source = _source(spec, ident.service_account, peer)
                if not allow.l7:
                    # An L4 allow admits everything: it replaces any permissions.
                    source.pop("permissions", None)
                    source["action"] = "allow"
                elif source.get("action") != "allow":
                    source.setdefault("permissions", []).extend(_permissions(allow.methods, allow.paths))
    if any(a.l7 for a in rule.allow):
        _http_service(out, name, svc.namespace, svc.name)


def _permissions(methods: Sequence[str], paths: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    every: list[str | None] = [*paths] or [None]
    for path in every:
        http: dict[str, Any] = {}
        if path is not None:
            http["pathPrefix" if path.endswith("*") else "pathExact"] = path.rstrip("*") or "/"
        if methods:
            http["methods"] = list(methods)
        out.append({"action": "allow", "http": http})
    return out


def _traffic(out: Compiled, name: str, rule: TrafficRule, target: Target) -> None:
    svc = rule.service
    if rule.timeout or rule.retries:
        destination: dict[str, Any] = {}
        if rule.timeout:
            destination["requestTimeout"] = rule.timeout
        if rule.retries:
            destination["numRetries"] = rule.retries.attempts
            destination["retryOn"] = list(rule.retries.retry_on)
        router = out.object(name, CONSUL, "ServiceRouter", svc.namespace, svc.name)
        router["spec"] = {"routes": [{"match": {"http": {"pathPrefix": "/"}}, "destination": destination}]}
        _http_service(out, name, svc.namespace, svc.name)
    cb = rule.circuit_breaker
    if cb is not None:
        # Consul breaks circuits in the caller: each caller's upstream override for this service.
        override: dict[str, Any] = {"name": svc.name}
        limits = {
            k: v
            for k, v in (("maxConnections", cb.max_connections), ("maxPendingRequests", cb.max_pending_requests))
            if v is not None
        }
        if limits:
            override["limits"] = limits
        if cb.consecutive_errors is not None:
            override["passiveHealthCheck"] = {
                "maxFailures": cb.consecutive_errors,
                "interval": cb.interval,
                "baseEjectionTime": cb.base_ejection_time,
            }
        for caller in sorted({(c.namespace, c.service_account) for c in rule.callers}):
            spec = out.object(name, CONSUL, "ServiceDefaults", *caller)["spec"]
            overrides = spec.setdefault("upstreamConfig", {}).setdefault("overrides", [])
            overrides.append(override)
            overrides.sort(key=lambda o: o["name"])
    if rule.locality_failover and target.peers:
        resolver = out.object(name, CONSUL, "ServiceResolver", svc.namespace, svc.name)
        resolver["spec"] = {"failover": {"*": {"targets": [{"peer": p} for p in target.peers]}}}


def _visibility(out: Compiled, name: str, rule: VisibilityRule, target: Target) -> None:
    svc = rule.service
    if not target.peers:
        return
    if rule.scope == "global":
        # One ExportedServices per cluster, named after the partition, emitted
        # only here and only when it exports something (never empty).
        spec = out.object(name, CONSUL, "ExportedServices", CONSUL_NAMESPACE, PARTITION)["spec"]
        services = spec.setdefault("services", [])
        services.append({"name": svc.name, "consumers": [{"peer": p} for p in target.peers]})
        services.sort(key=lambda s: s["name"])
        return
    # Local: refuse every peer explicitly, so exporting it elsewhere changes nothing.
    spec = _intentions(out, name, svc.namespace, svc.name)
    for peer in target.peers:
        _source(spec, "*", peer)["action"] = "deny"
