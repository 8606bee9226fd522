"""`meshfleet diff BEFORE AFTER`: what a change does, from two offline plans of one stack.

The day-2 question before an `up`: which resources a config change
creates, deletes and updates, and what changes in each. Both directories
are `meshfleet plan --out` results (plan.json); resources are matched as
the engine matches them against its state: by URN, or through an alias
the new registration declares (a renamed or re-typed resource, shown as an
update with `(urn)`). A resource whose URN changes without an alias is a
delete and a create; Pulumi creates before it deletes unless told
otherwise. A resource whose inputs stay the same but whose dependencies or
options change is listed apart: the engine records those without calling
the cloud. A new provider is an update: the new provider may ask for a
replacement. What this cannot tell: whether the cloud updates a changed
input in place or replaces the resource (the provider decides; `pulumi
preview` shows it), except for a Kubernetes object's or Helm release's
name and namespace (REPLACED_ON_CHANGE), and changes inside secrets, which both plans redact
alike unless written with `--show-secrets`. A changed scalar, or the
entries a list gains and loses, are shown beside their path when short
and when neither plan was written with `--show-secrets` (nothing in such a
plan says which values were secret; `[secret]` is never shown).

Deleting a protected resource fails the `up` (a preview fails on it; an
`up` without one, as deploy.yml's, stops at its delete phase, after the
creates and updates ran), so such deletions are marked: lift the
protection first, on purpose, or change the config so the resource stays.
So are the updates a cloud refuses in place (REFUSED_IN_PLACE), which fail
an `up` midway.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.planfile import REDACTED, SECRETS_SHOWN, read_plan_doc

#: Registration fields compared besides the inputs (plan.json's names), shown as `(field)`.
#: A new provider may replace the resource, so it counts as an update; the others are recorded only.
_OPTIONS = (
    "provider",
    "dependencies",
    "protect",
    "retainOnDelete",
    "ignoreChanges",
    "customTimeouts",
    "aliases",
)


#: Inputs a cloud refuses to change on an existing resource, by type, with the way through.
#: AKS node pools: VM size, OS disk, zones and subnet are fixed at creation (the AKS docs'
#: node pool pages; docs/operations.md, "Changing node pools"). An in-place VM size change
#: of scale-set pools is a preview behind a subscription feature flag (AgentPoolVMSSResize,
#: 2026), not something a stack can assume. The inline system pool is the managed
#: cluster's first agentPoolProfiles entry.
_AKS_POOL_FIXED = (".vmSize", ".osDiskSizeGB", ".availabilityZones", ".vnetSubnetID")
_AKS_POOL_WAY = "AKS refuses this in place: add a pool with it, move the pods, then remove the old pool"
#: Consul's server StatefulSet: Kubernetes refuses any change to a StatefulSet's volume claim
#: templates, so the release's upgrade fails (and, atomic, rolls back).
_CONSUL_SERVER_VOLUMES = (".values.server.storageClass", ".values.server.storage")
_CONSUL_SERVER_WAY = (
    "Kubernetes refuses to change a StatefulSet's volume claims: keep the servers' storage, or replace "
    "the servers one at a time by hand (docs/operations.md, 'Consul server volumes')"
)
#: Keyed by (type, chart): a Helm release's fixed values are its chart's.
REFUSED_IN_PLACE: dict[tuple[str, str | None], tuple[tuple[str, ...], str]] = {
    ("kubernetes:helm.sh/v3:Release", "consul"): (_CONSUL_SERVER_VOLUMES, _CONSUL_SERVER_WAY),
    ("azure-native:containerservice:AgentPool", None): (_AKS_POOL_FIXED, _AKS_POOL_WAY),
    ("azure-native:containerservice:ManagedCluster", None): (
        tuple(f".agentPoolProfiles[0]{p}" for p in _AKS_POOL_FIXED),
        _AKS_POOL_WAY + " (the system pool: no path in meshfleet yet)",
    ),
}
_RELEASE = "kubernetes:helm.sh/v3:Release"

#: Inputs whose change makes the provider replace the resource (a new object, then the old one
#: deleted), by type prefix, first match: what names an object in its cluster. pulumi-kubernetes
#: replaces an object whose name or namespace changes, and Helm cannot rename or move a release.
#: A rename is how meshfleet rotates a peer's token (the new name created first, under the same URN).
REPLACED_ON_CHANGE: tuple[tuple[str, tuple[str, ...]], ...] = (
    (_RELEASE, (".name", ".namespace")),
    ("kubernetes:", (".metadata.name", ".metadata.namespace")),
)
_REPLACED_WAY = "replaced: a new object, and the old one deleted"


def replaced(r: Mapping[str, Any], paths: list[str]) -> list[str]:
    """The changed paths of resource record `r` that make its provider replace it."""
    fixed = next((p for prefix, p in REPLACED_ON_CHANGE if str(r["type"]).startswith(prefix)), ())
    return [p for p in paths if p in fixed]


def refusal(r: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """The inputs a resource's cloud (or, for a Helm release, its chart's objects) cannot change in place,
    and the way through; nothing for most resources."""
    chart = (r.get("inputs") or {}).get("chart") if r["type"] == _RELEASE else None
    return REFUSED_IN_PLACE.get((str(r["type"]), chart), ((), ""))


def refused(r: Mapping[str, Any], paths: list[str]) -> list[str]:
    """The changed paths of resource record `r` that cannot be updated in place."""
    fixed, _ = refusal(r)
    return [p for p in paths if any(p == f or p.startswith((f"{f}[", f"{f}.")) for f in fixed)]


def changed_values(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, before, after) where two input trees differ (`.a.b[0].c`; absent is None); a list whose
    length changes is one path."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return [c for k in sorted(set(old) | set(new)) for c in changed_values(old.get(k), new.get(k), f"{path}.{k}")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and old != new:
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True)) for c in changed_values(a, b, f"{path}[{i}]")]
    return [] if old == new else [(path, old, new)]


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Paths (`.a.b[0].c`) where two input trees differ; a list whose length changes is one path."""
    return [p for p, _, _ in changed_values(old, new, path)]


