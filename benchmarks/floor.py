"""The floor: a plan's registrations replayed with no program logic.

`floor_program(plan_json)` registers the same resources (types, names,
custom or component, parents, providers, dependencies, protect,
retainOnDelete, ignoreChanges, customTimeouts and recorded inputs) from a
`plan.json` written with `--show-secrets`, in an order where every parent,
provider and dependency comes first, as plain values: no validation, no
naming, no Outputs, no applies. Run under the same harness
(`ops.plan.run_program`: the same mock runtime, monitor and simulated
cloud), it is the least time and memory any program that registers that
graph can take there, so program / floor is the harness-independent
overhead of meshfleet's own logic.

Deliberate differences: dependencies are given as `depends_on` (the
program's come partly from Outputs), so `propertyDependencies` are empty;
secrets arrive unmarked (the plan.json carries their values, not their
secretness). Neither changes what is registered or simulated.

`typed_replay_program(plan_json)` registers the same through the SDKs'
typed classes (the classes meshfleet constructs) from the same recorded
values, still with no logic: what those classes cost by themselves, which
the untyped floor never pays and no program that uses them can skip.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import typing
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import pulumi
from pulumi import _types

from ops.plan import Recording, run_program
from ops.sim import DEFAULT_NOW
from ops.sim.pools import AddressPools
from ops.stackconfig import project_stacks

#: The project the plans come from (its stack files decide each stack's address block).
ROOT = Path(__file__).resolve().parent.parent

#: Inputs a component was registered with are not replayed: local components carry none.
_PROJECT_COMPONENT_PREFIX = "meshfleet:"


def _order(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources with every parent, provider and dependency before its dependents."""
    by_urn = {r["urn"]: r for r in resources}
    done: set[str] = set()
    ordered: list[dict[str, Any]] = []
    for start in resources:
        stack: list[tuple[dict[str, Any], bool]] = [(start, False)]
        while stack:
            r, expanded = stack.pop()
            if r["urn"] in done:
                continue
            if expanded:
                done.add(r["urn"])
                ordered.append(r)
                continue
            stack.append((r, True))
            for urn in _needs(r):
                if urn in by_urn and urn not in done:
                    stack.append((by_urn[urn], False))
    return ordered


def _needs(r: dict[str, Any]) -> list[str]:
    provider = r["provider"].rsplit("::", 1)[0] if r["provider"] else ""
    return [u for u in (r["parent"], provider, *r["dependencies"]) if u]


def _options(r: dict[str, Any], made: dict[str, pulumi.Resource]) -> pulumi.ResourceOptions:
    """A recorded registration's options, its parent, provider and dependencies among those `made`."""
    provider = r["provider"].rsplit("::", 1)[0] if r["provider"] else ""
    timeouts = r["customTimeouts"]
    return pulumi.ResourceOptions(
        parent=made.get(r["parent"]),
        provider=made.get(provider),  # type: ignore[arg-type]
        depends_on=[made[u] for u in r["dependencies"] if u in made],
        protect=r["protect"],
        retain_on_delete=r["retainOnDelete"],
        ignore_changes=r["ignoreChanges"] or None,
        custom_timeouts=pulumi.CustomTimeouts(**timeouts) if timeouts else None,
    )


def floor_program(plan_json: dict[str, Any]) -> Callable[[], None]:
    """A program that registers exactly `plan_json`'s resources, and nothing else."""
    resources = _order(plan_json["resources"])

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for r in resources:
            opts = _options(r, made)
            made[r["urn"]] = _untyped(r, opts)

    return program


def run_replay(program: Callable[[], None], plan_json: dict[str, Any], clusters: list[str]) -> Recording:
    """Run a replay of `plan_json` (the floor or the typed replay) under the plan's own harness, drawing
    the plan's addresses (`clusters`: the plan's, in config order)."""
    return run_program(
        program,
        project=plan_json["project"],
        stack=plan_json["stack"],
        now=DEFAULT_NOW,
        pools=floor_pools(plan_json, clusters),
    )


def floor_pools(plan_json: dict[str, Any], clusters: list[str]) -> AddressPools:
    """The simulated address pools the plan drew from: its stack's block among the project's stacks, each
    of `clusters` (the plan's, in config order) from its own sub-block, so the floor draws the plan's
    addresses, in its own registration order (a fleet-wide sub-block holds only 14)."""
    return AddressPools(str(plan_json["stack"]), project_stacks(ROOT), clusters)


# --------------------------------------------------------------------------
# The typed replay: the same registrations through the SDKs' typed classes

#: The SDK package of each provider a plan uses, by a type token's first part.
_SDK_PACKAGES = {
    "aws": "pulumi_aws",
    "azure-native": "pulumi_azure_native",
    "gcp": "pulumi_gcp",
    "kubernetes": "pulumi_kubernetes",
    "tls": "pulumi_tls",
}
#: pulumi_kubernetes's module of each API group in a type token (`kubernetes:<group>/<version>:<Kind>`).
_K8S_MODULES = {
    "core": "core",
    "apps": "apps",
    "policy": "policy",
    "batch": "batch",
    "helm.sh": "helm",
    "yaml": "yaml",
    "rbac.authorization.k8s.io": "rbac",
    "networking.k8s.io": "networking",
    "admissionregistration.k8s.io": "admissionregistration",
    "apiextensions.k8s.io": "apiextensions",
    "scheduling.k8s.io": "scheduling",
    "storage.k8s.io": "storage",
}
#: A Kubernetes kind of no built-in group: a custom resource, registered as the SDK's CustomResource.
_CUSTOM_RESOURCE = "custom resource"


