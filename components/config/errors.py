"""What is wrong with a stack config, said so a person can fix it.

`Problem` is one finding (field path, what is wrong, the fix); `ConfigError`
carries every problem of a config. pydantic's errors are translated here
into Problems: paths in the user's camelCase keys, the allowed keys or
values, a "did you mean" for misspelt keys, and secret values never echoed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict

from components.config.models import (
    CLOUDS,
    FIX_SEPARATOR,
    SUPPORTED_MESHES,
    AwsCluster,
    AzureCluster,
    ExistingCluster,
    FleetMeta,
    FleetSpec,
    GcpCluster,
    RootCa,
    TrustSpec,
)
from components.policy.model import RULE_KINDS, Duration


class Problem(BaseModel):
    """One thing wrong with a stack config."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str
    fix: str

    def render(self) -> str:
        return f"{self.path}: {self.message}\n    fix: {self.fix}"


class ConfigError(Exception):
    """A stack config that cannot be deployed; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (p.path, p.message))
        super().__init__(self.render())

    @classmethod
    def one(cls, path: str, message: str, fix: str) -> ConfigError:
        """A config error of a single problem (what a check that stops at the first finding raises)."""
        return cls([Problem(path=path, message=message, fix=fix)])

    def render(self) -> str:
        count = len(self.problems)
        head = f"invalid stack config ({count} problem{'s' if count != 1 else ''}):"
        return "\n".join([head, *("  - " + p.render() for p in self.problems)])


# --------------------------------------------------------------------------
# pydantic errors -> Problems


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # Discriminated unions add the tag (`aws`) and dict keys add `[key]`
        # segments to pydantic's location; users never wrote those.
        if i >= 2 and loc[i - 2] == "clusters" and isinstance(loc[i - 1], int) and part in CLOUDS:
            continue
        if i >= 1 and loc[i - 1] == "mesh" and part in SUPPORTED_MESHES:
            continue
        if i >= 2 and loc[i - 2] == "rules" and part in RULE_KINDS:
            continue
        if part.endswith("[key]"):
            continue
        out += f".{part}" if out else part
    return out or "(top level)"


def _parent_model(loc: tuple[int | str, ...]) -> Any:
    """The model (or {tag: model} for the cluster union) that holds `loc`'s last segment."""
    model: Any = FleetSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in CLOUDS and model is None:
            continue
        if isinstance(model, dict):  # a union resolved by its tag, or a map key before the tag
            model = model.get(part, model)
            continue
        fields = {f.alias or n: f for n, f in model.model_fields.items()} if model else {}
        field = fields.get(part)
        if field is None:
            return None
        model = _model_of(field.annotation)
    return model


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """camelCase keys allowed at the object that holds `loc`'s last segment."""
    model = _parent_model(loc)
    if isinstance(model, dict) or model is None:
        return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _field_of(loc: tuple[int | str, ...]) -> Any:
    """The FieldInfo of the field `loc` is (or is an item of); None if unknown."""
    while loc and isinstance(loc[-1], int):
        loc = loc[:-1]
    if not loc:
        return None
    model = _parent_model(loc)
    if isinstance(model, dict) or model is None:
        return None
    return {f.alias or n: f for n, f in model.model_fields.items()}.get(str(loc[-1]))


def _key_of(loc: tuple[int | str, ...]) -> str:
    """The YAML key the value at `loc` is written under (the list's key for a list item)."""
    names = [p for p in loc if isinstance(p, str) and not p.endswith("[key]")]
    return names[-1] if names else "meshfleet:fleet"


def _model_of(annotation: Any) -> Any:
    """The BaseModel (or {tag: model} for the cluster and mesh unions) behind a field annotation."""
    args = getattr(annotation, "__args__", ())
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) > 1:
        tag = "cloud" if "cloud" in models[0].model_fields else "kind"
        return {get_args(m.model_fields[tag].annotation)[0]: m for m in models}
    if models:
        return models[0]
    for arg in args:
        found = _model_of(arg)
        if found is not None:
            return found
    meta = getattr(annotation, "__origin__", None)
    if meta is not None and hasattr(annotation, "__metadata__"):
        return _model_of(meta)
    return None


