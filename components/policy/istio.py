"""Istio compiler (sidecar and ambient): rules -> security.istio.io / networking.istio.io objects."""

from __future__ import annotations

from collections.abc import Mapping

from components.policy.compiled import Compiled
from components.policy.model import MtlsRule, PolicyRule, Target

#: Istio's root namespace: a PeerAuthentication or AuthorizationPolicy here applies mesh-wide.
ROOT_NAMESPACE = "istio-system"
SECURITY = "security.istio.io/v1"


def compile_istio(rules: Mapping[str, PolicyRule], target: Target) -> Compiled:
    """Istio objects and istiod values for `target` (sidecar or ambient)."""
    out = Compiled()
    for name, rule in sorted(rules.items()):
        if isinstance(rule, MtlsRule):
            _mtls(out, name, rule)
    return out


def _mtls(out: Compiled, name: str, rule: MtlsRule) -> None:
    # ztunnel enforces PeerAuthentication too (mesh and namespace level), so
    # the same object serves both data-plane modes.
    for ns in rule.namespaces or [ROOT_NAMESPACE]:
        pa = out.object(name, SECURITY, "PeerAuthentication", ns, name)
        pa["spec"] = {"mtls": {"mode": rule.mode.upper()}}
