"""Property tests: any config either validates or fails with clean problems; valid fleets plan."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, load_fleet
from tests.helpers import fleet_of, plan_fleet, stack_config

DEFAULTS = stack_config("local").value("defaults")
BASES = {name: fleet_of(name) for name in ("local", "dev", "prod")}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.text(max_size=12)
    | st.sampled_from(["10.0.0.0/8", "aws", "1.30.3", "latest"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a nested dict/list."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


@st.composite
def mutated_fleets(draw: st.DrawFn) -> dict[str, Any]:
    """A real stack's fleet with a few values replaced, keys dropped or added anywhere."""
    fleet = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 3))):
        candidates = paths(fleet)
        path = draw(st.sampled_from(candidates))
        parent: Any = fleet
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return fleet


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fleets())
def test_any_config_validates_or_fails_cleanly(fleet):
    try:
        spec = load_fleet(DEFAULTS, fleet)
    except ConfigError as err:
        assert err.problems
        for problem in err.problems:
            assert problem.path and problem.message and problem.fix
        assert "Traceback" not in err.render()
    else:
        assert len({c.name for c in spec.clusters}) == len(spec.clusters)


@st.composite
def existing_fleets(draw: st.DrawFn) -> dict[str, Any]:
    """Valid fleets of 1-4 existing clusters with distinct names and disjoint ranges."""
    count = draw(st.integers(1, 4))
    names = draw(
        st.lists(st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True), min_size=count, max_size=count, unique=True)
    )
    mode = draw(st.sampled_from(["sidecar", "ambient"]))
    template = BASES["local"]["clusters"][0]
    clusters = []
    for i, name in enumerate(names):
        c = copy.deepcopy(template)
        c.update(
            name=name,
            context=f"kind-{name}",
            apiEndpoint=f"https://172.18.1.{i + 2}:6443",
            egressCidrs=[f"172.18.1.{i + 2}/32"],
            network={
                "nodeCidr": f"172.18.1.{i + 2}/32",
                "podCidr": f"10.{100 + 2 * i}.0.0/16",
                "serviceCidr": f"10.{101 + 2 * i}.0.0/16",
            },
        )
        clusters.append(c)
    fleet = copy.deepcopy(BASES["local"])
    fleet["clusters"] = clusters
    fleet["mesh"]["mode"] = mode
    return fleet


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing_fleets())
def test_valid_generated_fleets_plan(fleet):
    plan = plan_fleet(fleet)
    providers = plan.by_type("pulumi:providers:kubernetes")
    assert sorted(p.name for p in providers) == sorted(f"{c['name']}-k8s" for c in fleet["clusters"])
    assert set(plan.cluster_of_provider.values()) == {c["name"] for c in fleet["clusters"]}
