"""Bad input, tried as a new user would (issue 11): never a traceback, never a silent acceptance.

Three classes, each case asserting the path, the message and the fix:
1. files and values that used to end in a traceback (exit 2 / RunError instead);
2. values that used to plan and then be refused by the cloud (regions, zones,
   Kubernetes support windows, machine types, API endpoints, duplicate keys);
3. messages whose fix was wrong or vague.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, load_fleet
from components.config.cloudfacts import DATA_DIR, facts, support_verdict
from components.config.offline import TODAY_ENV
from ops import cli
from ops.stackconfig import StackConfig, read_stack_config
from ops.yamlfile import load_yaml_file
from tests.helpers import ROOT, fleet_of, meshfleet_process, stack_config

DEFAULTS = stack_config("local").value("defaults")
#: The day the support-window cases are judged on (the data files' horizon).
TODAY = "2026-11-30"


@pytest.fixture(autouse=True)
def _pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TODAY_ENV, TODAY)


def problems_of(fleet: Any) -> list[Any]:
    with pytest.raises(ConfigError) as err:
        load_fleet(DEFAULTS, fleet)
    return err.value.problems


def only(problems: list[Any], path: str) -> Any:
    found = [p for p in problems if p.path == path]
    assert len(found) == 1, [p.render() for p in problems]
    return found[0]


def plan_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes) -> tuple[int, str]:
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_bytes(text.encode() if isinstance(text, str) else text)
    code = cli.main(["plan", "--config", str(stack)])
    return code, capsys.readouterr().err


# --------------------------------------------------------------------------
# Class 1: tracebacks -> exit 2 with file, line:column, what is wrong and the fix

FILE_CASES: list[tuple[str, str | bytes, str, str, str]] = [
    # (id, file content, file:line:column suffix, message fragment, fix fragment)
    (
        "list-document",
        "- a\n- b\n",
        ":1:1",
        "the file holds a list; a stack file is a map",
        "start the file with `config:`",
    ),
    ("scalar-document", "hello\n", ":1:1", "the file holds the text 'hello'", "start the file with `config:`"),
    ("config-not-a-map", "config: [1, 2]\n", ":1:9", "`config:` is a list, not a map", "followed by indented keys"),
    (
        "tab-indent",
        "config:\n\tmeshfleet:fleet: {}\n",
        ":2:1",
        "a tab character: YAML indents with spaces only",
        "replace the tab with spaces",
    ),
    (
        "unclosed-bracket",
        "config:\n  meshfleet:fleet:\n    zones: [a, b\n    x: 1\n",
        ":4:6",
        "the '[' opened at line 3, column 12 is not closed here",
        "close it with ']'",
    ),
    ("unclosed-at-end", "config: {a: [1,\n", ":2:1", "never closed before the end of the file", "close it"),
    (
        "undefined-alias",
        "config:\n  meshfleet:fleet: *base\n",
        ":2:20",
        "*base refers to an anchor &base that is not defined",
        "define `&base` earlier",
    ),
    (
        "duplicate-key",
        "config:\n  meshfleet:fleet:\n    fleet: {}\n    fleet: {}\n",
        ":4:5",
        "the key 'fleet' is defined twice in this map (first at line 3, column 5)",
        "remove one of them",
    ),
    ("not-utf8", b"config:\n  x: caf\xe9\n", ":2:9", "not UTF-8 text: byte 0xe9", "save the file as UTF-8"),
    (
        "two-documents",
        "config: {}\n---\nconfig: {}\n",
        ":2:1",
        "a second YAML document starts here",
        "remove the second document",
    ),
    ("control-char", "config:\n  x: a\x01b\n", ":2:7", "the control character U+0001", "remove it"),
    ("unknown-tag", "config:\n  x: !vault secret\n", ":2:6", "an unsupported YAML tag", "remove the tag"),
    ("self-alias", "config: &r [*r]\n", ":1:9", "the value would contain itself", "remove the self-reference"),
    ("bad-indent", "config:\n  a: 1\n b: 2\n", ":3:2", "indentation does not match", "same column as its sibling keys"),
    (
        "alias-bomb",
        "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
        + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcde", "bcdef", strict=True)),
        ":1:1",
        "expands to more than 200000 values through aliases",
        "write the values out",
    ),
    ("too-deep", "config: " + "[" * 3000 + "]" * 3000 + "\n", ":1:1", "nested too deeply", "flatten"),
    (
        "fleet-outside-config",
        "meshfleet:fleet:\n  schemaVersion: 1\n",
        ":1:1",
        "'meshfleet:fleet' is at the top level of the file, outside `config:`",
        "indent `meshfleet:fleet:` (and everything under it) under `config:`",
    ),
    (
        "config-misspelt",
        "configs:\n  meshfleet:fleet: {}\n",
        ":1:1",
        "it is under 'configs', which Pulumi does not read",
        "rename `configs:` to `config:`",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "message", "fix"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_bad_stack_file_exits_2_with_file_line_column_and_fix(tmp_path, capsys, text, where, message, fix):
    code, err = plan_file(tmp_path, capsys, text)
    assert code == 2, err
    assert f"Pulumi.bad.yaml{where}: " in err, err
    assert message in err, err
    assert f"fix: {fix}" in err or fix in err.split("fix: ", 1)[-1], err
    assert "Traceback" not in err


def test_config_path_that_is_a_directory(tmp_path, capsys):
    code = cli.main(["plan", "--config", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{tmp_path}: is a directory, not a stack file" in err
    assert f"fix: pass the stack file itself, e.g. {tmp_path / 'Pulumi.dev.yaml'}" in err


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("5", "is the number 5, not a map"),
        ("hello", "is the text 'hello', not a map"),
        ("[1, 2]", "is a list, not a map"),
    ],
)
def test_fleet_value_not_a_map_exits_2(tmp_path, capsys, value, said):
    code, err = plan_file(tmp_path, capsys, f"config:\n  meshfleet:fleet: {value}\n")
    assert code == 2
    assert f"meshfleet:fleet: {said}" in err
    assert "fix: write meshfleet:fleet as a map: `meshfleet:fleet:` followed by indented keys" in err


def test_unwritable_out_dir_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["plan", "--stack", "local", "--out", str(blocker / "plan")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the plan to {blocker / 'plan'}" in err and "fix: pass --out a directory" in err


def test_stack_files_are_read_as_yaml_1_2_like_the_cli(tmp_path):
    """yaml.v3 (the Pulumi CLI) resolves plain scalars by YAML 1.2; PyYAML's default is 1.1."""
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(
        "a: on\nb: yes\nc: no\nd: off\ne: y\nf: true\ng: FALSE\nh: 2026-01-01\ni: ~\nj: 0o17\nk: 1_000\n"
        "l: 1.30\nm: 0x1F\nn: !!binary aGVsbG8=\no: &x {p: 1}\nq: {<<: *x, p: 2}\n1: int key\n"
    )
    doc, _ = load_yaml_file(path)
    assert doc == {
        "a": "on",
        "b": "yes",
        "c": "no",
        "d": "off",
        "e": "y",
        "f": True,
        "g": False,
        "h": "2026-01-01",
        "i": None,
        "j": 15,
        "k": 1000,
        "l": 1.3,
        "m": 31,
        "n": "hello",
        "o": {"p": 1},
        "q": {"p": 2},
        "1": "int key",
    }