@functools.cache
def _typed_class(type_: str) -> type | str | None:
    """The SDK class that registers `type_` (None: no typed class; registered untyped)."""
    package, module, name = type_.split(":")
    if package == "pulumi" and module == "providers":
        return import_module(_SDK_PACKAGES[name]).Provider if name in _SDK_PACKAGES else None
    if package not in _SDK_PACKAGES:
        return None
    base = _SDK_PACKAGES[package]
    if package == "kubernetes":
        group, _, version = module.partition("/")
        if group not in _K8S_MODULES:
            return _CUSTOM_RESOURCE
        path = f"{base}.{_K8S_MODULES[group]}.{version}"
    else:
        first = module.split("/")[0]
        path = base if first == "index" else f"{base}.{first}"
    return getattr(import_module(path), name, None)


#: `_internal_init` parameters that are not inputs.
_NOT_INPUTS = frozenset({"__self__", "resource_name", "opts", "__props__"})


@functools.cache
def _keywords(cls: type) -> dict[str, str]:
    """A typed class's constructor keywords by the wire name of the input each sets."""
    params = [p for p in inspect.signature(cls._internal_init).parameters if p not in _NOT_INPUTS]  # type: ignore[attr-defined]
    args_cls = getattr(sys.modules[cls.__module__], f"{cls.__name__}Args", None)
    wire: dict[str, str] = {}
    if args_cls is not None and _types.is_input_type(args_cls):
        wire = {pulumi_name: py for py, pulumi_name in _types.input_type_py_to_pulumi_names(args_cls).items()}
    for p in params:
        head, *rest = p.rstrip("_").split("_")
        wire.setdefault(head + "".join(w.title() for w in rest), p)
    return {name: py if py in params else f"{py}_" for name, py in wire.items() if py in params or f"{py}_" in params}


def typed_replay_program(plan_json: dict[str, Any]) -> Callable[[], None]:
    """`plan_json`'s registrations through the SDKs' typed classes (the classes meshfleet constructs),
    from the recorded plain values, with no program logic: what the typed classes cost by themselves.

    Not a floor: the SDK translates each plain nested value through the class's type metadata, which a
    program passing its Args classes partly skips. Reads, dynamic resources and components register
    as in `floor_program`.
    """
    resources = _order(plan_json["resources"])

    def program() -> None:
        import pulumi_kubernetes as k8s

        made: dict[str, pulumi.Resource] = {}
        for r in resources:
            opts = _options(r, made)
            type_, name, inputs = r["type"], r["name"], r["inputs"]
            typed = (
                _typed_class(type_) if not r.get("read") and not type_.startswith(_PROJECT_COMPONENT_PREFIX) else None
            )
            if typed == _CUSTOM_RESOURCE:
                made[r["urn"]] = k8s.apiextensions.CustomResource(
                    name,
                    api_version=inputs["apiVersion"],
                    kind=inputs["kind"],
                    opts=opts,
                    **{k: v for k, v in inputs.items() if k not in ("apiVersion", "kind")},
                )
            elif isinstance(typed, type):
                keywords = _keywords(typed)
                unknown = sorted(k for k in inputs if k not in keywords and k not in ("apiVersion", "kind"))
                if unknown:
                    raise ValueError(f"{type_}: no constructor keyword for recorded input(s) {', '.join(unknown)}")
                if type_.startswith("pulumi:providers:"):
                    text = _text_keywords(typed)
                    inputs = {k: v if keywords.get(k) in text else _provider_value(v) for k, v in inputs.items()}
                made[r["urn"]] = typed(name, opts=opts, **{keywords[k]: v for k, v in inputs.items() if k in keywords})
            else:
                made[r["urn"]] = _untyped(r, opts)

    return program


@functools.cache
def _text_keywords(cls: type) -> frozenset[str]:
    """A provider class's keywords that take text (a region, a kubeconfig)."""
    params = inspect.signature(cls._internal_init).parameters  # type: ignore[attr-defined]
    return frozenset(p for p, v in params.items() if typing.get_args(v.annotation)[:1] == (str,))


def _provider_value(value: Any) -> Any:
    """A provider's non-text input as its typed class takes it: a provider sends those as JSON text
    (`pulumi.runtime.to_json`), which the plan records."""
    return json.loads(value) if isinstance(value, str) else value


def _untyped(r: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """One registration as `floor_program` makes it."""
    type_, name, inputs = r["type"], r["name"], r["inputs"]
    if type_.startswith("pulumi:providers:"):
        return pulumi.ProviderResource(type_.split(":")[2], name, inputs, opts)
    if r["custom"]:
        if r.get("read"):
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=inputs.get("id", name)))
        return pulumi.CustomResource(type_, name, inputs, opts)
    if type_.startswith(_PROJECT_COMPONENT_PREFIX):
        return pulumi.ComponentResource(type_, name, None, opts)
    # A remote component (yaml.v2.ConfigFile): registered with its inputs, as one resource.
    return pulumi.ComponentResource(type_, name, inputs, opts, remote=True)
