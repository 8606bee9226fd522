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

from components.config.errors import ConfigError

#: The schema version this code reads. Older configs are migrated (MIGRATIONS).
CURRENT_SCHEMA_VERSION = 2


def deep_merge(base: Any, override: Any) -> Any:
    """Merge `override` over `base`: maps merge recursively, anything else replaces."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = {k: copy.deepcopy(v) for k, v in base.items()}
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def merge_layers(defaults: Mapping[str, Any], stack: Mapping[str, Any]) -> dict[str, Any]:
    """The stack's `meshfleet:fleet` over the project defaults, each layer migrated first.

    `schemaVersion` usually lives in the defaults only, so a stack layer
    without one is read in the defaults' version. One exception to the deep
    merge: a stack whose `mesh.kind` differs from the defaults' replaces the
    default mesh whole, since one mesh's fields (Istio's revisions, Linkerd's
    charts) mean nothing to another.
    """
    version = stack.get("schemaVersion", defaults.get("schemaVersion"))
    if not isinstance(version, int) or isinstance(version, bool):
        return deep_merge(defaults, stack)  # parse() says what is wrong with it, in words
    if defaults:
        defaults = migrate({**defaults, "schemaVersion": defaults.get("schemaVersion", version)})
    stack = migrate({**stack, "schemaVersion": version})
    merged = deep_merge(defaults, stack)
    default_mesh, stack_mesh = defaults.get("mesh"), stack.get("mesh")
    if (
        isinstance(default_mesh, Mapping)
        and isinstance(stack_mesh, Mapping)
        and "kind" in stack_mesh
        and stack_mesh.get("kind") != default_mesh.get("kind")
    ):
        merged["mesh"] = copy.deepcopy(dict(stack_mesh))
    return merged


#: Fields v1 accepted on every mesh kind that only ever meant something to Istio.
_ISTIO_ONLY_DEFAULTS = {"mode": "sidecar", "topology": "multi-primary"}


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Schema 2: the mesh is a union on `kind`; policies nest their rules under `rules`.

    v1 named Linkerd and Consul but could not install them, so the only
    meaning to carry over for them is that `mode: sidecar` and
    `topology: multi-primary` were defaults: drop those (anything else is
    left for validation to report). v1 `policies` (name -> rule) become
    `policies.rules`.
    """
    mesh = raw.get("mesh")
    if isinstance(mesh, dict) and mesh.get("kind") in ("linkerd", "consul"):
        for key, default in _ISTIO_ONLY_DEFAULTS.items():
            if mesh.get(key) == default:
                del mesh[key]
    if isinstance(raw.get("policies"), Mapping):
        raw["policies"] = {"rules": raw["policies"]}
    return raw


#: MIGRATIONS[n] turns a schemaVersion n config into schemaVersion n + 1.
#: A migration is a pure function of the raw dict (one layer: the defaults or
#: a stack's value); it never drops meaning.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a raw config to CURRENT_SCHEMA_VERSION, one recorded step at a time."""
    version = raw.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError.one(
            path="schemaVersion",
            message=f"missing or not an integer (got {version!r}); allowed: 1..{CURRENT_SCHEMA_VERSION}",
            fix=f"add `schemaVersion: {CURRENT_SCHEMA_VERSION}` to meshfleet:fleet (or to the defaults in Pulumi.yaml)",
        )
    if version > CURRENT_SCHEMA_VERSION:
        raise ConfigError.one(
            path="schemaVersion",
            message=f"{version} is newer than this meshfleet understands ({CURRENT_SCHEMA_VERSION})",
            fix="upgrade meshfleet (git pull) or deploy the commit that wrote this config",
        )
    while version < CURRENT_SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ConfigError.one(
                path="schemaVersion",
                message=f"no migration from version {version}; oldest supported is {min(MIGRATIONS, default=CURRENT_SCHEMA_VERSION)}",
                fix=f"rewrite the config in the schemaVersion {CURRENT_SCHEMA_VERSION} shape (README, config reference)",
            )
        raw = step(copy.deepcopy(raw))
        raw["schemaVersion"] = version + 1
        version += 1
    return raw
