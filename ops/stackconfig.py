"""Reading stack files offline, the way the Pulumi CLI does.

`read_stack_config` reads `Pulumi.yaml` (project-level values) and
`stacks/Pulumi.<stack>.yaml` exactly as the CLI would: YAML 1.2 as yaml.v3
parses it (ops/yamlfile.py: `on`/`no`/`yes` are strings, a repeated key is an
error), and a stack value replaces the project value of the same key whole
(the deep merge of fleet defaults is meshfleet's own, in components.config).
A file the CLI would reject, or whose shape is wrong, is a ConfigError naming
the file, the line and column, what is wrong and the fix. Inside `pulumi up`
the program reads its config from the engine instead
(components/config/runtime.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.config import DEFAULTS_KEY, FLEET_KEY, ConfigError, FleetSpec, load_fleet
from components.config.errors import describe_value
from components.config.offline import OFFLINE_PLACEHOLDER
from ops.yamlfile import load_yaml_file, mark_of

#: Top-level keys of a stack file (the CLI's ProjectStack).
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")


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


def read_project(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "Pulumi.yaml"
    doc, node = load_yaml_file(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise ConfigError.one(
            path=mark_of(node, ["name"], str(path)),
            message="is not a Pulumi project file (a map with a `name:`)",
            fix="run meshfleet from the project directory, whose Pulumi.yaml names the project",
        )
    if not isinstance(doc.get("config") or {}, dict):
        raise ConfigError.one(
            path=mark_of(node, ["config"], str(path)),
            message=f"`config:` is {describe_value(doc['config'])}, not a map of keys",
            fix="write project config as `config:` followed by indented `key: value` lines",
        )
    return doc


def _stack_doc(config_file: Path) -> tuple[dict[str, Any], Any]:
    """A stack file's top-level map (empty file: empty map), or a ConfigError on its shape."""
    where = str(config_file)
    doc, node = load_yaml_file(config_file)
    if doc is None:
        return {}, node
    if not isinstance(doc, dict):
        raise ConfigError.one(
            path=mark_of(node, [], where),
            message=f"the file holds {describe_value(doc)}; a stack file is a map with a `config:` key",
            fix="start the file with `config:` and put `meshfleet:fleet:` indented under it "
            "(see stacks/Pulumi.dev.yaml)",
        )
    config = doc.get("config")
    if config is not None and not isinstance(config, dict):
        raise ConfigError.one(
            path=mark_of(node, ["config"], where),
            message=f"`config:` is {describe_value(config)}, not a map of config keys",
            fix="write `config:` followed by indented keys, e.g. `  meshfleet:fleet:` (see stacks/Pulumi.dev.yaml)",
        )
    misplaced = [k for k in doc if k not in STACK_FILE_KEYS and "fleet" in k.lower()]
    if FLEET_KEY not in {k.split(":")[-1] for k in (config or {})} and misplaced:
        key = misplaced[0]
        raise ConfigError.one(
            path=mark_of(node, [key], where, at_key=True),
            message=f"the stack has no meshfleet:fleet config: {key!r} is at the top level of the "
            "file, outside `config:`, where Pulumi does not read it",
            fix=f"indent `{key}:` (and everything under it) under `config:`",
        )
    nested = [
        k
        for k, v in doc.items()
        if k not in STACK_FILE_KEYS and isinstance(v, dict) and any("fleet" in str(x).lower() for x in v)
    ]
    if not config and nested:
        key = nested[0]
        raise ConfigError.one(
            path=mark_of(node, [key], where, at_key=True),
            message=f"the stack has no meshfleet:fleet config: it is under {key!r}, which Pulumi "
            "does not read (the key is `config`)",
            fix=f"rename `{key}:` to `config:`",
        )
    return doc, node


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


#: What Pulumi accepts as a stack name.
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def stack_of_file(path: Path) -> str | None:
    """The stack a `Pulumi.<stack>.yaml` file configures (None for any other file name)."""
    name = path.name
    if not (name.startswith("Pulumi.") and name.endswith(".yaml")):
        return None
    stack = name[len("Pulumi.") : -len(".yaml")]
    return stack if _STACK_NAME.match(stack) else None


def stacks_dir_of(project_dir: Path, project_doc: dict[str, Any] | None = None) -> Path:
    """The project's stack config directory (Pulumi.yaml's `stackConfigDir`)."""
    doc = read_project(project_dir) if project_doc is None else project_doc
    return project_dir / str(doc.get("stackConfigDir", "."))


def project_stacks(project_dir: Path) -> list[str]:
    """Every stack with a `Pulumi.<stack>.yaml` in the project's stack config directory, sorted."""
    files = stacks_dir_of(project_dir).glob("Pulumi.*.yaml")
    return sorted(stack for p in files if (stack := stack_of_file(p)) is not None)


def _shown(path: Path, project_dir: Path) -> Path:
    """`path` relative to the project when it lies inside it (a stackConfigDir may point elsewhere)."""
    return path.relative_to(project_dir) if path.is_relative_to(project_dir) else path


def read_stack_config(project_dir: Path, stack: str, config_file: Path | None = None) -> StackConfig:
    project_doc = read_project(project_dir)
    project = str(project_doc["name"])
    values: dict[str, Any] = {}
    for key, entry in (project_doc.get("config") or {}).items():
        has, value = _project_value(entry)
        if has:
            values[_qualify(project, key)] = value
    if config_file is None:
        config_file = stacks_dir_of(project_dir, project_doc) / f"Pulumi.{stack}.yaml"
        if not config_file.is_file():
            known = project_stacks(project_dir)
            raise ConfigError.one(
                path=str(config_file),
                message=f"no stack {stack!r}: the project's stacks are {', '.join(known) or 'none'}",
                fix=f"name one of them, or create {_shown(config_file, project_dir)} (see stacks/Pulumi.dev.yaml)",
            )
    stack_doc, _node = _stack_doc(config_file)
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
    return load_fleet(
        config.value(DEFAULTS_KEY),
        config.value(FLEET_KEY),
        other_keys=list(config.values),
        fleet_is_secret=f"{config.project}:{FLEET_KEY}" in config.secret_keys,
    )
