"""Shared policies: every rule expressible on the fleet's mesh, no two rules fighting over one object."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import ConsulMeshSpec, FleetSpec
from components.policy import target_of
from components.policy.capabilities import MATRIX, TARGET_LABELS, refusals
from components.policy.model import AuthorizationRule, MtlsRule, TrafficRule, VisibilityRule


def _rule_expressible(spec: FleetSpec) -> Iterable[Problem]:
    """A rule the mesh cannot express fails here, before any resource: rule, mesh, reason, alternative."""
    seen = set()
    for cluster in spec.clusters:
        for r in refusals(spec.policies.rules, target_of(spec, cluster.name)):
            if (r.rule, r.feature) in seen:
                continue
            seen.add((r.rule, r.feature))
            yield Problem(
                path=f"policies.rules.{r.rule}",
                message=f"rule {r.rule!r}: {MATRIX[r.feature][0]} cannot be applied on {TARGET_LABELS[r.target]}: "
                f"{r.reason}",
                fix=r.alternative,
            )


def _rule_one_per_service(spec: FleetSpec) -> Iterable[Problem]:
    """One traffic and one visibility rule per service: meshes keep one route/destination object per host."""
    for kind in (TrafficRule, VisibilityRule):
        owner: dict[tuple[str, str], str] = {}
        for name, rule in sorted(spec.policies.rules.items()):
            if not isinstance(rule, kind):
                continue
            key = (rule.service.namespace, rule.service.name)
            if key in owner:
                yield Problem(
                    path=f"policies.rules.{name}",
                    message=f"service {key[0]}/{key[1]} already has {rule.kind} rule {owner[key]!r}",
                    fix=f"merge the two into one {rule.kind} rule",
                )
            else:
                owner[key] = name


def _rule_one_mtls_mode(spec: FleetSpec) -> Iterable[Problem]:
    modes: dict[str, tuple[str, str]] = {}
    for name, rule in sorted(spec.policies.rules.items()):
        if not isinstance(rule, MtlsRule):
            continue
        for ns in rule.namespaces:
            if ns in modes and modes[ns][1] != rule.mode:
                yield Problem(
                    path=f"policies.rules.{name}",
                    message=f"namespace {ns!r} is {rule.mode} here and {modes[ns][1]} in rule {modes[ns][0]!r}",
                    fix="keep the namespace in one mtls rule",
                )
            modes.setdefault(ns, (name, rule.mode))


def _rule_strict_mesh_wide(spec: FleetSpec) -> Iterable[Problem]:
    """Strict mTLS mesh-wide is the fleet's promise: overriding it away is refused, not obeyed."""
    if not any(
        isinstance(r, MtlsRule) and r.mode == "strict" and not r.namespaces for r in spec.policies.rules.values()
    ):
        yield Problem(
            path="policies.rules",
            message="no rule makes mTLS strict mesh-wide, so every cluster would accept plaintext",
            fix="keep the baseline set's `mesh-mtls` (kind: mtls, mode: strict); onboard namespaces with a separate "
            "permissive rule listing them",
        )


def _rule_consul_authorization_needs_acls(spec: FleetSpec) -> Iterable[Problem]:
    """Consul's intentions deny what they do not allow only under ACLs with a default deny."""
    mesh = spec.mesh
    if not isinstance(mesh, ConsulMeshSpec) or mesh.security.acls:
        return
    for name, rule in sorted(spec.policies.rules.items()):
        if isinstance(rule, AuthorizationRule):
            yield Problem(
                path=f"policies.rules.{name}",
                message=f"rule {name!r} allows only its callers, but with mesh.security.acls off Consul's intentions "
                "default to allow, so it would refuse nobody",
                fix="turn ACLs on (remove mesh.security.acls: false), or remove the rule",
            )


def _rule_consul_one_service_per_name(spec: FleetSpec) -> Iterable[Problem]:
    """Consul CE has one namespace: `shop/api` and `payments/api` would be one service (one set of intentions)."""
    if not isinstance(spec.mesh, ConsulMeshSpec):
        return
    # name -> (namespace, rule, a caller?) of its first use; names already reported.
    seen: dict[str, tuple[str, str, bool]] = {}
    reported: set[str] = set()
    for name, rule in sorted(spec.policies.rules.items()):
        uses = [(s.namespace, s.name, False) for s in [getattr(rule, "service", None)] if s is not None]
        if isinstance(rule, AuthorizationRule):
            uses += [(i.namespace, i.service_account, True) for a in rule.allow for i in a.from_]
        if isinstance(rule, TrafficRule):
            uses += [(i.namespace, i.service_account, True) for i in rule.callers]
        for namespace, service_name, caller in uses:
            first_namespace, first_rule, first_caller = seen.setdefault(service_name, (namespace, name, caller))
            # Two callers of one rule: the matrix's `authorization.shared-account` refuses that.
            if (
                service_name in reported
                or first_namespace == namespace
                or (first_rule == name and caller and first_caller)
            ):
                continue
            reported.add(service_name)
            yield Problem(
                path=f"policies.rules.{name}",
                message=f"{namespace}/{service_name} and {first_namespace}/{service_name} (rule {first_rule!r}) are "
                "one service to Consul, which names services without their Kubernetes namespace",
                fix="rename one of the two services (and its service account) so every name is unique in the fleet",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_strict_mesh_wide,
    _rule_expressible,
    _rule_one_per_service,
    _rule_one_mtls_mode,
    _rule_consul_authorization_needs_acls,
    _rule_consul_one_service_per_name,
)
