"""The plan as CI writes it: `meshfleet plan --out DIR` in its own process.

CI uploads these files as pull-request artifacts, so the default path
(no --show-secrets) must not write a secret anywhere, and two processes
(different string-hash seeds) must write the same bytes. Each (stack, seed)
plan runs once per session (helpers.cli_plan); tests only read its files.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops import cli
from ops.plan import Plan, render_tree, run_plan, write_plan
from ops.sim import DEFAULT_NOW, SECRET_SIG, SECRET_SIG_VALUE
from tests.helpers import ROOT, cli_plan, config_with, fleet_of, kubeconfig_of, plan_stack, written_files

#: Text that only a leaked secret puts in a file: PEM private keys (any
#: algorithm or encoding), kubeconfig user credentials, basic auth.
MARKERS = (
    "PRIVATE KEY",
    "OPENSSH PRIVATE",
    "client-key-data",
    "client-certificate-data",
    "token:",
    '"token"',
    "password",
)
#: A run of base64/JWT/PEM-body characters long enough to be a credential, not a word.
TOKENISH = re.compile(r"[A-Za-z0-9+/=._-]{24,}")
#: Two seeds that order sets of strings differently (checked below).
SEEDS = (1, 2)


@pytest.fixture(scope="session")
def cli_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory the xdist workers of this session share (or this session's own)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="module")
def dev_files(cli_base: Path) -> dict[str, bytes]:
    return written_files(cli_plan(cli_base, "dev", SEEDS[0]))


@pytest.fixture(scope="module")
def dev_plan() -> Plan:
    return plan_stack("dev")


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_SIG_VALUE:
        return _unwrap(value.get("value"))
    return value


def _secret_leaves(value: Any, inside: bool = False) -> Iterator[str]:
    """Every string under a Pulumi secret marker (the wire format, not ops.plan's renderer)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_SIG_VALUE:
            yield from _secret_leaves(value.get("value"), True)
            return
        for v in value.values():
            yield from _secret_leaves(v, inside)
    elif isinstance(value, list):
        for v in value:
            yield from _secret_leaves(v, inside)
    elif inside and isinstance(value, str):
        yield value


def _plain_text(value: Any) -> Iterator[str]:
    """Every string NOT under a secret marker."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_SIG_VALUE:
            return
        for k, v in value.items():
            yield k
            yield from _plain_text(v)
    elif isinstance(value, list):
        for v in value:
            yield from _plain_text(v)
    elif isinstance(value, str):
        yield value


def secret_needles(plan: Plan) -> set[str]:
    """Single-line fragments of the secrets of `plan`, as any serialization would still show them.

    From the simulated cloud: every private key (PEM, PKCS#8, OpenSSH body
    lines) and every service-account token (base64 and decoded). From the
    registrations: each credential-like run of a secret value that no public value also
    carries (a certificate inside the `cacerts` Secret is public elsewhere).
    """
    needles: set[str] = set()
    keys = 0
    tokens = 0
    for (type_, _name), outputs in plan.state.items():
        if type_ == "tls:index/privateKey:PrivateKey":
            for field in ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"):
                text = _unwrap(outputs.get(field))
                assert isinstance(text, str) and "PRIVATE KEY" in text, (type_, _name, field)
                needles |= {line for line in text.splitlines() if line and not line.startswith("-----")}
                keys += 1
        if type_ == "kubernetes:core/v1:Secret" and _unwrap(outputs.get("type")) == (
            "kubernetes.io/service-account-token"
        ):
            token = _unwrap(_unwrap(outputs.get("data"))["token"])
            needles |= {token, base64.b64decode(token).decode()}
            tokens += 1
    # dev: a root and one intermediate per cluster (3 encodings each); 3 x 2 reader tokens.
    assert (keys, tokens) == (4 * 3, 6)
    public = "\n".join(text for r in plan.resources for text in _plain_text(r.inputs))
    public += "\n".join(_plain_text(plan.outputs))
    secret_texts = [t for r in plan.resources for t in _secret_leaves(r.inputs)] + list(_secret_leaves(plan.outputs))
    for text in secret_texts:
        needles |= {s for s in TOKENISH.findall(text) if s not in public}
    return needles


def leaks(files: dict[str, bytes], needles: set[str]) -> list[tuple[str, str]]:
    found = []
    for rel, data in files.items():
        text = data.decode()
        # JSON escapes `/` never, but `+` and newlines do not matter to single-line needles.
        for needle in sorted(needles):
            if needle in text:
                found.append((rel, needle[:40]))
    return found


# --------------------------------------------------------------------------
# Secrets on disk


def test_default_plan_writes_every_file_it_promises(cli_base: Path, dev_files: dict[str, bytes]) -> None:
    clusters = ("aws-use1", "azure-weu", "gcp-euw1")
    assert "plan.json" in dev_files
    for c in clusters:
        assert f"manifests/{c}/secret-istio-system-cacerts.yaml" in dev_files
        for peer in clusters:
            if peer != c:
                assert f"manifests/{c}/secret-istio-system-istio-remote-secret-{peer}.yaml" in dev_files
    stdout = (cli_base / f"cli-plan-dev-seed{SEEDS[0]}" / "stdout").read_text()
    assert f"wrote {len(dev_files)} files to {cli_base / f'cli-plan-dev-seed{SEEDS[0]}'}/plan" in stdout.splitlines()


def test_default_plan_writes_no_secret_markers(cli_base: Path, dev_files: dict[str, bytes]) -> None:
    printed = (cli_base / f"cli-plan-dev-seed{SEEDS[0]}" / "stdout").read_text()
    found = [
        (rel, m)
        for rel, data in {**dev_files, "(stdout)": printed.encode()}.items()
        for m in MARKERS
        if m in data.decode()
    ]
    assert found == []


def test_default_plan_writes_no_simulated_secret(dev_files: dict[str, bytes], dev_plan: Plan) -> None:
    needles = secret_needles(dev_plan)
    assert leaks(dev_files, needles) == []


def test_secrets_are_redacted_where_they_were(dev_files: dict[str, bytes]) -> None:
    """The redaction is in place, not a dropped field: each secret reads `[secret]`."""
    for c in ("aws-use1", "azure-weu", "gcp-euw1"):
        cacerts = yaml.safe_load(dev_files[f"manifests/{c}/secret-istio-system-cacerts.yaml"])
        assert cacerts["stringData"] == "[secret]"
        assert "data" not in cacerts
    doc = json.loads(dev_files["plan.json"])
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["acme-dev-trust-root-2026-cert"]["inputs"]["privateKeyPem"] == "[secret]"
    for c in ("aws-use1", "azure-weu", "gcp-euw1"):
        assert by_name[f"acme-dev-trust-{c}-ca-cert"]["inputs"]["caPrivateKeyPem"] == "[secret]"
        assert by_name[f"acme-dev-trust-{c}-ca-csr"]["inputs"]["privateKeyPem"] == "[secret]"
        assert by_name[f"{c}-k8s"]["inputs"]["kubeconfig"] == "[secret]"
        assert doc["outputs"][f"{c}-kubeconfig"] == "[secret]"


def test_the_needles_find_a_leak(dev_plan: Plan, tmp_path: Path) -> None:
    """The search itself works: with --show-secrets every kind of secret is found."""
    from ops.plan import write_plan

    write_plan(dev_plan, tmp_path, show_secrets=True)
    files = written_files(tmp_path)
    found = leaks(files, secret_needles(dev_plan))
    assert {rel for rel, _ in found} >= {
        "plan.json",
        "manifests/aws-use1/secret-istio-system-cacerts.yaml",
        "manifests/aws-use1/secret-istio-system-istio-remote-secret-gcp-euw1.yaml",
    }
    assert all(any(m in data.decode() for data in files.values()) for m in ("PRIVATE KEY", "token:"))


def _kubeconfig_with_credentials(cluster: dict[str, Any]) -> tuple[str, list[str]]:
    """A kubeconfig of `cluster` with a token and a client key, and the strings that must never reach a file."""
    key = base64.b64encode(b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFAKEKEYFAKEKEYFAKEKEY\n").decode()
    doc = yaml.safe_load(kubeconfig_of(cluster, token="tok-7d1c0ffee5ecret"))
    doc["users"][0]["user"]["client-key-data"] = key
    return yaml.safe_dump(doc), ["tok-7d1c0ffee5ecret", key, "client-key-data", "PRIVATE KEY", "token:"]


def test_existing_cluster_kubeconfig_credentials_stay_off_disk(tmp_path: Path) -> None:
    """An encrypted kubeconfig (the engine holds the fleet secret) is written as [secret], never its contents."""
    fleet = fleet_of("local")
    kubeconfig, needles = _kubeconfig_with_credentials(fleet["clusters"][0])
    fleet["clusters"][0].pop("context")
    fleet["clusters"][0]["kubeconfig"] = kubeconfig
    out = tmp_path / "out"
    plan = run_plan(ROOT, config_with(fleet, secret_keys=["meshfleet:fleet"]), now=DEFAULT_NOW)
    write_plan(plan, out)
    files = {**written_files(out), "(tree)": render_tree(plan).encode()}
    for needle in needles:
        assert [rel for rel, data in files.items() if needle in data.decode()] == [], needle


def test_a_plain_text_kubeconfig_in_a_stack_file_is_refused_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    fleet = fleet_of("local")
    kubeconfig, needles = _kubeconfig_with_credentials(fleet["clusters"][0])
    fleet["clusters"][0].pop("context")
    fleet["clusters"][0]["kubeconfig"] = kubeconfig
    stack = tmp_path / "Pulumi.kc.yaml"
    stack.write_text(yaml.safe_dump({"config": {"meshfleet:fleet": fleet}}))
    assert cli.main(["plan", "--config", str(stack), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "clusters[0].kubeconfig: is plain text in the stack config" in captured.err
    assert "pulumi config set --secret --path 'meshfleet:fleet.clusters[0].kubeconfig'" in captured.err
    assert not (tmp_path / "out").exists()
    for needle in needles:
        assert needle not in captured.out + captured.err, needle


@pytest.mark.parametrize(
    ("key", "fix"),
    [
        (
            "meshfleet:protect",
            "move it there: `pulumi config rm meshfleet:protect`, then "
            "`pulumi config set --path 'meshfleet:fleet.fleet.protect' <value>`",
        ),
        (
            "meshfleet:mesh",
            "move it there: `pulumi config rm meshfleet:mesh`, then "
            "`pulumi config set --path 'meshfleet:fleet.mesh' <value>`",
        ),
        (
            "meshfleet:colour",
            "remove it (`pulumi config rm meshfleet:colour`) and set what you meant inside meshfleet:fleet "
            "(see the README's config reference)",
        ),
    ],
)
def test_a_key_meshfleet_never_reads_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture, key: str, fix: str):
    """`pulumi config set protect true` writes meshfleet:protect, which nothing reads: the stack would look
    protected and be deletable."""
    stack = tmp_path / "Pulumi.local.yaml"
    stack.write_text(yaml.safe_dump({"config": {"meshfleet:fleet": fleet_of("local"), key: True}}))
    assert cli.main(["plan", "--config", str(stack)]) == 2
    assert capsys.readouterr().err == (
        "meshfleet: invalid stack config (1 problem):\n"
        f"  - {key}: is not a key meshfleet reads: every setting of a stack lives in meshfleet:fleet\n"
        f"    fix: {fix}\n"
    )


# --------------------------------------------------------------------------
# Determinism across processes


def test_string_hashes_differ_between_the_seeds() -> None:
    """The two seeds really change per-process ordering (else the test below proves nothing)."""
    import subprocess
    import sys

    probe = "print(list({'aws-use1', 'azure-weu', 'gcp-euw1', 'istio-system', 'kind-east', 'kind-west'}))"
    orders = {
        subprocess.run(
            [sys.executable, "-c", probe], env={**os.environ, "PYTHONHASHSEED": str(s)}, capture_output=True, text=True
        ).stdout
        for s in SEEDS
    }
    assert len(orders) == 2


def test_two_processes_write_identical_bytes(cli_base: Path, dev_files: dict[str, bytes]) -> None:
    other = written_files(cli_plan(cli_base, "dev", SEEDS[1]))
    assert sorted(other) == sorted(dev_files)
    differ = [rel for rel in dev_files if dev_files[rel] != other[rel]]
    assert differ == []
