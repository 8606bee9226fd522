"""`make bench`: plan speed against the floor, and the deploy critical path.

    make bench            # or: .venv/bin/python -m benchmarks.run [--sizes 3,10] [--meshes sidecar,consul]

Writes benchmarks/RESULTS.md and benchmarks/results.png. Every measurement
runs in its own process, one at a time:

- imports: importing the SDK modules the program uses (every `pulumi*`
  module a plan loads), from nothing, in a fresh interpreter: the point
  server (`python -m benchmarks.run serve ...`), measured once per run;
- program: those imports (not timed), then the offline plan of a generated
  mixed fleet (benchmarks/fleets.py) running one mesh (Istio sidecar,
  Istio ambient, Linkerd, Consul): wall and CPU time, peak RSS;
- floor: the same imports, then the same resources, parents, dependencies
  and inputs replayed from the program's plan.json with no logic
  (benchmarks/floor.py) under the same harness: wall and CPU time, peak RSS.

Program and floor points are processes forked from the point server once
it has imported the SDK modules (and done nothing else: no runtime, no
thread, no plan), so each starts as a fresh interpreter would after those
imports, without paying them: with four meshes at four sizes that saves
~34 interpreter starts and imports (~7 s each on a shared 2-core machine),
what keeps `make bench` under 10 minutes. A forked point's peak RSS counts
the imported modules' pages it has touched, a few MiB under a fresh
interpreter's (13 MiB on a 3-cluster plan); `python -m benchmarks.run
point ...` still runs one point in a fresh interpreter.

The deploy critical path is computed from each program's recorded graph
(benchmarks/deploy.py). The machine is shared: CPU times are steadier than
wall times, and ratios are taken on both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
SIZES = (3, 10, 25, 50)
#: Pulumi's default parallelism is 4 x the CPU count of the machine running the CLI.
DEFAULT_PARALLELISM = 4 * (os.cpu_count() or 1)
#: Where meshfleet's own `pulumi up` runs, with its explicit `parallel`.
DEPLOY_WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


# --------------------------------------------------------------------------
# One measurement, in this (fresh) process


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _import_all(modules: list[str]) -> None:
    """Load each module as the program reaches it: the SDKs' packages load their members lazily,
    on attribute access, so a member is reached through its package, not imported by name."""
    for name in modules:
        top, *path = name.split(".")
        value: Any = import_module(top)
        try:
            for part in path:
                value = getattr(value, part)
                getattr(value, "__name__", None)  # a lazy module loads on first attribute access
        except AttributeError:
            import_module(name)


def point(kind: str, args: list[str]) -> dict[str, Any]:
    if kind == "modules":
        # Which SDK modules a plan loads: every cloud and every mesh.
        from benchmarks.fleets import MESHES, mixed_fleet
        from tests.helpers import plan_fleet

        for mesh in MESHES:
            plan_fleet(mixed_fleet(4, mesh))
        return {"modules": sorted(m for m in sys.modules if m.split(".")[0].startswith("pulumi"))}

    modules = json.loads(Path(args[0]).read_text())["modules"]
    wall, cpu = time.perf_counter(), time.process_time()
    _import_all(modules)
    imported = {"import_wall": time.perf_counter() - wall, "import_cpu": time.process_time() - cpu}
    if kind == "imports":
        return {**imported, "peak_mib": _peak_mib()}

    from ops.plan import run_plan, write_plan
    from ops.sim import DEFAULT_NOW

    out = Path(args[1])
    if kind == "program":
        from benchmarks.fleets import mixed_fleet
        from ops.graph import pairwise_urns
        from tests.helpers import config_with, stack_config

        config = stack_config(args[2]) if args[2] == "prod" else config_with(mixed_fleet(int(args[2]), args[3]))
        wall, cpu = time.perf_counter(), time.process_time()
        plan = run_plan(ROOT, config, now=DEFAULT_NOW)
        measured = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "peak_mib": _peak_mib()}
        write_plan(plan, out, show_secrets=True)
        graph = {
            "owner": {r.urn: plan.owner_of(r) for r in plan.resources},
            "pairwise": sorted(pairwise_urns(plan)),
            "registration_order": plan.registration_order,
            "clouds": sorted({c.cloud for c in plan.spec.clusters}),
            "clusters": len(plan.spec.clusters),
            # Config order: the order the simulated cloud numbers the clusters' address blocks in.
            "cluster_names": [c.name for c in plan.spec.clusters],
        }
        (out / "graph.json").write_text(json.dumps(graph))
        resources = len(plan.resources)
        del plan
        # Warm: the same plan again in this process (SDK type caches filled), as `plan --all` and the tests run.
        wall, cpu = time.perf_counter(), time.process_time()
        run_plan(ROOT, config, now=DEFAULT_NOW)
        warm = {"warm_wall": time.perf_counter() - wall, "warm_cpu": time.process_time() - cpu}
        return {**measured, **warm, "resources": resources}
    if kind in ("floor", "typed"):
        from benchmarks.floor import floor_program, run_replay, typed_replay_program

        doc = json.loads((out / "plan.json").read_text())
        program = floor_program(doc) if kind == "floor" else typed_replay_program(doc)
        clusters = json.loads((out / "graph.json").read_text())["cluster_names"]
        wall, cpu = time.perf_counter(), time.process_time()
        run = run_replay(program, doc, clusters)
        measured = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "peak_mib": _peak_mib()}
        assert len(run.monitor.recorded) == len(doc["resources"]), f"the {kind} replay must register the same resources"
        del run
        wall, cpu = time.perf_counter(), time.process_time()
        run_replay(program, doc, clusters)
        warm = {"warm_wall": time.perf_counter() - wall, "warm_cpu": time.process_time() - cpu}
        return {**measured, **warm, "resources": len(doc["resources"])}
    raise SystemExit(f"unknown point {kind}")


#: Prefix of the point server's answers on its stdout (anything else there is a point's own output).
_ANSWER = "BENCH-POINT "


def serve(modules_file: str) -> None:
    """The point server: import the SDK modules, then run each requested point in a forked child.

    Requests are JSON lists `[kind, *args]`, one a line on stdin; each answer
    is `_ANSWER` + the point's JSON (with `process_wall`: fork to exit), or
    `{"error": ...}` when the child failed (its traceback is on stderr).
    """
    modules = json.loads(Path(modules_file).read_text())["modules"]
    wall, cpu = time.perf_counter(), time.process_time()
    _import_all(modules)
    imported = {"import_wall": time.perf_counter() - wall, "import_cpu": time.process_time() - cpu}
    print(_ANSWER + json.dumps({**imported, "peak_mib": _peak_mib()}), flush=True)
    for request in sys.stdin:
        kind, *args = json.loads(request)
        with tempfile.NamedTemporaryFile(prefix="meshfleet-point-", suffix=".json") as answer:
            sys.stdout.flush()
            sys.stderr.flush()
            start = time.perf_counter()
            pid = os.fork()
            if pid == 0:  # the point: its own process, from the state right after the imports
                code = 1
                try:
                    os.dup2(2, 1)  # a point's own prints must not mix with the answers
                    Path(answer.name).write_text(json.dumps(point(kind, args)))
                    code = 0
                except BaseException:
                    import traceback

                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            elapsed = time.perf_counter() - start
            text = Path(answer.name).read_text()
        if os.waitstatus_to_exitcode(status) != 0 or not text:
            print(_ANSWER + json.dumps({"error": f"point {kind} {args} exited with {status}"}), flush=True)
            continue
        print(_ANSWER + json.dumps({**json.loads(text), "process_wall": elapsed}), flush=True)


class _Server:
    """The parent's end of the point server (`serve`): one request, one answer."""

    def __init__(self, modules_file: Path, log: Path) -> None:
        self.log_path = log
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.run", "serve", str(modules_file)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.imports = self._answer("imports")

    def _answer(self, what: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(_ANSWER):
                answer: dict[str, Any] = json.loads(line[len(_ANSWER) :])
                if "error" in answer:
                    break
                return answer
        self.log.flush()
        raise SystemExit(f"benchmark point {what} failed:\n{self.log_path.read_text()[-3000:]}")

    def point(self, kind: str, *args: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps([kind, *args]) + "\n")
        self.proc.stdin.flush()
        return self._answer(f"{kind} {' '.join(args)}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.log.close()


def _child(kind: str, *args: str) -> dict[str, Any]:
    """Run one point in a fresh interpreter; its process wall time is measured here."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "point", kind, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark point {kind} {args} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall"] = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------
# The whole run


def _machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0"
    )
    from importlib.metadata import version

    sdks = ", ".join(
        f"{p} {version(p)}"
        for p in ("pulumi", "pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_kubernetes", "pulumi_tls")
    )
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{int(mem) / 1024 / 1024:.1f} GiB",
        "python": f"CPython {platform.python_version()} on {platform.system()} {platform.release()}",
        "sdks": sdks,
        "load": "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()),
    }


def _deploy(out: Path) -> dict[str, float]:
    from benchmarks import deploy

    doc = json.loads((out / "plan.json").read_text())
    graph_doc = json.loads((out / "graph.json").read_text())
    graph = deploy.graph_of(doc, graph_doc["owner"], graph_doc["registration_order"])
    pairs = set(graph_doc["pairwise"])
    workflow = deploy.workflow_parallelism(DEPLOY_WORKFLOW)
    return {
        "up_default": deploy.simulate(graph, DEFAULT_PARALLELISM),
        "up_unlimited": deploy.simulate(graph, None),
        "bound_default": deploy.lower_bound(graph, pairs, DEFAULT_PARALLELISM),
        "bound_unlimited": deploy.lower_bound(graph, pairs, None),
        "up_workflow": deploy.simulate(graph, workflow),
        # What the program's order could do: the engine's queue, simultaneous steps longest chain first.
        "up_ties_default": deploy.simulate(graph, DEFAULT_PARALLELISM, ties_by_chain=True),
        # What the graph allows: the same steps, served critical path first (not the engine's order).
        "up_critical_default": deploy.simulate(graph, DEFAULT_PARALLELISM, critical_path_first=True),
        "up_critical_workflow": deploy.simulate(graph, workflow, critical_path_first=True),
        "bound_workflow": deploy.lower_bound(graph, pairs, workflow),
        "sequential": deploy.sequential(graph, pairs, DEFAULT_PARALLELISM),
        "work": sum(graph.duration.values()),
    }


def main(argv: list[str] | None = None) -> int:
    # Here, not at the top: a point's process must import no SDK module before it measures the imports.
    from benchmarks.fleets import MESHES

    parser = argparse.ArgumentParser(prog="benchmarks.run")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--meshes", "--modes", default=",".join(MESHES), help=f"among {', '.join(MESHES)}")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    meshes = args.meshes.split(",")
    unknown = sorted(set(meshes) - set(MESHES))
    if unknown:
        parser.error(f"--meshes: unknown {', '.join(unknown)}; expected some of {', '.join(MESHES)}")

    started = time.perf_counter()
    machine = _machine()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="meshfleet-bench-") as tmp:
        modules_file = Path(tmp) / "modules.json"
        modules_file.write_text(json.dumps(_child("modules")))
        cases = [(str(n), mesh) for n in sizes for mesh in meshes] + [("prod", "sidecar")]
        server = _Server(modules_file, Path(tmp) / "server.log")
        imports = server.imports  # the same modules for every fleet: measured once
        for size, mesh in cases:
            out = Path(tmp) / f"{size}-{mesh}"
            program = server.point("program", str(modules_file), str(out), size, mesh)
            floor = server.point("floor", str(modules_file), str(out))
            typed = server.point("typed", str(modules_file), str(out))
            graph = json.loads((out / "graph.json").read_text())
            row = {
                "size": size,
                "mesh": mesh,
                "clusters": graph["clusters"],
                "clouds": graph["clouds"],
                "imports": imports,
                "program": program,
                "floor": floor,
                "typed": typed,
                "deploy": _deploy(out),
            }
            rows.append(row)
            print(_line(row), flush=True)
        server.close()
    elapsed = time.perf_counter() - started
    machine["load_end"] = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    (HERE / "results.json").write_text(json.dumps({"machine": machine, "elapsed": elapsed, "rows": rows}, indent=1))
    _plot(rows, HERE / "results.png")
    policy = _policy_table()
    args.results.write_text(_report(machine, rows, elapsed, policy))
    print(f"wrote {args.results} and results.png in {elapsed:.0f} s")
    return 0


#: What the policy section measures (benchmarks/policy.py).
POLICY_INTRO = (
    "A 3-cluster fleet of existing clusters (Istio sidecar) with 10, 100 and 1,000 generated rules cycling "
    "through every policy kind, in one fresh process (`python -m benchmarks.policy`): config validation, "
    "compiling every cluster's policies, and the offline plan, best of three (the 1,000-rule plan once), next "
    "to the same fleet with only the baseline set."
)


def _policy_table() -> str:
    """The policy benchmark's Markdown table, from its own process."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.policy"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        return f"(policy benchmark failed: {done.stderr.strip().splitlines()[-1:]})"
    return done.stdout.strip()


def _line(row: dict[str, Any]) -> str:
    p, f = row["program"], row["floor"]
    return (
        f"{row['size']:>4} {row['mesh']:<8} {p['resources']:>5} res  plan {p['wall']:6.1f}s cpu {p['cpu']:6.1f}s  "
        f"floor {f['wall']:5.1f}s cpu {f['cpu']:5.1f}s  ratio {p['cpu'] / f['cpu']:4.2f} "
        f"(warm {p['warm_cpu'] / f['warm_cpu']:4.2f}; typed replay {row['typed']['cpu']:5.1f}s)  "
        f"rss {p['peak_mib']:5.0f}/{f['peak_mib']:4.0f} MiB  imports {row['imports']['import_cpu']:4.1f}s"
    )


# --------------------------------------------------------------------------
# Report


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(12, 4.8))
    # One colour per mesh; the plan solid with circles, its floor dashed with squares.
    meshes = list(dict.fromkeys(r["mesh"] for r in rows if r["size"] != "prod"))
    for k, mesh in enumerate(meshes):
        mine = [r for r in rows if r["mesh"] == mesh and r["size"] != "prod"]
        n, colour = [r["clusters"] for r in mine], f"C{k}"
        label = _MESH_LABELS.get(mesh, mesh)
        ax_time.plot(n, [r["program"]["cpu"] for r in mine], "o-", color=colour, label=f"plan, {label}")
        ax_time.plot(n, [r["floor"]["cpu"] for r in mine], "s--", color=colour, alpha=0.7, label=f"floor, {label}")
        ax_mem.plot(n, [r["program"]["peak_mib"] for r in mine], "o-", color=colour, label=f"plan, {label}")
        ax_mem.plot(n, [r["floor"]["peak_mib"] for r in mine], "s--", color=colour, alpha=0.7, label=f"floor, {label}")
    first = [r for r in rows if meshes and r["mesh"] == meshes[0] and r["size"] != "prod"]
    if first:
        ax_time.plot(
            [r["clusters"] for r in first],
            [r["imports"]["import_cpu"] for r in first],
            "^:",
            color="black",
            label="SDK imports",
        )
    ax_time.set(xlabel="clusters", ylabel="CPU seconds", title="Plan time vs floor")
    ax_mem.set(xlabel="clusters", ylabel="peak RSS (MiB)", title="Peak memory (process)")
    for ax in (ax_time, ax_mem):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


_MESH_LABELS = {"sidecar": "Istio sidecar", "ambient": "Istio ambient", "linkerd": "Linkerd", "consul": "Consul"}


def _side_by_side(rows: list[dict[str, Any]], ratio: Callable[[dict[str, Any]], float]) -> list[str]:
    """One line per fleet size, one column per mesh: `ratio(row)`."""
    meshes = list(dict.fromkeys(r["mesh"] for r in rows if r["size"] != "prod"))
    sizes = list(dict.fromkeys(r["size"] for r in rows if r["size"] != "prod"))
    by = {(r["size"], r["mesh"]): r for r in rows}
    lines = [
        "| clusters | " + " | ".join(_MESH_LABELS.get(m, m) for m in meshes) + " |",
        "|---|" + "---|" * len(meshes),
    ]
    for size in sizes:
        cells = [f"{ratio(by[size, m]):.2f}" if (size, m) in by else "" for m in meshes]
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return lines


def _targets(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 12's targets against this run's figures: one line each, met or missed."""
    fleets = [r for r in rows if r["size"] != "prod"]
    largest = [r for r in fleets if r["clusters"] == max((x["clusters"] for x in fleets), default=0)]

    def worst(values: list[tuple[float, str]]) -> tuple[float, str]:
        return max(values, default=(0.0, "-"))

    def where(r: dict[str, Any]) -> str:
        return f"{r['size']} {_MESH_LABELS.get(r['mesh'], r['mesh'])}"

    cold = worst([(r["program"]["cpu"] / r["floor"]["cpu"], where(r)) for r in rows])
    warm = worst([(r["program"]["warm_cpu"] / r["floor"]["warm_cpu"], where(r)) for r in rows])
    memory = worst([(r["program"]["peak_mib"], where(r)) for r in largest])
    process = worst(
        [
            (r["imports"]["import_wall"] + r["program"]["process_wall"] - r["program"]["warm_wall"], where(r))
            for r in largest
        ]
    )
    up = worst([(r["deploy"]["up_default"] / r["deploy"]["bound_default"], where(r)) for r in rows])
    prod = [r["deploy"]["up_default"] / r["deploy"]["sequential"] for r in rows if r["size"] == "prod"]
    n = largest[0]["clusters"] if largest else 0
    checks = [
        (
            "plan / floor <= 1.5 at every size (first plan of a process)",
            cold[0] <= 1.5,
            f"worst {cold[0]:.2f} ({cold[1]})",
        ),
        ("plan / floor <= 1.5 at every size (warm)", warm[0] <= 1.5, f"worst {warm[0]:.2f} ({warm[1]})"),
        (f"peak memory <= 1 GiB at {n} clusters", memory[0] <= 1024, f"worst {memory[0]:.0f} MiB ({memory[1]})"),
        (f"a {n}-cluster plan under 60 s as a process", process[0] < 60, f"worst {process[0]:.1f} s ({process[1]})"),
        (
            f"simulated up <= 1.10 x lower bound at every size (p={DEFAULT_PARALLELISM})",
            up[0] <= 1.10,
            f"worst {up[0]:.2f} ({up[1]})",
        ),
        (
            "simulated up <= 0.40 x sequential for prod",
            bool(prod) and max(prod) <= 0.40,
            ", ".join(f"{x:.2f}" for x in prod),
        ),
    ]
    lines = ["| target | this run | |", "|---|---|---|"]
    lines += [f"| {target} | {figure} | {'met' if ok else '**missed**'} |" for target, ok, figure in checks]
    typed = [r["typed"]["warm_cpu"] / r["program"]["warm_cpu"] for r in rows]
    lines += [
        "",
        f"Not a target, what the SDKs' typed classes cost: the same registrations through the typed classes "
        f"meshfleet constructs, from the plan's recorded values with no logic at all (the *typed replay*, "
        f"`benchmarks/floor.py`), take {min(typed):.2f}-{max(typed):.2f}x the plan's own CPU time (warm): the "
        "untyped floor skips what those classes do per resource, which no program that uses them can.",
    ]
    workflow = worst([(r["deploy"]["up_workflow"] / r["deploy"]["bound_workflow"], where(r)) for r in rows])
    ties = worst([(r["deploy"]["up_ties_default"] / r["deploy"]["bound_default"], where(r)) for r in rows])
    critical = worst([(r["deploy"]["up_critical_default"] / r["deploy"]["bound_default"], where(r)) for r in rows])
    critical_workflow = worst(
        [(r["deploy"]["up_critical_workflow"] / r["deploy"]["bound_workflow"], where(r)) for r in rows]
    )
    lines += [
        "",
        f"Not a target, what meshfleet's own deploys get: at the deploy workflow's parallelism, simulated up / "
        f"lower bound is at worst {workflow[0]:.2f} ({workflow[1]}).",
        "",
        f"Not a target, what registration order can do: the same queue, with steps that become ready at the "
        f"same moment taken longest remaining chain first instead of in the program's order (how a program "
        f"would register to favour its longest chains), is at worst {ties[0]:.2f} ({ties[1]}) at "
        f"p={DEFAULT_PARALLELISM}.",
        "",
        f"Not a target, what the graph allows: an engine that started the ready step with the longest chain "
        f"behind it first, instead of the first to arrive, would be at worst {critical[0]:.2f} "
        f"({critical[1]}) of the lower bound at p={DEFAULT_PARALLELISM}, and {critical_workflow[0]:.2f} "
        f"({critical_workflow[1]}) at the workflow's parallelism (benchmarks/deploy.py, `critical_path_first`: "
        "the classic list-scheduling priority, a heuristic, not an optimum).",
    ]
    return lines


def _report(machine: dict[str, str], rows: list[dict[str, Any]], elapsed: float, policy: str) -> str:
    from benchmarks import deploy

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    workflow = deploy.workflow_parallelism(DEPLOY_WORKFLOW)
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` ({now}, {elapsed / 60:.1f} min). Do not edit by hand.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}; memory {machine['memory']}",
        f"- {machine['python']}",
        f"- SDKs: {machine['sdks']}",
        f"- load average at start {machine['load']}, at end {machine['load_end']} (the machine is shared: "
        "CPU seconds are steadier than wall seconds)",
        "",
        "## Against the targets",
        "",
        *_targets(rows),
        "",
        "## Plan time and memory against the floor",
        "",
        "Fleets from `benchmarks/fleets.py` (prod's cluster shapes, clouds in turn aws, azure, gcp, existing; "
        "no EKS once its 40-CIDR allow-list is full, so none at 50), the same shapes for every mesh: Istio "
        "sidecar and ambient, Linkerd, Consul (built-in Connect CA; mesh blocks of examples/Pulumi.linkerd.yaml "
        "and examples/Pulumi.consul.yaml). Each figure is one process, measured once (no repetitions); "
        "the SDK imports are measured once per run (the same figure in every row). "
        "*plan* is the offline plan after the SDK imports; *floor* replays the same resources, parents, "
        "dependencies and inputs from its plan.json with no logic under the same harness; *imports* is "
        "importing the SDK modules a plan loads, in a fresh interpreter; *process* is what a plan process "
        "takes, wall clock: those imports plus the program point from fork to exit (plan, writing plan.json; "
        "the warm re-run subtracted; the point exits without the interpreter's teardown, as the `meshfleet` "
        "command does). *warm* runs the same plan (and the same floor) a second time in its "
        "process: the SDK's per-class caches (type hints of each resource class, filled on first use, about "
        "0.25 s) and meshfleet's data files are then loaded, as in `meshfleet plan --all` and the test suite; "
        "the first plan of a process pays them, its floor (untyped resources) does not. *typed replay* "
        "registers the same resources through the SDKs' typed classes from the same recorded values, with no "
        "logic (`benchmarks/floor.py`, `typed_replay_program`): not a floor, since the SDK then translates each "
        "plain nested value through the class's type metadata, but what those classes cost with no program. "
        "Each point is a process forked from a server that has only imported the SDK modules "
        "(benchmarks/run.py): the trim that keeps four meshes at four sizes under 10 minutes.",
        "",
        "| fleet | clusters (clouds) | resources | plan cpu s | floor cpu s | plan/floor cpu | plan wall s | "
        "floor wall s | plan/floor wall | warm plan / floor cpu s | warm plan/floor | warm typed replay cpu s | "
        "warm plan/typed replay | imports cpu s | process wall s | peak RSS plan / floor MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p, f, t, i = r["program"], r["floor"], r["typed"], r["imports"]
        lines.append(
            f"| {r['size']} {_MESH_LABELS.get(r['mesh'], r['mesh'])} | {r['clusters']} ({', '.join(r['clouds'])}) | {p['resources']} | "
            f"{p['cpu']:.2f} | {f['cpu']:.2f} | **{p['cpu'] / f['cpu']:.2f}** | {p['wall']:.2f} | {f['wall']:.2f} | "
            f"{p['wall'] / f['wall']:.2f} | {p['warm_cpu']:.2f} / {f['warm_cpu']:.2f} | "
            f"**{p['warm_cpu'] / f['warm_cpu']:.2f}** | {t['warm_cpu']:.2f} | {p['warm_cpu'] / t['warm_cpu']:.2f} | "
            f"{i['import_cpu']:.2f} | {i['import_wall'] + p['process_wall'] - p['warm_wall']:.1f} | "
            f"{p['peak_mib']:.0f} / {f['peak_mib']:.0f} |"
        )
    lines += [
        "",
        "Plan / floor (CPU seconds, the first plan of a process), side by side:",
        "",
        *_side_by_side(rows, lambda r: r["program"]["cpu"] / r["floor"]["cpu"]),
        "",
        "Warm plan / warm floor (CPU seconds, each run again in its process), side by side:",
        "",
        *_side_by_side(rows, lambda r: r["program"]["warm_cpu"] / r["floor"]["warm_cpu"]),
        "",
        "![plan time and peak memory against cluster count](results.png)",
        "",
        "## Policy compile",
        "",
        POLICY_INTRO,
        "",
        policy,
        "",
        "## Deploy critical path",
        "",
        f"Simulated `pulumi up` of each recorded graph (benchmarks/deploy.py: per-type durations from one "
        f"table with sources; a step is ready when its dependencies and provider are created, and ready steps "
        f"start first come, first served, as the engine's queue serves registrations; steps ready at the same "
        f"moment go in the order the program constructs them, `Plan.registration_order`, the same in every "
        f"run). Parallelism: "
        f"Pulumi's default, 4 x CPU count = **{DEFAULT_PARALLELISM}** on this machine; **{workflow}**, the "
        "explicit `parallel` of meshfleet's deploy workflow (.github/workflows/deploy.yml); and unlimited. "
        "Lower bound = max(slowest cluster's own chain + the pairwise tail after it, total work / parallelism). "
        "Sequential = clusters deployed one after another (each at the default parallelism), fleet-wide "
        "resources first, pairwise step last. Minutes.",
        "",
        f"| fleet | mesh | work | up (p={DEFAULT_PARALLELISM}) | bound (p={DEFAULT_PARALLELISM}) | up/bound | "
        f"up (p={workflow}) | up/bound (p={workflow}) | up (unlimited) | bound (unlimited) | up/bound | "
        "sequential | up/sequential |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d = {k: v / 60 for k, v in r["deploy"].items()}
        lines.append(
            f"| {r['size']} | {_MESH_LABELS.get(r['mesh'], r['mesh'])} | {d['work']:.0f} | {d['up_default']:.1f} | {d['bound_default']:.1f} | "
            f"**{d['up_default'] / d['bound_default']:.2f}** | {d['up_workflow']:.1f} | "
            f"{d['up_workflow'] / d['bound_workflow']:.2f} | "
            f"{d['up_unlimited']:.1f} | {d['bound_unlimited']:.1f} | "
            f"**{d['up_unlimited'] / d['bound_unlimited']:.2f}** | {d['sequential']:.1f} | "
            f"**{d['up_default'] / d['sequential']:.2f}** |"
        )
    for title, ratio in (
        (
            f"Simulated up / lower bound at p={DEFAULT_PARALLELISM}",
            lambda r: r["deploy"]["up_default"] / r["deploy"]["bound_default"],
        ),
        (
            f"Simulated up / lower bound at p={workflow} (the deploy workflow)",
            lambda r: r["deploy"]["up_workflow"] / r["deploy"]["bound_workflow"],
        ),
        (
            f"The same graph served critical path first (a hypothetical engine, not `pulumi up`): "
            f"simulated up / lower bound at p={DEFAULT_PARALLELISM}",
            lambda r: r["deploy"]["up_critical_default"] / r["deploy"]["bound_default"],
        ),
        (
            f"Simulated up at p={DEFAULT_PARALLELISM} / at p={workflow} (what the workflow's setting saves)",
            lambda r: r["deploy"]["up_default"] / r["deploy"]["up_workflow"],
        ),
        (
            "Simulated up / lower bound, unlimited parallelism",
            lambda r: r["deploy"]["up_unlimited"] / r["deploy"]["bound_unlimited"],
        ),
        (
            f"Simulated up (p={DEFAULT_PARALLELISM}) / sequential",
            lambda r: r["deploy"]["up_default"] / r["deploy"]["sequential"],
        ),
    ):
        lines += ["", f"{title}, side by side:", "", *_side_by_side(rows, ratio)]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) > 2 and sys.argv[1] == "point":
        print(json.dumps(point(sys.argv[2], sys.argv[3:])))
        sys.exit(0)
    sys.exit(main())
