"""Policies in the stack config: sets, overrides, validation with paths, refusals per mesh."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_fleet
from components.config.loader import expand_policy_sets
from components.policy import COMPILERS, compile_cluster
from components.policy.capabilities import MATRIX, TARGET_LABELS, No, PolicyError
from components.policy.model import PolicySet, Target
from tests.helpers import existing_fleet, fleet_of, stack_config


def defaults() -> dict[str, Any]:
    return copy.deepcopy(stack_config("dev").values["meshfleet:defaults"])


def problems(fleet: dict[str, Any]) -> list[Any]:
    with pytest.raises(ConfigError) as err:
        load_fleet(defaults(), fleet)
    return err.value.problems


def with_rules(rules: dict[str, Any], mesh: dict[str, Any] | None = None) -> dict[str, Any]:
    fleet = existing_fleet(["east", "west"])
    fleet["policies"] = {"rules": rules}
    if mesh is not None:
        fleet["mesh"] = mesh
    return fleet


LINKERD = {"kind": "linkerd", "meshId": "m", "version": "2026.6.3", "repository": "https://helm.linkerd.io/edge"}
CONSUL = {"kind": "consul", "meshId": "m", "version": "1.9.2", "repository": "https://helm.releases.hashicorp.com"}
SVC = {"namespace": "shop", "name": "cart"}


def _from(*accounts: tuple[str, str]) -> list[dict[str, str]]:
    return [{"namespace": ns, "serviceAccount": sa} for ns, sa in accounts]


#: One minimal rule per refused (target, feature) cell of the matrix.
UNSUPPORTED: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "linkerd",
        "authorization.all-ports",
        LINKERD,
        {
            "kind": "authorization",
            "service": SVC,
            "remoteCallers": "gateway",
            "allow": [{"from": _from(("shop", "a"))}],
        },
    ),
    (
        "linkerd",
        "authorization.l4-with-l7-port",
        LINKERD,
        {
            "kind": "authorization",
            "service": SVC,
            "remoteCallers": "gateway",
            "allow": [
                {"from": _from(("shop", "a")), "ports": [80], "paths": ["/x"]},
                {"from": _from(("shop", "b")), "ports": [80]},
            ],
        },
    ),
    (
        "linkerd",
        "authorization.remote-identity",
        LINKERD,
        {"kind": "authorization", "service": SVC, "allow": [{"from": _from(("shop", "a")), "ports": [80]}]},
    ),
    (
        "linkerd",
        "traffic.connection-limits",
        LINKERD,
        {"kind": "traffic", "service": SVC, "circuitBreaker": {"maxConnections": 10}},
    ),
    (
        "linkerd",
        "traffic.locality-failover",
        LINKERD,
        {"kind": "traffic", "service": SVC, "circuitBreaker": {"consecutiveErrors": 5}, "localityFailover": True},
    ),
    ("consul", "mtls.namespace-strict", CONSUL, {"kind": "mtls", "namespaces": ["shop"]}),
    (
        "consul",
        "mtls.permissive",
        CONSUL,
        {"kind": "mtls", "mode": "permissive", "namespaces": ["shop"], "reason": "r"},
    ),
    ("consul", "default-deny", CONSUL, {"kind": "default-deny", "namespaces": ["shop"]}),
    (
        "consul",
        "authorization.ports",
        CONSUL,
        {"kind": "authorization", "service": SVC, "allow": [{"from": _from(("shop", "a")), "ports": [80]}]},
    ),
    (
        "consul",
        "authorization.shared-account",
        CONSUL,
        {"kind": "authorization", "service": SVC, "allow": [{"from": _from(("shop", "a"), ("web", "a"))}]},
    ),
    (
        "consul",
        "traffic.per-try-timeout",
        CONSUL,
        {"kind": "traffic", "service": SVC, "retries": {"attempts": 2, "perTryTimeout": "1s"}},
    ),
    (
        "consul",
        "traffic.circuit-breaker-callers",
        CONSUL,
        {"kind": "traffic", "service": SVC, "circuitBreaker": {"consecutiveErrors": 3}},
    ),
]


def test_every_refused_cell_has_a_test():
    refused = {(t, f) for f, (_, cells) in MATRIX.items() for t, c in cells.items() if isinstance(c, No)}
    assert refused == {(t, f) for t, f, _, _ in UNSUPPORTED}


@pytest.mark.parametrize(
    ("target", "feature", "mesh", "rule"), UNSUPPORTED, ids=[f"{t}-{f}" for t, f, _, _ in UNSUPPORTED]
)
def test_unsupported_combination_is_a_config_error(target, feature, mesh, rule):
    found = [p for p in problems(with_rules({"the-rule": rule}, mesh)) if p.path == "policies.rules.the-rule"]
    cell = MATRIX[feature][1][target]
    assert isinstance(cell, No)
    assert len(found) == 1
    (problem,) = found
    # Names the rule, the mesh, the reason and the alternative.
    assert problem.message == (
        f"rule 'the-rule': {MATRIX[feature][0]} cannot be applied on {TARGET_LABELS[target]}: {cell.reason}"
    )
    assert problem.fix == cell.alternative
    # The compiler, called directly, refuses it too (never a silent drop).
    parsed = PolicySet.model_validate({"set": "t", "version": 1, "description": "d", "rules": {"the-rule": rule}})
    with pytest.raises(PolicyError, match="the-rule"):
        COMPILERS[target](dict(parsed.rules), Target(target, "east", ("west",)))  # type: ignore[arg-type]


def test_a_single_linkerd_cluster_has_no_remote_callers_to_refuse():
    fleet = with_rules(
        {"r": {"kind": "authorization", "service": SVC, "allow": [{"from": _from(("shop", "a")), "ports": [80]}]}},
        LINKERD,
    )
    fleet["clusters"] = fleet["clusters"][:1]
    spec = load_fleet(defaults(), fleet)  # no ConfigError: nothing to refuse without peers
    assert sorted(spec.policies.rules) == ["mesh-mtls", "r"]


# --------------------------------------------------------------------------
# Validation: paths, allowed values, fixes


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        (
            {"kind": "mtls", "mode": "permissive", "namespaces": ["a"]},
            "policies.rules.r",
            "mode permissive needs a reason",
        ),
        ({"kind": "mtls", "mode": "permissive", "reason": "x"}, "policies.rules.r", "a mesh-wide permissive rule"),
        ({"kind": "rate-limit"}, "policies.rules.r.kind", "'rate-limit' is not a policy kind; allowed values: 'mtls'"),
        (
            {"kind": "authorization", "service": SVC, "allow": [{"form": _from(("a", "b"))}]},
            "policies.rules.r.allow[0].form",
            "unknown key 'form'; allowed keys here: from, methods, paths, ports",
        ),
        (
            {"kind": "authorization", "service": SVC, "allow": [{"from": _from(("a", "B_2"))}]},
            "policies.rules.r.allow[0].from[0].serviceAccount",
            "'B_2' is not a DNS label",
        ),
        (
            {"kind": "traffic", "service": SVC, "localityFailover": True},
            "policies.rules.r",
            "localityFailover needs outlier detection",
        ),
        (
            {"kind": "traffic", "service": SVC, "timeout": "2 seconds"},
            "policies.rules.r.timeout",
            "does not have the form timeout needs",
        ),
        (
            # A string prefix: Istio and Consul would match /apix, Linkerd (segment prefixes) would not.
            {"kind": "authorization", "service": SVC, "allow": [{"from": _from(("a", "b")), "paths": ["/api*"]}]},
            "policies.rules.r.allow[0].paths[0]",
            "'/api*' is not an exact path (/charge) or a prefix of whole segments ending in /* (/cart/*)",
        ),
        ({"kind": "traffic", "service": SVC}, "policies.rules.r", "sets nothing"),
        ({"kind": "visibility", "service": SVC, "scope": "everywhere"}, "policies.rules.r.scope", "is not allowed"),
    ],
)
def test_bad_rules_are_reported_with_their_path(rule, path, message):
    found = {p.path: p for p in problems(with_rules({"r": rule}))}
    assert message in found[path].message
    assert found[path].fix


def test_unknown_key_suggests_the_right_one():
    found = problems(with_rules({"r": {"kind": "authorization", "service": SVC, "allow": [{"form": []}]}}))
    # One mistake, one problem: the required `from` is not reported missing beside it.
    assert [(p.path, p.fix) for p in found] == [
        ("policies.rules.r.allow[0].form", "did you mean 'from'? rename 'form' to 'from' (from is required)")
    ]


def test_two_traffic_rules_for_one_service_are_refused():
    t = {"kind": "traffic", "service": SVC, "timeout": "1s"}
    found = problems(with_rules({"a": t, "b": t}))
    assert [(p.path, p.message) for p in found] == [
        ("policies.rules.b", "service shop/cart already has traffic rule 'a'")
    ]


def test_one_namespace_strict_and_permissive_is_refused():
    found = problems(
        with_rules(
            {
                "a": {"kind": "mtls", "namespaces": ["shop"]},
                "b": {"kind": "mtls", "mode": "permissive", "namespaces": ["shop"], "reason": "r"},
            }
        )
    )
    assert [p.path for p in found] == ["policies.rules.b"]


# --------------------------------------------------------------------------
# Sets: pinned versions, overrides by name


def test_defaults_pin_the_baseline_set():
    spec = load_fleet(defaults(), fleet_of("local"))
    assert spec.policies.sets == {"baseline": 1}
    assert sorted(spec.policies.rules) == ["mesh-mtls"]


def test_dev_applies_the_storefront_set_over_the_baseline():
    spec = load_fleet(defaults(), fleet_of("dev"))
    assert spec.policies.sets == {"baseline": 1, "storefront": 1}
    assert len(spec.policies.rules) == 15
    assert {r.kind for r in spec.policies.rules.values()} == {
        "mtls",
        "default-deny",
        "authorization",
        "traffic",
        "visibility",
    }


def test_a_stack_overriding_one_shared_rule_and_adding_one_keeps_every_other_shared_rule():
    shared = load_fleet(defaults(), fleet_of("dev")).policies.rules
    fleet = fleet_of("dev")
    fleet["policies"]["rules"] = {
        "cart-traffic": {"kind": "traffic", "service": SVC, "timeout": "4s"},
        "search-global": {"kind": "visibility", "service": {"namespace": "shop", "name": "search"}, "scope": "global"},
    }
    rules = load_fleet(defaults(), fleet).policies.rules
    assert sorted(rules) == sorted([*shared, "search-global"])
    assert {k: v for k, v in rules.items() if k not in ("cart-traffic", "search-global")} == {
        k: v for k, v in shared.items() if k != "cart-traffic"
    }
    assert rules["cart-traffic"].timeout == "4s" and rules["cart-traffic"].retries is None


def _objects(fleet: dict[str, Any]) -> dict[str, str]:
    spec = load_fleet(defaults(), fleet)
    return {
        f"{b['kind']}/{b['metadata'].get('namespace', '')}/{b['metadata']['name']}": yaml.safe_dump(b)
        for b in compile_cluster(spec, spec.clusters[0].name).objects()
    }


def test_pinning_another_version_changes_only_what_that_version_changed():
    v1 = _objects(fleet_of("dev"))
    fleet = fleet_of("dev")
    fleet["policies"]["sets"]["storefront"] = 2
    v2 = _objects(fleet)
    assert sorted(v1) == sorted(v2)
    assert [k for k in v1 if v1[k] != v2[k]] == ["VirtualService/shop/cart-traffic"]
    assert "timeout: 3s" in v2["VirtualService/shop/cart-traffic"]


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ({"nosuch": 1}, "no policy set 'nosuch'; sets: baseline, storefront, storefront-consul, storefront-linkerd"),
        ({"storefront": 9}, "set 'storefront' has no version 9; versions: 1, 2"),
    ],
)
def test_unknown_sets_and_versions(sets, message):
    fleet = fleet_of("local")
    fleet["policies"] = {"sets": sets}
    found = problems(fleet)
    assert [(p.path, p.message) for p in found] == [(f"policies.sets.{next(iter(sets))}", message)]


@pytest.mark.parametrize(
    ("rules", "written"),
    [([{"kind": "default-deny", "namespaces": ["ops"]}], "a list"), ("cart-traffic", "the text 'cart-traffic'")],
)
def test_stack_rules_not_written_as_a_map_are_refused_not_dropped(rules, written):
    """Beside pinned sets (every stack pins baseline), rules written as a list or a text were dropped
    while the sets' rules planned: a rule the user wrote never applied, and the plan exited 0."""
    fleet = fleet_of("dev")
    fleet["policies"] = {"sets": {"baseline": 1}, "rules": rules}
    assert [(p.path, p.message) for p in problems(fleet)] == [
        ("policies.rules", f"is {written}; expected a map of name: value entries")
    ]


