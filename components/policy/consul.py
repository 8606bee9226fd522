"""Consul compiler: rules -> consul.hashicorp.com config entries (CRDs)."""

from __future__ import annotations

from collections.abc import Mapping

from components.policy.compiled import Compiled
from components.policy.model import MtlsRule, PolicyRule, Target

CONSUL = "consul.hashicorp.com/v1alpha1"
#: Namespace of fleet-wide config entries (Consul CE has one Consul namespace; any
#: Kubernetes namespace works, `consul` is where the mesh lives).
CONSUL_NAMESPACE = "consul"


def compile_consul(rules: Mapping[str, PolicyRule], target: Target) -> Compiled:
    """Consul config entries for `target`."""
    out = Compiled()
    for name, rule in sorted(rules.items()):
        if isinstance(rule, MtlsRule):
            _mtls(out, name, rule)
    return out


def _mtls(out: Compiled, name: str, rule: MtlsRule) -> None:
    # Sidecars accept only mTLS unless a service opts into permissive mode;
    # `mutualTLSMode: strict` in the global ProxyDefaults makes that explicit
    # and refuses any service's opt-in.
    proxy = out.object(name, CONSUL, "ProxyDefaults", CONSUL_NAMESPACE, "global")
    proxy["spec"]["mutualTLSMode"] = "strict"
