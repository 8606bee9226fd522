"""Property tests (bounded): random valid policy sets compile without exceptions and deterministically on
every target; random invalid ones give clean config errors with paths."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, load_fleet
from components.policy import COMPILERS
from components.policy.capabilities import PolicyError, refusals
from components.policy.model import TARGETS, PolicySet, Target
from tests.helpers import existing_fleet, stack_config

labels = st.sampled_from(["shop", "pay", "web", "a1", "x-y"])
identity = st.fixed_dictionaries({"namespace": labels, "serviceAccount": labels})
service = st.fixed_dictionaries({"namespace": labels, "name": labels})
duration = st.sampled_from(["1s", "250ms", "2m"])


@st.composite
def mtls(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"kind": "mtls", "namespaces": draw(st.lists(labels, max_size=2, unique=True))}
    return {
        "kind": "mtls",
        "mode": "permissive",
        "namespaces": draw(st.lists(labels, min_size=1, max_size=2, unique=True)),
        "reason": "onboarding",
    }


allow = st.fixed_dictionaries(
    {"from": st.lists(identity, min_size=1, max_size=2)},
    optional={
        "ports": st.lists(st.integers(1, 65535), min_size=1, max_size=2, unique=True),
        "methods": st.lists(st.sampled_from(["GET", "POST", "DELETE"]), min_size=1, max_size=2, unique=True),
        "paths": st.lists(st.sampled_from(["/", "/api/*", "/healthz"]), min_size=1, max_size=2, unique=True),
    },
)
authorization = st.fixed_dictionaries(
    {"kind": st.just("authorization"), "service": service, "allow": st.lists(allow, min_size=1, max_size=3)},
    optional={"remoteCallers": st.sampled_from(["identity", "gateway"])},
)


@st.composite
def traffic(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {"kind": "traffic", "service": draw(service)}
    if draw(st.booleans()):
        rule["timeout"] = draw(duration)
    if draw(st.booleans()):
        rule["retries"] = {
            "attempts": draw(st.integers(1, 5)),
            "retryOn": [draw(st.sampled_from(["5xx", "gateway-error"]))],
        }
        if draw(st.booleans()):
            rule["retries"]["perTryTimeout"] = draw(duration)
    if draw(st.booleans()) or len(rule) == 2:
        cb: dict[str, Any] = {"consecutiveErrors": draw(st.integers(1, 10))}
        if draw(st.booleans()):
            cb["maxConnections"] = draw(st.integers(1, 1000))
        rule["circuitBreaker"] = cb
        rule["localityFailover"] = draw(st.booleans())
        rule["callers"] = draw(st.lists(identity, max_size=2))
    return rule


rule = st.one_of(
    mtls(),
    st.fixed_dictionaries(
        {"kind": st.just("default-deny"), "namespaces": st.lists(labels, min_size=1, max_size=3, unique=True)}
    ),
    authorization,
    traffic(),
    st.fixed_dictionaries(
        {"kind": st.just("visibility"), "service": service, "scope": st.sampled_from(["global", "local"])}
    ),
)
rule_sets = st.dictionaries(st.sampled_from([f"r{i}" for i in range(10)]), rule, min_size=1, max_size=8)


def _compile(target: str, rules: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    t = Target(target, "east", ("west", "north"))  # type: ignore[arg-type]
    out = COMPILERS[t.mesh](rules, t)
    assert out.rules_of_objects() | out.value_rules == set(rules)
    return yaml.safe_dump(out.objects()), out.values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=rule_sets)
def test_random_valid_sets_compile_deterministically_on_every_target(raw: dict[str, Any]):
    rules = dict(PolicySet.model_validate({"set": "p", "version": 1, "description": "d", "rules": raw}).rules)
    for target in TARGETS:
        t = Target(target, "east", ("west", "north"))
        refused = {r.rule for r in refusals(rules, t)}
        if refused:
            try:
                COMPILERS[t.mesh](rules, t)
            except PolicyError as err:
                assert {r.rule for r in err.refusals} == refused
            else:  # pragma: no cover - the assertion is the point
                raise AssertionError(f"{target} compiled rules it refuses: {refused}")
        kept = {k: v for k, v in rules.items() if k not in refused}
        first = _compile(target, kept)
        again = _compile(target, dict(reversed(list(kept.items()))))
        assert first == again


def _corrupt(raw: dict[str, Any], how: int, name: str) -> dict[str, Any]:
    bad = copy.deepcopy(raw)
    victim = bad[name]
    if how == 0:
        victim["colour"] = "blue"  # unknown key
    elif how == 1:
        victim["kind"] = "rate-limit"  # unknown kind
    elif how == 2:
        victim.pop("service", None) if "service" in victim else victim.update(namespaces=["Not_A_Label"])
    elif how == 3:
        victim["kind"] = 7  # wrong type
    else:
        victim["service"] = {"namespace": "shop", "name": "x" * 70}
    return bad


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=rule_sets, how=st.integers(0, 4), data=st.data())
def test_random_invalid_sets_give_clean_errors_with_paths(raw: dict[str, Any], how: int, data: st.DataObject):
    name = data.draw(st.sampled_from(sorted(raw)))
    fleet = existing_fleet(["east", "west"])
    fleet["policies"] = {"rules": _corrupt(raw, how, name)}
    defaults = stack_config("dev").values["meshfleet:defaults"]
    try:
        load_fleet(defaults, fleet)
    except ConfigError as err:
        assert err.problems
        for p in err.problems:
            assert p.path.startswith("policies.rules."), p.render()
            assert p.message and p.fix
        assert any(p.path.startswith(f"policies.rules.{name}") for p in err.problems)
    else:  # pragma: no cover
        raise AssertionError("a corrupted rule was accepted")
