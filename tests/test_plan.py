"""The offline plan: contract, determinism, redaction, the local stack's graph."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from ops import cli
from ops.plan import REDACTED, write_plan
from ops.stackconfig import project_stacks
from tests.helpers import ROOT, fleet_of, kubeconfig_of, meshfleet_process, only_clusters, plan_fleet, plan_stack

CONTRACT_FIELDS = {
    "urn",
    "type",
    "name",
    "custom",
    "parent",
    "provider",
    "dependencies",
    "propertyDependencies",
    "protect",
    "retainOnDelete",
    "ignoreChanges",
    "customTimeouts",
    "inputs",
}


@pytest.fixture(scope="module")
def local_plan():
    return plan_stack("local")


def test_local_stack_has_one_kubernetes_provider_per_cluster(local_plan):
    providers = local_plan.by_type("pulumi:providers:kubernetes")
    assert [(p.name, p.inputs["context"], p.inputs["clusterIdentifier"]) for p in providers] == [
        ("kind-east-k8s", "kind-east", "meshfleet/local-kind-east"),
        ("kind-west-k8s", "kind-west", "meshfleet/local-kind-west"),
    ]
    assert local_plan.cluster_of_provider == {providers[0].urn: "kind-east", providers[1].urn: "kind-west"}


def test_local_stack_components_and_parents(local_plan):
    fleet = local_plan.get("meshfleet:index:Fleet", "local")
    for name in ("kind-east", "kind-west"):
        component = local_plan.get("meshfleet:cluster:Existing", name)
        assert component.parent == fleet.urn
        provider = local_plan.get("pulumi:providers:kubernetes", f"{name}-k8s")
        assert provider.parent == component.urn


def test_every_in_cluster_resource_uses_its_clusters_provider(local_plan):
    """Named for the cluster whose provider it uses; the only exception is the peer's reader token."""
    seen = 0
    for r in local_plan.resources:
        if r.type.startswith("kubernetes:") and r.custom:
            cluster = local_plan.cluster_of(r)
            assert cluster in ("kind-east", "kind-west"), r.urn
            peer = "kind-west" if cluster == "kind-east" else "kind-east"
            # The token lives in the cluster it opens, named for the pair (reader first).
            assert r.name.startswith(cluster + "-") or r.name == f"{peer}-reads-{cluster}-reader-token", r.urn
            seen += 1
    # Per cluster: namespace, cacerts, base, istiod, east-west gateway, the cross-network Gateway, the
    # `default` tag's webhook and Service, one remote secret, the peer's reader token, and the mesh-wide
    # strict PeerAuthentication of the baseline policy set.
    assert seen == 2 * 11


def test_gateway_api_crds_pinned_once_per_cluster(local_plan):
    files = local_plan.by_type("kubernetes:yaml/v2:ConfigFile")
    crds = [f for f in files if f.name.endswith("gateway-api-standard")]
    assert sorted(f.name for f in crds) == ["kind-east-gateway-api-standard", "kind-west-gateway-api-standard"]
    for f in crds:
        assert f.inputs["file"] == (
            "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/standard-install.yaml"
        )
        # Existing clusters may share them (other teams' Gateways): a destroy leaves them.
        assert f.retain_on_delete is True


def test_gateway_api_crds_go_with_a_cloud_cluster():
    """A cluster meshfleet created takes its CRDs along; nothing to retain there."""
    plan = plan_fleet(only_clusters(fleet_of("dev"), "aws-use1"))
    [crds] = [f for f in plan.by_type("kubernetes:yaml/v2:ConfigFile") if f.name.endswith("gateway-api-standard")]
    assert crds.retain_on_delete is False


def test_plan_json_contract_and_sorting(local_plan, tmp_path: Path):
    write_plan(local_plan, tmp_path)
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert set(doc) == {"project", "stack", "resources", "outputs"}
    assert (doc["project"], doc["stack"]) == ("meshfleet", "local")
    urns = [r["urn"] for r in doc["resources"]]
    assert urns == sorted(urns)
    for r in doc["resources"]:
        assert CONTRACT_FIELDS <= set(r), r["urn"]
        assert r["dependencies"] == sorted(r["dependencies"])


