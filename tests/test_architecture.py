"""The shape of the code: no import cycle, and a config loads without pulumi.

The import graph is read from the source with `ast` (every import statement,
function-level ones included), so a cycle hidden by a late import inside a
function is still a cycle here.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import ROOT

#: The project's packages whose imports must form no cycle.
PACKAGES = ("components", "ops", "policies")

#: What loading and validating a config must never import.
HEAVY = {"pulumi", "pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_kubernetes", "pulumi_tls"}


def project_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the packages."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if any(part.startswith(".") for part in parts):
                continue  # a virtualenv inside a package (the guardrails pack's .venv) is not project code
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> project modules it imports, at any depth of its code.

    Importing `a.b.c` runs `a/__init__` and `a/b/__init__` first, so those
    count too, except the importer's own enclosing packages (already being
    imported when its code runs). `from pkg import name` depends on
    `pkg/__init__` having defined `name`, so it counts even from inside pkg.
    """
    modules = project_modules(root, packages)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        own = set(_ancestors(name))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        explicit: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*base_parts, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in modules:
                        targets.add(submodule)
                    else:
                        targets.add(base)
                        explicit.add(base)
        edges: set[str] = set()
        for target in targets:
            edges.update(a for a in _ancestors(target) if a in modules and a not in own)
            if target in modules and (target not in own or target in explicit):
                edges.add(target)
        edges.discard(name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module, as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            members: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                components.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles = []
    for members in components:
        inside = set(members)
        start = members[0]
        # Shortest way from start back to itself inside the component (breadth first).
        paths = {succ: [start, succ] for succ in sorted(graph[start] & inside)}
        frontier = list(paths)
        while start not in paths:
            nxt = []
            for node in frontier:
                for succ in sorted(graph[node] & inside):
                    if succ not in paths:
                        paths[succ] = [*paths[node], succ]
                        nxt.append(succ)
            frontier = nxt
        cycles.append(paths[start])
    return sorted(cycles)


def test_no_import_cycle_in_components_ops_policies() -> None:
    graph = import_graph(ROOT, PACKAGES)
    # The graph is read at all: the rules reach the network arithmetic, the program the runtime loader.
    assert "components.netcalc" in graph["components.config.rules.networks"]
    assert "components.config.runtime" not in graph["components.config"]
    cycles = import_cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_config_rules_import_no_resource_module() -> None:
    graph = import_graph(ROOT, PACKAGES)
    config = [m for m in graph if m.startswith("components.config") and m != "components.config.runtime"]
    allowed = {"components.naming", "components.netcalc", "components.yamlio"}
    # The policy model and its pure compilers (rules check what a mesh can express);
    # only components.policy.apply creates resources.
    allowed |= {m for m in graph if m.startswith("components.policy") and m != "components.policy.apply"}
    outside = {(m, t) for m in config for t in graph[m] if not t.startswith("components.config") and t not in allowed}
    assert outside == set()


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_cycle_check_sees_function_level_imports(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    from pkg.b import g\n    return g\n",
            "pkg/b.py": "from pkg import c\n\ndef g(): ...\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.a"] == {"pkg.b"}
    assert import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_cycle_check_counts_names_taken_from_an_enclosing_package(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub.x import X\n",
            "pkg/sub/__init__.py": "",
            # Taking a name (not a module) from pkg needs pkg/__init__ finished: a real cycle.
            "pkg/sub/x.py": "from pkg import Y\nX = 1\n",
            # Siblings importing each other's modules through their package is not one.
            "pkg/sub/y.py": "from pkg.sub import x\nfrom . import z\n",
            "pkg/sub/z.py": "",
        },
    )
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.sub.y"] == {"pkg.sub.x", "pkg.sub.z"}
    assert import_cycles(graph) == [["pkg", "pkg.sub.x", "pkg"]]


#: Runs in a fresh interpreter: read every stack file as the CLI does, load and validate it.
_LOAD_EVERY_STACK = """
import copy, json, sys
from pathlib import Path

from components.config import DEFAULTS_KEY, FLEET_KEY, ConfigError, load_fleet
from ops.stackconfig import read_stack_config

root = Path(sys.argv[1])
loaded = {}
for path in sorted((root / "stacks").glob("Pulumi.*.yaml")):
    config = read_stack_config(root, path.name.split(".")[1])
    spec = load_fleet(config.value(DEFAULTS_KEY), config.value(FLEET_KEY))
    loaded[config.stack] = len(spec.clusters)
# Bad configs too: the error paths (rules, pydantic translation) stay light as well.
problems = []
renamed = copy.deepcopy(config.value(FLEET_KEY))
renamed["clusters"][-1]["name"] = renamed["clusters"][0]["name"]
retyped = copy.deepcopy(config.value(FLEET_KEY))
retyped["clusters"][0]["nodePools"] = "many"
for bad in (renamed, retyped):
    try:
        load_fleet(config.value(DEFAULTS_KEY), bad)
    except ConfigError as exc:
        problems.append(sorted({p.path for p in exc.problems}))
print(json.dumps({"loaded": loaded, "problems": problems, "modules": sorted(sys.modules)}))
"""


def test_loading_every_stack_imports_no_pulumi_or_cloud_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_EVERY_STACK, str(ROOT)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    stacks = sorted(p.name.split(".")[1] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert sorted(out["loaded"]) == stacks == ["dev", "local", "prod", "staging"]
    assert all(count >= 2 for count in out["loaded"].values())
    last = out["loaded"][stacks[-1]] - 1
    renamed, retyped = out["problems"]
    assert f"clusters[{last}].name" in renamed
    assert retyped == ["clusters[0].nodePools"]
    heavy = [m for m in out["modules"] if m.split(".")[0] in HEAVY]
    assert heavy == []
    # The config modules did load (the check is not vacuous).
    assert {"components.config.rules.networks", "components.netcalc", "pydantic"} <= set(out["modules"])