def test_yes_is_not_a_boolean_any_more(tmp_path, capsys):
    fleet = fleet_of("local")
    text = yaml.safe_dump({"config": {"meshfleet:fleet": fleet}}).replace("protect: false", "protect: no")
    code, err = plan_file(tmp_path, capsys, text)
    assert code == 2
    assert "fleet.protect: is the text 'no'; expected true or false" in err
    assert (
        "fix: write protect: true or protect: false, without quotes (YAML 1.2 reads yes, no, on and off as text)" in err
    )


def _runtime_load(monkeypatch: pytest.MonkeyPatch, config: dict[str, str]) -> Any:
    from components.config import runtime

    monkeypatch.setattr(runtime.pulumi, "get_project", lambda: "meshfleet")
    pulumi.runtime.config.set_all_config(config, [])
    try:
        return runtime.load_from_runtime()
    finally:
        pulumi.runtime.config.set_all_config({}, [])


@pytest.mark.parametrize(
    ("wire", "said"),
    [
        ("hello", "is the text 'hello', not a map"),
        ("[1, 2]", "is a list, not a map"),
        ("5", "is the number 5, not a map"),
    ],
)
def test_runtime_non_mapping_fleet_is_a_clean_run_error(monkeypatch, wire, said):
    """Under `pulumi up` only a non-mapping meshfleet:fleet reaches the program (the CLI parsed the file)."""
    with pytest.raises(pulumi.RunError) as err:
        _runtime_load(monkeypatch, {"meshfleet:fleet": wire})
    assert f"meshfleet:fleet: {said}" in str(err.value)
    assert "Traceback" not in str(err.value)


def test_runtime_names_a_misspelt_fleet_key(monkeypatch):
    with pytest.raises(pulumi.RunError) as err:
        _runtime_load(monkeypatch, {"meshfleet:flet": "{}"})
    assert "the stack has no meshfleet:fleet config; it has 'meshfleet:flet'" in str(err.value)
    assert "did you mean 'meshfleet:fleet'?" in str(err.value)


def test_runtime_program_stops_with_run_error_not_traceback():
    """The real program (`__main__.py` under the mock engine) with a non-mapping fleet."""
    from ops.plan import run_plan

    base = stack_config("local")
    values = {**base.values, "meshfleet:fleet": "not a map"}
    with pytest.raises(pulumi.RunError) as err:
        run_plan(ROOT, StackConfig(base.project, "bad", values), prevalidate=False)
    assert "meshfleet:fleet: is the text 'not a map', not a map" in str(err.value)


def test_a_failed_program_leaves_no_unstarted_registration_behind():
    """The registrations a failed program left are cancelled before its loop closes: no
    "coroutine ... was never awaited" surfaces later, in whatever runs next."""
    import gc
    import warnings

    from ops.plan import run_plan

    base = stack_config("local")
    values = {**base.values, "meshfleet:fleet": "not a map"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(pulumi.RunError):
            run_plan(ROOT, StackConfig(base.project, "bad", values), prevalidate=False)
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


yaml_chars = st.sampled_from([*list("ab:-[]{}*&!#'\"|>%@`?,\t\n  019.~<=\\"), "\n  ", ": ", "- ", "---\n", "<<: "])
scalars = st.none() | st.booleans() | st.integers(-3, 70000) | st.floats(allow_nan=True) | st.text(max_size=8)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | st.integers(0, 3), inner, max_size=3)
    ),
    max_leaves=8,
)


def _assert_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    code, err = plan_file(tmp_path, capsys, content)
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert "fix: " in err, err


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_property_arbitrary_bytes_exit_2_never_a_traceback(tmp_path, capsys, content):
    _assert_clean(tmp_path, capsys, content)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(yaml_chars, max_size=40).map("".join))
def test_property_yaml_shaped_text_exit_2_never_a_traceback(tmp_path, capsys, text):
    _assert_clean(tmp_path, capsys, text.encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents, st.sampled_from(["top", "config", "fleet", "cluster"]))
def test_property_arbitrary_yaml_documents_exit_2_never_a_traceback(tmp_path, capsys, doc, where):
    if where == "top":
        outer: Any = doc
    elif where == "config":
        outer = {"config": doc}
    elif where == "fleet":
        outer = {"config": {"meshfleet:fleet": doc}}
    else:
        fleet = fleet_of("dev")
        fleet["clusters"][0] = doc
        outer = {"config": {"meshfleet:fleet": fleet}}
    _assert_clean(tmp_path, capsys, yaml.safe_dump(outer, allow_unicode=True).encode())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents | st.text(max_size=20), documents | st.none())
def test_property_runtime_loader_run_error_or_spec(monkeypatch, fleet, defaults):
    """Whatever the engine hands the program: a FleetSpec or one clean RunError."""
    import json

    config = {"meshfleet:fleet": fleet if isinstance(fleet, str) else json.dumps(fleet)}
    if defaults is not None:
        config["meshfleet:defaults"] = json.dumps(defaults)
    try:
        _runtime_load(monkeypatch, config)
    except pulumi.RunError as err:
        assert "invalid stack config" in str(err) and "fix: " in str(err)


def test_subprocess_bad_yaml_exits_2_without_traceback(tmp_path):
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text("config:\n  meshfleet:fleet: [unclosed\n")
    done = meshfleet_process("plan", "--config", str(stack))
    assert done.returncode == 2, done.stderr
    assert f"{stack}:3:1: the '[' opened at line 2, column 20 is not closed here" in done.stderr
    assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------
