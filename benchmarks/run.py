"""Plan and validation speed, reported as ratios measured side by side.

    make bench            # or: .venv/bin/python -m benchmarks.run

Fleets of N existing clusters (no cloud components, so what grows is the
mesh's pairwise wiring, N*(N-1) credential pairs) are validated and planned
in the same process, interleaved, best of several rounds; figures are ratios
to the 2-cluster fleet so they compare across machines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from components.config import load_fleet
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


if __name__ == "__main__":
    main()