def _union_tag(union: dict[str, Any]) -> str:
    """The discriminator of a {tag: model} union: `cloud` for clusters, `kind` for the mesh and policy rules."""
    return "cloud" if all("cloud" in m.model_fields for m in union.values()) else "kind"


def _choice(values: tuple[str, ...]) -> str:
    """a, b or c."""
    return f"{', '.join(values[:-1])} or {values[-1]}" if len(values) > 1 else values[0]


def _quoted_choice(values: tuple[str, ...]) -> str:
    """'a', 'b' or 'c', as pydantic words a literal's allowed values."""
    quoted = [repr(v) for v in values]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _secret_keys() -> frozenset[str]:
    """camelCase keys of every encrypted (SecretStr) field: their values are never echoed."""
    models: list[type[BaseModel]] = [
        FleetSpec,
        FleetMeta,
        AwsCluster,
        AzureCluster,
        GcpCluster,
        ExistingCluster,
        TrustSpec,
        RootCa,
    ]
    return frozenset(
        field.alias or name
        for model in models
        for name, field in model.model_fields.items()
        if "SecretStr" in str(field.annotation)
    )


#: Fields with a `pattern`: what a valid value looks like, in words, and an example to copy.
FORMATS: dict[str, tuple[str, str]] = {
    "roleArn": (
        "an IAM role ARN: arn:aws:iam::<12-digit account id>:role/<name>",
        "arn:aws:iam::111111111111:role/meshfleet-deployer",
    ),
    "principalObjectId": (
        "an Entra ID object id: a GUID in lowercase hex (8-4-4-4-12 digits)",
        "00000000-0000-4000-8000-000000000001",
    ),
    "serviceAccount": (
        "a service account email: <6-30 lowercase letters, digits or '-'>@<project>.iam.gserviceaccount.com",
        "meshfleet-deployer@acme-dev-mesh.iam.gserviceaccount.com",
    ),
    "accountId": ("an AWS account id: exactly 12 digits, quoted", '"111111111111"'),
    "subscriptionId": (
        "an Azure subscription id: a GUID in lowercase hex (8-4-4-4-12 digits)",
        "00000000-0000-4000-8000-00000000a2e0",
    ),
    "project": (
        "a Google Cloud project id: 6-30 lowercase letters, digits and '-', starting with a letter, not ending with '-'",
        "acme-dev-mesh",
    ),
    "apiEndpoint": (
        "an https:// URL of the API server: host or address and an optional port, no path",
        "https://172.18.0.2:6443",
    ),
    "repository": (
        "a Helm repository URL starting with https:// or oci://",
        "https://istio-release.storage.googleapis.com/charts",
    ),
    "trustDomain": ("a DNS-style name: lowercase letters, digits, '-' and '.'", "cluster.local"),
    "trustDomainAliases": (
        "a trust domain as trustDomain takes it: a DNS-style name of lowercase letters, digits, '-' and '.', "
        "starting and ending with a letter or digit",
        "[old-mesh.local]",
    ),
    "startTime": ("a time of day in UTC, HH:MM on a 24-hour clock", '"22:00"'),
    "paths": (
        "an exact path (/charge) or a prefix of whole segments ending in /* (/cart/*); a string prefix such as "
        "/api* would match /apix on Istio and Consul but not on Linkerd",
        "[/cart/*]",
    ),
    "address": (
        "an https:// URL of Vault: host or address and an optional port, no path",
        "https://vault.example.com:8200",
    ),
}


def _pattern_of(annotated: Any) -> str:
    """The `pattern` of an Annotated string type (Duration)."""
    return next(m.pattern for info in annotated.__metadata__ for m in info.metadata if getattr(m, "pattern", None))


