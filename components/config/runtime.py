"""The stack config inside `pulumi up`: read from the engine, validated, or a clean stop.

The program (`__main__.py`) calls `load_from_runtime`; the offline tooling
reads stack files itself (ops/stackconfig.py) and calls `load_fleet` the same
way. This is the one config module that imports pulumi.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config, get_config_env, is_config_secret

from components.config.errors import ConfigError
from components.config.loader import DEFAULTS_KEY, FLEET_KEY, load_fleet
from components.config.models import ExistingCluster, FleetSpec
from components.config.offline import is_offline
from components.config.rules.existing import context_findings, deployer_kubeconfig


def load_from_runtime() -> FleetSpec:
    """The validated fleet spec of the running stack; a bad config stops the program cleanly."""
    project = pulumi.get_project()
    defaults = _json(get_config(f"{project}:{DEFAULTS_KEY}"))
    stack = _json(get_config(f"{project}:{FLEET_KEY}"))
    try:
        fleet_is_secret = is_config_secret(f"{project}:{FLEET_KEY}")
        spec = load_fleet(defaults, stack, other_keys=_config_keys(), fleet_is_secret=fleet_is_secret)
        _check_deployer_contexts(spec)
    except ConfigError as exc:
        # RunError ends `pulumi up` with this message and no stack trace.
        raise pulumi.RunError(exc.render()) from None
    return spec


def _check_deployer_contexts(spec: FleetSpec) -> None:
    """Existing clusters reached through a `context` of the deployer's own kubeconfig: that context must
    exist and reach this cluster (rules/existing.py `context_findings`). Only the deployer's machine can
    tell, so `pulumi preview` and `up` check it and the offline plan, the same on every machine, does not."""
    if is_offline() or not any(isinstance(c, ExistingCluster) and c.context for c in spec.clusters):
        return
    try:
        home: Path | None = Path.home()
    except RuntimeError:  # no HOME and no user entry: no ~/.kube/config either
        home = None
    problems, warnings = context_findings(spec, deployer_kubeconfig(os.environ, home))
    if problems:
        raise ConfigError(problems)
    for warning in warnings:
        pulumi.log.warn(warning)


def _config_keys() -> list[str]:
    """Every config key the engine passed (the program's config or PULUMI_CONFIG)."""
    return sorted({*CONFIG.get(), *get_config_env()})


def _json(value: Any) -> Any:
    """The engine passes object values as JSON strings, and other values as their text.

    A `meshfleet:fleet: hello` arrives as `hello`: not JSON, and reported by
    load_fleet as "not a map", never a JSONDecodeError.
    """
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
