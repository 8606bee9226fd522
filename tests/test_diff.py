"""`meshfleet diff`: two written plans of one stack, compared by URN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ops import cli
from ops.diff import changed_paths, diff, refused, replaced, value_change
from ops.plan import write_plan
from tests.helpers import existing_fleet, fleet_of, plan_fleet

STACK = "dev"


def written(tmp_path: Path, name: str, fleet: dict[str, Any]) -> Path:
    out = tmp_path / name
    write_plan(plan_fleet(fleet, stack=STACK), out)
    return out


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return written(tmp_path_factory.mktemp("plans"), "before", fleet_of("dev"))


def test_a_new_pool_is_exactly_its_own_resources(before: Path, tmp_path: Path, capsys) -> None:
    fleet = fleet_of("dev")
    for cluster in fleet["clusters"]:
        cluster["nodePools"].append({**cluster["nodePools"][-1], "name": "batch", "minSize": 0})
    after = written(tmp_path, "after", fleet)
    assert cli.main(["diff", str(before), str(after)]) == 0
    lines = capsys.readouterr().out.splitlines()
    resources = len(json.loads((before / "plan.json").read_text())["resources"])
    created = [line for line in lines if line.startswith("+ ")]
    rewired = [line for line in lines if line.startswith("= ")]
    assert created == [
        "+ aws:ec2/launchTemplate:LaunchTemplate aws-use1-nodes-batch-template",
        "+ aws:eks/nodeGroup:NodeGroup aws-use1-nodes-batch-us-east-1a",
        "+ aws:eks/nodeGroup:NodeGroup aws-use1-nodes-batch-us-east-1b",
        "+ aws:eks/nodeGroup:NodeGroup aws-use1-nodes-batch-us-east-1c",
        "+ azure-native:containerservice:AgentPool azure-weu-pool-batch",
        "+ gcp:container/nodePool:NodePool gcp-euw1-pool-batch",
    ]
    # What runs on the nodes now also waits for the new pool: recorded, no cloud call, no input changes.
    assert rewired and all(line.endswith(": (dependencies)") for line in rewired)
    assert lines[0] == (
        f"meshfleet diff: 6 to create, 0 to update, 0 to delete; {len(rewired)} with new dependencies or options "
        f"only, {resources - len(rewired)} unchanged"
    )
    assert len(lines) == 1 + len(created) + len(rewired)


def test_an_input_change_names_its_paths_and_a_protected_delete_is_marked(tmp_path: Path, capsys) -> None:
    fleet = fleet_of("dev")
    fleet["fleet"]["protect"] = True
    protected = written(tmp_path, "protected", fleet)
    fleet["clusters"] = [c for c in fleet["clusters"] if c["name"] != "gcp-euw1"]
    fleet["clusters"][0]["nodePools"][0]["diskSizeGb"] = 200
    after = written(tmp_path, "after", fleet)
    assert cli.main(["diff", str(protected), str(after), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    template = next(u for u in result["updated"] if u["name"] == "aws-use1-nodes-system-template")
    assert template["changes"] == [".blockDeviceMappings[0].ebs.volumeSize"]
    gone = [d for d in result["deleted"] if d["name"].startswith("gcp-euw1")]
    assert gone and {d["type"] for d in gone} >= {"gcp:container/cluster:Cluster", "gcp:compute/network:Network"}
    # The GKE cluster, its network and key are protected: `up` would stop on them.
    assert {d["name"] for d in gone if d["protect"]} >= {"gcp-euw1-cluster", "gcp-euw1-network-vpc"}
    assert cli.main(["diff", str(protected), str(after)]) == 0
    text = capsys.readouterr().out
    assert "- gcp:container/cluster:Cluster gcp-euw1-cluster  (protected: `up` refuses to delete it" in text


def test_same_inputs_with_new_dependencies_are_listed_apart() -> None:
    record = {"urn": "u1", "type": "t", "name": "n", "inputs": {"a": {"b": 1, "c": [1]}}, "dependencies": ["x"]}
    rewired = {**record, "dependencies": ["y"]}
    edited = {**record, "urn": "u2", "inputs": {"a": {"b": 2, "c": [1, 2]}, "d": 0}, "protect": True}
    result = diff([record, {**edited, "inputs": record["inputs"], "protect": False}], [rewired, edited])
    assert [(r["urn"], paths) for r, paths in result.rewired] == [("u1", ["(dependencies)"])]
    assert [(r["urn"], paths) for r, paths in result.updated] == [("u2", [".a.b", ".a.c", ".d", "(protect)"])]
    assert (result.created, result.deleted, result.unchanged) == ([], [], 0)


def test_changed_values_are_shown_from_redacted_plans_only(before: Path, tmp_path: Path, capsys) -> None:
    """A reviewer reads what changes, not only where: scalars before and after, list entries added and
    removed, in the text and in --json. Never from a plan written with --show-secrets, where nothing
    says which values were secret (a pull request's summary must not print them)."""
    fleet = fleet_of("dev")
    fleet["fleet"]["apiAccess"]["operatorCidrs"].append("203.0.113.0/28")
    fleet["clusters"][0]["kubernetesVersion"] = "1.34"
    fleet["addons"] = {"eks": {"kubeProxy": "v1.34.1-eksbuild.2", "clusterAutoscalerImage": "v1.34.2"}}
    after = written(tmp_path, "after", fleet)
    assert cli.main(["diff", str(before), str(after)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        '~ aws:eks/cluster:Cluster aws-use1-cluster: .version ("1.33" -> "1.34"), .vpcConfig.publicAccessCidrs (+"203.0.113.0/28")'
        in lines
    )
    assert (
        "~ gcp:container/cluster:Cluster gcp-euw1-cluster: .masterAuthorizedNetworksConfig.cidrBlocks "
        '(+{"cidrBlock": "203.0.113.0/28", "displayName": "meshfleet 203.0.113.0/28"})'
    ) in lines
    assert cli.main(["diff", str(before), str(after), "--json"]) == 0
    updated = {u["name"]: u for u in json.loads(capsys.readouterr().out)["updated"]}
    assert updated["aws-use1-cluster"]["values"] == {
        ".version": {"before": "1.33", "after": "1.34"},
        ".vpcConfig.publicAccessCidrs": {"added": ["203.0.113.0/28"], "removed": []},
    }

    shown = tmp_path / "shown"
    write_plan(plan_fleet(fleet, stack=STACK), shown, show_secrets=True)
    assert cli.main(["diff", str(before), str(shown)]) == 0
    text = capsys.readouterr().out
    assert "~ aws:eks/cluster:Cluster aws-use1-cluster: .version, .vpcConfig.publicAccessCidrs\n" in text
    assert "->" not in text and "(+" not in text
    assert cli.main(["diff", str(shown), str(after), "--json"]) == 0
    assert all("values" not in u for u in json.loads(capsys.readouterr().out)["updated"])
    # A plan written with --show-secrets before plan.json said so holds no `[secret]` at all.
    unmarked = json.loads((shown / "plan.json").read_text())
    del unmarked["secretsShown"]
    (shown / "plan.json").write_text(json.dumps(unmarked))
    assert cli.main(["diff", str(before), str(shown)]) == 0
    assert "->" not in capsys.readouterr().out


def test_a_renamed_object_is_marked_as_replaced(tmp_path: Path, capsys) -> None:
    """A peer-credential rotation renames each reader token Secret: the provider replaces it (new one first),
    while the remote secret that reads it updates in place. Only the renames are marked."""
    plans = {}
    for generation in (1, 2):
        fleet = existing_fleet(["c0", "c1"])
        fleet["mesh"]["peerCredentialGeneration"] = generation
        plan = plan_fleet(fleet)
        plans[generation] = tmp_path / f"g{generation}"
        write_plan(plan, plans[generation])
        write_plan(plan, tmp_path / f"g{generation}-shown", show_secrets=True)
    assert cli.main(["diff", str(plans[1]), str(plans[2])]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Redacted, the remote secrets' new kubeconfigs compare equal ([secret]): only the tokens show.
    assert lines[0].startswith("meshfleet diff: 0 to create, 2 to update (2 by replacement), 0 to delete;")
    assert lines[1:] == [
        f'~ kubernetes:core/v1:Secret {a}-reads-{b}-reader-token: .metadata.name ("istio-reader-token-{a}" -> '
        f'"istio-reader-token-{a}-g2")  (replaced: a new object, and the old one deleted: '
        ".metadata.name)"
        for a, b in (("c0", "c1"), ("c1", "c0"))
    ]
    assert cli.main(["diff", str(tmp_path / "g1-shown"), str(tmp_path / "g2-shown"), "--json"]) == 0
    updated = {u["name"]: u for u in json.loads(capsys.readouterr().out)["updated"]}
    assert {name: u["replaced"] for name, u in updated.items()} == {
        "c0-reads-c1-reader-token": [".metadata.name"],
        "c1-reads-c0-reader-token": [".metadata.name"],
        "c0-reads-c1-remote-secret": [],
        "c1-reads-c0-remote-secret": [],
    }


def test_replaced_names_identity_paths_by_type() -> None:
    secret, release = {"type": "kubernetes:core/v1:Secret"}, {"type": "kubernetes:helm.sh/v3:Release"}
    assert replaced(secret, [".metadata.name", ".metadata.labels.a", ".metadata.namespace"]) == [
        ".metadata.name",
        ".metadata.namespace",
    ]
    assert replaced(release, [".name", ".values.x", ".metadata.name"]) == [".name"]
    assert replaced({"type": "aws:eks/cluster:Cluster"}, [".name"]) == []


def test_value_change_shows_scalars_and_flat_entries_never_secrets_structures_or_long_text() -> None:
    assert value_change("a", "b") == {"before": "a", "after": "b"}
    assert value_change(None, 3) == {"before": None, "after": 3}
    assert value_change(["x", "y", "y"], ["y", "z"]) == {"added": ["z"], "removed": ["x", "y"]}
    assert value_change([{"c": "1"}], []) == {"added": [], "removed": [{"c": "1"}]}
    assert value_change("[secret]", "b") is None
    assert value_change(["a"], ["a", "[secret]"]) is None
    assert value_change({"k": 1}, {"k": 2}) is None
    assert value_change([{"k": {"n": 1}}], []) is None
    assert value_change("x" * 99, "y") is None  # json quotes make it 101 characters
    assert value_change("x" * 98, "y") == {"before": "x" * 98, "after": "y"}


def test_changed_paths_descend_maps_and_lists_of_one_length() -> None:
    assert changed_paths({"a": {"b": [1, 2]}, "c": 1}, {"a": {"b": [2, 1]}, "c": 1}) == [".a.b[0]", ".a.b[1]"]
    assert changed_paths({"p": [{"n": 1, "m": 2}]}, {"p": [{"n": 1, "m": 3}]}) == [".p[0].m"]
    assert changed_paths({"a": [1]}, {"a": [1, 2]}) == [".a"]
    assert changed_paths({"a": 1}, {"b": 1}) == [".a", ".b"]
    assert changed_paths("x", "x") == []


def test_a_missing_plan_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert cli.main(["diff", str(tmp_path / "nowhere"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nowhere/plan.json does not exist; write one with `meshfleet plan --stack NAME --out" in err
    (tmp_path / "plan.json").write_text("{}")
    assert cli.main(["diff", str(tmp_path), str(tmp_path)]) == 2
    assert "has no 'resources' list" in capsys.readouterr().err


def test_an_aks_pool_change_the_cloud_refuses_in_place_is_marked(before: Path, tmp_path: Path, capsys) -> None:
    fleet = fleet_of("dev")
    system, workload = fleet["clusters"][1]["nodePools"]
    system["diskSizeGb"], workload["machineType"] = 200, "Standard_D8s_v5"
    after = written(tmp_path, "after", fleet)
    assert cli.main(["diff", str(before), str(after), "--json"]) == 0
    updated = {u["name"]: u for u in json.loads(capsys.readouterr().out)["updated"]}
    assert updated["azure-weu-pool-workload"]["refusedInPlace"] == [".vmSize"]
    assert updated["azure-weu-aks"]["refusedInPlace"] == [".agentPoolProfiles[0].osDiskSizeGB"]
    assert cli.main(["diff", str(before), str(after)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        '~ azure-native:containerservice:AgentPool azure-weu-pool-workload: .vmSize ("Standard_D4s_v5" -> '
        '"Standard_D8s_v5")  (AKS refuses this in place: add a pool with it, move the pods, then remove the old '
        "pool: .vmSize)"
    ) in lines
    # Other updates carry no such mark.
    assert all("refuses" not in line for line in lines if "azure-weu" not in line)


def _record(urn: str, **fields: Any) -> dict[str, Any]:
    qualified, name = urn.split("::")[2:]
    return {"urn": urn, "type": qualified.rsplit("$", 1)[-1], "name": name, "inputs": {"a": 1}, **fields}


def test_an_alias_carries_a_renamed_protected_resource_over_instead_of_deleting_it() -> None:
    """The engine follows aliases: a re-typed or renamed resource is the same resource, never a protected delete."""
    root = "urn:pulumi:prod::meshfleet::meshfleet:index:Fleet$"
    old_class = _record(f"{root}kubernetes:storage.k8s.io/v1beta1:StorageClass::gp3", protect=True)
    new_class = _record(
        f"{root}kubernetes:storage.k8s.io/v1:StorageClass::gp3",
        protect=True,
        aliases=["type=kubernetes:storage.k8s.io/v1beta1:StorageClass"],
    )
    old_key = _record(f"{root}aws:kms/key:Key::old-key", protect=True)
    new_key = _record(f"{root}aws:kms/key:Key::new-key", protect=True, aliases=[old_key["urn"]])
    result = diff([old_class, old_key], [new_class, new_key])
    assert (result.created, result.deleted, result.updated) == ([], [], [])
    assert [(r["name"], paths) for r, paths in result.rewired] == [
        ("new-key", ["(urn)", "(aliases)"]),
        ("gp3", ["(urn)", "(aliases)"]),
    ]


def test_a_new_provider_is_an_update_and_absent_fields_are_no_change() -> None:
    urn = "urn:pulumi:dev::meshfleet::meshfleet:index:Fleet$kubernetes:core/v1:Secret::s"
    before = _record(urn, provider="urn:...::east-k8s::1", protect=False, aliases=[], ignoreChanges=[])
    # An older plan.json without the option fields compares equal to their empty values.
    assert (
        diff(
            [{k: v for k, v in before.items() if k not in ("protect", "aliases", "ignoreChanges")}], [before]
        ).unchanged
        == 1
    )
    moved = {**before, "provider": "urn:...::west-k8s::2"}
    result = diff([before], [moved])
    # The new provider may replace the object (another cluster's API): never "recorded only".
    assert [(r["name"], paths) for r, paths in result.updated] == [("s", ["(provider)"])] and result.rewired == []


def test_refused_in_place_matches_whole_lists_and_their_entries() -> None:
    """A zone list that grows differs as one path, one that changes an entry by index: both are AKS refusals."""
    pool = "azure-native:containerservice:AgentPool"
    grown = changed_paths({"availabilityZones": ["1", "2"]}, {"availabilityZones": ["1", "2", "3"]})
    moved = changed_paths({"availabilityZones": ["1", "2"]}, {"availabilityZones": ["1", "3"]})
    assert (grown, moved) == ([".availabilityZones"], [".availabilityZones[1]"])
    assert refused({"type": pool}, grown + moved + [".count", ".availabilityZonesExtra"]) == grown + moved
    assert refused({"type": "azure-native:containerservice:ManagedCluster"}, [".agentPoolProfiles[1].vmSize"]) == []
    release = "kubernetes:helm.sh/v3:Release"
    volumes = [".values.server.storageClass", ".values.server.storage"]
    consul = {"type": release, "inputs": {"chart": "consul"}}
    assert refused(consul, [*volumes, ".values.server.replicas", ".values.server.storageExtra"]) == volumes
    # Another chart's `server` values are its own business.
    assert refused({"type": release, "inputs": {"chart": "vault"}}, volumes) == []