_DURATION_PATTERN = _pattern_of(Duration)

#: Patterns shared by fields of many names (the policy model's Duration): words and an example, by pattern.
#: A field's own entry (its `json_schema_extra` form/example, else FORMATS by key) comes first.
PATTERN_FORMATS: dict[str, tuple[str, str]] = {
    # ^[1-9][0-9]*(ms|s|m|h)$: a whole number, no zero, no decimals, no space, one of four units.
    _DURATION_PATTERN: (
        "a whole number above 0 and a unit, ms, s, m or h, with nothing between them, like 250ms, 5s or 1m",
        "5s",
    ),
}

#: Units people write in a duration, as the Duration pattern spells them (and their length in ms).
_DURATION_UNITS: dict[str, int] = {
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 1),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1000),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60_000),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3_600_000),
}


def _duration_meant(text: str) -> str | None:
    """`4 seconds` -> 4s, `1.5s` -> 1500ms: the Duration a person meant, if one is clear."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", text)
    if match is None or match.group(2).lower() not in _DURATION_UNITS:
        return None
    size = _DURATION_UNITS[match.group(2).lower()]
    ms = float(match.group(1)) * size
    if ms < 1 or ms != int(ms):
        return None
    # The unit written if the number is whole in it (60 seconds stays 60s), else the next smaller one.
    units = (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
    unit, unit_ms = next((u, n) for u, n in units if n <= size and ms % n == 0)
    return f"{int(ms) // unit_ms}{unit}"


def _extra(field: Any) -> dict[str, Any]:
    """A field's `json_schema_extra` (its own form, example, fix or bound reason), or nothing."""
    extra = field.json_schema_extra if field is not None else None
    return extra if isinstance(extra, dict) else {}


def _form(loc: tuple[int | str, ...], pattern: str | None = None) -> tuple[str, str] | None:
    """What the value at `loc` looks like in words, and an example: the field's own (`json_schema_extra`'s
    `form` and `example`), else FORMATS by key, else PATTERN_FORMATS by the pattern it failed; None if unknown."""
    key = _key_of(loc)
    own = _extra(_field_of(loc))
    shared = FORMATS.get(key) or PATTERN_FORMATS.get(pattern or "")
    words = own.get("form") or (shared[0] if shared else None)
    example = own.get("example") or (shared[1] if shared else None)
    return (str(words), str(example)) if words and example else None


#: What each pydantic type error expected, in words.
_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a map of name: value entries",
    "model_type": "a map of keys",
    "model_attributes_type": "a map of keys",
}


def _yaml_text(value: Any) -> str:
    """A value as it would be written in YAML."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def describe_value(value: Any) -> str:
    """A value and its kind, in a person's words (never a Python type name)."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        # A whole document pasted as text stays readable in one line.
        return f"the text {value if len(value) <= 60 else value[:60] + '...'!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a map"
    return "a value of another kind"


