"""Reading stack config the way the Pulumi CLI does.

Inside `pulumi up` the engine hands the program its config; `load_from_runtime`
reads it. Offline, `read_stack_config` reads `Pulumi.yaml` (project-level
values) and `stacks/Pulumi.<stack>.yaml` exactly as the CLI would: a stack
value replaces the project value of the same key whole (the deep merge of
fleet defaults is meshfleet's own, in components.config).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.config import get_config

from components.config import ConfigError, FleetSpec, load_fleet
from components.trust_rules import OFFLINE_PLACEHOLDER

FLEET_KEY = "fleet"
DEFAULTS_KEY = "defaults"


def load_from_runtime() -> FleetSpec:
    """The validated fleet spec of the running stack; a bad config stops the program cleanly."""
    project = pulumi.get_project()
    defaults = _json(get_config(f"{project}:{DEFAULTS_KEY}"))
    stack = _json(get_config(f"{project}:{FLEET_KEY}"))
    try:
        return load_fleet(defaults, stack)
    except ConfigError as exc:
        # RunError ends `pulumi up` with this message and no stack trace.
        raise pulumi.RunError(exc.render()) from None


def _json(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    return json.loads(value)


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the engine would pass it to the program."""

    project: str
    stack: str
    #: Fully qualified key -> value (objects as parsed YAML, not yet JSON).
    values: dict[str, Any]
    #: Keys holding at least one encrypted (`secure:`) value.
    secret_keys: list[str] = field(default_factory=list)
    #: Config paths of encrypted values replaced by placeholders.
    placeholders: list[str] = field(default_factory=list)

    def runtime_config(self) -> dict[str, str]:
        """Config in the engine's wire format: strings, objects as JSON."""
        return {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in sorted(self.values.items())}

    def value(self, key: str) -> Any:
        return self.values.get(f"{self.project}:{key}")


#: libyaml's safe loader when PyYAML has it: the same documents, ~10x faster
#: (every plan, and `--all`, reads Pulumi.yaml and stack files).
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_project(project_dir: Path) -> dict[str, Any]:
    with (project_dir / "Pulumi.yaml").open() as fh:
        doc = yaml.load(fh, Loader=SAFE_LOADER)
    if not isinstance(doc, dict) or "name" not in doc:
        raise ValueError(f"{project_dir / 'Pulumi.yaml'} is not a Pulumi project file")
    return doc


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _project_value(entry: Any) -> tuple[bool, Any]:
    """A Pulumi.yaml `config:` entry is a plain value, or a map with `value`/`default` and a schema."""
    if isinstance(entry, dict) and ({"value", "default", "type", "description"} & set(entry)):
        if "value" in entry:
            return True, entry["value"]
        if "default" in entry:
            return True, entry["default"]
        return False, None
    return True, entry


def read_stack_config(project_dir: Path, stack: str, config_file: Path | None = None) -> StackConfig:
    project_doc = read_project(project_dir)
    project = str(project_doc["name"])
    values: dict[str, Any] = {}
    for key, entry in (project_doc.get("config") or {}).items():
        has, value = _project_value(entry)
        if has:
            values[_qualify(project, key)] = value
    if config_file is None:
        config_file = project_dir / project_doc.get("stackConfigDir", ".") / f"Pulumi.{stack}.yaml"
    if not config_file.exists():
        raise FileNotFoundError(f"no stack config {config_file}")
    with config_file.open() as fh:
        stack_doc = yaml.load(fh, Loader=SAFE_LOADER) or {}
    secret_keys: set[str] = set()
    placeholders: list[str] = []
    for key, value in (stack_doc.get("config") or {}).items():
        qualified = _qualify(project, key)
        values[qualified] = _replace_secure(value, qualified, placeholders)
        if any(p == qualified or p.startswith(qualified + ".") or p.startswith(qualified + "[") for p in placeholders):
            secret_keys.add(qualified)
    return StackConfig(project, stack, values, sorted(secret_keys), placeholders)


def _replace_secure(value: Any, path: str, found: list[str]) -> Any:
    """Encrypted values cannot be decrypted offline: substitute marked placeholders."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            found.append(path)
            return f"{OFFLINE_PLACEHOLDER} {path}: not available offline]"
        return {k: _replace_secure(v, f"{path}.{k}", found) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def spec_of(config: StackConfig) -> FleetSpec:
    """Validate a stack config offline (raises ConfigError)."""
    return load_fleet(config.value(DEFAULTS_KEY), config.value(FLEET_KEY))