def test_version_zero_is_a_field_error():
    fleet = fleet_of("local")
    fleet["policies"] = {"sets": {"baseline": 0}}
    assert [p.path for p in problems(fleet)] == ["policies.sets.baseline"]


def _write_set(root: Path, name: str, version: int, body: dict[str, Any]) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / f"v{version}.yaml").write_text(yaml.safe_dump(body))


def test_set_file_problems_name_the_file(tmp_path: Path):
    _write_set(tmp_path, "a", 1, {"set": "a", "version": 2, "description": "d", "rules": {"x": {"kind": "mtls"}}})
    _write_set(
        tmp_path, "b", 1, {"set": "b", "version": 1, "description": "d", "rules": {"y": {"kind": "mtls", "mode": "x"}}}
    )
    with pytest.raises(ConfigError) as err:
        expand_policy_sets({"policies": {"sets": {"a": 1, "b": 1}}}, root=tmp_path)
    assert [(p.path, p.message) for p in err.value.problems] == [
        ("policies.sets.a (policies/mesh/a/v1.yaml)", "the file says set 'a' version 2"),
        (
            "policies.sets.b (policies/mesh/b/v1.yaml): rules.y.mode",
            "'x' is not allowed; allowed values: 'strict' or 'permissive'",
        ),
    ]


