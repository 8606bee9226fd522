"""Shared test helpers: stack configs from dicts, offline plans, lookups."""

from __future__ import annotations

import base64
import copy
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.diff import diff
from ops.plan import Plan, Recorded, run_plan, write_plan
from ops.sim import DEFAULT_NOW
from ops.stackconfig import StackConfig, read_stack_config

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def stack_config(name: str) -> StackConfig:
    """A stack of stacks/ as the CLI reads it."""
    return read_stack_config(ROOT, name)


def fleet_of(name: str) -> dict[str, Any]:
    """The raw `meshfleet:fleet` value of a stack file (a deep copy to mutate in tests)."""
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    return copy.deepcopy(doc["config"]["meshfleet:fleet"])


def config_with(fleet: dict[str, Any], stack: str = "test", secret_keys: list[str] | None = None) -> StackConfig:
    """A StackConfig whose `meshfleet:fleet` is `fleet`, over the project defaults.

    A fleet with inline kubeconfigs is held secret, as `pulumi config set --secret --path` leaves it
    (a plain one is refused: tests/test_config.py); pass `secret_keys` to say otherwise.
    """
    base = read_stack_config(ROOT, "local")
    values = {k: v for k, v in base.values.items() if k != "meshfleet:fleet"}
    values["meshfleet:fleet"] = fleet
    if secret_keys is None:
        inline = any(isinstance(c, dict) and c.get("kubeconfig") for c in fleet.get("clusters") or [])
        secret_keys = ["meshfleet:fleet"] if inline else []
    return StackConfig(base.project, stack, values, secret_keys, [])


def plan_fleet(fleet: dict[str, Any], stack: str = "test", now=DEFAULT_NOW) -> Plan:
    return run_plan(ROOT, config_with(fleet, stack), now=now)


def plan_stack(name: str, now=DEFAULT_NOW) -> Plan:
    return run_plan(ROOT, stack_config(name), now=now)


def only_clusters(fleet: dict[str, Any], *names: str) -> dict[str, Any]:
    """A copy of `fleet` keeping only the named clusters."""
    out = copy.deepcopy(fleet)
    out["clusters"] = [c for c in out["clusters"] if c["name"] in names]
    return out


def of_type(plan: Plan, type_: str, cluster: str | None = None) -> list[Recorded]:
    """Resources of a type, optionally those named for one cluster (`<cluster>-...`)."""
    found = plan.by_type(type_)
    if cluster is not None:
        found = [r for r in found if r.name == cluster or r.name.startswith(cluster + "-")]
    return found


def inputs(r: Recorded, show_secrets: bool = True) -> dict[str, Any]:
    """A resource's inputs with sentinels resolved (secrets shown by default)."""
    from ops.plan import render_value

    return render_value(r.inputs, show_secrets)


def kubeconfig_of(cluster: Mapping[str, Any], *, token: str = "t0k", **entry: Any) -> str:
    """A one-context kubeconfig of an existing cluster entry: its server and CA (caData), a token user.

    `entry` replaces or adds fields of the kubeconfig's cluster entry (None removes one).
    """
    ca_data = cluster["caData"]
    if ca_data.lstrip().startswith("-----BEGIN"):
        ca_data = base64.b64encode(ca_data.encode()).decode()
    server = {"server": cluster["apiEndpoint"], "certificate-authority-data": ca_data, **entry}
    name = cluster["name"]
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {k: v for k, v in server.items() if v is not None}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": "deployer"}}],
            "users": [{"name": "deployer", "user": {"token": token}}],
            "current-context": name,
        },
        sort_keys=False,
    )


def existing_fleet(names: list[str], mode: str = "sidecar") -> dict[str, Any]:
    """A valid fleet of existing clusters with the given names: distinct endpoints, disjoint ranges."""
    fleet = fleet_of("local")
    template = fleet["clusters"][0]
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
    fleet["clusters"] = clusters
    fleet["mesh"]["mode"] = mode
    return fleet


