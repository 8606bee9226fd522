"""Policy rules as pure validators, importable without pulumi_policy.

`pulumi_policy.PolicyPack(...)` blocks forever when constructed, so the pack
itself is built only in `policies/__main__.py`; the rules here take a
resource's type and inputs and return violation messages, which is what the
tests call directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REQUIRED_TAGS = ("fleet", "environment", "owner")

#: Tag-bearing input property per resource type family.
_TAG_PROPERTY = {"aws:": "tags", "azure-native:": "tags", "gcp:": "labels"}


def missing_fleet_tags(resource_type: str, inputs: Mapping[str, Any]) -> list[str]:
    """Violations when a taggable cloud resource lacks a fleet tag."""
    prop = next((p for prefix, p in _TAG_PROPERTY.items() if resource_type.startswith(prefix)), None)
    if prop is None or prop not in inputs:
        return []
    tags = inputs.get(prop) or {}
    return [f"{resource_type} is missing the '{tag}' tag" for tag in REQUIRED_TAGS if tag not in tags]