def _type_problem(path: str, loc: tuple[int | str, ...], kind: str, got: Any, secret: bool) -> Problem:
    """A value of the wrong type (or an empty one): say what was written, what is expected, and what to write."""
    key = _key_of(loc)
    item = bool(loc) and isinstance(loc[-1], int)
    expected = _EXPECTED.get(kind, "another kind of value")
    field = _field_of(loc)
    if kind in ("model_type", "model_attributes_type"):
        model = _model_of(field.annotation) if field is not None and not item else _parent_model((*loc, "x"))
        if model is not None and not isinstance(model, dict):
            required = [f.alias or n for n, f in model.model_fields.items() if f.is_required()]
            every = [f.alias or n for n, f in model.model_fields.items()]
            expected = f"a map with the keys {', '.join(required or every)}"
        elif isinstance(model, dict):
            tag = _union_tag(model)
            expected = (
                "a map with cloud, name and the cloud's keys"
                if tag == "cloud"
                else f"a map with {tag} ({_choice(tuple(model))}) and that {tag}'s keys"
            )
    if got is None:
        optional = field is not None and not field.is_required() and not item
        return Problem(
            path=path,
            message=f"is empty; expected {expected}",
            fix=f"give {key} a value, or remove the `{key}:` line to use the default"
            if optional
            else f"give {key} a value ({expected})",
        )
    shown = "a secret value, [secret]," if secret else describe_value(got)
    message = f"is {shown}; expected {expected}"
    text = _yaml_text(got)
    if secret:
        fix = f"store {key} as an encrypted text value: `pulumi config set --secret --path 'fleet.{path}' < file`"
    elif kind == "string_type" and isinstance(got, int | float | bool):
        example = f'{key}: ["{text}"]' if item else f'{key}: "{text}"'
        fix = f"quote it: {example}"
        if isinstance(got, float) and re.fullmatch(r"\d+\.\d", text):
            # 1.30 and 1.3 are the same number: offer both spellings, the user knows which was meant.
            fix = f'quote it as you meant it: {key}: "{text}0" or "{text}" (unquoted, YAML reads both as the number {text})'
        elif isinstance(got, float):
            fix += " (unquoted, YAML reads it as a number and drops trailing zeros)"
        elif isinstance(got, bool):
            fix += f" (unquoted, YAML reads {text} as a boolean)"
    elif (
        kind in ("int_type", "int_parsing", "float_type") and isinstance(got, str) and got.strip().lstrip("-").isdigit()
    ):
        fix = f"write it without quotes: {key}: {got.strip()}"
    elif kind in ("int_type", "int_parsing", "float_type"):
        fix = f"write a number without quotes, e.g. {key}: 3"
    elif kind in ("bool_type", "bool_parsing"):
        fix = f"write {key}: true or {key}: false, without quotes (YAML 1.2 reads yes, no, on and off as text)"
    elif kind == "list_type" and not isinstance(got, dict):
        fix = f"write a list, even of one item: {key}: [{json.dumps(got) if isinstance(got, str) else text}]"
    elif kind == "list_type":
        fix = f"write {key} as a list (one `- item` line per entry)"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        what = f"each entry of {key}" if item else key
        fix = f"write {what} as a map: `key: value` lines indented under it (see stacks/Pulumi.dev.yaml)"
        union = _parent_model((*loc, "x")) if item or field is None else _model_of(field.annotation)
        tag = _union_tag(union) if isinstance(union, dict) else "cloud"
        if tag != "cloud" and isinstance(got, str) and got in union:
            # `mesh: linkerd`: the kind was meant; say where it goes and what comes with it.
            needed = [f.alias or n for n, f in union[got].model_fields.items() if f.is_required() and n != tag]
            fix = (
                f"write {what} as a map: `{tag}: {got}` and {got}'s keys"
                + (f" (required: {', '.join(needed)})" if needed else "")
                + f" indented under `{key}:`"
            )
        elif tag != "cloud":
            fix = f"write {what} as a map: `{tag}:` and that {tag}'s keys indented under it"
    else:
        fix = f"write {key} as {expected}"
    return Problem(path=path, message=message, fix=fix)


def _pattern_problem(path: str, loc: tuple[int | str, ...], got: Any, secret: bool, pattern: str | None) -> Problem:
    key = _key_of(loc)
    shown = "the value" if secret else repr(got)
    if key in FORMATS:
        words, example = _form(loc) or FORMATS[key]  # the field's own words first
        fix = f"write it like {key}: {example}"
        if isinstance(got, str) and got != got.lower() and key in ("principalObjectId", "subscriptionId", "project"):
            fix = f"write it in lowercase: {key}: {got.lower()}"
        return Problem(path=path, message=f"{shown} is not {words}", fix=fix)
    form = _form(loc, pattern)
    if form is not None:
        words, example = form
        meant = _duration_meant(got) if pattern == _DURATION_PATTERN and isinstance(got, str) else None
        return Problem(
            path=path,
            message=f"{shown} does not have the form {key} needs: {words}",
            fix=f"write {key}: {meant}" if meant else f"write it like {key}: {example}",
        )
    # A field with no words for its form: never its description instead (a paragraph, not a form).
    return Problem(
        path=path,
        message=f"{shown} does not have the form {key} needs",
        fix=f"see {key} in the README config reference for its form",
    )