# Class 2: accepted and planned, then refused by the cloud


def test_every_data_file_dates_and_sources_each_list():
    for cloud in ("aws", "azure", "gcp"):
        doc = yaml.safe_load((DATA_DIR / f"{cloud}.yaml").read_text())
        for section in ("regions", "kubernetes", "machine_types"):
            assert isinstance(doc[section]["as_of"], date), (cloud, section)
            assert doc[section]["source"].strip(), (cloud, section)
        f = facts(cloud)
        assert f.machine_shape.fullmatch(f.machine_example)
        for other in {"aws", "azure", "gcp"} - {cloud}:
            assert not f.machine_shape.fullmatch(facts(other).machine_example), (cloud, other)
    assert facts("gcp").zone_names("europe-west1") == ("europe-west1-b", "europe-west1-c", "europe-west1-d")
    assert facts("aws").zone_names("us-east-1")[0] == "us-east-1a"
    assert facts("azure").zone_names("westeurope") == ("1", "2", "3")


# (cloud, version, today, status): the dates are the published calendars' (data files), written out here.
VERDICTS = [
    ("aws", "1.33", "2026-07-28", "standard"),
    ("aws", "1.33", "2026-07-29", "extended"),  # EKS: extended billing starts on the end-of-standard day
    ("aws", "1.31", "2026-11-25", "extended"),
    ("aws", "1.31", "2026-11-26", "end-of-life"),
    ("aws", "1.29", "2026-11-30", "end-of-life"),  # older than the calendar
    ("aws", "1.36", "2026-06-01", "not-yet-available"),
    ("aws", "1.40", "2026-11-30", "unknown"),
    ("azure", "1.34.2", "2026-11-29", "standard"),
    ("azure", "1.34", "2026-11-30", "extended"),  # LTS only
    ("azure", "1.33", "2027-07-31", "end-of-life"),
    ("gcp", "1.35.4-gke.1200", "2026-11-30", "standard"),
    ("gcp", "1.33", "2026-11-30", "extended"),  # Extended channel only
    ("gcp", "1.36", "2026-06-14", "not-yet-available"),
    ("gcp", "latest", "2026-11-30", "unknown"),
]


@pytest.mark.parametrize(("cloud", "version", "today", "status"), VERDICTS)
def test_support_verdict(cloud, version, today, status):
    verdict = support_verdict(cloud, version, date.fromisoformat(today))
    assert verdict.status == status
    assert verdict.supported == (status == "standard" or (status == "extended" and cloud == "aws"))


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    parts = [int(t) if t.isdigit() else t for t in path.replace("]", "").replace("[", ".").split(".")]
    target: Any = doc
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return doc


def mutated(base: str, *changes: tuple[str, Any]) -> dict[str, Any]:
    fleet = fleet_of(base)
    for path, value in changes:
        _set(fleet, path, value)
    return fleet


# (id, fleet, path, message fragment, fix fragment)
CLOUD_CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "region-of-another-cloud",
        mutated("dev", ("clusters[0].region", "westeurope")),
        "clusters[0].region",
        "'westeurope' is an Azure region, but this cluster has cloud: aws",
        "use an AWS region (e.g. us-east-1, eu-west-1), or set cloud: azure",
    ),
    (
        "region-typo",
        mutated("dev", ("clusters[2].region", "europe-west-1"), ("clusters[2].zones", ["europe-west-1-b"])),
        "clusters[2].region",
        "'europe-west-1' is not a Google Cloud region (as of 2026-11-30)",
        "did you mean 'europe-west1'?",
    ),
    (
        "azure-region-without-zones",
        mutated("dev", ("clusters[1].region", "westus")),
        "clusters[1].region",
        "'westus' has no availability zones",
        "choose a region with zones, e.g. westus3, westus2",
    ),
    (
        "zone-the-region-lacks",
        mutated("dev", ("clusters[2].zones", ["europe-west1-a", "europe-west1-b"])),
        "clusters[2].zones",
        "europe-west1-a is not a zone of europe-west1; allowed values: europe-west1-b, europe-west1-c, europe-west1-d",
        "use zones of europe-west1: europe-west1-b, europe-west1-c, europe-west1-d",
    ),
    (
        "eks-zone-letter",
        mutated("dev", ("clusters[0].zones", ["us-east-1a", "us-east-1g"])),
        "clusters[0].zones",
        "us-east-1g is not a zone of us-east-1",
        "us-east-1f",
    ),
    (
        "eks-end-of-life",
        mutated("dev", ("clusters[0].kubernetesVersion", "1.29")),
        "clusters[0].kubernetesVersion",
        "Kubernetes 1.29 is older than every version EKS supports (calendar as of 2026-09-12)",
        "use one of 1.32, 1.33, 1.34, 1.35, 1.36",
    ),
    (
        "eks-past-extended",
        mutated("dev", ("clusters[0].kubernetesVersion", "1.31")),
        "clusters[0].kubernetesVersion",
        "EKS support for Kubernetes 1.31 ended on 2026-11-26: EKS refuses clusters on it",
        "use one of 1.32, 1.33, 1.34, 1.35, 1.36",
    ),
    (
        "aks-lts-only",
        mutated("dev", ("clusters[1].kubernetesVersion", "1.33")),
        "clusters[1].kubernetesVersion",
        "AKS standard support for Kubernetes 1.33 ended on 2026-07-31; what remains is long-term support (LTS)",
        "use one of 1.35, 1.36, 1.37",
    ),
    (
        "gke-extended-channel-only",
        mutated("dev", ("clusters[2].kubernetesVersion", "1.33")),
        "clusters[2].kubernetesVersion",
        "GKE standard support for Kubernetes 1.33 ended on 2026-08-03; only the Extended channel still offers it",
        "or set releaseChannel: EXTENDED",
    ),
    (
        "unknown-future-version",
        mutated("dev", ("clusters[1].kubernetesVersion", "1.40")),
        "clusters[1].kubernetesVersion",
        "Kubernetes 1.40 is not in the AKS release calendar (as of 2026-08-31)",
        "refresh components/config/data/azure.yaml",
    ),
    (
        "azure-size-on-eks",
        mutated("dev", ("clusters[0].nodePools[0].machineType", "Standard_D4s_v5")),
        "clusters[0].nodePools[0].machineType",
        "'Standard_D4s_v5' is an Azure VM size (Standard_ followed by family, vCPUs and version) (Azure); EKS node "
        "pools take an EC2 instance type",
        "e.g. machineType: m6i.large",
    ),
    (
        "ec2-type-on-gke",
        mutated("dev", ("clusters[2].nodePools[0].machineType", "m6i.large")),
        "clusters[2].nodePools[0].machineType",
        "'m6i.large' is an EC2 instance type (family, a dot, a size) (AWS); GKE node pools take a Compute Engine",
        "machineType: e2-standard-4",
    ),
    (
        "gce-type-on-aks",
        mutated("dev", ("clusters[1].nodePools[1].machineType", "e2-standard-4")),
        "clusters[1].nodePools[1].machineType",
        "'e2-standard-4' is a Compute Engine machine type",
        "machineType: Standard_D4s_v5",
    ),
    (
        "no-shape",
        mutated("dev", ("clusters[0].nodePools[0].machineType", "large")),
        "clusters[0].nodePools[0].machineType",
        "'large' is not an EC2 instance type",
        "m6i.large",
    ),
    (
        "endpoint-loopback",
        mutated("local", ("clusters[0].apiEndpoint", "https://127.0.0.1:6443")),
        "clusters[0].apiEndpoint",
        "127.0.0.1 is a loopback address: every peer would reach itself",
        "control-plane container's address",
    ),
    (
        "endpoint-localhost",
        mutated("local", ("clusters[0].apiEndpoint", "https://localhost:6443")),
        "clusters[0].apiEndpoint",
        "localhost is a loopback name",
        "docker inspect",
    ),
    (
        "endpoint-ipv6-loopback",
        mutated("local", ("clusters[1].apiEndpoint", "https://[::1]:6443")),
        "clusters[1].apiEndpoint",
        "::1 is a loopback address",
        "docker inspect",
    ),
    (
        "endpoint-link-local",
        mutated("local", ("clusters[0].apiEndpoint", "https://169.254.10.1")),
        "clusters[0].apiEndpoint",
        "169.254.10.1 is a link-local address",
        "docker inspect",
    ),
    (
        "endpoint-unspecified",
        mutated("local", ("clusters[0].apiEndpoint", "https://0.0.0.0:6443")),
        "clusters[0].apiEndpoint",
        "0.0.0.0 is the unspecified address",
        "docker inspect",
    ),
    (
        "endpoint-duplicate",
        mutated("local", ("clusters[1].apiEndpoint", "https://172.18.0.2:6443/")),
        "clusters[1].apiEndpoint",
        "https://172.18.0.2:6443/ is already the API endpoint of clusters[0] (kind-east)",
        "this cluster's own server URL",
    ),
    (
        "endpoint-port-range",
        mutated("local", ("clusters[0].apiEndpoint", "https://172.18.0.2:99999")),
        "clusters[0].apiEndpoint",
        "has a port outside 1-65535",
        "https://172.18.0.2:6443",
    ),
    (
        "endpoint-port-zero",
        mutated("local", ("clusters[0].apiEndpoint", "https://172.18.0.2:0")),
        "clusters[0].apiEndpoint",
        "'https://172.18.0.2:0' has port 0",
        "write the API server's port, e.g. :6443",
    ),
]