#: A value longer than this (a rendered manifest, a certificate) is named by its path alone.
_SHOWN_LENGTH = 100
#: At most this many added or removed list entries are shown, then how many more.
_SHOWN_ENTRIES = 8
_SCALARS = (str, int, float, bool, type(None))


def _shown(value: Any, *, flat_maps: bool = False) -> str | None:
    """A scalar (with `flat_maps`, also a map of scalars: a list entry such as GKE's
    `{cidrBlock, displayName}`) as `diff` prints it; None when it is not shown (a secret, a
    structure, too long)."""
    if flat_maps and isinstance(value, Mapping):
        if not all(isinstance(v, _SCALARS) and v != REDACTED for v in value.values()):
            return None
        text = json.dumps(value, sort_keys=True, separators=(", ", ": "))
    elif not isinstance(value, _SCALARS) or value == REDACTED:
        return None
    else:
        text = "absent" if value is None else json.dumps(value)
    return text if len(text) <= _SHOWN_LENGTH else None


def value_change(before: Any, after: Any) -> dict[str, Any] | None:
    """What changed at one path, for a reader: `{"before", "after"}` of a scalar, `{"added", "removed"}`
    entries of a list of scalars or flat maps; None when the values are not shown (secrets, nested
    structures, long text)."""
    if isinstance(before, list) and isinstance(after, list):
        if not all(_shown(v, flat_maps=True) is not None for v in (*before, *after)):
            return None
        added, removed = list(after), []
        for v in before:
            if v in added:
                added.remove(v)
            else:
                removed.append(v)
        return {"added": added, "removed": removed}
    if _shown(before) is None or _shown(after) is None:
        return None
    return {"before": before, "after": after}


def _describe(change: Mapping[str, Any]) -> str:
    if "added" in change:
        entries = [f"+{_shown(v, flat_maps=True)}" for v in change["added"]]
        entries += [f"-{_shown(v, flat_maps=True)}" for v in change["removed"]]
        more = len(entries) - _SHOWN_ENTRIES
        return ", ".join(entries[:_SHOWN_ENTRIES]) + (f", and {more} more" if more > 0 else "")
    return f"{_shown(change['before'])} -> {_shown(change['after'])}"


