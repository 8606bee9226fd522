"""Shared policy sets on disk: `policies/mesh/<set>/v<version>.yaml`, versions side by side.

A file in git has one content per commit, so each version is its own file
and a stack pins the version it applies (`policies.sets`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

#: Where the sets live (the project's policy-as-code, next to the guardrails).
SETS_DIR = Path(__file__).resolve().parents[2] / "policies" / "mesh"


class SetNotFound(Exception):
    """A pinned set or version that does not exist."""

    def __init__(self, message: str, fix: str):
        self.message, self.fix = message, fix
        super().__init__(message)


def set_path(name: str, version: int, root: Path = SETS_DIR) -> Path:
    return root / name / f"v{version}.yaml"


def available_sets(root: Path = SETS_DIR) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def available_versions(name: str, root: Path = SETS_DIR) -> list[int]:
    return sorted(
        int(m.group(1)) for p in (root / name).glob("v*.yaml") if (m := re.fullmatch(r"v([1-9][0-9]*)\.yaml", p.name))
    )


def read_set(name: str, version: int, root: Path = SETS_DIR) -> Any:
    """The raw YAML document of one set version (validated by the config loader)."""
    path = set_path(name, version, root)
    if not path.is_file():
        sets = available_sets(root)
        if name not in sets:
            raise SetNotFound(
                f"no policy set {name!r}; sets: {', '.join(sets) or 'none'}",
                f"pin one of the sets under policies/mesh/, or add policies/mesh/{name}/v1.yaml",
            )
        versions = available_versions(name, root)
        raise SetNotFound(
            f"set {name!r} has no version {version}; versions: {', '.join(map(str, versions))}",
            f"pin one of those versions, or add policies/mesh/{name}/v{version}.yaml",
        )
    return yaml.safe_load(path.read_text())
