"""Reading a written plan (`meshfleet plan --out DIR`): DIR or DIR/plan.json, for guard, diff and diagram.

No Pulumi SDK import here: commands that only read a plan stay quick.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The file `meshfleet plan --out DIR` writes the plan to.
PLAN_FILE = "plan.json"
#: What a plan written without `--show-secrets` holds in place of each secret value.
REDACTED = "[secret]"
#: plan.json's marker of a plan written with `--show-secrets` (absent otherwise).
SECRETS_SHOWN = "secretsShown"


def plan_file(path: Path) -> Path:
    """The plan.json a command argument names: the file itself, or the one inside a `--out` directory."""
    return path if path.suffix == ".json" and not path.is_dir() else path / PLAN_FILE


def read_plan_doc(path: Path) -> Mapping[str, Any]:
    """A written plan's document (`path`: its `--out` directory or its plan.json); ValueError naming the
    fix when the file is missing or not a plan."""
    file = plan_file(path)
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(
            f"{file} does not exist; write one with `meshfleet plan --stack NAME --out {file.parent}`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{file} is not a readable plan.json ({exc}); re-create it with `meshfleet plan --out`"
        ) from None
    resources = doc.get("resources") if isinstance(doc, Mapping) else None
    if not isinstance(resources, list) or not all(
        isinstance(r, Mapping) and {"urn", "type", "name"} <= r.keys() for r in resources
    ):
        raise ValueError(
            f"{file} has no 'resources' list of {{urn, type, name}}; re-create it with `meshfleet plan --out`"
        )
    return doc


def read_plan_resources(path: Path) -> list[Mapping[str, Any]]:
    """A written plan's resources (`path`: its `--out` directory or its plan.json)."""
    return list(read_plan_doc(path)["resources"])