def problems_from_pydantic(errors: list[Any]) -> list[Problem]:
    """Every pydantic error as a Problem, a misspelt required key said once.

    `minsize` for `minSize` is two pydantic errors, an unknown key and a
    missing one: it is one mistake, so the missing key goes and the unknown
    one names it.
    """
    missing = {_path(tuple(e["loc"])) for e in errors if e["type"] == "missing"}
    meant: dict[int, str] = {}  # index of an unknown-key error -> the missing key it stands for
    for i, err in enumerate(errors):
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _allowed_keys(loc), n=1)
            if close and _path((*loc[:-1], close[0])) in missing:
                meant[i] = close[0]
    said = {_path((*tuple(errors[i]["loc"])[:-1], key)) for i, key in meant.items()}
    problems = []
    for i, err in enumerate(errors):
        if err["type"] == "missing" and _path(tuple(err["loc"])) in said:
            continue
        problem = problem_from_pydantic(err)
        if i in meant:
            wrote, key = err["loc"][-1], meant[i]
            problem = Problem(
                path=problem.path,
                message=problem.message,
                fix=f"did you mean {key!r}? rename {wrote!r} to {key!r} ({key} is required)",
            )
        problems.append(problem)
    return problems


def _sibling_problem(path: str, loc: tuple[int | str, ...]) -> Problem | None:
    """An unknown key that another member of its union has (`datacenters` on an Istio mesh): say whose it is.

    None when the key is no other member's either (then it is a typo, said with the allowed keys).
    """
    if len(loc) < 2 or not isinstance(loc[-2], str):
        return None
    union = _parent_model(loc[:-1])
    this = loc[-2]
    if not isinstance(union, dict) or this not in union:
        return None
    key = str(loc[-1])
    owners = tuple(
        t for t, m in union.items() if t != this and key in {f.alias or n for n, f in m.model_fields.items()}
    )
    if not owners:
        return None
    tag = _union_tag(union)
    where = path.rsplit(".", 1)[0] if "." in path else path
    return Problem(
        path=path,
        message=f"{key!r} is a key of {tag}: {_choice(owners)} only; {where} has {tag}: {this}",
        fix=f"remove {key} ({tag} {this} has none), or, to use it, set {where}.{tag}: {_choice(owners)} "
        f"with that {tag}'s keys",
    )


def _literal_fix(loc: tuple[int | str, ...]) -> str:
    """The fix for a value outside a field's allowed ones: the field's own (`json_schema_extra`'s
    `fix`, where the list needs a word of why), and for an optional field that it may be left out."""
    field = _field_of(loc)
    extra = _extra(field)
    if isinstance(extra.get("fix"), str):
        return str(extra["fix"])
    if field is not None and not field.is_required():
        return f"use one of the allowed values, or leave {_key_of(loc)} out"
    return "use one of the allowed values"