@pytest.mark.parametrize(
    ("fleet", "path", "message", "fix"), [c[1:] for c in CLOUD_CASES], ids=[c[0] for c in CLOUD_CASES]
)
def test_cloud_facts_rules(fleet, path, message, fix):
    problem = only(problems_of(copy.deepcopy(fleet)), path)
    assert message in problem.message, problem.render()
    assert fix in problem.fix, problem.render()


def test_gke_extended_channel_keeps_an_old_minor():
    fleet = mutated("dev", ("clusters[2].kubernetesVersion", "1.33"), ("clusters[2].releaseChannel", "EXTENDED"))
    assert load_fleet(DEFAULTS, fleet).clusters[2].kubernetes_version == "1.33"


def test_stacks_validate_on_the_data_horizon():
    """The stacks moved AKS and GKE to 1.35 (1.33 left AKS support on 2026-07-31, GKE standard on 2026-08-03)."""
    for name in ("dev", "staging", "prod", "local"):
        config = stack_config(name)
        spec = load_fleet(config.value("defaults"), config.value("fleet"))
        versions = {(c.cloud, getattr(c, "kubernetes_version", None)) for c in spec.clusters}
        assert ("azure", "1.33") not in versions and ("gcp", "1.33") not in versions


# --------------------------------------------------------------------------
# Class 3: messages whose fix was wrong or vague

