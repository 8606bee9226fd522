"""The guardrails offline: the CrossGuard pack's rules over a recorded plan.

`meshfleet plan` runs them after every offline plan and `meshfleet guard
PLAN_DIR` over a written `plan.json`. The adapter builds what CrossGuard
would hand the pack (resource type, camelCase inputs, protect, parent,
provider URN, dependencies, URN) from the plan's records, and the rules are
the pack's own (`policies.guardrails.rules`), so an offline verdict and a
preview's verdict come from the same code. Differences from a real preview
are in the README ("Guardrails").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ops.plan import Plan, Recorded, render_value
from ops.planfile import read_plan_resources
from policies.guardrails.config import PackConfig
from policies.guardrails.rules import Context, Finding, Resource, evaluate
from policies.guardrails.support import support_check

#: Exit code of `meshfleet plan` / `meshfleet guard` when a mandatory rule is violated
#: (2 is a bad config or usage, 1 a crash).
EXIT_MANDATORY = 3


def _provider_urn(reference: str) -> str:
    """A provider reference is `urn::id`; keep the URN."""
    return reference.rsplit("::", 1)[0] if reference else ""


def from_recorded(r: Recorded) -> Resource:
    """One registration of a live plan: secrets shown (CrossGuard sees their values), unknowns marked."""
    return Resource(
        type=r.type,
        urn=r.urn,
        name=r.name,
        props=render_value(r.inputs, show_secrets=True),
        protect=r.protect,
        parent=r.parent,
        provider=r.provider_urn,
        dependencies=tuple(r.dependencies),
        property_dependencies={k: tuple(v) for k, v in r.property_dependencies.items()},
    )


def from_contract(doc: Mapping[str, Any]) -> Resource:
    """One resource of plan.json (secrets are "[secret]" unless it was written with --show-secrets)."""
    inputs = doc.get("inputs")
    return Resource(
        type=str(doc["type"]),
        urn=str(doc["urn"]),
        name=str(doc.get("name", "")),
        props=inputs if isinstance(inputs, Mapping) else {},
        protect=bool(doc.get("protect", False)),
        parent=str(doc.get("parent") or ""),
        provider=_provider_urn(str(doc.get("provider") or "")),
        dependencies=tuple(doc.get("dependencies") or ()),
        property_dependencies={k: tuple(v) for k, v in (doc.get("propertyDependencies") or {}).items()},
    )


def read_plan_dir(plan_dir: Path) -> list[Resource]:
    """The resources of PLAN_DIR/plan.json (or of that file named itself); ValueError with the fix when it
    is missing or malformed."""
    resources = read_plan_resources(plan_dir)
    return [from_contract(r) for r in resources]


def check(resources: Iterable[Resource], config: PackConfig, today: date) -> list[Finding]:
    """Every rule at its configured level, sorted by level, rule and URN."""
    ctx = Context(today=today, supported=support_check())
    found = evaluate(resources, config.levels, config.settings, ctx)
    return sorted(found, key=lambda f: (f.level != "mandatory", f.rule, f.urn, f.message))


def check_plan(plan: Plan, config: PackConfig, today: date) -> list[Finding]:
    return check((from_recorded(r) for r in plan.resources), config, today)


def render(findings: list[Finding], source: str) -> str:
    """Each violation with its level, rule and URN, then a summary line."""
    lines = [f"{f.level.upper()} [{f.rule}] {f.urn}\n    {f.message}" for f in findings]
    mandatory = sum(f.level == "mandatory" for f in findings)
    lines.append(f"guardrails: {mandatory} mandatory, {len(findings) - mandatory} advisory violation(s) ({source})")
    if support_check() is None:
        lines.append(
            "note: no Kubernetes support data (components.config.cloudfacts); kubernetes-version-support skipped"
        )
    return "\n".join(lines)


def exit_code(findings: list[Finding]) -> int:
    return EXIT_MANDATORY if any(f.level == "mandatory" for f in findings) else 0
