"""Policy compile and plan cost for 10, 100 and 1,000 rules on a 3-cluster fleet.

`python -m benchmarks.policy` prints a Markdown table; `make bench` puts it
into RESULTS.md's "Policy compile" section. Times are best of three (the
1,000-rule plan once), and every figure is also shown as a ratio to the
fleet with only the project's baseline set, measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from components.config import load_fleet
from components.policy import compile_cluster
from tests.helpers import existing_fleet, plan_fleet, stack_config

COUNTS = (10, 100, 1000)


def policy_rules(count: int) -> dict[str, Any]:
    """`count` distinct rules cycling through every kind (Istio sidecar expresses them all)."""
    rules: dict[str, Any] = {}
    for i in range(count):
        ns, svc = f"ns-{i % 20}", {"namespace": f"ns-{i % 20}", "name": f"svc-{i}"}
        caller = {"namespace": ns, "serviceAccount": f"caller-{i % 7}"}
        kind = i % 5
        if kind == 0:
            rule: dict[str, Any] = {"kind": "mtls", "namespaces": [ns]}
        elif kind == 1:
            rule = {"kind": "default-deny", "namespaces": [ns]}
        elif kind == 2:
            rule = {
                "kind": "authorization",
                "service": svc,
                "allow": [{"from": [caller], "ports": [8080], "methods": ["GET"], "paths": ["/api/*"]}],
            }
        elif kind == 3:
            rule = {
                "kind": "traffic",
                "service": svc,
                "timeout": "2s",
                "retries": {"attempts": 2},
                "circuitBreaker": {"consecutiveErrors": 5, "maxConnections": 100},
                "localityFailover": True,
            }
        else:
            rule = {"kind": "visibility", "service": svc, "scope": "global" if i % 2 else "local"}
        rules[f"rule-{i}"] = rule
    return rules


def _best(fn: Callable[[], object], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure() -> list[dict[str, Any]]:
    defaults = stack_config("local").value("defaults")
    base = existing_fleet([f"c{i}" for i in range(3)])
    rows = [
        {
            "rules": "baseline set",
            "objects": None,
            "validate": 0.0,
            "compile": 0.0,
            "plan": _best(lambda: plan_fleet(base)),
        }
    ]
    for count in COUNTS:
        fleet = {**base, "policies": {"rules": policy_rules(count)}}
        spec = load_fleet(defaults, fleet)
        rows.append(
            {
                "rules": count,
                "objects": sum(len(compile_cluster(spec, c.name).objects()) for c in spec.clusters),
                "validate": _best(lambda fleet=fleet: load_fleet(defaults, fleet)),  # type: ignore[misc]
                "compile": _best(lambda spec=spec: [compile_cluster(spec, c.name) for c in spec.clusters]),  # type: ignore[misc]
                "plan": _best(lambda fleet=fleet: plan_fleet(fleet), rounds=1 if count >= 1000 else 3),  # type: ignore[misc]
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    floor = rows[0]["plan"]
    lines = [
        "| rules | policy objects | validate | compile (3 clusters) | plan | plan / baseline-set plan |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        objects = "-" if r["objects"] is None else str(r["objects"])
        lines.append(
            f"| {r['rules']} | {objects} | {r['validate']:.3f} s | {r['compile']:.3f} s | {r['plan']:.2f} s "
            f"| {r['plan'] / floor:.1f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
