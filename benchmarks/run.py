"""Plan and validation speed, reported as ratios measured side by side.

    make bench            # or: .venv/bin/python -m benchmarks.run

Fleets of N existing clusters (no cloud components, so what grows is the
mesh's pairwise wiring, N*(N-1) credential pairs) are validated and planned
in the same process, interleaved, best of several rounds; figures are ratios
to the 2-cluster fleet so they compare across machines.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from components.config import load_fleet
from components.policy import compile_cluster
from tests.helpers import existing_fleet, plan_fleet, stack_config

SIZES = (2, 4, 8)
ROUNDS = 3


def fleet_with(n: int) -> dict[str, Any]:
    return existing_fleet([f"c{i}" for i in range(n)])


def best(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


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


def deep_stack(fn: Callable[[], object]) -> object:
    """Run `fn` on a thread with a large stack and recursion limit.

    The offline plan runs each mock registration inline, and pulumi's mock
    monitor re-enters the event loop for every one (`_sync_await`), so the
    Python stack grows with the number of registrations in flight: thousands
    of policy objects at once exceed the default limit. `pulumi up` talks to
    the engine over gRPC and has no such nesting.
    """
    result: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised on the caller's thread
            errors.append(exc)

    old_limit, old_size = sys.getrecursionlimit(), threading.stack_size(1 << 30)
    sys.setrecursionlimit(200_000)
    try:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    finally:
        sys.setrecursionlimit(old_limit)
        threading.stack_size(old_size)
    if errors:
        raise errors[0]
    return result[0]


def policy_scale(defaults: dict[str, Any], count: int = 1000) -> None:
    """A `count`-rule set on a 3-cluster fleet: validation, compilation and plan, in seconds."""
    base = fleet_with(3)
    big = {**base, "policies": {"rules": policy_rules(count)}}
    validate = best(lambda: load_fleet(defaults, big))
    spec = load_fleet(defaults, big)
    compile_all = best(lambda: [compile_cluster(spec, c.name) for c in spec.clusters])
    plan_base = best(lambda: plan_fleet(base))
    # Once, not best of three: this plan is the slow one.
    start = time.perf_counter()
    deep_stack(lambda: plan_fleet(big))
    plan_big = time.perf_counter() - start
    objects = sum(len(compile_cluster(spec, c.name).objects()) for c in spec.clusters)
    print(f"\n{count} policy rules, 3 clusters ({objects} policy objects):")
    print(f"  validate {validate:.2f}s   compile (all clusters) {compile_all:.2f}s")
    print(f"  plan {plan_big:.2f}s (baseline set only: {plan_base:.2f}s, {plan_big / plan_base:.1f}x)")


def main() -> None:
    defaults = stack_config("local").value("defaults")
    fleets = {n: fleet_with(n) for n in SIZES}
    validate = {n: best(lambda n=n: [load_fleet(defaults, fleets[n]) for _ in range(50)]) / 50 for n in SIZES}
    plan = {n: best(lambda n=n: plan_fleet(fleets[n])) for n in SIZES}
    resources = {n: len(plan_fleet(fleets[n]).resources) for n in SIZES}
    print(f"{'clusters':>8} {'resources':>9} {'validate':>9} {'plan':>7}   (ratios to 2 clusters)")
    for n in SIZES:
        print(
            f"{n:>8} {resources[n] / resources[2]:>8.2f}x {validate[n] / validate[2]:>8.2f}x {plan[n] / plan[2]:>6.2f}x"
        )
    print(f"plan / validate at 2 clusters: {plan[2] / validate[2]:.0f}x (validation is what runs before any resource)")
    policy_scale(defaults)


if __name__ == "__main__":
    main()
