"""Linkerd compiler: rules -> policy.linkerd.io objects and linkerd-control-plane values."""

from __future__ import annotations

from collections.abc import Mapping

from components.policy.compiled import Compiled
from components.policy.model import MtlsRule, PolicyRule, Target

#: Namespace annotation overriding the control plane's default inbound policy (read at injection).
INBOUND_POLICY = "config.linkerd.io/default-inbound-policy"


def compile_linkerd(rules: Mapping[str, PolicyRule], target: Target) -> Compiled:
    """Linkerd objects and control-plane values for `target`."""
    out = Compiled()
    for name, rule in sorted(rules.items()):
        if isinstance(rule, MtlsRule):
            _mtls(out, name, rule)
    return out


def _mtls(out: Compiled, name: str, rule: MtlsRule) -> None:
    policy = "all-authenticated" if rule.mode == "strict" else "all-unauthenticated"
    if not rule.namespaces:
        # Strict mTLS is no object in Linkerd: it is the control plane's
        # default inbound policy for every meshed pod.
        out.value(name).setdefault("proxy", {})["defaultInboundPolicy"] = policy
        return
    for ns in rule.namespaces:
        meta = out.object(name, "v1", "Namespace", "", ns)["metadata"]
        meta.setdefault("annotations", {})[INBOUND_POLICY] = policy