MESSAGE_CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "zone-as-number",
        mutated("dev", ("clusters[1].zones", [1, "2", "3"])),
        "clusters[1].zones[0]",
        "is the number 1; expected text",
        'quote it: zones: ["1"]',
    ),
    (
        "version-as-number",
        mutated("dev", ("clusters[1].kubernetesVersion", 1.3)),
        "clusters[1].kubernetesVersion",
        "is the number 1.3; expected text",
        'quote it as you meant it: kubernetesVersion: "1.30" or "1.3" (unquoted, YAML reads both as the number 1.3)',
    ),
    (
        "account-as-number",
        mutated("dev", ("clusters[0].accountId", 111111111111)),
        "clusters[0].accountId",
        "is the number 111111111111; expected text",
        'quote it: accountId: "111111111111"',
    ),
    (
        "name-as-boolean",
        mutated("local", ("clusters[0].context", True)),
        "clusters[0].context",
        "is the boolean true; expected text",
        'quote it: context: "true" (unquoted, YAML reads true as a boolean)',
    ),
    (
        "number-quoted",
        mutated("dev", ("clusters[0].nodePools[0].minSize", "2")),
        "clusters[0].nodePools[0].minSize",
        "is the text '2'; expected a whole number",
        "write it without quotes: minSize: 2",
    ),
    (
        "list-as-scalar",
        mutated("local", ("mesh.revisions", "1.30.3")),
        "mesh.revisions",
        "is the text '1.30.3'; expected a list",
        'write a list, even of one item: revisions: ["1.30.3"]',
    ),
    (
        "empty-section",
        mutated("local", ("trust", None)),
        "trust",
        "is empty; expected a map with the keys roots",
        "give trust a value",
    ),
    (
        "empty-optional-section",
        mutated("local", ("fleet.apiAccess", None)),
        "fleet.apiAccess",
        "is empty; expected a map with the keys operatorCidrs, ciRunnerCidrs",
        "or remove the `apiAccess:` line to use the default",
    ),
    (
        "empty-literal",
        mutated("local", ("fleet.environment", None)),
        "fleet.environment",
        "is empty; allowed values: 'dev', 'staging' or 'production'",
        "set environment to one of the allowed values",
    ),
    (
        "optional-literal",
        mutated("local", ("mesh.migrateFrom", "kuma")),
        "mesh.migrateFrom",
        "'kuma' is not allowed; allowed values: 'istio', 'linkerd' or 'consul'",
        "use one of the allowed values, or leave migrateFrom out",
    ),
    (
        "literal-with-its-own-fix",
        mutated("local", ("clusters[1].platform", "openshift")),
        "clusters[1].platform",
        "'openshift' is not allowed; allowed values: 'gke', 'k3d', 'k3s', 'microk8s' or 'minikube'",
        "OpenShift is not offered (its Istio profile also needs Multus and SecurityContextConstraints)",
    ),
    (
        "cluster-not-a-map",
        mutated("local", ("clusters[1]", "kind-west")),
        "clusters[1]",
        "is the text 'kind-west'; expected a map with cloud, name and the cloud's keys",
        "write each entry of clusters as a map",
    ),
    (
        "pattern-account",
        mutated("dev", ("clusters[0].accountId", "1234")),
        "clusters[0].accountId",
        "'1234' is not an AWS account id: exactly 12 digits, quoted",
        'write it like accountId: "111111111111"',
    ),
    (
        "pattern-guid-case",
        mutated("dev", ("clusters[1].subscriptionId", "00000000-0000-4000-8000-00000000A2E0")),
        "clusters[1].subscriptionId",
        "is not an Azure subscription id: a GUID in lowercase hex",
        "write it in lowercase: subscriptionId: 00000000-0000-4000-8000-00000000a2e0",
    ),
    (
        "pattern-role-arn",
        mutated("dev", ("fleet.deployers.aws.roleArn", "meshfleet-deployer")),
        "fleet.deployers.aws.roleArn",
        "'meshfleet-deployer' is not an IAM role ARN: arn:aws:iam::<12-digit account id>:role/<name>",
        "roleArn: arn:aws:iam::111111111111:role/meshfleet-deployer",
    ),
    (
        "pattern-endpoint",
        mutated("local", ("clusters[0].apiEndpoint", "http://172.18.0.2:6443")),
        "clusters[0].apiEndpoint",
        "'http://172.18.0.2:6443' is not an https:// URL of the API server",
        "apiEndpoint: https://172.18.0.2:6443",
    ),
    (
        "schema-version-text",
        mutated("local", ("schemaVersion", "1")),
        "schemaVersion",
        "is the text '1'; expected a whole number (1 to 2)",
        "add `schemaVersion: 1` (a number, unquoted)",
    ),
    (
        "azure-zone-out-of-range",
        mutated("dev", ("clusters[1].zones", ["4"])),
        "clusters[1].zones",
        "4 is not a zone of westeurope; allowed values: 1, 2, 3",
        'use zones of westeurope, quoted: zones: ["1", "2", "3"]',
    ),
    (
        "root-names-repeat",
        mutated("local", ("trust", {"roots": [{"name": "r"}, {"name": "r"}]})),
        "trust.roots",
        "root names repeat: r (roots: r, r)",
        "name each root once",
    ),
    (
        "below-minimum",
        mutated("dev", ("clusters[0].nodePools[0].diskSizeGb", 8)),
        "clusters[0].nodePools[0].diskSizeGb",
        "8 is below the minimum 20",
        "set diskSizeGb to 20 or more",
    ),
]


@pytest.mark.parametrize(
    ("fleet", "path", "message", "fix"), [c[1:] for c in MESSAGE_CASES], ids=[c[0] for c in MESSAGE_CASES]
)
def test_messages_say_exactly_what_to_write(fleet, path, message, fix):
    problem = only(problems_of(copy.deepcopy(fleet)), path)
    assert message in problem.message, problem.render()
    assert fix in problem.fix, problem.render()


def test_no_python_words_or_raw_regex_reach_users():
    text = "\n".join(p.render() for _, fleet, *_ in MESSAGE_CASES for p in problems_of(copy.deepcopy(fleet)))
    for word in ("None", "instance of", "dictionary", "TrustSpec", "valid string", "^", "\\d", "[0-9a-f]", "['"):
        assert word not in text, word


@pytest.mark.parametrize(
    ("stack", "message", "fix"),
    [
        (
            "config:\n  meshfleet:flet:\n    schemaVersion: 1\n",
            "the stack has no meshfleet:fleet config; it has 'meshfleet:flet'",
            "did you mean 'meshfleet:fleet'? rename 'meshfleet:flet' to 'meshfleet:fleet'",
        ),
        (
            "config:\n  meshfleet:fleets:\n    schemaVersion: 1\n",
            "it has 'meshfleet:fleets'",
            "rename 'meshfleet:fleets' to 'meshfleet:fleet'",
        ),
        (
            "config:\n  mehsfleet:fleet:\n    schemaVersion: 1\n",
            "it has 'mehsfleet:fleet'",
            "rename 'mehsfleet:fleet' to 'meshfleet:fleet'",
        ),
    ],
)
def test_misspelt_fleet_key_is_named(tmp_path, capsys, stack, message, fix):
    code, err = plan_file(tmp_path, capsys, stack)
    assert code == 2
    assert "meshfleet:fleet: the stack has no meshfleet:fleet config; " in err and message in err
    assert fix in err


@pytest.mark.parametrize("stack", ["", "config:\n  aws:region: us-east-1\n"], ids=["empty", "other keys only"])
def test_a_stack_without_a_fleet_is_not_told_to_rename_the_project_defaults(tmp_path, capsys, stack):
    """`meshfleet:defaults` comes from Pulumi.yaml, not from the user's file: never the misspelling."""
    code, err = plan_file(tmp_path, capsys, stack)
    assert code == 2
    assert "meshfleet:fleet: the stack has no meshfleet:fleet config" in err
    assert "fix: add it to stacks/Pulumi.<stack>.yaml under `config:`" in err
    assert "defaults" not in err