@dataclass
class PlanDiff:
    """Two plans compared by URN; records are plan.json's, lists sorted by type and name."""

    created: list[Mapping[str, Any]] = field(default_factory=list)
    deleted: list[Mapping[str, Any]] = field(default_factory=list)
    #: (record in the second plan, changed input paths and `(option)`s): the provider is called
    updated: list[tuple[Mapping[str, Any], list[str]]] = field(default_factory=list)
    #: (record in the second plan, changed `(option)`s) with the same inputs: recorded, no cloud call
    rewired: list[tuple[Mapping[str, Any], list[str]]] = field(default_factory=list)
    unchanged: int = 0
    #: URN -> changed input path -> value_change, for the values shown (none from a plan with secrets)
    values: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def protected_deletes(self) -> list[Mapping[str, Any]]:
        return [r for r in self.deleted if r.get("protect")]

    def to_json(self) -> dict[str, Any]:
        def ref(r: Mapping[str, Any]) -> dict[str, Any]:
            return {"urn": r["urn"], "type": r["type"], "name": r["name"]}

        return {
            "created": [ref(r) for r in self.created],
            "deleted": [{**ref(r), "protect": bool(r.get("protect"))} for r in self.deleted],
            "updated": [
                {
                    **ref(r),
                    "changes": paths,
                    "refusedInPlace": refused(r, paths),
                    "replaced": replaced(r, paths),
                    **({"values": self.values[r["urn"]]} if r["urn"] in self.values else {}),
                }
                for r, paths in self.updated
            ],
            "rewired": [{**ref(r), "changes": paths} for r, paths in self.rewired],
            "unchanged": self.unchanged,
        }


def _key(r: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(r["type"]), str(r["name"]), str(r["urn"]))


def alias_urns(r: Mapping[str, Any]) -> list[str]:
    """The URNs a registration's aliases name (plan.json keeps a URN, or a spec's `key=value` fields)."""
    stack_part, project, qualified, name = str(r["urn"]).split("::", 3)
    parents = qualified.rsplit("$", 1)[0] + "$" if "$" in qualified else ""
    urns = []
    for alias in r.get("aliases") or ():
        if alias.startswith("urn:"):
            urns.append(alias)
            continue
        spec = dict(part.split("=", 1) for part in alias.split() if "=" in part)
        prefix = parents
        if "noParent" in alias.split():
            prefix = ""
        elif "parentUrn" in spec:
            parent_type = spec["parentUrn"].split("::", 3)[2]
            prefix = "" if parent_type == "pulumi:pulumi:Stack" else f"{parent_type}$"
        stack = f"urn:pulumi:{spec['stack']}" if "stack" in spec else stack_part
        urns.append(
            f"{stack}::{spec.get('project', project)}::{prefix}{spec.get('type', r['type'])}::{spec.get('name', name)}"
        )
    return urns


def _same(a: Any, b: Any) -> bool:
    """Absent, empty and false are one value: a field one plan.json version lacks is no change."""
    return (a or None) == (b or None)


def diff(before: list[Mapping[str, Any]], after: list[Mapping[str, Any]], *, show_values: bool = False) -> PlanDiff:
    """What `pulumi up` of `after` would do to a stack deployed as `before`, resource by resource.

    With `show_values`, changed scalars and list entries are kept too (`PlanDiff.values`): only for
    plans written without `--show-secrets`, whose secrets are all `[secret]`.
    """
    old = {r["urn"]: r for r in before}
    new = {r["urn"]: r for r in after}
    # A registration whose alias names a resource only the first plan has takes that resource over.
    gone = old.keys() - new.keys()
    moved: dict[str, str] = {}
    for urn in sorted(new.keys() - old.keys()):
        taken = next((a for a in alias_urns(new[urn]) if a in gone and a not in moved.values()), None)
        if taken is not None:
            moved[urn] = taken
    result = PlanDiff(
        created=sorted((new[u] for u in new.keys() - old.keys() - moved.keys()), key=_key),
        deleted=sorted((old[u] for u in gone - set(moved.values())), key=_key),
    )
    pairs = [(u, u) for u in old.keys() & new.keys()] + [(u, was) for u, was in moved.items()]
    for urn, was in sorted(pairs, key=lambda p: _key(new[p[0]])):
        a, b = old[was], new[urn]
        changes = changed_values(a.get("inputs") or {}, b.get("inputs") or {})
        inputs = [path for path, _, _ in changes]
        if show_values:
            shown = {path: c for path, x, y in changes if (c := value_change(x, y)) is not None}
            if shown:
                result.values[urn] = shown
        options = ["(urn)"] if urn != was else []
        options += [f"({o})" for o in _OPTIONS if not _same(a.get(o), b.get(o))]
        if inputs or "(provider)" in options:
            result.updated.append((b, inputs + options))
        elif options:
            result.rewired.append((b, options))
        else:
            result.unchanged += 1
    return result


