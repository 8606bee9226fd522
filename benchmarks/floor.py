"""The floor: a plan's registrations replayed with no program logic.

`floor_program(plan_json)` registers the same resources (types, names,
custom or component, parents, providers, dependencies, protect,
retainOnDelete, ignoreChanges, customTimeouts and recorded inputs) from a
`plan.json` written with `--show-secrets`, in an order where every parent,
provider and dependency comes first, as plain values: no validation, no
naming, no Outputs, no applies. Run under the same harness
(`ops.plan.run_program`: the same mock runtime, monitor and simulated
cloud), it is the least time and memory any program that registers that
graph can take there, so program / floor is the harness-independent
overhead of meshfleet's own logic.

Deliberate differences: dependencies are given as `depends_on` (the
program's come partly from Outputs), so `propertyDependencies` are empty;
secrets arrive unmarked (the plan.json carries their values, not their
secretness). Neither changes what is registered or simulated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

from ops.sim.pools import AddressPools
from ops.stackconfig import project_stacks

#: The project the plans come from (its stack files decide each stack's address block).
ROOT = Path(__file__).resolve().parent.parent

#: Inputs a component was registered with are not replayed: local components carry none.
_PROJECT_COMPONENT_PREFIX = "meshfleet:"


def _order(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources with every parent, provider and dependency before its dependents."""
    by_urn = {r["urn"]: r for r in resources}
    done: set[str] = set()
    ordered: list[dict[str, Any]] = []
    for start in resources:
        stack: list[tuple[dict[str, Any], bool]] = [(start, False)]
        while stack:
            r, expanded = stack.pop()
            if r["urn"] in done:
                continue
            if expanded:
                done.add(r["urn"])
                ordered.append(r)
                continue
            stack.append((r, True))
            for urn in _needs(r):
                if urn in by_urn and urn not in done:
                    stack.append((by_urn[urn], False))
    return ordered


def _needs(r: dict[str, Any]) -> list[str]:
    provider = r["provider"].rsplit("::", 1)[0] if r["provider"] else ""
    return [u for u in (r["parent"], provider, *r["dependencies"]) if u]


def floor_program(plan_json: dict[str, Any]) -> Callable[[], None]:
    """A program that registers exactly `plan_json`'s resources, and nothing else."""
    resources = _order(plan_json["resources"])

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for r in resources:
            provider = r["provider"].rsplit("::", 1)[0] if r["provider"] else ""
            timeouts = r["customTimeouts"]
            opts = pulumi.ResourceOptions(
                parent=made.get(r["parent"]),
                provider=made.get(provider),  # type: ignore[arg-type]
                depends_on=[made[u] for u in r["dependencies"] if u in made],
                protect=r["protect"],
                retain_on_delete=r["retainOnDelete"],
                ignore_changes=r["ignoreChanges"] or None,
                custom_timeouts=pulumi.CustomTimeouts(**timeouts) if timeouts else None,
            )
            type_, name, inputs = r["type"], r["name"], r["inputs"]
            if type_.startswith("pulumi:providers:"):
                made[r["urn"]] = pulumi.ProviderResource(type_.split(":")[2], name, inputs, opts)
            elif r["custom"]:
                if r.get("read"):
                    opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=inputs.get("id", name)))
                made[r["urn"]] = pulumi.CustomResource(type_, name, inputs, opts)
            elif type_.startswith(_PROJECT_COMPONENT_PREFIX):
                made[r["urn"]] = pulumi.ComponentResource(type_, name, None, opts)
            else:  # a remote component (yaml.v2.ConfigFile): registered with its inputs, as one resource
                made[r["urn"]] = pulumi.ComponentResource(type_, name, inputs, opts, remote=True)

    return program


def floor_pools(plan_json: dict[str, Any], clusters: list[str]) -> AddressPools:
    """The simulated address pools the plan drew from: its stack's block among the project's stacks, each
    of `clusters` (the plan's, in config order) from its own sub-block, so the floor draws the plan's
    addresses, in its own registration order (a fleet-wide sub-block holds only 14)."""
    return AddressPools(str(plan_json["stack"]), project_stacks(ROOT), clusters)