def test_a_misspelt_required_key_is_one_problem():
    """`minsize` is an unknown key and a missing `minSize` to pydantic; to the user one typo."""
    fleet = fleet_of("dev")
    pool = fleet["clusters"][0]["nodePools"][0]
    pool["minsize"] = pool.pop("minSize")
    fleet["fleet"]["protct"] = True  # an optional key misspelt: nothing is missing
    problems = problems_of(fleet)
    assert [(p.path, p.fix) for p in problems] == [
        (
            "clusters[0].nodePools[0].minsize",
            "did you mean 'minSize'? rename 'minsize' to 'minSize' (minSize is required)",
        ),
        ("fleet.protct", "did you mean 'protect'?"),
    ]
    pool.pop("minsize")  # truly missing: said as missing
    assert [(p.path, p.message) for p in problems_of(fleet) if p.path.startswith("clusters")] == [
        ("clusters[0].nodePools[0].minSize", "required but missing")
    ]


def test_bad_version_reports_the_root_problem_once():
    problems = problems_of(mutated("dev", ("clusters[0].kubernetesVersion", "1.31")))
    assert [p.path for p in problems] == ["clusters[0].kubernetesVersion"]  # no autoscaler mismatch


def test_wrong_region_reports_no_zone_problems():
    problems = problems_of(mutated("dev", ("clusters[0].region", "europe-west1")))
    assert [p.path for p in problems] == ["clusters[0].region"]


def test_allow_list_overflow_reported_once():
    fleet = mutated("prod", ("fleet.apiAccess.operatorCidrs", [f"198.51.100.{i}/32" for i in range(40)]))
    (problem,) = [p for p in problems_of(fleet) if "allow-list" in p.message]
    assert problem.path == "fleet.apiAccess"
    assert "aws accepts at most 40 (affects clusters[0] (aws-use1), clusters[1] (aws-usw2))" in problem.message
    assert "stay at or under 40" in problem.fix


def test_encrypted_certificate_with_plain_key_names_the_value_to_encrypt(tmp_path):
    fleet = fleet_of("local")
    fleet["trust"] = {
        "roots": [
            {
                "name": "byo",
                "source": "provided",
                "certificatePem": {"secure": "v1:AAAA"},
                "privateKeyPem": "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n",
            }
        ]
    }
    path = tmp_path / "Pulumi.byo.yaml"
    path.write_text(yaml.safe_dump({"config": {"meshfleet:fleet": fleet}}))
    config = read_stack_config(ROOT, "byo", path)
    with pytest.raises(ConfigError) as err:
        load_fleet(config.value("defaults"), config.value("fleet"))
    (problem,) = err.value.problems
    assert problem.path == "trust.roots[0].privateKeyPem"
    assert "privateKeyPem is plain text in the stack file while certificatePem is encrypted" in problem.message
    assert "pulumi config set --secret --path 'fleet.trust.roots[0].privateKeyPem' < root.key" in problem.fix
    assert "pulumi config set --path 'fleet.trust.roots[0].certificatePem' < root.crt" in problem.fix
    assert "not a PEM" not in problem.message


# --------------------------------------------------------------------------
# Class 3, the user audit: each message pinned whole (path, message and fix), and alone (one mistake, one problem)


def _without(fleet: dict[str, Any], path: str) -> dict[str, Any]:
    """`fleet` with the key at `path` (a.b[0].c) removed."""
    *parents, last = [int(t) if t.isdigit() else t for t in path.replace("]", "").replace("[", ".").split(".")]
    target: Any = fleet
    for part in parents:
        target = target[part]
    del target[last]
    return fleet


def _traffic(**fields: Any) -> dict[str, Any]:
    """The dev fleet with one traffic rule, `fields` added to it."""
    return mutated(
        "dev",
        ("policies.rules", {"t": {"kind": "traffic", "service": {"namespace": "shop", "name": "cart"}, **fields}}),
    )


def _many_pools(index: int, count: int) -> dict[str, Any]:
    """The dev fleet with cluster `index` given `count` pools at the per-pool maximum."""
    fleet = fleet_of("dev")
    template = fleet["clusters"][index]["nodePools"][0]
    fleet["clusters"][index]["nodePools"] = [
        {**template, "name": f"pool{j}", "minSize": 1, "maxSize": 1000} for j in range(count)
    ]
    return fleet


_LINKERD = {"kind": "linkerd", "meshId": "acme-dev", "repository": "https://helm.linkerd.io/edge"}
_DURATION_FORM = "a whole number above 0 and a unit, ms, s, m or h, with nothing between them, like 250ms, 5s or 1m"
_ISTIO_FORM = "an Istio release: major.minor.patch, without a leading v"
_POOL_LIMIT = "no cloud documents more than 1000 nodes in one node pool (AKS: 1000 per agent pool)"

