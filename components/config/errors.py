"""What is wrong with a stack config, said so a person can fix it.

`Problem` is one finding (field path, what is wrong, the fix); `ConfigError`
carries every problem of a config. pydantic's errors are translated here
into Problems: paths in the user's camelCase keys, the allowed keys or
values, a "did you mean" for misspelt keys, and secret values never echoed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
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
from components.policy.model import RULE_KINDS


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


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """camelCase keys allowed at the object that holds `loc`'s last segment."""
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
            return []
        model = _model_of(field.annotation)
    if isinstance(model, dict) or model is None:
        return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


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


def problem_from_pydantic(err: Any) -> Problem:
    """One pydantic error (an item of `ValidationError.errors()`) as a Problem."""
    loc = tuple(err["loc"])
    path = _path(loc)
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    secret = any(part in _secret_keys() for part in loc if isinstance(part, str))
    got = "[secret]" if secret else err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        return Problem(
            path=path,
            message=f"unknown key {loc[-1]!r}; allowed keys here: {', '.join(allowed)}",
            fix=f"did you mean {close[0]!r}?" if close else "remove it or correct its spelling (keys are camelCase)",
        )
    if kind == "missing":
        return Problem(path=path, message="required but missing", fix=f"set {path}")
    if kind == "literal_error":
        return Problem(
            path=path,
            message=f"{got!r} is not allowed; allowed values: {ctx.get('expected')}",
            fix="use one of the allowed values",
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
        return Problem(
            path=path,
            message=f"{got!r} does not match the required format {ctx.get('pattern')}",
            fix="see the field's description in the README config reference",
        )
    if kind in ("too_short", "too_long"):
        return Problem(
            path=path,
            message=f"has {ctx.get('actual_length')} items; {err['msg'].lower()}",
            fix="add or remove entries" if kind == "too_short" else "remove entries",
        )
    if kind == "value_error":
        message, _, fix = str(ctx.get("error", err["msg"])).partition(FIX_SEPARATOR)
        return Problem(path=path, message=message, fix=fix or "correct the value")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return Problem(
            path=path,
            message=f"{got!r} has the wrong type: {err['msg'].lower()}",
            fix="write the value with the expected type (quote versions, do not quote numbers and booleans)",
        )
    return Problem(path=path, message=f"{err['msg']} (got {got!r})", fix="correct the value")
