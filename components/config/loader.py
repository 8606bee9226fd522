"""Loading a stack config: merge, migrate, parse, validate, in that order.

Nothing is created before all of that passed: `load_fleet` either returns a
frozen, validated FleetSpec or raises a ConfigError listing every problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from components.config.errors import ConfigError, Problem, describe_value, problems_from_pydantic
from components.config.migrations import CURRENT_SCHEMA_VERSION, merge_layers, migrate
from components.config.models import FleetSpec, store_kubeconfig_command
from components.config.rules import validate
from components.config.rules.mesh import reject_foreign_mesh_fields, reject_retired_mesh
from components.policy.model import PolicySet
from components.policy.sets import SetNotFound, read_set, set_path

#: The project's config keys (`meshfleet:fleet` in a stack file, `meshfleet:defaults` in Pulumi.yaml).
FLEET_KEY = "fleet"
DEFAULTS_KEY = "defaults"


def load_fleet(
    defaults: Mapping[str, Any] | None,
    stack: Mapping[str, Any] | None,
    *,
    other_keys: Iterable[str] = (),
    fleet_is_secret: bool | None = None,
) -> FleetSpec:
    """Merge the stack's `meshfleet:fleet` over the project defaults, migrate, validate.

    `other_keys` are the stack's other config keys (fully qualified): when the fleet is
    missing, a misspelt one is named in the fix. `fleet_is_secret` says whether the
    engine holds `meshfleet:fleet` as a secret (it does once any value in it is
    encrypted); False refuses inline kubeconfigs, None (no engine) does not judge.
    """
    if stack is None:
        raise ConfigError([_missing_fleet(other_keys)])
    if stray := list(_stray_keys(other_keys)):
        raise ConfigError(stray)
    for key, value in (("meshfleet:defaults", defaults), ("meshfleet:fleet", stack)):
        if value is not None and not isinstance(value, Mapping):
            raise ConfigError([_not_a_map(key, value)])
    if fleet_is_secret is False and (plain := list(_plain_kubeconfigs(stack))):
        raise ConfigError(plain)
    reject_retired_mesh(stack)
    return parse(merge_layers(defaults or {}, stack))


def _plain_kubeconfigs(stack: Mapping[str, Any]) -> Iterable[Problem]:
    """An inline kubeconfig holds credentials: in a stack file it must be encrypted.

    The engine marks `meshfleet:fleet` secret once any value in it is
    encrypted (`pulumi config set --secret --path`); a fleet it does not
    mark secret holds every kubeconfig in plain text, committed with the
    stack file and shown by `pulumi config`.
    """
    clusters = stack.get("clusters")
    for i, cluster in enumerate(clusters if isinstance(clusters, list) else []):
        if isinstance(cluster, Mapping) and cluster.get("kubeconfig"):
            yield Problem(
                path=f"clusters[{i}].kubeconfig",
                message="is plain text in the stack config: a kubeconfig holds the cluster's credentials",
                fix=f"encrypt it: {store_kubeconfig_command(i)}; or use `context` on a workstation",
            )


def _stray_keys(keys: Iterable[str]) -> Iterable[Problem]:
    """Keys in the project's namespace that meshfleet never reads (`pulumi config set protect true` writes
    `meshfleet:protect`): the setting would look made and change nothing, so it is refused."""
    ours = {f"meshfleet:{FLEET_KEY}", f"meshfleet:{DEFAULTS_KEY}"}
    for key in sorted(set(keys)):
        if not key.startswith("meshfleet:") or key in ours:
            continue
        name = key.split(":", 1)[1]
        where = _fleet_path_of(name)
        yield Problem(
            path=key,
            message="is not a key meshfleet reads: every setting of a stack lives in meshfleet:fleet",
            fix=f"move it there: `pulumi config rm {key}`, then "
            f"`pulumi config set --path 'meshfleet:fleet.{where}' <value>`"
            if where
            else f"remove it (`pulumi config rm {key}`) and set what you meant inside meshfleet:fleet "
            "(see the README's config reference)",
        )


def _fleet_path_of(name: str) -> str | None:
    """Where `name` sits in meshfleet:fleet: a top-level key (`mesh`) or a key of `fleet` (`protect`)."""
    top = {f.alias or n for n, f in FleetSpec.model_fields.items()}
    if name in top:
        return name
    meta = FleetSpec.model_fields[FLEET_KEY].annotation
    fields = getattr(meta, "model_fields", {})
    return f"{FLEET_KEY}.{name}" if name in {f.alias or n for n, f in fields.items()} else None


def _missing_fleet(other_keys: Iterable[str]) -> Problem:
    wanted = f"meshfleet:{FLEET_KEY}"
    # The project's own defaults (Pulumi.yaml) are among the keys a stack sees; never the misspelling.
    ours = {wanted, f"meshfleet:{DEFAULTS_KEY}"}
    keys = sorted({k for k in other_keys if k not in ours and not k.startswith("pulumi:")})
    close = difflib.get_close_matches(wanted, keys, n=1, cutoff=0.6)
    if not close:
        # `fleets`, `meshfleet:flet`: compare the names without the namespace too.
        by_name = {k.split(":")[-1]: k for k in keys}
        names = difflib.get_close_matches(FLEET_KEY, list(by_name), n=1, cutoff=0.6)
        close = [by_name[names[0]]] if names else []
    if close:
        return Problem(
            path=wanted,
            message=f"the stack has no meshfleet:fleet config; it has {close[0]!r}",
            fix=f"did you mean {wanted!r}? rename {close[0]!r} to {wanted!r} in the stack file's `config:`",
        )
    return Problem(
        path=wanted,
        message="the stack has no meshfleet:fleet config" + (f" (its config keys: {', '.join(keys)})" if keys else ""),
        fix="add it to stacks/Pulumi.<stack>.yaml under `config:` (see stacks/Pulumi.dev.yaml)",
    )


def _not_a_map(key: str, value: Any) -> Problem:
    return Problem(
        path=key,
        message=f"is {describe_value(value)}, not a map",
        fix=f"write {key} as a map: `{key}:` followed by indented keys (schemaVersion, fleet, clusters, ...; "
        "see stacks/Pulumi.dev.yaml)",
    )


def parse(raw: Mapping[str, Any]) -> FleetSpec:
    """Parse and fully validate a merged raw config; raise ConfigError listing every problem."""
    if not isinstance(raw, Mapping):
        raise ConfigError([_not_a_map("meshfleet:fleet", raw)])
    reject_retired_mesh(raw)
    version = raw.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool):
        # Said here in a person's words ("is missing", "is the text '1'"); migrate() checks it again.
        said = "is missing" if version is None else f"is {describe_value(version)}"
        allowed = "1" if CURRENT_SCHEMA_VERSION == 1 else f"1 to {CURRENT_SCHEMA_VERSION}"
        # A quoted number keeps its value: only the quotes go.
        meant = int(version) if isinstance(version, str) and version.strip().isdigit() else CURRENT_SCHEMA_VERSION
        raise ConfigError.one(
            path="schemaVersion",
            message=f"{said}; expected a whole number ({allowed})",
            fix=f"add `schemaVersion: {meant}` (a number, unquoted) to meshfleet:fleet "
            "(or to the defaults in Pulumi.yaml)",
        )
    data = migrate(dict(raw))
    reject_foreign_mesh_fields(data)
    data = expand_policy_sets(data)
    try:
        spec = FleetSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from_pydantic(exc.errors())) from None
    problems = list(validate(spec))
    if problems:
        raise ConfigError(problems)
    return spec


def expand_policy_sets(data: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    """`policies.rules` = the pinned sets' rules, then the config's own rules (which replace them by name).

    Each pinned set file is validated on its own first, so a problem in it is
    reported against the file. Two sets defining one rule name is an error
    (neither silently wins); the config's rules deliberately override.
    """
    policies = data.get("policies")
    if not isinstance(policies, Mapping) or not isinstance(policies.get("sets"), Mapping):
        return data
    kwargs = {"root": root} if root is not None else {}
    problems: list[Problem] = []
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, version in sorted(policies["sets"].items()):
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            continue  # the model reports it, with the field's rules
        where = f"policies.sets.{name}"
        try:
            raw = read_set(str(name), version, **kwargs)
        except SetNotFound as exc:
            problems.append(Problem(path=where, message=exc.message, fix=exc.fix))
            continue
        rel = set_path(str(name), version).relative_to(set_path(str(name), version).parents[3])
        try:
            parsed = PolicySet.model_validate(raw)
        except ValidationError as exc:
            for p in problems_from_pydantic(exc.errors()):
                problems.append(Problem(path=f"{where} ({rel}): {p.path}", message=p.message, fix=p.fix))
            continue
        if (parsed.set, parsed.version) != (name, version):
            problems.append(
                Problem(
                    path=f"{where} ({rel})",
                    message=f"the file says set {parsed.set!r} version {parsed.version}",
                    fix=f"set `set: {name}` and `version: {version}` in the file (one version per file)",
                )
            )
        for rule in raw["rules"]:
            if rule in origin:
                problems.append(
                    Problem(
                        path=where,
                        message=f"rule {rule!r} is defined by set {origin[rule]!r} too",
                        fix="rename the rule in one set, or pin only one of them",
                    )
                )
            origin[rule] = str(name)
            merged[rule] = raw["rules"][rule]
    if problems:
        raise ConfigError(problems)
    own = policies.get("rules")
    if own is not None and not isinstance(own, Mapping):
        # Rules written as a list or a text: left as written for the model to refuse with
        # its path and form. Merging only the sets' rules would silently drop them.
        return data
    return {**data, "policies": {**policies, "rules": {**merged, **(own or {})}}}
