"""Every cross-field rule of a stack config, one module per concern.

A rule is a pure function of a parsed FleetSpec that yields Problems; each
module lists its rules in `RULES`, and `validate` runs every module's rules
in the fixed order below. Rules import models, errors and the pure
components.netcalc, never a resource module: checking a config imports no
pulumi and no cloud SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import FleetSpec
from components.config.rules import (
    access,
    consul,
    deployers,
    endpoints,
    existing,
    linkerd,
    machine_types,
    mesh,
    names,
    networks,
    policies,
    pools,
    provided_roots,
    regions,
    trust,
    versions,
    zones,
)

Rule = Callable[[FleetSpec], Iterable[Problem]]

#: Every rule, in the order `validate` runs them.
RULES: tuple[Rule, ...] = (
    *names.RULES,
    *pools.RULES,
    *networks.RULES,
    *access.RULES,
    *regions.RULES,
    *zones.RULES,
    *machine_types.RULES,
    *versions.RULES,
    *existing.RULES,
    *endpoints.RULES,
    *deployers.RULES,
    *mesh.RULES,
    *linkerd.RULES,
    *consul.RULES,
    *trust.RULES,
    *provided_roots.RULES,
    *policies.RULES,
)


def validate(spec: FleetSpec) -> Iterable[Problem]:
    """Every problem the rules find in a parsed spec (none: the spec can be deployed)."""
    for rule in RULES:
        yield from rule(spec)
