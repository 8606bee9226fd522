"""The rules as CrossGuard policies: the glue between pulumi_policy and `rules`.

Imported only by the pack's `__main__.py`, in the pack's own virtualenv
(pulumi_policy pins protobuf 5.29; the program's environment has protobuf 6).
Every check lives in `rules`; this module turns CrossGuard's arguments into
`rules.Resource`s (plain values: proxies unwrapped, values unknown during a
preview as "[unknown]") and reports what the checks return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, _DictProxy, _is_unknown, _ListProxy

from policies.guardrails.rules import RULES, UNKNOWN, Context, Graph, Resource, Rule, SupportCheck
from policies.guardrails.support import support_check


def plain(value: Any) -> Any:
    """A property value without CrossGuard's proxies: dicts, lists, scalars; unknowns as "[unknown]".

    Reading through the proxies raises on the first unknown value, which
    would skip a whole rule for one unknown field; rules treat "[unknown]"
    as a value they cannot judge instead.
    """
    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str) and (value == UNKNOWN_STRING_VALUE or _is_unknown(value)):
        return UNKNOWN
    return value


def from_args(args: ResourceValidationArgs) -> Resource:
    return Resource(
        type=args.resource_type,
        urn=args.urn,
        name=args.name,
        props=plain(args.props),
        protect=bool(args.opts.protect),
        parent=args.opts.parent or "",
        provider=args.provider.urn if args.provider is not None else "",
    )


def from_policy_resource(r: PolicyResource) -> Resource:
    return Resource(
        type=r.resource_type,
        urn=r.urn,
        name=r.name,
        props=plain(r.props),
        protect=bool(r.opts.protect),
        parent=r.parent.urn if r.parent is not None else "",
        provider=r.provider.urn if r.provider is not None else "",
        dependencies=tuple(d.urn for d in r.dependencies),
        property_dependencies={k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()},
    )


def _with_providers(resources: Sequence[PolicyResource]) -> list[Resource]:
    """The stack's resources, and each provider they name that the list itself lacks (rules read a
    provider's region and account from its props)."""
    out = [from_policy_resource(r) for r in resources]
    listed = {r.urn for r in out}
    for r in resources:
        p = r.provider
        if p is not None and p.urn not in listed:
            listed.add(p.urn)
            out.append(Resource(type=p.resource_type, urn=p.urn, name=p.name, props=plain(p.props)))
    return out


def _settings(rule: Rule, given: Mapping[str, Any]) -> dict[str, Any]:
    return {**rule.defaults(), **{k: v for k, v in given.items() if k in rule.config}}


def policy_for(rule: Rule, today: Callable[[], date], supported: SupportCheck | None) -> Policy:
    """One CrossGuard policy running `rule`."""
    common: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": EnforcementLevel(rule.enforcement),
        "severity": Severity(rule.severity),
        "remediation_steps": rule.why,
        "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config.items()})
        if rule.config
        else None,
    }
    resource_check, stack_check = rule.resource_check, rule.stack_check
    if resource_check is not None:

        def validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
            ctx = Context(today=today(), supported=supported)
            for message in resource_check(from_args(args), _settings(rule, args.get_config()), ctx):
                report(message, args.urn)

        return ResourceValidationPolicy(validate=validate_resource, **common)
    assert stack_check is not None

    def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
        ctx = Context(today=today(), supported=supported)
        graph = Graph(_with_providers(args.resources))
        for urn, message in stack_check(graph, _settings(rule, args.get_config()), ctx):
            report(message, urn)

    return StackValidationPolicy(validate=validate_stack, **common)


def policies(today: Callable[[], date] = date.today, supported: SupportCheck | None = None) -> list[Policy]:
    """Every rule as a policy; the support data from the config package unless given."""
    check = supported if supported is not None else support_check()
    return [policy_for(rule, today, check) for rule in RULES]
