"""Loading a stack config: merge, migrate, parse, validate, in that order.

Nothing is created before all of that passed: `load_fleet` either returns a
frozen, validated FleetSpec or raises a ConfigError listing every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from components.config.errors import ConfigError, Problem, problem_from_pydantic
from components.config.migrations import merge_layers, migrate
from components.config.models import FleetSpec
from components.config.rules import validate
from components.config.rules.mesh import reject_foreign_mesh_fields, reject_retired_mesh

#: The project's config keys (`meshfleet:fleet` in a stack file, `meshfleet:defaults` in Pulumi.yaml).
FLEET_KEY = "fleet"
DEFAULTS_KEY = "defaults"


def load_fleet(defaults: Mapping[str, Any] | None, stack: Mapping[str, Any] | None) -> FleetSpec:
    """Merge the stack's `meshfleet:fleet` over the project defaults, migrate, validate."""
    if stack is None:
        raise ConfigError(
            [
                Problem(
                    path="meshfleet:fleet",
                    message="the stack has no meshfleet:fleet config",
                    fix="add it to stacks/Pulumi.<stack>.yaml (see stacks/Pulumi.dev.yaml)",
                )
            ]
        )
    if not isinstance(stack, Mapping):
        return parse(stack)
    reject_retired_mesh(stack)
    return parse(merge_layers(defaults or {}, stack))


def parse(raw: Mapping[str, Any]) -> FleetSpec:
    """Parse and fully validate a merged raw config; raise ConfigError listing every problem."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [Problem(path="(top level)", message="the config must be a map", fix="see stacks/Pulumi.dev.yaml")]
        )
    reject_retired_mesh(raw)
    data = migrate(dict(raw))
    reject_foreign_mesh_fields(data)
    try:
        spec = FleetSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problem_from_pydantic(e) for e in exc.errors()) from None
    problems = list(validate(spec))
    if problems:
        raise ConfigError(problems)
    return spec