# --------------------------------------------------------------------------
# ../shared (upstream CRDs, chart defaults, validators)

#: Set by `.ci/run`: CI always checks out ../shared, so there a missing copy is a failure.
REQUIRE_SHARED_ENV = "MESHFLEET_REQUIRE_SHARED"


def require_shared(path: Path) -> Path:
    """`path` under ../shared, or skip (a developer without it) / fail (CI) with the reason.

    Every test that reads ../shared goes through here, so no check can skip
    silently where CI promises it runs.
    """
    if not path.exists():
        reason = f"{path} is missing (../shared not checked out): upstream checks cannot run"
        if os.environ.get(REQUIRE_SHARED_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_SHARED_ENV}=1 requires them", pytrace=False)
        pytest.skip(reason)
    return path


# --------------------------------------------------------------------------
# The CLI in a separate process


def meshfleet_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`meshfleet ARGS` as its own process (`python -m ops.cli`, the project importable), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        cwd=ROOT,
        env={**(os.environ if env is None else env), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def cli_plan(base: Path, stack: str, hash_seed: int) -> Path:
    """`meshfleet plan --stack STACK --out DIR` (no --show-secrets) in a fresh process; returns DIR.

    `base` is a directory every pytest-xdist worker shares (the session's
    base temp's parent): a lock file makes each (stack, seed) plan run once
    per test session, whichever worker asks first.
    """
    out = base / f"cli-plan-{stack}-seed{hash_seed}"
    with open(base / f"cli-plan-{stack}-seed{hash_seed}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = out / ".exit"
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
            run = meshfleet_process("plan", "--stack", stack, "--out", str(out / "plan"), env=env)
            (out / "stdout").write_text(run.stdout)
            (out / "stderr").write_text(run.stderr)
            done.write_text(str(run.returncode))
    code = int(done.read_text())
    assert code == 0, f"meshfleet plan --stack {stack} exited {code}: {(out / 'stderr').read_text()}"
    return out / "plan"


def written_files(out: Path) -> dict[str, bytes]:
    """Every file under `out`, by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def assert_golden_dir(golden: Path, rendered: dict[str, str], keep: Callable[[Path], bool] = lambda _: True) -> None:
    """`rendered` (relative path -> text) equals the `*.yaml` files under `golden`.

    With UPDATE_GOLDEN=1 the files are rewritten first (those `keep` rejects are
    left alone and not compared: e.g. chart renders where the renderer is missing).
    """
    if os.environ.get("UPDATE_GOLDEN"):
        for old in golden.rglob("*.yaml"):
            if keep(old.relative_to(golden)):
                old.unlink()
        for rel, text in rendered.items():
            path = golden / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    stored = {
        str(p.relative_to(golden)): p.read_text() for p in sorted(golden.rglob("*.yaml")) if keep(p.relative_to(golden))
    }
    assert stored, f"no golden files in {golden}: run with UPDATE_GOLDEN=1"
    assert sorted(stored) == sorted(rendered), f"{golden}: UPDATE_GOLDEN=1 to accept"
    for rel, text in rendered.items():
        assert stored[rel] == text, f"{rel} differs from {golden.relative_to(ROOT)} (UPDATE_GOLDEN=1 to accept)"


# --------------------------------------------------------------------------
# Upstream checks (../shared/tools/k8s_validate.py)

VALIDATOR = SHARED / "tools" / "k8s_validate.py"


def validate_objects(files: list[str]) -> tuple[int, int, int]:
    """(valid, invalid, unchecked) of the Kubernetes objects in `files` against the upstream CRDs.

    Skips for a developer without ../shared and fails in CI (require_shared).
    """
    require_shared(VALIDATOR)
    run = subprocess.run([sys.executable, str(VALIDATOR), *files], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    valid, invalid, unchecked = (int(part.split()[0]) for part in run.stdout.strip().splitlines()[-1].split(","))
    return valid, invalid, unchecked


#: Values a chart's templates read that its values.yaml does not declare, so the values check would
#: take them for typos. Each is checked against the template that reads it (tests render the charts).
TEMPLATE_ONLY_VALUES: dict[str, tuple[str, ...]] = {
    # templates/heartbeat.yaml; set by the chart's own values-ha.yaml.
    "linkerd/linkerd-control-plane": ("heartbeatResources",),
}


def validate_plan_upstream(plan: Plan, tmp: Path, chart_of: Callable[[dict[str, Any]], str | None]) -> tuple[int, int]:
    """Write `plan` under `tmp`; every object must validate (0 invalid) and every Helm release for which
    `chart_of(release file)` names a vendored chart (`istio/istiod`, `linkerd/linkerd-crds`, ...) must pass
    `--helm-values` against that chart's defaults. Returns (valid objects, releases checked)."""
    require_shared(VALIDATOR)
    write_plan(plan, tmp)
    root = tmp / "manifests"
    valid, invalid, _ = validate_objects(sorted(str(p) for p in root.rglob("*.yaml") if "helm" not in p.parts))
    assert invalid == 0
    checked = 0
    for path in sorted(root.rglob("helm/*.yaml")):
        release = yaml.safe_load(path.read_text())
        chart = chart_of(release)
        if chart is None:
            continue
        values_file = tmp / f"{path.parent.parent.name}-{path.stem}.values.yaml"
        values_file.write_text(yaml.safe_dump(release["values"]))
        free_form = [arg for key in TEMPLATE_ONLY_VALUES.get(chart, ()) for arg in ("--free-form", key)]
        run = subprocess.run(
            [sys.executable, str(VALIDATOR), "--helm-values", chart, str(values_file), *free_form],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, f"{path}: {run.stdout}{run.stderr}"
        checked += 1
    return valid, checked


# --------------------------------------------------------------------------
# Day 2: what a config change does, from two plans


class PlanChange:
    """Two plans of one stack as `meshfleet diff` compares them (ops/diff.py), their records at hand.

    The day-2 tests read the verdicts the command prints: created, deleted,
    updated (changed input paths) and, with `whole_records`, the resources
    whose dependencies or options change.
    """

    def __init__(self, before: Plan, after: Plan, keep: Callable[[Recorded], bool] = lambda r: True) -> None:
        self.old = {r.urn: r for r in before.resources if keep(r)}
        self.new = {r.urn: r for r in after.resources if keep(r)}
        self.diff = diff(
            [r.contract(show_secrets=True) for r in self.old.values()],
            [r.contract(show_secrets=True) for r in self.new.values()],
        )

    @property
    def added(self) -> list[tuple[str, str]]:
        """(type, name) of every resource only the second plan has, sorted."""
        return [(r["type"], r["name"]) for r in self.diff.created]

    @property
    def removed(self) -> set[str]:
        return {r["urn"] for r in self.diff.deleted}

    def inputs_changed(self) -> dict[str, list[str]]:
        """URN -> changed input paths, for resources in both plans whose inputs differ."""
        return {r["urn"]: paths for r, paths in self._updated() if paths}

    def changed(self, *, whole_records: bool = False) -> set[tuple[str, tuple[str, ...]]]:
        """(name, changed input paths) of each resource that changes: in its inputs, or with
        `whole_records` anywhere in its registration (provider, dependencies, options)."""
        found = [(r, paths) for r, paths in self._updated() if paths or whole_records]
        if whole_records:
            found += [(r, []) for r, _ in self.diff.rewired]
        return {(r["name"], tuple(paths)) for r, paths in found}

    def _updated(self) -> list[tuple[Mapping[str, Any], list[str]]]:
        """Updated resources with their input paths only (`meshfleet diff` shows options as `(name)`)."""
        return [(r, [p for p in paths if not p.startswith("(")]) for r, paths in self.diff.updated]
