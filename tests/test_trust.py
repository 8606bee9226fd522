"""Fleet trust: real chains from the simulated tls provider, rotation phases, expiry guards.

Certificates are outputs, so the tests read them from the simulated cloud's
state (captured from the plan run) or from FleetTrust's own outputs, run
directly under the mocks. Chains are checked with real `openssl verify`.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import wait_for_rpcs

import ops.plan
from components.config import ConfigError
from components.config.offline import CLOCK_ENV, trust_clock
from components.trust import FleetTrust, TrustArgs
from ops.plan import Plan, RecordingMonitor, close_event_loop, new_event_loop, pinned_clock
from ops.sim import DEFAULT_NOW, SimContext, unwrap
from ops.sim import tls as simtls
from ops.sim.cloud import SimulatedCloud
from ops.stackconfig import spec_of
from tests.helpers import PlanChange, config_with, fleet_of, inputs, only_clusters, plan_fleet

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
CSR = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert"
TLS_TYPES = {PRIVATE_KEY, SELF_SIGNED, CSR, LOCALLY_SIGNED, "pulumi:providers:tls"}
#: Types that must never change in a rotation (the local fleet has none; the dev fleet has these).
NEVER_CHANGED = ("aws:eks/cluster", "aws:eks/nodeGroup", "azure-native:containerservice", "gcp:container/")

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")


# --------------------------------------------------------------------------
# Helpers


@dataclass
class Traced:
    """A plan plus the simulated cloud's state (the outputs of every resource)."""

    plan: Plan
    state: dict[tuple[str, str], dict[str, Any]]

    def out(self, type_: str, name: str) -> dict[str, Any]:
        return unwrap(self.state[(type_, name)])


def traced_plan(fleet: dict[str, Any], now: datetime = DEFAULT_NOW) -> Traced:
    plan = plan_fleet(fleet, now=now)
    return Traced(plan, plan.state)


@dataclass
class TrustRun:
    """FleetTrust run on its own under the mocks, outputs resolved."""

    certs: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    key_secret: dict[str, bool] = field(default_factory=dict)
    chains: dict[str, str] = field(default_factory=dict)
    bundles: dict[str, str] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _Log:
    def __init__(self, sink: list[str]):
        self.sink = sink

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.sink.append(msg)

    def __getattr__(self, _name: str) -> Any:
        return lambda *a, **k: None


class AgedCloud(SimulatedCloud):
    """A cloud where roots / intermediates were created `age` ago (an existing stack)."""

    def __init__(self, context: SimContext, root_age: timedelta, intermediate_age: timedelta = timedelta(0)):
        super().__init__(context)
        self.ages = {SELF_SIGNED: root_age, LOCALLY_SIGNED: intermediate_age}

    def new_resource(self, args: Any) -> Any:
        # A copy, not a change: registrations run on several threads at once.
        aged = dataclasses.replace(self.context, now=self.context.now - self.ages.get(args.typ, timedelta(0)))
        return self.simulate(args, aged)


def run_trust(fleet: dict[str, Any], now: datetime = DEFAULT_NOW, cloud: Any = None) -> TrustRun:
    with pinned_clock(now):
        spec = spec_of(config_with(fleet))
    context = SimContext(project="meshfleet", stack="test", now=now)
    sim = cloud(context) if cloud else SimulatedCloud(context)
    result = TrustRun()
    loop = new_event_loop()
    try:
        with pinned_clock(now):
            mocks.set_mocks(
                sim,
                project="meshfleet",
                stack="test",
                preview=False,
                monitor=RecordingMonitor(sim),
                logger=_Log(result.warnings),  # type: ignore[arg-type]
            )
            trust = FleetTrust(f"{spec.fleet.name}-trust", TrustArgs(spec, [c.name for c in spec.clusters]))

            async def get(out: pulumi.Output[str]) -> str:
                value = await out.future()
                assert value is not None
                return value

            async def resolve() -> None:
                for c in spec.clusters:
                    ca = trust.for_cluster(c.name)
                    result.certs[c.name] = await get(ca.cert_pem)
                    result.keys[c.name] = await get(ca.key_pem)
                    result.key_secret[c.name] = await ca.key_pem.is_secret()
                    result.chains[c.name] = await get(ca.chain_pem)
                    result.bundles[c.name] = await get(ca.bundle_pem)
                for name, root in trust.roots.items():
                    result.roots[name] = await get(root.cert_pem)

            loop.run_until_complete(resolve())
            loop.run_until_complete(wait_for_rpcs())
    finally:
        settings.reset_options()
        close_event_loop(loop)
    return result


def verify(tmp: Path, ca_pems: str, cert_pem: str, untrusted: str | None = None, at: datetime = DEFAULT_NOW) -> bool:
    """`openssl verify -CAfile ca [-untrusted inter] cert`, at the plan's clock (+1 h), not the wall clock."""
    assert OPENSSL is not None
    ca, cert = tmp / "ca.pem", tmp / "cert.pem"
    ca.write_text(ca_pems)
    cert.write_text(cert_pem)
    cmd = [OPENSSL, "verify", "-attime", str(int((at + timedelta(hours=1)).timestamp())), "-CAfile", str(ca)]
    if untrusted is not None:
        (tmp / "untrusted.pem").write_text(untrusted)
        cmd += ["-untrusted", str(tmp / "untrusted.pem")]
    done = subprocess.run([*cmd, str(cert)], capture_output=True, text=True, check=False)
    return done.returncode == 0 and done.stdout.strip().endswith(": OK")