def problem_from_pydantic(err: Any) -> Problem:
    """One pydantic error (an item of `ValidationError.errors()`) as a Problem."""
    loc = tuple(err["loc"])
    path = _path(loc)
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    secret = any(part in _secret_keys() for part in loc if isinstance(part, str))
    got = "[secret]" if secret else err.get("input")
    if kind == "extra_forbidden" and (elsewhere := _sibling_problem(path, loc)) is not None:
        return elsewhere
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        return Problem(
            path=path,
            message=f"unknown key {loc[-1]!r}; allowed keys here: {', '.join(allowed)}",
            fix=f"did you mean {close[0]!r}?" if close else "remove it or correct its spelling (keys are camelCase)",
        )
    if kind == "missing":
        form = _form(loc)
        fix = f"set {path}" + (f" to {form[0]}, e.g. {_key_of(loc)}: {form[1]}" if form else "")
        return Problem(path=path, message="required but missing", fix=fix)
    if kind == "literal_error":
        if got is None:
            return Problem(
                path=path,
                message=f"is empty; allowed values: {ctx.get('expected')}",
                fix=f"set {_key_of(loc)} to one of the allowed values",
            )
        return Problem(
            path=path, message=f"{got!r} is not allowed; allowed values: {ctx.get('expected')}", fix=_literal_fix(loc)
        )
    if kind in ("union_tag_invalid", "union_tag_not_found") and path == "mesh":
        return Problem(
            path="mesh.kind",
            message=(f"{ctx.get('tag')!r} is not allowed" if kind == "union_tag_invalid" else "required but missing")
            + f"; allowed values: {_quoted_choice(SUPPORTED_MESHES)}",
            fix="use one of the allowed values for mesh.kind",
        )
    if kind in ("union_tag_invalid", "union_tag_not_found") and len(loc) >= 2 and loc[-2] == "rules":
        return Problem(
            path=path + ".kind",
            message=(
                f"{ctx.get('tag')!r} is not a policy kind" if kind == "union_tag_invalid" else "required but missing"
            )
            + f"; allowed values: {_quoted_choice(RULE_KINDS)}",
            fix="use one of the allowed values (README, 'Policy reference')",
        )
    if kind == "union_tag_invalid":
        return Problem(
            path=path + ".cloud",
            message=f"{ctx.get('tag')!r} is not a supported cloud; allowed values: {', '.join(CLOUDS)}",
            fix="set cloud to aws, azure, gcp or existing (on-prem and kind clusters)",
        )
    if kind == "union_tag_not_found":
        return Problem(
            path=path + ".cloud",
            message=f"required but missing; allowed values: {', '.join(CLOUDS)}",
            fix="say which cloud runs this cluster",
        )
    if kind == "string_pattern_mismatch":
        return _pattern_problem(path, loc, got, secret, ctx.get("pattern"))
    if kind == "too_short" and isinstance(got, str):
        return Problem(path=path, message="is empty text", fix=f"give {_key_of(loc)} a value")
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return Problem(
            path=path,
            message=f"has {ctx.get('actual_length')} items; at least {least} required",
            fix=f"add at least {least} {'entry' if least == 1 else 'entries'}",
        )
    if kind == "too_long":
        most = ctx.get("max_length")
        return Problem(
            path=path,
            message=f"has {ctx.get('actual_length')} items; at most {most} allowed",
            fix=f"remove entries until {most} remain",
        )
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = ctx.get("ge", ctx.get("le", ctx.get("gt", ctx.get("lt"))))
        words = {
            "greater_than_equal": ("is below the minimum", "or more"),
            "less_than_equal": ("is above the maximum", "or less"),
            "greater_than": ("must be greater than", "plus one or more"),
            "less_than": ("must be less than", "minus one or less"),
        }[kind]
        extra = _extra(_field_of(loc)) if kind in ("less_than_equal", "less_than") else {}
        return Problem(
            path=path,
            message=f"{_yaml_text(got)} {words[0]} {bound}"
            + (f": {extra['above_max']}" if "above_max" in extra else ""),
            fix=f"set {_key_of(loc)} to {bound} {words[1]}"
            + (f"; {extra['above_max_fix']}" if "above_max_fix" in extra else ""),
        )
    if kind == "value_error":
        message, _, fix = str(ctx.get("error", err["msg"])).partition(FIX_SEPARATOR)
        return Problem(path=path, message=message, fix=fix or "correct the value")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return _type_problem(path, loc, kind, err.get("input"), secret)
    return Problem(
        path=path, message=f"{err['msg']} (got {'[secret]' if secret else _yaml_text(got)!r})", fix="correct the value"
    )
