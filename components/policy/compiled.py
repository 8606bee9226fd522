"""What a compiler produces for one cluster: Kubernetes objects and control-plane values.

Every object records the rules it came from (annotation
`meshfleet.io/policy-rules`), and so do the installer values, so a test can
prove that no declared rule vanished between the config and the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Annotation naming the rules an object was compiled from (operators read it too).
RULES_ANNOTATION = "meshfleet.io/policy-rules"
#: Label on every object the policy compilers create (never on patched app objects).
MANAGED_BY = {"app.kubernetes.io/managed-by": "meshfleet"}

#: Core kinds the compilers never create, only annotate or label (server-side apply patches of
#: app-owned objects: the platform owns just the fields it sets).
PATCH_KINDS = ("Namespace", "Service")

Key = tuple[str, str, str, str]


@dataclass
class Compiled:
    """Objects (keyed by apiVersion, kind, namespace, name) and installer values of one cluster."""

    _objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _rules: dict[Key, set[str]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    #: Rules that contributed installer values.
    value_rules: set[str] = field(default_factory=set)

    def object(self, rule: str, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The object with this identity, created empty (`spec: {}`) on first use; `rule` is recorded."""
        key = (api_version, kind, namespace, name)
        if key not in self._objects:
            meta: dict[str, Any] = {"name": name}
            if namespace:
                meta["namespace"] = namespace
            body: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": meta}
            if kind not in PATCH_KINDS:
                meta["labels"] = dict(MANAGED_BY)
                body["spec"] = {}
            self._objects[key] = body
            self._rules[key] = set()
        self._rules[key].add(rule)
        return self._objects[key]

    def value(self, rule: str) -> dict[str, Any]:
        """The installer values, to be extended by `rule`."""
        self.value_rules.add(rule)
        return self.values

    def objects(self) -> list[dict[str, Any]]:
        """Every object, sorted by identity, each annotated with its rules."""
        out = []
        for key in sorted(self._objects):
            body = self._objects[key]
            annotations = body["metadata"].setdefault("annotations", {})
            annotations[RULES_ANNOTATION] = ",".join(sorted(self._rules[key]))
            out.append(body)
        return out

    def rules_of_objects(self) -> set[str]:
        return {rule for rules in self._rules.values() for rule in rules}