# (id, fleet, path, message, fix): the only problem the fleet has, word for word.
AUDIT_CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    # 1. A union written as text names its own discriminator and values.
    (
        "mesh-as-text",
        mutated("dev", ("mesh", "linkerd")),
        "mesh",
        "is the text 'linkerd'; expected a map with kind (istio, linkerd or consul) and that kind's keys",
        "write mesh as a map: `kind: linkerd` and linkerd's keys (required: meshId, version, repository) indented "
        "under `mesh:`",
    ),
    (
        "policy-rule-as-text",
        mutated("dev", ("policies.rules", {"mesh-mtls": "strict"})),
        "policies.rules.mesh-mtls",
        "is the text 'strict'; expected a map with kind (mtls, default-deny, authorization, traffic or visibility) "
        "and that kind's keys",
        "write mesh-mtls as a map: `kind:` and that kind's keys indented under it",
    ),
    # 2. Durations and trust domain aliases say their form.
    (
        "duration-timeout",
        _traffic(timeout="4 seconds"),
        "policies.rules.t.timeout",
        f"'4 seconds' does not have the form timeout needs: {_DURATION_FORM}",
        "write timeout: 4s",
    ),
    (
        "duration-per-try-timeout",
        _traffic(retries={"attempts": 2, "perTryTimeout": "1.5s"}),
        "policies.rules.t.retries.perTryTimeout",
        f"'1.5s' does not have the form perTryTimeout needs: {_DURATION_FORM}",
        "write perTryTimeout: 1500ms",
    ),
    (
        "duration-interval",
        _traffic(circuitBreaker={"consecutiveErrors": 5, "interval": "10sec"}),
        "policies.rules.t.circuitBreaker.interval",
        f"'10sec' does not have the form interval needs: {_DURATION_FORM}",
        "write interval: 10s",
    ),
    (
        "duration-no-unit-guess",
        _traffic(circuitBreaker={"consecutiveErrors": 5, "baseEjectionTime": "0s"}),
        "policies.rules.t.circuitBreaker.baseEjectionTime",
        f"'0s' does not have the form baseEjectionTime needs: {_DURATION_FORM}",
        "write it like baseEjectionTime: 5s",
    ),
    (
        "trust-domain-alias",
        mutated("dev", ("mesh.trustDomainAliases", ["Old_Domain"])),
        "mesh.trustDomainAliases[0]",
        "'Old_Domain' is not a trust domain as trustDomain takes it: a DNS-style name of lowercase letters, digits, "
        "'-' and '.', starting and ending with a letter or digit",
        "write it like trustDomainAliases: [old-mesh.local]",
    ),
    # 3. Istio versions: each at its own path, once, at the root.
    (
        "istio-revision-label",
        mutated("dev", ("mesh.revisions", ["1-30-3"])),
        "mesh.revisions[0]",
        "'1-30-3' is how a revision label is written (istiod-1-30-3, istio.io/rev=1-30-3), not a version; each "
        f"entry of mesh.revisions must be {_ISTIO_FORM}",
        "write 1.30.3 (meshfleet derives the label 1-30-3 from it)",
    ),
    (
        "istio-stable-revision-label",
        mutated("dev", ("mesh.stableRevision", "1-30-3")),
        "mesh.stableRevision",
        "'1-30-3' is how a revision label is written (istiod-1-30-3, istio.io/rev=1-30-3), not a version; "
        f"mesh.stableRevision must be {_ISTIO_FORM}",
        "write 1.30.3 (meshfleet derives the label 1-30-3 from it)",
    ),
    (
        "istio-version-v",
        mutated("dev", ("mesh.version", "v1.30.3")),
        "mesh.version",
        f"'v1.30.3' has a leading v; mesh.version must be {_ISTIO_FORM}",
        "write 1.30.3",
    ),
    (
        "istio-version-not-in-revisions",
        mutated("dev", ("mesh.version", "1.31.0"), ("mesh.revisions", ["1.30.3"])),
        "mesh.revisions",
        "[1.30.3] does not contain mesh.version '1.31.0': version is the newest installed revision",
        "add mesh.version to mesh.revisions ([1.30.3, 1.31.0]), or set mesh.version to the newest of them",
    ),
    # 4. Node pools have an upper bound, and no range fix is impossible.
    (
        "pool-max-huge",
        mutated("dev", ("clusters[2].nodePools[0].maxSize", 99999999999999999999999)),
        "clusters[2].nodePools[0].maxSize",
        f"99999999999999999999999 is above the maximum 1000: {_POOL_LIMIT}",
        "set maxSize to 1000 or less; for more nodes, add another node pool",
    ),
    (
        "pool-min-huge",
        mutated("dev", ("clusters[1].nodePools[1].minSize", 30000)),
        "clusters[1].nodePools[1].minSize",
        f"30000 is above the maximum 1000: {_POOL_LIMIT}",
        "set minSize to 1000 or less; for more nodes, add another node pool",
    ),
    # 5. Missing fields and keys of another kind.
    (
        "missing-with-form",
        _without(fleet_of("dev"), "clusters[0].accountId"),
        "clusters[0].accountId",
        "required but missing",
        'set clusters[0].accountId to an AWS account id: exactly 12 digits, quoted, e.g. accountId: "111111111111"',
    ),
    (
        "missing-linkerd-version",
        mutated("dev", ("mesh", dict(_LINKERD))),
        "mesh.version",
        "required but missing",
        "set mesh.version to a Linkerd edge chart version: YYYY.M.N (chart 2026.6.3 is Linkerd 2.20, release "
        "edge-26.6.3), e.g. version: 2026.6.3",
    ),
    (
        "missing-linkerd-repository",
        mutated("dev", ("mesh", {**_without(dict(_LINKERD), "repository"), "version": "2026.6.3"})),
        "mesh.repository",
        "required but missing",
        "set mesh.repository to a Helm repository URL starting with https:// or oci://, e.g. repository: "
        "https://helm.linkerd.io/edge",
    ),
    (
        "key-of-another-mesh-kind",
        mutated("dev", ("mesh.datacenters", {"aws-use1": "east"})),
        "mesh.datacenters",
        "'datacenters' is a key of kind: consul only; mesh has kind: istio",
        "remove datacenters (kind istio has none), or, to use it, set mesh.kind: consul with that kind's keys",
    ),
    # 6. Host bits: the fix is the user's own range.
    (
        "cidr-host-bits",
        mutated("dev", ("clusters[0].network.nodeCidr", "10.10.0.1/16")),
        "clusters[0].network.nodeCidr",
        "'10.10.0.1/16' is not an IPv4 CIDR with its host bits zero (10.10.0.1/16 has host bits set)",
        "write it as its network address: 10.10.0.0/16 (the /16 that 10.10.0.1 is in)",
    ),
    (
        "cidr-not-an-address",
        mutated("dev", ("clusters[0].network.nodeCidr", "10.300.0.0/16")),
        "clusters[0].network.nodeCidr",
        "'10.300.0.0/16' is not an IPv4 CIDR (Octet 300 (> 255) not permitted in '10.300.0.0')",
        "write a network address and a prefix length, a.b.c.d/n: four numbers from 0 to 255 and n from 0 to 32, "
        "with the address's bits after the first n zero",
    ),
]


@pytest.mark.parametrize(
    ("fleet", "path", "message", "fix"), [c[1:] for c in AUDIT_CASES], ids=[c[0] for c in AUDIT_CASES]
)
def test_audit_messages_word_for_word(fleet, path, message, fix):
    problems = problems_of(copy.deepcopy(fleet))
    assert [(p.path, p.message, p.fix) for p in problems] == [(path, message, fix)]


def _patterns(annotation: Any) -> list[str]:
    """Every `pattern` inside a field's annotation (Optional, list items, Annotated aliases such as Duration)."""
    from typing import get_args

    metadata = [m for info in getattr(annotation, "__metadata__", ()) for m in getattr(info, "metadata", [])]
    found = [m.pattern for m in metadata if getattr(m, "pattern", None)]
    return found + [p for arg in get_args(annotation) for p in _patterns(arg)]