def test_two_sets_defining_one_rule_is_an_error(tmp_path: Path):
    for name in ("a", "b"):
        _write_set(tmp_path, name, 1, {"set": name, "version": 1, "description": "d", "rules": {"x": {"kind": "mtls"}}})
    with pytest.raises(ConfigError) as err:
        expand_policy_sets({"policies": {"sets": {"a": 1, "b": 1}}}, root=tmp_path)
    assert [(p.path, p.message) for p in err.value.problems] == [
        ("policies.sets.b", "rule 'x' is defined by set 'a' too")
    ]


def test_stack_rules_replace_set_rules_whole(tmp_path: Path):
    _write_set(
        tmp_path,
        "a",
        1,
        {"set": "a", "version": 1, "description": "d", "rules": {"x": {"kind": "mtls"}, "y": {"kind": "mtls"}}},
    )
    out = expand_policy_sets(
        {"policies": {"sets": {"a": 1}, "rules": {"x": {"kind": "default-deny", "namespaces": ["n"]}}}}, root=tmp_path
    )
    assert out["policies"]["rules"] == {"x": {"kind": "default-deny", "namespaces": ["n"]}, "y": {"kind": "mtls"}}


def test_overriding_strict_mesh_wide_mtls_away_is_refused():
    fleet = fleet_of("local")
    fleet["policies"] = {
        "rules": {"mesh-mtls": {"kind": "mtls", "mode": "permissive", "namespaces": ["a"], "reason": "r"}}
    }
    assert [(p.path, p.message) for p in problems(fleet)] == [
        ("policies.rules", "no rule makes mTLS strict mesh-wide, so every cluster would accept plaintext")
    ]
