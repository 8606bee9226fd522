"""From the raw stack value to the current schema: deep merge and migrations.

A stack's `meshfleet:fleet` is deep-merged over the project `defaults` (maps
merge key by key, lists replace whole, scalars replace); `schemaVersion`
selects the shape, and older shapes are migrated step by step (MIGRATIONS),
all before pydantic sees the value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from components.config.errors import ConfigError, Problem

#: The schema version this code reads. Older configs are migrated (MIGRATIONS).
CURRENT_SCHEMA_VERSION = 1


def deep_merge(base: Any, override: Any) -> Any:
    """Merge `override` over `base`: maps merge recursively, anything else replaces."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = {k: copy.deepcopy(v) for k, v in base.items()}
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


#: MIGRATIONS[n] turns a schemaVersion n config into schemaVersion n + 1.
#: A migration is a pure function of the raw dict; it never drops meaning.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a raw config to CURRENT_SCHEMA_VERSION, one recorded step at a time."""
    version = raw.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(
            [
                Problem(
                    path="schemaVersion",
                    message=f"missing or not an integer (got {version!r}); allowed: 1..{CURRENT_SCHEMA_VERSION}",
                    fix=f"add `schemaVersion: {CURRENT_SCHEMA_VERSION}` to meshfleet:fleet (or to the defaults in Pulumi.yaml)",
                )
            ]
        )
    if version > CURRENT_SCHEMA_VERSION:
        raise ConfigError(
            [
                Problem(
                    path="schemaVersion",
                    message=f"{version} is newer than this meshfleet understands ({CURRENT_SCHEMA_VERSION})",
                    fix="upgrade meshfleet (git pull) or deploy the commit that wrote this config",
                )
            ]
        )
    while version < CURRENT_SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ConfigError(
                [
                    Problem(
                        path="schemaVersion",
                        message=f"no migration from version {version}; oldest supported is {min(MIGRATIONS, default=CURRENT_SCHEMA_VERSION)}",
                        fix=f"rewrite the config in the schemaVersion {CURRENT_SCHEMA_VERSION} shape (README, config reference)",
                    )
                ]
            )
        raw = step(copy.deepcopy(raw))
        raw["schemaVersion"] = version + 1
        version += 1
    return raw