def leaf_from(inter_pem: str, inter_key_pem: str, cluster: str) -> str:
    """A workload certificate issued by the intermediate, as a mesh CA would."""
    inter = x509.load_pem_x509_certificate(inter_pem.encode())
    ca_key = serialization.load_pem_private_key(inter_key_pem.encode(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    start = inter.not_valid_before_utc
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(inter.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(hours=24))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(f"spiffe://cluster.local/ns/{cluster}/sa/default")]
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_root(
    *,
    days_before: float = 1,
    days_after: float = 3650,
    ca: bool = True,
    cert_sign: bool = True,
    curve: ec.EllipticCurve | None = None,
    now: datetime = DEFAULT_NOW,
) -> tuple[str, str, ec.EllipticCurvePrivateKey]:
    """A bring-your-own root generated in the test: (cert PEM, key PEM, key)."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "byo test root")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=days_before))
        .not_valid_after(now + timedelta(days=days_after))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=cert_sign,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem, key


def with_trust(fleet: dict[str, Any], **trust: Any) -> dict[str, Any]:
    out = copy.deepcopy(fleet)
    out["trust"] = trust
    return out


def accepted(fleet: dict[str, Any]) -> None:
    with pinned_clock(DEFAULT_NOW):
        spec_of(config_with(fleet))


def problems_of(fleet: dict[str, Any]) -> list[tuple[str, str]]:
    with pinned_clock(DEFAULT_NOW), pytest.raises(ConfigError) as err:
        spec_of(config_with(fleet))
    return [(p.path, p.message) for p in err.value.problems]


ROOT_2026 = {"name": "root-2026"}
ROOT_2027 = {"name": "root-2027"}
LOCAL = fleet_of("local")
CLUSTERS = ["kind-east", "kind-west"]


def names(t: Traced, type_: str) -> list[str]:
    return sorted(r.name for r in t.plan.by_type(type_))


def cert_of(t: Traced, name_suffix: str, type_: str = LOCALLY_SIGNED) -> x509.Certificate:
    (name,) = [n for n in names(t, type_) if n.endswith(name_suffix)]
    return x509.load_pem_x509_certificate(t.out(type_, name)["certPem"].encode())


def pem_of(t: Traced, name_suffix: str, type_: str = LOCALLY_SIGNED) -> str:
    (name,) = [n for n in names(t, type_) if n.endswith(name_suffix)]
    return str(t.out(type_, name)["certPem"])


def key_of(t: Traced, name_suffix: str) -> str:
    (name,) = [n for n in names(t, PRIVATE_KEY) if n.endswith(name_suffix)]
    return str(t.out(PRIVATE_KEY, name)["privateKeyPem"])


# --------------------------------------------------------------------------
# Fixtures: plan once per scenario


@pytest.fixture(scope="module")
def local() -> Traced:
    return traced_plan(LOCAL)


@pytest.fixture(scope="module")
def phases() -> dict[int, Traced]:
    """Steady state (0), then the three rotation phases of a new root."""
    return {
        0: traced_plan(with_trust(LOCAL, roots=[ROOT_2026])),
        1: traced_plan(with_trust(LOCAL, roots=[ROOT_2026, ROOT_2027])),
        2: traced_plan(with_trust(LOCAL, roots=[ROOT_2026, ROOT_2027], signingRoot="root-2027")),
        3: traced_plan(with_trust(LOCAL, roots=[ROOT_2027])),
    }


@pytest.fixture(scope="module")
def dev() -> TrustRun:
    """The dev fleet's clusters, FleetTrust alone (cloud components are not needed for trust)."""
    return run_trust(fleet_of("dev"))


# --------------------------------------------------------------------------
# Resource graph


def test_resources_names_and_provider(local: Traced) -> None:
    plan = local.plan
    (provider,) = plan.by_type("pulumi:providers:tls")
    prefix = provider.name.removesuffix("-tls")
    assert names(local, PRIVATE_KEY) == sorted([f"{prefix}-root-2026-key", *(f"{prefix}-{c}-ca-key" for c in CLUSTERS)])
    assert names(local, SELF_SIGNED) == [f"{prefix}-root-2026-cert"]
    assert names(local, CSR) == [f"{prefix}-{c}-ca-csr" for c in CLUSTERS]
    assert names(local, LOCALLY_SIGNED) == [f"{prefix}-{c}-ca-cert" for c in CLUSTERS]
    for r in plan.resources:
        if r.type in TLS_TYPES - {"pulumi:providers:tls"}:
            assert r.provider.startswith(provider.urn + "::"), r.urn
            assert r.parent.endswith(f"meshfleet:trust:FleetTrust::{prefix}"), r.urn
    root = inputs(plan.get(SELF_SIGNED, f"{prefix}-root-2026-cert"))
    assert root["isCaCertificate"] is True and root["setSubjectKeyId"] is True
    assert root["allowedUses"] == ["cert_signing", "crl_signing"]
    assert root["validityPeriodHours"] == 87600
    assert root["subject"] == {"commonName": "local root root-2026", "organization": "local"}
    key = inputs(plan.get(PRIVATE_KEY, f"{prefix}-root-2026-key"))
    assert key == {"algorithm": "ECDSA", "ecdsaCurve": "P256"}
    inter = inputs(plan.get(LOCALLY_SIGNED, f"{prefix}-kind-east-ca-cert"))
    assert inter["isCaCertificate"] is True and inter["maxPathLength"] == 0
    assert inter["allowedUses"] == ["cert_signing", "crl_signing", "digital_signature"]
    assert inter["validityPeriodHours"] == 8760 and inter["earlyRenewalHours"] == 720
    csr = inputs(plan.get(CSR, f"{prefix}-kind-east-ca-csr"))
    assert csr["subject"] == {"commonName": "kind-east intermediate CA", "organization": "local"}
    # The intermediate is signed with the root: it depends on the root's key and certificate.
    deps = plan.get(LOCALLY_SIGNED, f"{prefix}-kind-east-ca-cert").dependencies
    assert {
        plan.get(SELF_SIGNED, f"{prefix}-root-2026-cert").urn,
        plan.get(PRIVATE_KEY, f"{prefix}-root-2026-key").urn,
    } <= set(deps)


def test_root_keys_are_secret_in_the_plan(local: Traced) -> None:
    doc = local.plan.to_json(show_secrets=False)
    by_type = {(r["type"], r["name"]): r["inputs"] for r in doc["resources"]}
    secret_inputs = [inputs_["privateKeyPem"] for (t, _), inputs_ in by_type.items() if t in (SELF_SIGNED, CSR)] + [
        inputs_["caPrivateKeyPem"] for (t, _), inputs_ in by_type.items() if t == LOCALLY_SIGNED
    ]
    assert len(secret_inputs) == 1 + 2 + 2
    assert set(secret_inputs) == {"[secret]"}
    assert "PRIVATE KEY" not in str(doc)
    shown = local.plan.to_json(show_secrets=True)
    assert "BEGIN EC PRIVATE KEY" in str(shown)
    # The simulated provider returns private keys as secret outputs, as the engine does.
    for (t, _), state in local.state.items():
        if t == PRIVATE_KEY:
            for key in ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"):
                assert ops.plan.is_secret(state[key]), key


def test_protect_follows_the_stack_setting() -> None:
    fleet = copy.deepcopy(LOCAL)
    fleet["fleet"]["protect"] = True
    plan = plan_fleet(fleet)
    protected = {
        r.name.split("-trust-", 1)[1]: r.protect
        for r in plan.resources
        if r.type in TLS_TYPES - {"pulumi:providers:tls"}
    }
    assert protected == {
        "root-2026-key": True,
        "root-2026-cert": True,
        "kind-east-ca-key": True,
        "kind-west-ca-key": True,
        # Replaced by rotation phase 2 and by early renewal: never protected.
        "kind-east-ca-csr": False,
        "kind-west-ca-csr": False,
        "kind-east-ca-cert": False,
        "kind-west-ca-cert": False,
    }
    unprotected = plan_fleet(LOCAL)
    assert not any(r.protect for r in unprotected.resources if r.type in TLS_TYPES)


# --------------------------------------------------------------------------
# Chains and encodings


@needs_openssl
def test_local_chains_verify_with_openssl(local: Traced, tmp_path: Path) -> None:
    root = pem_of(local, "root-2026-cert", SELF_SIGNED)
    issuers = set()
    for c in CLUSTERS:
        inter = pem_of(local, f"{c}-ca-cert")
        assert verify(tmp_path, root, inter)
        leaf = leaf_from(inter, key_of(local, f"{c}-ca-key"), c)
        assert verify(tmp_path, root, leaf, untrusted=inter)
        assert not verify(tmp_path, root, leaf)  # the intermediate is really needed
        issuers.add(cert_of(local, f"{c}-ca-cert").issuer.public_bytes())
    assert len(issuers) == 1


@needs_openssl
def test_dev_chains_verify_with_openssl(dev: TrustRun, tmp_path: Path) -> None:
    assert sorted(dev.certs) == ["aws-use1", "azure-weu", "gcp-euw1"]
    (root,) = dev.roots.values()
    for c, inter in dev.certs.items():
        assert dev.key_secret[c]
        assert dev.bundles[c] == root
        assert dev.chains[c] == inter + root
        assert verify(tmp_path, root, inter)
        assert verify(tmp_path, root, leaf_from(inter, dev.keys[c], c), untrusted=inter)
    # Each cluster has its own intermediate key, all under the one root.
    assert (
        len(
            {
                x509.load_pem_x509_certificate(p.encode())
                .public_key()
                .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
                for p in dev.certs.values()
            }
        )
        == 3
    )


def _check_intermediate(inter: x509.Certificate, root: x509.Certificate, cluster: str, fleet: str) -> None:
    key = inter.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    basic = inter.extensions.get_extension_for_class(x509.BasicConstraints)
    # max_path_length 0 is requested; the real provider omits the constraint (docs/trust.md).
    assert basic.critical and basic.value.ca is True and basic.value.path_length is None
    usage = inter.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert (usage.value.digital_signature, usage.value.key_cert_sign, usage.value.crl_sign) == (True, True, True)
    assert not (usage.value.key_encipherment or usage.value.content_commitment or usage.value.key_agreement)
    with pytest.raises(x509.ExtensionNotFound):
        inter.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    san_oid = x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME
    oids = [e.oid for e in inter.extensions if e.oid != san_oid]
    assert oids == [
        x509.oid.ExtensionOID.KEY_USAGE,
        x509.oid.ExtensionOID.BASIC_CONSTRAINTS,
        x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ]
    if any(e.oid == san_oid for e in inter.extensions):
        # The fleet's intermediates carry Linkerd's issuer name, whatever the mesh (components/fleet.py).
        san = inter.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["identity.linkerd.cluster.local"]
    ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(key).digest
    aki = inter.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert (
        root.not_valid_before_utc <= inter.not_valid_before_utc < inter.not_valid_after_utc < root.not_valid_after_utc
    )
    assert inter.not_valid_before_utc == DEFAULT_NOW
    assert inter.not_valid_after_utc - inter.not_valid_before_utc == timedelta(hours=8760)
    assert [(a.oid, a.value) for a in inter.subject] == [
        (NameOID.ORGANIZATION_NAME, fleet),
        (NameOID.COMMON_NAME, f"{cluster} intermediate CA"),
    ]
    assert all(a._type.name == "PrintableString" for a in inter.subject)
    assert inter.issuer.public_bytes() == root.subject.public_bytes()
    assert inter.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert 0 < inter.serial_number < 2**127


def test_intermediate_encoding_per_cluster(local: Traced, dev: TrustRun) -> None:
    root = cert_of(local, "root-2026-cert", SELF_SIGNED)
    for c in CLUSTERS:
        _check_intermediate(cert_of(local, f"{c}-ca-cert"), root, c, "local")
        # The certificate cannot tell a requested 0 from no request (both encode as no
        # constraint): the request itself must say 0, so no CA may sit below an intermediate.
        (requested,) = [r for r in local.plan.by_type(LOCALLY_SIGNED) if r.name.endswith(f"-{c}-ca-cert")]
        assert (inputs(requested)["isCaCertificate"], inputs(requested)["maxPathLength"]) == (True, 0)
    (dev_root_pem,) = dev.roots.values()
    dev_root = x509.load_pem_x509_certificate(dev_root_pem.encode())
    for c, pem in dev.certs.items():
        _check_intermediate(x509.load_pem_x509_certificate(pem.encode()), dev_root, c, "acme-dev")


def test_root_encoding(local: Traced) -> None:
    root = cert_of(local, "root-2026-cert", SELF_SIGNED)
    basic = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length is None
    usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    with pytest.raises(x509.ExtensionNotFound):  # self-signed: AKI only with set_authority_key_id
        root.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert [(a.oid, a.value) for a in root.subject] == [
        (NameOID.ORGANIZATION_NAME, "local"),
        (NameOID.COMMON_NAME, "local root root-2026"),
    ]
    assert root.not_valid_after_utc - root.not_valid_before_utc == timedelta(hours=87600)
    (name,) = names(local, SELF_SIGNED)
    out = local.out(SELF_SIGNED, name)
    assert out["validityStartTime"] == "2026-01-01T00:00:00Z"
    assert out["validityEndTime"] == "2035-12-30T00:00:00Z"
    assert out["keyAlgorithm"] == "ECDSA" and out["readyForRenewal"] is False
    assert out["certPem"].startswith("-----BEGIN CERTIFICATE-----\n") and out["certPem"].endswith(
        "-----END CERTIFICATE-----\n"
    )


def test_key_outputs(local: Traced) -> None:
    (name, *_) = names(local, PRIVATE_KEY)
    out = local.out(PRIVATE_KEY, name)
    assert out["privateKeyPem"].startswith("-----BEGIN EC PRIVATE KEY-----\n")
    assert out["privateKeyPemPkcs8"].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert out["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert out["privateKeyOpenssh"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert out["publicKeyOpenssh"].startswith("ecdsa-sha2-nistp256 ") and out["publicKeyOpenssh"].endswith("\n")
    assert out["publicKeyFingerprintSha256"].startswith("SHA256:") and not out["publicKeyFingerprintSha256"].endswith(
        "="
    )
    assert len(out["publicKeyFingerprintMd5"].split(":")) == 16
    key = serialization.load_pem_private_key(out["privateKeyPem"].encode(), password=None)
    assert (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        == out["publicKeyPem"]
    )
    ssh = serialization.load_ssh_private_key(out["privateKeyOpenssh"].encode(), password=None)
    assert ssh.public_key() == key.public_key()


def test_plans_are_deterministic(local: Traced) -> None:
    again = traced_plan(LOCAL)
    assert again.plan.to_json(show_secrets=True) == local.plan.to_json(show_secrets=True)
    for k, v in local.state.items():
        if k[0] in TLS_TYPES:
            assert unwrap(again.state[k]) == unwrap(v), k


# --------------------------------------------------------------------------
# Rotation


def _verifies(tmp: Path, t: Traced, ca: str) -> dict[str, bool]:
    return {c: verify(tmp, ca, pem_of(t, f"{c}-ca-cert")) for c in CLUSTERS}


BUNDLE_DIGEST = "meshfleet.io/trust-bundle-sha256"


def _without_bundle_digest(values: dict[str, Any]) -> dict[str, Any]:
    """A release's inputs without the trust-bundle digest on its pods (control planes that read roots at start)."""
    body = copy.deepcopy(values)
    annotations = body.get("values", {}).get("podAnnotations", {})
    annotations.pop(BUNDLE_DIGEST, None)
    return body


def _assert_only_trust_material_changed(a: Traced, b: Traced) -> None:
    change = PlanChange(a.plan, b.plan, keep=lambda r: r.type not in TLS_TYPES)
    assert change.added == [] and change.removed == set()
    for urn in change.inputs_changed():
        r, before = change.new[urn], change.old[urn]
        assert not r.type.startswith(NEVER_CHANGED), urn
        # Only resources that embed the trust material (e.g. Istio's cacerts Secret) may change, and
        # control planes only in the digest of the bundle they read at start.
        if "BEGIN CERTIFICATE" not in str(inputs(r)):
            assert BUNDLE_DIGEST in str(inputs(r)), urn
            assert _without_bundle_digest(inputs(r)) == _without_bundle_digest(inputs(before)), urn


def _tls_inputs(t: Traced) -> dict[str, Any]:
    return {r.name: r.inputs for r in t.plan.resources if r.type in TLS_TYPES}


@needs_openssl
def test_phase_1_bundle_holds_both_roots_intermediates_stay_on_old(phases: dict[int, Traced], tmp_path: Path) -> None:
    t = phases[1]
    old, new = pem_of(t, "root-2026-cert", SELF_SIGNED), pem_of(t, "root-2027-cert", SELF_SIGNED)
    assert old == pem_of(phases[0], "root-2026-cert", SELF_SIGNED)
    run = run_trust(with_trust(LOCAL, roots=[ROOT_2026, ROOT_2027]))
    assert set(run.bundles.values()) == {run.roots["root-2026"] + run.roots["root-2027"]}
    assert _verifies(tmp_path, t, old) == {c: True for c in CLUSTERS}
    assert _verifies(tmp_path, t, new) == {c: False for c in CLUSTERS}
    assert _verifies(tmp_path, t, old + new) == {c: True for c in CLUSTERS}
    # Only the new root's two resources appear; the intermediates are untouched.
    before, after = _tls_inputs(phases[0]), _tls_inputs(t)
    assert sorted(after.keys() - before.keys()) == sorted(n for n in after if "root-2027" in n)
    assert all(after[n] == before[n] for n in before)
    _assert_only_trust_material_changed(phases[0], t)


@needs_openssl
def test_phase_2_intermediates_resigned_by_new_root_bundle_unchanged(phases: dict[int, Traced], tmp_path: Path) -> None:
    t = phases[2]
    old, new = pem_of(t, "root-2026-cert", SELF_SIGNED), pem_of(t, "root-2027-cert", SELF_SIGNED)
    run = run_trust(with_trust(LOCAL, roots=[ROOT_2026, ROOT_2027], signingRoot="root-2027"))
    assert set(run.bundles.values()) == {run.roots["root-2026"] + run.roots["root-2027"]}
    assert all(chain == run.certs[c] + run.roots["root-2027"] for c, chain in run.chains.items())
    assert _verifies(tmp_path, t, new) == {c: True for c in CLUSTERS}
    assert _verifies(tmp_path, t, old) == {c: False for c in CLUSTERS}
    assert _verifies(tmp_path, t, old + new) == {c: True for c in CLUSTERS}
    # Workloads still holding phase-1 certificates verify against the same bundle.
    for c in CLUSTERS:
        assert verify(tmp_path, old + new, pem_of(phases[1], f"{c}-ca-cert"))
    # Only the intermediates' certificates change (re-signed); keys and CSRs stay.
    before, after = _tls_inputs(phases[1]), _tls_inputs(t)
    assert before.keys() == after.keys()
    assert sorted(n for n in after if after[n] != before[n]) == sorted(n for n in after if n.endswith("-ca-cert"))
    _assert_only_trust_material_changed(phases[1], t)


@needs_openssl
def test_phase_3_bundle_holds_new_root_only(phases: dict[int, Traced], tmp_path: Path) -> None:
    t = phases[3]
    new = pem_of(t, "root-2027-cert", SELF_SIGNED)
    assert new == pem_of(phases[2], "root-2027-cert", SELF_SIGNED)
    run = run_trust(with_trust(LOCAL, roots=[ROOT_2027]))
    assert set(run.bundles.values()) == {run.roots["root-2027"]}
    assert _verifies(tmp_path, t, new) == {c: True for c in CLUSTERS}
    # The intermediates are the phase-2 certificates: nothing re-issued, the old root only removed.
    for c in CLUSTERS:
        assert pem_of(t, f"{c}-ca-cert") == pem_of(phases[2], f"{c}-ca-cert")
    before, after = _tls_inputs(phases[2]), _tls_inputs(t)
    assert sorted(before.keys() - after.keys()) == sorted(n for n in before if "root-2026" in n)
    assert all(after[n] == before[n] for n in after)
    _assert_only_trust_material_changed(phases[2], t)


# --------------------------------------------------------------------------
# Bring your own root


@needs_openssl
def test_bring_your_own_root(tmp_path: Path) -> None:
    cert_pem, key_pem, _ = make_root()
    fleet = with_trust(
        LOCAL, roots=[{"name": "corp-root", "source": "provided", "certificatePem": cert_pem, "privateKeyPem": key_pem}]
    )
    t = traced_plan(fleet)
    assert names(t, SELF_SIGNED) == []  # nothing generated for a provided root
    assert len(names(t, PRIVATE_KEY)) == 2
    for c in CLUSTERS:
        inter = pem_of(t, f"{c}-ca-cert")
        assert verify(tmp_path, cert_pem, inter)
        assert verify(tmp_path, cert_pem, leaf_from(inter, key_of(t, f"{c}-ca-key"), c), untrusted=inter)
    doc = t.plan.to_json(show_secrets=False)
    assert key_pem.splitlines()[1] not in str(doc)
    assert {r["inputs"]["caPrivateKeyPem"] for r in doc["resources"] if r["type"] == LOCALLY_SIGNED} == {"[secret]"}
    run = run_trust(fleet)
    assert set(run.bundles.values()) == {cert_pem}
    assert t.plan.warnings == []


def test_provided_root_offline_placeholder_signs_with_stand_in() -> None:
    cert_pem, _, _ = make_root()
    placeholder = "[encrypted value meshfleet:fleet.trust.roots[0].privateKeyPem: not available offline]"
    fleet = with_trust(
        only_clusters(LOCAL, "kind-east"),
        roots=[{"name": "corp-root", "source": "provided", "certificatePem": cert_pem, "privateKeyPem": placeholder}],
    )
    t = traced_plan(fleet)
    assert len(t.plan.warnings) == 1 and "stand-in key" in t.plan.warnings[0]
    # The certificate names the provided root as issuer, though offline its signature cannot verify.
    assert cert_of(t, "kind-east-ca-cert").issuer == x509.load_pem_x509_certificate(cert_pem.encode()).subject


# --------------------------------------------------------------------------
# Plan-time checks (components.config.rules.provided_roots), one per message


def _provided(cert_pem: str, key_pem: str, **extra: Any) -> dict[str, Any]:
    return {"name": "corp-root", "source": "provided", "certificatePem": cert_pem, "privateKeyPem": key_pem, **extra}


def test_rule_provided_root_must_parse() -> None:
    _, key_pem, _ = make_root()
    found = problems_of(
        with_trust(LOCAL, roots=[_provided("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", key_pem)])
    )
    assert found == [
        ("trust.roots[0].certificatePem", "root 'corp-root': certificatePem is not a PEM X.509 certificate")
    ]


def test_rule_provided_root_must_be_a_ca() -> None:
    cert_pem, key_pem, _ = make_root(ca=False)
    ((path, message),) = problems_of(with_trust(LOCAL, roots=[_provided(cert_pem, key_pem)]))
    assert path == "trust.roots[0].certificatePem"
    assert "is not a CA certificate (basicConstraints cA is not true)" in message


def test_rule_provided_root_must_sign_certificates() -> None:
    cert_pem, key_pem, _ = make_root(cert_sign=False)
    ((path, message),) = problems_of(with_trust(LOCAL, roots=[_provided(cert_pem, key_pem)]))
    assert path == "trust.roots[0].certificatePem" and "keyUsage lacks keyCertSign" in message


def test_rule_provided_root_algorithm_matches() -> None:
    cert_pem, key_pem, _ = make_root(curve=ec.SECP384R1())
    ((path, message),) = problems_of(with_trust(LOCAL, roots=[_provided(cert_pem, key_pem)]))
    assert path == "trust.roots[0].algorithm"
    assert "has a ECDSA secp384r1 key but algorithm says ECDSA-P256" in message
    accepted(with_trust(LOCAL, roots=[_provided(cert_pem, key_pem, algorithm="ECDSA-P384")]))


def test_rule_provided_key_must_parse() -> None:
    cert_pem, _, _ = make_root()
    ((path, message),) = problems_of(with_trust(LOCAL, roots=[_provided(cert_pem, "not a key")]))
    assert path == "trust.roots[0].privateKeyPem" and "is not an unencrypted PEM private key" in message


def test_rule_provided_key_must_match() -> None:
    cert_pem, _, _ = make_root()
    _, other_key, _ = make_root()
    ((path, message),) = problems_of(with_trust(LOCAL, roots=[_provided(cert_pem, other_key)]))
    assert path == "trust.roots[0].privateKeyPem" and "does not belong to certificatePem" in message


def test_rule_provided_root_expired() -> None:
    cert_pem, key_pem, _ = make_root(days_before=400, days_after=-1)
    ((path, message),) = problems_of(with_trust(LOCAL, roots=[_provided(cert_pem, key_pem)]))
    assert path == "trust.roots[0].certificatePem"
    assert message == "root 'corp-root' expired at 2025-12-31T00:00:00Z (now 2026-01-01T00:00:00Z)"


def test_rule_provided_root_not_yet_valid() -> None:
    cert_pem, key_pem, _ = make_root(days_before=-2)
    ((path, message),) = problems_of(with_trust(LOCAL, roots=[_provided(cert_pem, key_pem)]))
    assert path == "trust.roots[0].certificatePem" and "is not valid before 2026-01-03T00:00:00Z" in message


def test_rule_intermediate_would_outlive_provided_root() -> None:
    cert_pem, key_pem, _ = make_root(days_after=100)  # intermediates default to 365 days
    ((path, message),) = problems_of(with_trust(LOCAL, roots=[_provided(cert_pem, key_pem)]))
    assert path == "trust.intermediateValidityHours"
    assert message == (
        "intermediates issued now are valid for 8760 h (until 2027-01-01T00:00:00Z), past root 'corp-root''s "
        "expiry at 2026-04-11T00:00:00Z: they would outlive their root"
    )
    # A root that only sits in the bundle (not signing) is not outlived.
    accepted(with_trust(LOCAL, roots=[ROOT_2026, _provided(cert_pem, key_pem)]))


def test_rule_intermediate_would_outlive_generated_root() -> None:
    found = problems_of(
        with_trust(LOCAL, roots=[{"name": "short", "validityHours": 1000}], intermediateValidityHours=2000)
    )
    assert (
        "trust.intermediateValidityHours",
        "2000 h is not shorter than root 'short''s validity (1000 h): intermediates would outlive their root",
    ) in found


def test_rule_warning_window_shorter_than_intermediates() -> None:
    found = problems_of(with_trust(LOCAL, roots=[ROOT_2026], intermediateValidityHours=500, expiryWarningHours=720))
    assert [p for p, _ in found] == ["trust.expiryWarningHours"]
    assert "would be re-issued at every `pulumi up`" in found[0][1]


def test_trust_clock_reads_the_pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLOCK_ENV, "2030-02-03T04:05:06+00:00")
    assert trust_clock() == datetime(2030, 2, 3, 4, 5, 6, tzinfo=UTC)
    monkeypatch.setenv(CLOCK_ENV, "2030-02-03T04:05:06Z")
    assert trust_clock() == datetime(2030, 2, 3, 4, 5, 6, tzinfo=UTC)
    monkeypatch.delenv(CLOCK_ENV)
    assert abs(trust_clock() - datetime.now(UTC)) < timedelta(minutes=1)
    # The offline plan's --now reaches the rules: a root valid from 2030 is fine in a 2030 plan.
    cert_pem, key_pem, _ = make_root(now=datetime(2030, 1, 1, tzinfo=UTC))
    fleet = with_trust(only_clusters(LOCAL, "kind-east"), roots=[_provided(cert_pem, key_pem)])
    plan_fleet(fleet, now=datetime(2030, 1, 2, tzinfo=UTC))
    with pytest.raises(ConfigError):
        plan_fleet(fleet, now=DEFAULT_NOW)


# --------------------------------------------------------------------------
# Apply-time guard and warnings


def test_apply_time_guard_intermediate_outlives_root() -> None:
    # The root was created 9.5 years ago (10-year validity): a fresh 1-year intermediate outlives it.
    aged = lambda ctx: AgedCloud(ctx, root_age=timedelta(days=365 * 9 + 180))  # noqa: E731
    with pytest.raises(pulumi.RunError) as err:
        run_trust(only_clusters(LOCAL, "kind-east"), cloud=aged)
    message = str(err.value)
    assert message.startswith(
        "trust: the intermediate CA of cluster 'kind-east' is valid until 2027-01-01T00:00:00Z, after its root 'root-2026' expires"
    )
    assert "fix: rotate to a new root" in message and "Traceback" not in message


def test_expiry_warnings() -> None:
    # Root ends in 600 h, intermediate in 300 h: both inside the 720 h window, no error.
    aged = lambda ctx: AgedCloud(  # noqa: E731
        ctx, root_age=timedelta(hours=87600 - 600), intermediate_age=timedelta(hours=8760 - 300)
    )
    run = run_trust(only_clusters(LOCAL, "kind-east"), cloud=aged)
    assert sorted(run.warnings) == sorted(
        [
            "trust: root 'root-2026', which signs the intermediates, expires at 2026-01-26T00:00:00Z (600 h from "
            "now), within trust.expiryWarningHours + trust.intermediateValidityHours (9480 h): an intermediate "
            "re-issued once less than trust.intermediateValidityHours remain would outlive it, which `pulumi up` "
            "refuses: rotate to a new root now (docs/trust.md, 'Rotating the root')",
            "trust: the intermediate CA of 'kind-east' expires at 2026-01-13T12:00:00Z (300 h from now), within "
            "trust.expiryWarningHours (720 h): it is re-issued at the next `pulumi up` (early renewal)",
        ]
    )
    assert run_trust(only_clusters(LOCAL, "kind-east")).warnings == []


def test_signing_root_warns_an_intermediate_lifetime_before_the_guard_would_fail() -> None:
    """Root ends in 5,000 h: no intermediate is due, yet the next early renewal (8,760 h) would outlive it."""
    aged = lambda ctx: AgedCloud(ctx, root_age=timedelta(hours=87600 - 5000), intermediate_age=timedelta(hours=4000))  # noqa: E731
    run = run_trust(only_clusters(LOCAL, "kind-east"), cloud=aged)
    [warning] = run.warnings
    assert warning.startswith("trust: root 'root-2026', which signs the intermediates, expires at ")
    assert "(5000 h from now), within trust.expiryWarningHours + trust.intermediateValidityHours (9480 h)" in warning
    # A root that signs nothing (rotation phase 1: the new root is second) keeps the plain window.
    both = with_trust(only_clusters(LOCAL, "kind-east"), roots=[ROOT_2026, ROOT_2027])
    assert [w for w in run_trust(both, cloud=aged).warnings if "root-2027" in w] == []


# --------------------------------------------------------------------------
# The simulated provider itself


class _Args:
    def __init__(self, typ: str, name: str, inputs: dict[str, Any]):
        self.typ, self.name, self.inputs = typ, name, inputs


CTX = SimContext(project="p", stack="s")


def _ca(name: str = "ca", **extra: Any) -> tuple[str, str]:
    key = simtls.private_key(_Args(PRIVATE_KEY, name, {"algorithm": "ECDSA", "ecdsaCurve": "P256"}), CTX)
    key_pem = unwrap(key["privateKeyPem"])
    cert = simtls.self_signed_cert(
        _Args(
            SELF_SIGNED,
            name,
            {"privateKeyPem": key_pem, "subject": {"commonName": name}, "validityPeriodHours": 48.0, **extra},
        ),
        CTX,
    )
    return cert["certPem"], key_pem


def test_sim_path_length_encoding() -> None:
    def basic(**extra: Any) -> x509.Extension[x509.BasicConstraints]:
        pem, _ = _ca(**extra)
        return x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(x509.BasicConstraints)

    assert basic(isCaCertificate=True, maxPathLength=0.0).value.path_length is None
    assert basic(isCaCertificate=True).value.path_length is None
    assert basic(isCaCertificate=True, maxPathLength=2.0).value.path_length == 2
    non_ca = basic()
    assert non_ca.critical and non_ca.value.ca is False and non_ca.value.public_bytes() == b"\x30\x00"
    with pytest.raises(ValueError, match="only CAs are allowed to specify MaxPathLen"):
        basic(maxPathLength=1.0)


def test_sim_private_key_defaults_and_ids() -> None:
    out = simtls.private_key(_Args(PRIVATE_KEY, "k", {"algorithm": "ECDSA"}), CTX)
    assert out["ecdsaCurve"] == "P224"  # the provider's schema default
    assert out["publicKeyOpenssh"] == "" and unwrap(out["privateKeyOpenssh"]) == ""
    der = serialization.load_pem_public_key(out["publicKeyPem"].encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert out["__id"] == simtls.hash_for_state(der)
    ed = simtls.private_key(_Args(PRIVATE_KEY, "e", {"algorithm": "ED25519"}), CTX)
    assert unwrap(ed["privateKeyPem"]).startswith("-----BEGIN PRIVATE KEY-----")
    assert ed["publicKeyOpenssh"].startswith("ssh-ed25519 ")


def test_sim_rsa_keys_are_deterministic() -> None:
    args = _Args(PRIVATE_KEY, "rsa", {"algorithm": "RSA", "rsaBits": 2048.0})
    first, second = simtls.private_key(args, CTX), simtls.private_key(args, CTX)
    assert unwrap(first["privateKeyPem"]) == unwrap(second["privateKeyPem"])
    assert unwrap(first["privateKeyPem"]).startswith("-----BEGIN RSA PRIVATE KEY-----")
    key = serialization.load_pem_private_key(unwrap(first["privateKeyPem"]).encode(), password=None)
    assert key.key_size == 2048  # type: ignore[union-attr]


@needs_openssl
def test_sim_leaf_chain_and_csr(tmp_path: Path) -> None:
    ca_pem, ca_key = _ca(isCaCertificate=True, maxPathLength=0.0)
    key = simtls.private_key(_Args(PRIVATE_KEY, "leaf", {"algorithm": "ECDSA", "ecdsaCurve": "P256"}), CTX)
    csr = simtls.cert_request(
        _Args(
            CSR,
            "leaf",
            {
                "privateKeyPem": unwrap(key["privateKeyPem"]),
                "subject": {"commonName": "svc", "emailAddress": "a@b.c"},
                "dnsNames": ["svc.example"],
            },
        ),
        CTX,
    )
    parsed = x509.load_pem_x509_csr(csr["certRequestPem"].encode())
    assert parsed.is_signature_valid
    assert csr["__id"] == simtls.hash_for_state(parsed.public_bytes(serialization.Encoding.DER))
    leaf = simtls.locally_signed_cert(
        _Args(
            LOCALLY_SIGNED,
            "leaf",
            {
                "certRequestPem": csr["certRequestPem"],
                "caCertPem": ca_pem,
                "caPrivateKeyPem": {ops.plan.SECRET_SIG: ops.plan.SECRET_SIG_VALUE, "value": ca_key},
                "validityPeriodHours": 24.0,
                "allowedUses": ["digital_signature", "server_auth"],
            },
        ),
        CTX,
    )
    cert = x509.load_pem_x509_certificate(leaf["certPem"].encode())
    assert leaf["__id"] == str(cert.serial_number) and leaf["caKeyAlgorithm"] == "ECDSA"
    assert [a.oid for a in cert.subject] == [NameOID.COMMON_NAME]  # emailAddress dropped, as Go does
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["svc.example"]
    assert verify(tmp_path, ca_pem, leaf["certPem"])
