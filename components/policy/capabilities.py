"""What each mesh can express: one table the compilers, the config rules and the README read.

A row is a policy feature; a cell says what the feature becomes on that
target, or why it cannot be expressed and what to do instead. A rule that
uses a refused feature fails config validation (and the compiler, if called
directly) naming the rule, the mesh, the reason and the alternative: nothing
is ever dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from components.policy.model import (
    AuthorizationRule,
    DefaultDenyRule,
    MtlsRule,
    PolicyRule,
    Target,
    TargetName,
    TrafficRule,
    VisibilityRule,
)


@dataclass(frozen=True)
class No:
    """A feature a target cannot express."""

    reason: str
    alternative: str


#: What a feature becomes on a target (a string), or why not (`No`).
Cell = str | No

TARGET_LABELS: dict[TargetName, str] = {
    "istio-sidecar": "Istio (sidecar)",
    "istio-ambient": "Istio (ambient)",
    "linkerd": "Linkerd",
    "consul": "Consul",
}

_WAYPOINT = "bound to a waypoint (Gateway of class `istio-waypoint`)"
#: Istio rates VirtualService on waypoints Alpha and recommends HTTPRoute
#: (istio.io, "Migrating policies to ambient"); meshfleet still emits VirtualService.
_WAYPOINT_VS = f"{_WAYPOINT}; VirtualService on waypoints is Alpha in Istio"

#: Feature -> (what it means, {target: cell}).
MATRIX: dict[str, tuple[str, dict[TargetName, Cell]]] = {
    "mtls.mesh-wide": (
        "strict mTLS for the whole mesh",
        {
            "istio-sidecar": "PeerAuthentication (STRICT) in `istio-system`",
            "istio-ambient": "PeerAuthentication (STRICT) in `istio-system`, enforced by ztunnel",
            "linkerd": "installer value `proxy.defaultInboundPolicy: all-authenticated`",
            "consul": "ProxyDefaults `global` with `mutualTLSMode: strict`",
        },
    ),
    "mtls.namespace-strict": (
        "strict mTLS for listed namespaces",
        {
            "istio-sidecar": "PeerAuthentication (STRICT) per namespace",
            "istio-ambient": "PeerAuthentication (STRICT) per namespace",
            "linkerd": "namespace annotation `config.linkerd.io/default-inbound-policy: all-authenticated`",
            "consul": No(
                "Consul CE has no per-namespace mTLS setting (Kubernetes namespaces are not Consul namespaces)",
                "declare strict mTLS mesh-wide (`namespaces: []`); Consul sidecars refuse plaintext anyway",
            ),
        },
    ),
    "mtls.permissive": (
        "permissive mTLS for namespaces being onboarded",
        {
            "istio-sidecar": "PeerAuthentication (PERMISSIVE) per namespace",
            "istio-ambient": "PeerAuthentication (PERMISSIVE) per namespace",
            "linkerd": "namespace annotation `config.linkerd.io/default-inbound-policy: all-unauthenticated`",
            "consul": No(
                "Consul's permissive mode is per service (ServiceDefaults) and needs the Mesh entry's "
                "allowEnablingPermissiveMutualTLS, which meshfleet keeps off",
                "onboard the namespace's workloads (sidecars injected) before the rule applies, or remove the rule",
            ),
        },
    ),
    "default-deny": (
        "deny by default in listed namespaces",
        {
            "istio-sidecar": "AuthorizationPolicy with an empty spec (allow nothing) per namespace",
            "istio-ambient": "AuthorizationPolicy with an empty spec per namespace, enforced by ztunnel",
            "linkerd": "namespace annotation `config.linkerd.io/default-inbound-policy: deny`",
            "consul": No(
                "Consul CE has no per-namespace default: intentions name services, and the default (ACLs) is "
                "datacenter-wide",
                "turn on ACLs with a deny default for the whole mesh and allow callers with authorization rules",
            ),
        },
    ),
    "authorization.l4": (
        "allow identities to a service",
        {
            "istio-sidecar": "AuthorizationPolicy (ALLOW, `selector: app=<service>`)",
            "istio-ambient": "AuthorizationPolicy (ALLOW, `selector`), enforced by ztunnel",
            "linkerd": "Server per port + AuthorizationPolicy + MeshTLSAuthentication",
            "consul": "ServiceIntentions (one per service; sources from every peer too)",
        },
    ),
    "authorization.ports": (
        "restrict to ports",
        {
            "istio-sidecar": "`to.operation.ports`",
            "istio-ambient": "`to.operation.ports` (ztunnel)",
            "linkerd": "one Server per port",
            "consul": No(
                "an intention authorizes a whole service (consul-k8s registers one port per service)",
                "omit `ports`",
            ),
        },
    ),
    "authorization.all-ports": (
        "every port (no `ports`)",
        {
            "istio-sidecar": "no port condition",
            "istio-ambient": "no port condition",
            "linkerd": No(
                "a Linkerd Server selects one port, and authorizations attach to Servers",
                "list the service's ports in `allow[].ports`",
            ),
            "consul": "the whole service",
        },
    ),
    "authorization.l7": (
        "restrict to methods and paths",
        {
            "istio-sidecar": "`to.operation.methods/paths` (sidecar)",
            "istio-ambient": f"AuthorizationPolicy with `targetRefs` to the Service, {_WAYPOINT}",
            "linkerd": "HTTPRoute (policy.linkerd.io) per port + AuthorizationPolicy on the route",
            "consul": "intention `permissions[].http` + ServiceDefaults `protocol: http`",
        },
    ),
    "authorization.l4-with-l7-port": (
        "an L4 entry on a port that L7 entries use",
        {
            "istio-sidecar": "separate rules of one policy",
            "istio-ambient": f"separate rules of one policy, {_WAYPOINT}",
            "linkerd": No(
                "once an HTTPRoute is attached to a Server, requests that match no route are refused",
                "give the L4 entry `paths: ['/*']`, or use distinct ports",
            ),
            "consul": "separate sources of one intention",
        },
    ),
    "authorization.remote-identity": (
        "callers in other clusters recognized by identity",
        {
            "istio-sidecar": "identity kept across networks (mTLS through the east-west gateway)",
            "istio-ambient": "identity kept across networks (HBONE)",
            "linkerd": No(
                "in gateway mode remote callers carry the multicluster gateway's identity, not their own",
                "set `remoteCallers: gateway` (authorizes every remote caller through the gateway), or export "
                "pod to pod (`remote-discovery`)",
            ),
            "consul": "sources with `peer:` per peer",
        },
    ),
    "authorization.shared-account": (
        "one service account name in two namespaces",
        {
            "istio-sidecar": "distinct principals",
            "istio-ambient": "distinct principals",
            "linkerd": "distinct identities",
            "consul": No(
                "Consul CE identifies a caller by service name (consul-k8s requires it to equal the service "
                "account), so the two are one identity",
                "give the workloads distinct service accounts",
            ),
        },
    ),
    "traffic.timeout": (
        "request timeout",
        {
            "istio-sidecar": "VirtualService `timeout`",
            "istio-ambient": f"VirtualService `timeout`, {_WAYPOINT_VS}",
            "linkerd": "HTTPRoute annotation `timeout.linkerd.io/request`",
            "consul": "ServiceRouter `requestTimeout` + ServiceDefaults `protocol: http`",
        },
    ),
    "traffic.retries": (
        "retries",
        {
            "istio-sidecar": "VirtualService `retries`",
            "istio-ambient": f"VirtualService `retries`, {_WAYPOINT_VS}",
            "linkerd": "HTTPRoute annotations `retry.linkerd.io/http`, `retry.linkerd.io/limit`",
            "consul": "ServiceRouter `numRetries`, `retryOn` + ServiceDefaults `protocol: http`",
        },
    ),
    "traffic.per-try-timeout": (
        "per-attempt timeout",
        {
            "istio-sidecar": "VirtualService `retries.perTryTimeout`",
            "istio-ambient": f"VirtualService `retries.perTryTimeout`, {_WAYPOINT_VS}",
            "linkerd": "HTTPRoute annotation `retry.linkerd.io/timeout`",
            "consul": No(
                "a ServiceRouter has a request timeout but no per-attempt timeout",
                "remove `retries.perTryTimeout` (the request timeout bounds all attempts)",
            ),
        },
    ),
    "traffic.outlier-detection": (
        "eject endpoints after consecutive errors",
        {
            "istio-sidecar": "DestinationRule `outlierDetection`",
            "istio-ambient": f"DestinationRule `outlierDetection`, {_WAYPOINT}",
            "linkerd": "Service annotations `balancer.linkerd.io/failure-accrual*` (consecutive failures; "
            "`interval` has no equivalent: Linkerd counts failures without one, so it is not used)",
            "consul": "callers' ServiceDefaults `upstreamConfig.overrides[].passiveHealthCheck`",
        },
    ),
    "traffic.connection-limits": (
        "connection and pending-request limits",
        {
            "istio-sidecar": "DestinationRule `connectionPool`",
            "istio-ambient": f"DestinationRule `connectionPool`, {_WAYPOINT}",
            "linkerd": No(
                "Linkerd has no connection or pending-request limits",
                "remove maxConnections/maxPendingRequests; keep `consecutiveErrors` (failure accrual)",
            ),
            "consul": "callers' ServiceDefaults `upstreamConfig.overrides[].limits`",
        },
    ),
    "traffic.circuit-breaker-callers": (
        "circuit breaking without listed callers",
        {
            "istio-sidecar": "applies to every caller",
            "istio-ambient": "applies to every caller",
            "linkerd": "applies to every caller",
            "consul": No(
                "Consul sets circuit breaking in each caller's upstream configuration",
                "list the calling identities in `callers:`",
            ),
        },
    ),
    "traffic.locality-failover": (
        "cross-cluster locality failover",
        {
            "istio-sidecar": "DestinationRule `localityLbSetting` (with the required outlier detection)",
            "istio-ambient": f"DestinationRule `localityLbSetting`, {_WAYPOINT}",
            "linkerd": No(
                "Linkerd has no locality failover (its failover extension is not part of meshfleet)",
                "remove `localityFailover`; a `global` service (federated) balances over every cluster",
            ),
            "consul": "ServiceResolver `failover` to every peer",
        },
    ),
    "visibility.global": (
        "service reachable from every cluster",
        {
            "istio-sidecar": "istiod value `meshConfig.serviceSettings` (`clusterLocal: false`)",
            "istio-ambient": 'Service label `istio.io/global: "true"`',
            "linkerd": "Service label `mirror.linkerd.io/exported`",
            "consul": "ExportedServices `default` (consumers: every peer)",
        },
    ),
    "visibility.local": (
        "service kept in its own cluster",
        {
            "istio-sidecar": "istiod value `meshConfig.serviceSettings` (`clusterLocal: true`)",
            "istio-ambient": "istiod value `meshConfig.serviceSettings` (`clusterLocal: true`)",
            "linkerd": 'Service label `mirror.linkerd.io/exported: "false"`',
            "consul": "ServiceIntentions denying every peer",
        },
    ),
}


@dataclass(frozen=True)
class Refusal:
    """A rule that uses a feature its target cannot express."""

    rule: str
    feature: str
    target: TargetName
    reason: str
    alternative: str

    def render(self) -> str:
        return (
            f"rule {self.rule!r}: {MATRIX[self.feature][0]} cannot be applied on {TARGET_LABELS[self.target]}: "
            f"{self.reason}. Instead: {self.alternative}"
        )


class PolicyError(Exception):
    """Rules a compiler was asked to compile but its mesh cannot express."""

    def __init__(self, refusals: list[Refusal]):
        self.refusals = refusals
        super().__init__("\n".join(r.render() for r in refusals))


def features(rule: PolicyRule, target: Target) -> list[str]:
    """The matrix rows a rule uses when compiled for `target`."""
    if isinstance(rule, MtlsRule):
        if rule.mode == "permissive":
            return ["mtls.permissive"]
        return ["mtls.namespace-strict" if rule.namespaces else "mtls.mesh-wide"]
    if isinstance(rule, DefaultDenyRule):
        return ["default-deny"]
    if isinstance(rule, AuthorizationRule):
        return _authorization_features(rule, target)
    if isinstance(rule, TrafficRule):
        out = []
        if rule.timeout:
            out.append("traffic.timeout")
        if rule.retries:
            out.append("traffic.retries")
            if rule.retries.per_try_timeout:
                out.append("traffic.per-try-timeout")
        cb = rule.circuit_breaker
        if cb is not None:
            if cb.consecutive_errors is not None:
                out.append("traffic.outlier-detection")
            if cb.max_connections is not None or cb.max_pending_requests is not None:
                out.append("traffic.connection-limits")
            if not rule.callers:
                out.append("traffic.circuit-breaker-callers")
        if rule.locality_failover:
            out.append("traffic.locality-failover")
        return out
    if isinstance(rule, VisibilityRule):
        return [f"visibility.{rule.scope}"]
    raise TypeError(f"unknown rule {rule!r}")  # pragma: no cover - the union is closed


def _authorization_features(rule: AuthorizationRule, target: Target) -> list[str]:
    out = ["authorization.l4"]
    if any(a.ports for a in rule.allow):
        out.append("authorization.ports")
    if any(not a.ports for a in rule.allow):
        out.append("authorization.all-ports")
    if any(a.l7 for a in rule.allow):
        out.append("authorization.l7")
    l7_ports = {p for a in rule.allow if a.l7 for p in a.ports}
    if any(not a.l7 and set(a.ports) & l7_ports for a in rule.allow):
        out.append("authorization.l4-with-l7-port")
    if target.peers and rule.remote_callers == "identity" and target.mesh == "linkerd" and target.linkerd_gateway:
        out.append("authorization.remote-identity")
    accounts: dict[str, set[str]] = {}
    for a in rule.allow:
        for ident in a.from_:
            accounts.setdefault(ident.service_account, set()).add(ident.namespace)
    if any(len(namespaces) > 1 for namespaces in accounts.values()):
        out.append("authorization.shared-account")
    return out


def refusals(rules: Mapping[str, PolicyRule], target: Target) -> list[Refusal]:
    """Every (rule, feature) that `target` cannot express, by rule name."""
    out = []
    for name, rule in sorted(rules.items()):
        for feature in features(rule, target):
            cell = MATRIX[feature][1][target.name]
            if isinstance(cell, No):
                out.append(Refusal(name, feature, target.name, cell.reason, cell.alternative))
    return out


def require(rules: Mapping[str, PolicyRule], target: Target) -> None:
    """Raise PolicyError when any rule uses a feature `target` cannot express."""
    found = refusals(rules, target)
    if found:
        raise PolicyError(found)


def markdown_table(targets: Iterable[TargetName] = tuple(TARGET_LABELS)) -> str:
    """The matrix as the README's Markdown table (a test keeps the README in sync)."""
    cols = list(targets)
    lines = [
        "| feature | " + " | ".join(TARGET_LABELS[t] for t in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for meaning, cells in MATRIX.values():
        row = [c if isinstance(c, str) else f"**no**: {c.reason}; instead {c.alternative}" for c in cells.values()]
        lines.append(f"| {meaning} | " + " | ".join(row[list(cells).index(t)] for t in cols) + " |")
    return "\n".join(lines)