def render(d: PlanDiff) -> str:
    replacing = sum(1 for r, paths in d.updated if replaced(r, paths))
    of_which = f" ({replacing} by replacement)" if replacing else ""
    lines = [
        f"meshfleet diff: {len(d.created)} to create, {len(d.updated)} to update{of_which}, {len(d.deleted)} to "
        f"delete; {len(d.rewired)} with new dependencies or options only, {d.unchanged} unchanged"
    ]
    lines += [f"+ {r['type']} {r['name']}" for r in d.created]
    for r, paths in d.updated:
        no, anew = refused(r, paths), replaced(r, paths)
        mark = f"  ({refusal(r)[1]}: {', '.join(no)})" if no else ""
        mark += f"  ({_REPLACED_WAY}: {', '.join(anew)})" if anew else ""
        values = d.values.get(r["urn"], {})
        described = [f"{p} ({_describe(values[p])})" if p in values else p for p in paths]
        lines.append(f"~ {r['type']} {r['name']}: {', '.join(described)}{mark}")
    lines += [f"= {r['type']} {r['name']}: {', '.join(paths)}" for r, paths in d.rewired]
    for r in d.deleted:
        mark = "  (protected: `up` refuses to delete it; lift protection on purpose first)" if r.get("protect") else ""
        lines.append(f"- {r['type']} {r['name']}{mark}")
    return "\n".join(lines)


def _redacted(doc: Mapping[str, Any]) -> bool:
    """Whether a written plan holds its secrets as `[secret]`: not marked as written with
    `--show-secrets`, and (a plan older than the mark says nothing) holding at least one `[secret]`:
    every fleet has some (its CA keys, at least)."""
    if doc.get(SECRETS_SHOWN):
        return False
    return any(REDACTED in json.dumps(r.get("inputs")) for r in doc["resources"])


def command(args: argparse.Namespace) -> int:
    try:
        before, after = read_plan_doc(args.before), read_plan_doc(args.after)
    except ValueError as exc:
        print(f"meshfleet: {exc}", file=sys.stderr)
        return 2
    stacks = (before.get("stack"), after.get("stack"))
    if stacks[0] != stacks[1]:
        # Name the project's stack in the fix (`custom` is what a file of another name plans as).
        stack = stacks[1] if stacks[0] == "custom" else stacks[0]
        # Every URN names its stack: two stacks' plans share no resource, and the diff would
        # read as the whole fleet deleted and created again.
        print(
            f"meshfleet: {args.before} plans stack {stacks[0]!r} and {args.after} stack {stacks[1]!r}; diff "
            "compares two plans of one stack\n"
            f"    fix: plan both with --stack {stack}, or plan the edited file as Pulumi.{stack}.yaml "
            "(`--config` plans a file under the stack its name gives)",
            file=sys.stderr,
        )
        return 2
    # Values are printed only where no plan holds secrets in the clear: a pull request's summary
    # and CI logs must not show them.
    redacted = _redacted(before) and _redacted(after)
    result = diff(list(before["resources"]), list(after["resources"]), show_values=redacted)
    print(json.dumps(result.to_json(), indent=2, sort_keys=True) if args.json else render(result))
    return 0


def add_subcommand(sub: Any) -> None:
    parser = sub.add_parser(
        "diff", help="what a change creates, updates and deletes: two `meshfleet plan --out` directories, by URN"
    )
    parser.add_argument("before", type=Path, metavar="BEFORE", help="the plan of what is deployed (or main)")
    parser.add_argument("after", type=Path, metavar="AFTER", help="the plan of the change")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(handler=command)
