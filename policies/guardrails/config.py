"""The pack's config file: enforcement overrides and rule settings, one file for preview and offline runs.

The file has the shape `pulumi preview --policy-pack-config` reads: a JSON
object whose keys are rule names (or `all`), each value either an enforcement
level or an object with an optional `enforcementLevel` and the rule's own
settings. `config.schema.json` next to this module is generated from the rule
catalogue (`schema()`; a test keeps it current), and `load` checks a file
against the same catalogue with messages that name the key, what is wrong,
the allowed values and the fix. Pure: no pulumi, no pulumi_policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies.guardrails.rules import LEVELS, RULES, RULES_BY_NAME

PACK_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PACK_DIR / "config.json"
SCHEMA_FILE = PACK_DIR / "config.schema.json"


class PackConfigError(Exception):
    """A bad pack config file: every problem, one per line."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        return f"bad policy pack config {self.source}:\n" + "\n".join(f"  - {p}" for p in self.problems)


@dataclass(frozen=True)
class PackConfig:
    """Levels and settings per rule, after defaults."""

    levels: dict[str, str] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


def schema() -> dict[str, Any]:
    """JSON schema of the config file, from the rule catalogue."""
    level = {"type": "string", "enum": list(LEVELS)}
    properties: dict[str, Any] = {"all": {**level, "description": "Enforcement level of every rule not set below."}}
    for rule in RULES:
        props = {"enforcementLevel": level, **{k: dict(v) for k, v in rule.config.items()}}
        properties[rule.name] = {
            "description": f"{rule.description} Default level: {rule.enforcement}.",
            "oneOf": [level, {"type": "object", "properties": props, "additionalProperties": False}],
        }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "meshfleet guardrails policy pack config",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def _check_setting(rule: str, key: str, spec: Mapping[str, Any], value: Any) -> str | None:
    where = f"{rule}.{key}"
    if spec.get("type") == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{where}: {json.dumps(value)} is not an integer; write a whole number such as {spec['default']}"
        lo, hi = spec.get("minimum"), spec.get("maximum")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return f"{where}: {value} is out of range; allowed {lo} to {hi}"
    return None


def parse(doc: Any, source: str = "<config>") -> PackConfig:
    """Validate a parsed config document; raises PackConfigError listing every problem."""
    if not isinstance(doc, Mapping):
        raise PackConfigError(source, ['the file must hold a JSON object of rule names; e.g. {"all": "mandatory"}'])
    problems: list[str] = []
    levels: dict[str, str] = {}
    settings: dict[str, dict[str, Any]] = {}
    allowed_levels = ", ".join(LEVELS)
    everyone = doc.get("all")
    if everyone is not None:
        if everyone not in LEVELS:
            problems.append(f"all: {json.dumps(everyone)} is not an enforcement level; allowed: {allowed_levels}")
        else:
            levels = {r.name: str(everyone) for r in RULES}
    for name, value in doc.items():
        if name == "all":
            continue
        rule = RULES_BY_NAME.get(str(name))
        if rule is None:
            problems.append(f"{name}: no such rule; allowed: all, {', '.join(RULES_BY_NAME)} (check the spelling)")
            continue
        if isinstance(value, str):
            value = {"enforcementLevel": value}
        if not isinstance(value, Mapping):
            problems.append(
                f"{name}: {json.dumps(value)} is neither a level ({allowed_levels}) nor an object of settings"
            )
            continue
        for key, item in value.items():
            if key == "enforcementLevel":
                if item not in LEVELS:
                    problems.append(
                        f"{name}.enforcementLevel: {json.dumps(item)} is not a level; allowed: {allowed_levels}"
                    )
                else:
                    levels[name] = str(item)
            elif key not in rule.config:
                known = ", ".join(["enforcementLevel", *rule.config])
                problems.append(f"{name}.{key}: {rule.name} has no setting {key!r}; allowed: {known}")
            else:
                problem = _check_setting(name, key, rule.config[key], item)
                if problem:
                    problems.append(problem)
                else:
                    settings.setdefault(name, {})[key] = item
    if problems:
        raise PackConfigError(source, problems)
    return PackConfig(levels, settings)


def load(path: Path | None = None) -> PackConfig:
    """Read and validate a config file (default: the pack's own config.json)."""
    path = path or DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackConfigError(
            str(path), [f"cannot read it ({exc.__class__.__name__}: {exc}); pass a readable JSON file"]
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackConfigError(
            str(path), [f"line {exc.lineno} column {exc.colno}: {exc.msg}; the file must be JSON"]
        ) from None
    return parse(doc, str(path))