def test_every_pattern_anywhere_has_words_and_an_example():
    """Config and policy models alike: a value of the wrong form is told its form and an example to copy."""
    from components.config.errors import FORMATS, PATTERN_FORMATS
    from ops.reference import SECTIONS

    missing = []
    for _, model in SECTIONS:
        for name, field in model.model_fields.items():
            key = field.alias or name
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            for pattern in [m.pattern for m in field.metadata if getattr(m, "pattern", None)] + _patterns(
                field.annotation
            ):
                if key not in FORMATS and pattern not in PATTERN_FORMATS and not {"form", "example"} <= set(extra):
                    missing.append((model.__name__, key, pattern))
    assert not missing


def test_a_form_without_words_never_prints_the_description():
    """A pattern with no words falls back to the README, not to the field's description (a paragraph)."""
    from components.config.errors import problem_from_pydantic

    loc = ("mesh", "istio", "peerCredentialGeneration")
    problem = problem_from_pydantic(
        {"type": "string_pattern_mismatch", "loc": loc, "msg": "", "input": "x", "ctx": {"pattern": "^y$"}}
    )
    assert (problem.path, problem.message, problem.fix) == (
        "mesh.peerCredentialGeneration",
        "'x' does not have the form peerCredentialGeneration needs",
        "see peerCredentialGeneration in the README config reference for its form",
    )


def test_union_values_come_from_the_models():
    """The kinds a union message lists are the models' own Literals, not a copy."""
    from typing import get_args

    from components.config.models import IstioMeshSpec, LinkerdMeshSpec
    from components.policy.model import PolicyRule

    (problem,) = problems_of(mutated("dev", ("mesh", 7)))
    for mesh in (IstioMeshSpec, LinkerdMeshSpec):
        assert get_args(mesh.model_fields["kind"].annotation)[0] in problem.message
    (problem,) = problems_of(mutated("dev", ("policies.rules", {"r": ["mtls"]})))
    rules = [get_args(m.model_fields["kind"].annotation)[0] for m in get_args(get_args(PolicyRule)[0])]
    assert f"kind ({', '.join(rules[:-1])} or {rules[-1]})" in problem.message


def test_a_pool_bound_is_the_largest_per_pool_limit_the_sdks_document():
    """1000: AKS's agent pool `count` range (pulumi_azure_native); the AWS and GCP SDKs document no number."""
    import importlib.util

    from components.config.models import MAX_POOL_NODES

    spec = importlib.util.find_spec("pulumi_azure_native")
    assert spec is not None and spec.origin is not None
    agent_pool = (Path(spec.origin).parent / "containerservice" / "agent_pool.py").read_text()
    assert f"range of 0 to {MAX_POOL_NODES} (inclusive) for user pools" in agent_pool
    assert f"range of 1 to {MAX_POOL_NODES} (inclusive) for system pools" in agent_pool


@pytest.mark.parametrize(
    ("index", "field", "pools"),
    # AKS: 60 pools reach 79800 nodes; GKE: 30 pools reach 90003 (the pods of a /7), 6000 pools more node
    # addresses than a /8 has.
    [(1, "podCidr", 60), (2, "podCidr", 30), (2, "nodeCidr", 6000)],
)
def test_range_fix_never_proposes_a_range_larger_than_a_slash_8(index, field, pools):
    """Pools no range can hold are said to be too large, never told to use a /7 (or a /-46)."""
    import re

    (problem,) = [p for p in problems_of(_many_pools(index, pools)) if p.path == f"clusters[{index}].network.{field}"]
    assert all(int(n) >= 8 for n in re.findall(r"/(-?\d+)", problem.fix)), problem.render()
    assert f"the pools are too large for any {field}; even a /8" in problem.fix, problem.render()


def test_pools_too_large_for_any_range_word_for_word():
    (problem,) = [p for p in problems_of(_many_pools(1, 60)) if p.path == "clusters[1].network.podCidr"]
    assert problem.message == (
        "10.244.0.0/16 holds the pods of 256 nodes (AKS gives each node a /24), but the node pools of 'azure-weu' "
        "can reach 79800 nodes (maxSize plus each pool's upgrade surge nodes)"
    )
    assert problem.fix == (
        "lower maxSize or move pools to another cluster: the pools are too large for any podCidr; even a /8 (as "
        "large as 10.0.0.0/8, the largest private range) holds only the pods of 65536 nodes"
    )


# --------------------------------------------------------------------------
# README, "Config errors": three real messages

#: The line of stacks/Pulumi.dev.yaml each example changes (AKS version, EKS region, GKE project).
README_EXAMPLES = [
    '        kubernetesVersion: "1.35"\n        network:\n          nodeCidr: 10.20.0.0/16',
    "        region: us-east-1\n        zones: [us-east-1a",
    "        cloud: gcp\n",
]


def _example_stack(index: int) -> str:
    text = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    old = README_EXAMPLES[index]
    new = {
        0: old.replace('"1.35"', "1.30"),
        1: old.replace("us-east-1\n", "westeurope\n"),
        2: old + "        project: acme-dev-mesh\n",
    }[index]
    assert text.count(old) == 1
    return text.replace(old, new)


def test_readme_config_errors_are_real(tmp_path, capsys, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Config errors", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```text\n")[1:]]
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stacks").mkdir()
    for index, block in enumerate(blocks):
        (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(_example_stack(index))
        code = cli.main(["plan", "--config", "stacks/Pulumi.dev.yaml", "--project-dir", str(ROOT)])
        assert code == 2
        assert capsys.readouterr().err == block


def test_every_pattern_field_has_words_and_an_example():
    """A new `pattern=` field needs its entry in errors.FORMATS, or users get no example to copy."""
    import components.config.models as models
    from components.config.errors import FORMATS

    patterned = {
        field.alias or name
        for model in vars(models).values()
        if isinstance(model, type) and issubclass(model, models.Model)
        for name, field in model.model_fields.items()
        if any(getattr(m, "pattern", None) for m in field.metadata)
    }
    assert patterned and patterned <= set(FORMATS), patterned - set(FORMATS)
    for key, (_, example) in FORMATS.items():
        assert not any(c in example for c in "^$\\"), key