def test_writing_a_plan_replaces_the_manifests_of_the_last_one(local_plan, tmp_path: Path):
    """`--out` reused: an object the new plan lacks keeps no file, and a redacted plan written over one made
    with --show-secrets leaves none of its keys behind (a stale cacerts Secret kept its CA private key)."""
    (tmp_path / "manifests" / "gone-cluster").mkdir(parents=True)
    (tmp_path / "manifests" / "gone-cluster" / "secret-istio-system-cacerts.yaml").write_text("PRIVATE KEY\n")
    write_plan(local_plan, tmp_path, show_secrets=True)
    assert "PRIVATE KEY" in "".join(p.read_text() for p in (tmp_path / "manifests").rglob("*.yaml"))
    written = write_plan(local_plan, tmp_path)
    on_disk = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert on_disk == sorted(written)
    assert not (tmp_path / "manifests" / "gone-cluster").exists()
    assert "PRIVATE KEY" not in "".join(p.read_text() for p in on_disk)


def test_two_runs_give_identical_bytes(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli.main(["plan", "--stack", "local", "--out", str(a)]) == 0
    assert cli.main(["plan", "--stack", "local", "--out", str(b)]) == 0
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_registration_order_is_the_programs_and_the_same_in_every_run():
    """The order the deploy benchmark queues steps in: the SDK's own arrival order changed between runs
    (it awaits a component's children from a set ordered by memory address); construction order does not."""
    orders = [plan_stack("prod").registration_order for _ in range(3)]
    assert orders[0] == orders[1] == orders[2]
    plan = plan_stack("prod")
    assert sorted(orders[0]) == sorted(r.urn for r in plan.resources)
    position = {urn: i for i, urn in enumerate(orders[0])}
    for r in plan.resources:  # a parent is constructed before its children
        assert r.parent not in position or position[r.parent] < position[r.urn], r.urn
    fleet = next(r for r in plan.resources if r.type == "meshfleet:index:Fleet")
    assert orders[0][0] == fleet.urn


def test_the_deployers_environment_is_not_part_of_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The provider SDKs copy some environment variables into providers' inputs where the program leaves
    an argument unset (a gcloud user's default zone, KUBECONFIG, PULUMI_K8S_* toggles): the offline
    plan of every cloud comes out the same with all of them set, and leaves them set afterwards."""
    from ops.plan import SDK_ENVIRONMENT

    values = {name: "true" if name.startswith("PULUMI_K8S_") else "europe-west1-b" for name in SDK_ENVIRONMENT}
    values["KUBECONFIG"] = str(tmp_path / "kubeconfig")
    for stack in ("dev", "local"):
        plain = tmp_path / f"{stack}-plain"
        for name in SDK_ENVIRONMENT:
            monkeypatch.delenv(name, raising=False)
        assert cli.main(["plan", "--stack", stack, "--out", str(plain)]) == 0
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        with_env = tmp_path / f"{stack}-env"
        assert cli.main(["plan", "--stack", stack, "--out", str(with_env)]) == 0
        assert (plain / "plan.json").read_bytes() == (with_env / "plan.json").read_bytes(), stack
        assert {name: os.environ[name] for name in SDK_ENVIRONMENT} == values


def test_the_list_of_sdk_environment_variables_is_complete():
    """Every variable an installed provider SDK reads into a provider's inputs is hidden from the plan."""
    import importlib
    import re

    from ops.plan import SDK_ENVIRONMENT

    read: set[str] = set()
    packages = sorted(
        p.name for p in Path(importlib.import_module("pulumi_aws").__file__ or "").parents[1].glob("pulumi_*")
    )
    assert {"pulumi_aws", "pulumi_kubernetes", "pulumi_vault"} <= set(packages)
    for package in (p for p in packages if not p.endswith(".dist-info") and p != "pulumi_policy"):
        module = importlib.import_module(f"{package}.provider")
        source = Path(str(module.__file__)).read_text()
        init = source[source.index("def _internal_init") :]
        for call in re.findall(r"get_env(?:_bool|_int|_float)?\(([^)]*)\)", init):
            read |= set(re.findall(r"'([A-Z0-9_]+)'", call))
    assert read and read <= set(SDK_ENVIRONMENT), sorted(read - set(SDK_ENVIRONMENT))


def test_secret_kubeconfig_redacted_unless_asked(tmp_path: Path):
    fleet = fleet_of("local")
    fleet["clusters"][0].pop("context")
    fleet["clusters"][0]["kubeconfig"] = kubeconfig_of(fleet["clusters"][0], token="s3cr3t")
    plan = plan_fleet(fleet)
    hidden = json.dumps(plan.to_json(show_secrets=False))
    assert "s3cr3t" not in hidden
    provider = plan.get("pulumi:providers:kubernetes", "kind-east-k8s")
    assert provider.contract(show_secrets=False)["inputs"]["kubeconfig"] == REDACTED
    assert plan.to_json(show_secrets=False)["outputs"]["kind-east-kubeconfig"] == REDACTED
    shown = json.dumps(plan.to_json(show_secrets=True))
    assert "s3cr3t" in shown


def test_cli_prints_tree(capsys):
    assert cli.main(["plan", "--stack", "local"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("meshfleet plan: project meshfleet, stack local,")
    assert "kind-east (" in out and "pulumi:providers:kubernetes" in out


def test_the_command_exits_without_teardown_having_written_and_flushed_everything(tmp_path: Path):
    """`meshfleet` (ops.cli:run) skips the interpreter's teardown: its files, output and exit code are those of
    `main`, and a piped stdout still arrives whole."""
    out = tmp_path / "plan"
    # Buffered streams, as in most shells and CI runners: only an explicit flush saves them from os._exit.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = meshfleet_process("plan", "--stack", "local", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("meshfleet plan: project meshfleet, stack local,")
    written = sum(1 for p in out.rglob("*") if p.is_file())
    assert f"wrote {written} files to {out}" in done.stdout
    assert json.loads((out / "plan.json").read_text())["stack"] == "local"
    assert "guardrails: 0 mandatory" in done.stdout + done.stderr

    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  meshfleet:fleet: {schemaVersion: 2}\n")
    refused = meshfleet_process("plan", "--config", str(bad), env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "invalid stack config" in refused.stderr


def test_a_reader_that_stops_reading_costs_neither_the_files_nor_a_traceback(tmp_path: Path):
    """`meshfleet plan --out DIR | head`: the plan is still written, the exit code is the plan's own."""
    import os
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "plan", "--stack", "local", "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(20).startswith(b"meshfleet plan: ")
    proc.stdout.close()  # the reader leaves with the tree still to come
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=600) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert json.loads((tmp_path / "out" / "plan.json").read_text())["stack"] == "local"


def test_now_must_be_iso(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["plan", "--stack", "local", "--now", "yesterday"])
    assert err.value.code == 2
    assert "ISO 8601" in capsys.readouterr().err


def test_readme_config_reference_is_generated_from_models():
    assert cli.main(["docs", "--check"]) == 0, "run `meshfleet docs` to regenerate the README reference"
    from ops.reference import render

    # Every type is named as a reader knows it, never as Python's unresolved forward reference.
    assert "ForwardRef" not in render()


def test_readme_quick_start_is_exactly_two_commands():

    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert [line for line in quick.splitlines() if line.strip()] == ["make plan", "make test"]


def test_cli_names_encrypted_values_it_could_not_read(tmp_path, capsys):
    import yaml

    fleet = fleet_of("local")
    fleet["clusters"][0].pop("context")
    fleet["clusters"][0]["kubeconfig"] = {"secure": "v1:abcdef"}
    stack = tmp_path / "Pulumi.enc.yaml"
    stack.write_text(yaml.safe_dump({"config": {"meshfleet:fleet": fleet}}))
    assert cli.main(["plan", "--config", str(stack)]) == 0
    out = capsys.readouterr().out
    assert "note: meshfleet:fleet.clusters[0].kubeconfig is encrypted; planned with a placeholder" in out
    assert "v1:abcdef" not in out


def test_several_stacks_plan_in_one_process(tmp_path: Path, capsys):
    """`--stack` repeats and `--all` plans every stack file: one process, one output directory per stack."""
    assert cli.main(["plan", "--stack", "local", "--stack", "dev", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "stack local," in out and "stack dev," in out
    assert json.loads((tmp_path / "local" / "plan.json").read_text())["stack"] == "local"
    assert json.loads((tmp_path / "dev" / "plan.json").read_text())["stack"] == "dev"
    stacks = sorted(p.name.split(".")[1] for p in (Path(__file__).parent.parent / "stacks").glob("Pulumi.*.yaml"))
    assert project_stacks(ROOT) == stacks


def test_a_config_file_plans_as_the_stack_its_name_gives(tmp_path: Path, capsys):
    """An edited copy of Pulumi.local.yaml plans as `local` (same URNs and simulated addresses), so
    `meshfleet diff` shows only the edit; another name plans as `custom`; two stacks' plans are not diffed."""
    edited = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())
    edited["config"]["meshfleet:fleet"]["clusters"][1]["egressCidrs"] = ["172.18.0.99/32"]
    (tmp_path / "Pulumi.local.yaml").write_text(yaml.safe_dump(edited))
    (tmp_path / "scratch.yaml").write_text(yaml.safe_dump(edited))
    (tmp_path / "Pulumi.local copy.yaml").write_text(yaml.safe_dump(edited))  # not a stack name Pulumi takes
    assert cli.main(["plan", "--stack", "local", "--out", str(tmp_path / "main")]) == 0
    assert cli.main(["plan", "--config", str(tmp_path / "Pulumi.local.yaml"), "--out", str(tmp_path / "edit")]) == 0
    assert cli.main(["plan", "--config", str(tmp_path / "scratch.yaml"), "--out", str(tmp_path / "other")]) == 0
    stacks = [json.loads((tmp_path / d / "plan.json").read_text())["stack"] for d in ("main", "edit", "other")]
    assert stacks == ["local", "local", "custom"]
    assert cli.config_stack(tmp_path / "Pulumi.local copy.yaml") == "custom"
    capsys.readouterr()
    assert cli.main(["diff", str(tmp_path / "main"), str(tmp_path / "edit" / "plan.json"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["created"], result["deleted"]) == ([], [])
    # Only kind-east's gateway admits the moved peer: nothing else differs.
    assert [(u["name"], u["changes"]) for u in result["updated"]] == [
        ("kind-east-istio-eastwestgateway", [".values.service.loadBalancerSourceRanges[0]"])
    ]
    assert cli.main(["diff", str(tmp_path / "main"), str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert "plans stack 'local' and" in err and "stack 'custom'; diff compares two plans of one stack" in err
    assert "fix: plan both with --stack local, or plan the edited file as Pulumi.local.yaml" in err
    assert cli.main(["diff", str(tmp_path / "other"), str(tmp_path / "main")]) == 2  # either order names `local`
    assert "fix: plan both with --stack local, or plan the edited file as Pulumi.local.yaml" in capsys.readouterr().err


def test_one_bad_stack_fails_the_run_but_not_the_others(capsys):
    assert cli.main(["plan", "--stack", "nope", "--stack", "local", "--stack", "local"]) == 2
    captured = capsys.readouterr()
    assert "no stack 'nope': the project's stacks are dev, local, prod, staging" in captured.err
    assert "fix: name one of them, or create stacks/Pulumi.nope.yaml" in captured.err
    assert captured.out.count("stack local,") == 1  # a repeated name plans once
