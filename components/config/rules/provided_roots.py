"""Plan-time checks of bring-your-own roots: certificate, key, algorithm and expiry.

Each rule is a pure function of the spec (and of `trust_clock()`), run by
components.config.rules.validate before anything is created. Only errors live
here; certificates that merely expire soon are reported as `pulumi` warnings
by components.trust at run time.

A provided root's private key is an encrypted config value. The offline
plan cannot decrypt it (it sees a placeholder), so key checks are skipped
there and run at `pulumi up`, when the engine hands the program the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from components.config.errors import Problem
from components.config.models import FleetSpec, RootCa
from components.config.offline import OFFLINE_PLACEHOLDER, trust_clock


def key_algorithm_of(key: object) -> str | None:
    """The config `algorithm` literal a key corresponds to (None if meshfleet has none for it)."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return {"secp256r1": "ECDSA-P256", "secp384r1": "ECDSA-P384"}.get(key.curve.name)
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey) and key.key_size == 3072:
        return "RSA-3072"
    return None


def _describe(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return type(key).__name__


@dataclass(frozen=True)
class _Provided:
    index: int
    root: RootCa
    cert: x509.Certificate | None

    @property
    def path(self) -> str:
        return f"trust.roots[{self.index}]"


def _provided(spec: FleetSpec) -> Iterable[_Provided]:
    """Provided roots with their parsed certificate (None when it does not parse)."""
    for i, root in enumerate(spec.trust.roots):
        if root.source != "provided" or not root.certificate_pem:
            continue
        try:
            cert: x509.Certificate | None = x509.load_pem_x509_certificate(root.certificate_pem.encode())
        except ValueError:
            cert = None
        yield _Provided(i, root, cert)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rule_provided_root_parses(spec: FleetSpec) -> Iterable[Problem]:
    for p in _provided(spec):
        cert_text = p.root.certificate_pem or ""
        key = p.root.private_key_pem
        plain_key = key is not None and not key.get_secret_value().startswith(OFFLINE_PLACEHOLDER)
        set_cert = f"`pulumi config set --path 'fleet.{p.path}.certificatePem' < root.crt`"
        if cert_text.startswith(OFFLINE_PLACEHOLDER) and plain_key:
            # The two values swapped roles: the public certificate is encrypted, the private key is not.
            yield Problem(
                path=f"{p.path}.privateKeyPem",
                message=f"root {p.root.name!r}: privateKeyPem is plain text in the stack file while certificatePem "
                "is encrypted; it is the private key that must be encrypted (the certificate is public)",
                fix="encrypt the key: `pulumi config set --secret --path "
                f"'fleet.{p.path}.privateKeyPem' < root.key`, and store the certificate as plain text: {set_cert}",
            )
        elif cert_text.startswith(OFFLINE_PLACEHOLDER):
            yield Problem(
                path=f"{p.path}.certificatePem",
                message=f"root {p.root.name!r}: certificatePem is encrypted; a certificate is public, and plans "
                "and checks need to read it",
                fix=f"store the certificate as plain text: {set_cert} (keep privateKeyPem encrypted)",
            )
        elif p.cert is None:
            yield Problem(
                path=f"{p.path}.certificatePem",
                message=f"root {p.root.name!r}: certificatePem is not a PEM X.509 certificate",
                fix="paste the root certificate as PEM (-----BEGIN CERTIFICATE----- ...), one certificate only",
            )


def rule_provided_root_is_ca(spec: FleetSpec) -> Iterable[Problem]:
    for p in _provided(spec):
        if p.cert is None:
            continue
        try:
            basic = p.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = basic.ca
        except x509.ExtensionNotFound:
            is_ca = False
        try:
            usage: x509.KeyUsage | None = p.cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if not is_ca:
            yield Problem(
                path=f"{p.path}.certificatePem",
                message=f"root {p.root.name!r} ({p.cert.subject.rfc4514_string()}) is not a CA certificate "
                "(basicConstraints cA is not true): it cannot sign intermediates",
                fix="provide a CA certificate (basicConstraints CA:TRUE, keyUsage keyCertSign, cRLSign)",
            )
        elif usage is not None and not usage.key_cert_sign:
            yield Problem(
                path=f"{p.path}.certificatePem",
                message=f"root {p.root.name!r} is a CA but its keyUsage lacks keyCertSign: "
                "verifiers reject the intermediates it signs",
                fix="reissue the root with keyUsage keyCertSign and cRLSign",
            )


def rule_provided_root_algorithm(spec: FleetSpec) -> Iterable[Problem]:
    for p in _provided(spec):
        if p.cert is None:
            continue
        actual = key_algorithm_of(p.cert.public_key())
        if actual != p.root.algorithm:
            yield Problem(
                path=f"{p.path}.algorithm",
                message=f"root {p.root.name!r} has a {_describe(p.cert.public_key())} key but algorithm says "
                f"{p.root.algorithm}; allowed keys: ECDSA P-256, ECDSA P-384, RSA 3072",
                fix=f"set algorithm: {actual}" if actual else "provide a root with an ECDSA P-256 key",
            )


def rule_provided_key_matches(spec: FleetSpec) -> Iterable[Problem]:
    for p in _provided(spec):
        secret = p.root.private_key_pem
        if p.cert is None or secret is None:
            continue
        pem = secret.get_secret_value()
        if pem.startswith(OFFLINE_PLACEHOLDER):
            continue  # checked at `pulumi up`, where the value is decrypted
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            yield Problem(
                path=f"{p.path}.privateKeyPem",
                message=f"root {p.root.name!r}: privateKeyPem is not an unencrypted PEM private key",
                fix="store the key as PEM without a passphrase: "
                f"`pulumi config set --secret --path 'fleet.trust.roots[{p.index}].privateKeyPem' < root.key`",
            )
            continue
        ours = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        theirs = p.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if ours != theirs:
            yield Problem(
                path=f"{p.path}.privateKeyPem",
                message=f"root {p.root.name!r}: privateKeyPem does not belong to certificatePem "
                "(their public keys differ)",
                fix="store the private key of this very root certificate",
            )


def rule_provided_root_expired(spec: FleetSpec) -> Iterable[Problem]:
    now = trust_clock()
    for p in _provided(spec):
        if p.cert is None:
            continue
        if p.cert.not_valid_after_utc <= now:
            yield Problem(
                path=f"{p.path}.certificatePem",
                message=f"root {p.root.name!r} expired at {_iso(p.cert.not_valid_after_utc)} (now {_iso(now)})",
                fix="provide a valid root; to replace a root, rotate (docs/trust.md)",
            )
        elif p.cert.not_valid_before_utc > now:
            yield Problem(
                path=f"{p.path}.certificatePem",
                message=f"root {p.root.name!r} is not valid before {_iso(p.cert.not_valid_before_utc)} (now {_iso(now)})",
                fix="use a root that is already valid, or deploy after its notBefore",
            )


def rule_provided_root_outlived(spec: FleetSpec) -> Iterable[Problem]:
    now = trust_clock()
    hours = spec.trust.intermediate_validity_hours
    until = now + timedelta(hours=hours)
    for p in _provided(spec):
        # Only the signing root issues intermediates; a root only in the bundle cannot be outlived.
        if p.cert is None or p.root.name != spec.trust.signing_root_name:
            continue
        end = p.cert.not_valid_after_utc
        if now < end < until:
            left = int((end - now).total_seconds() // 3600)
            yield Problem(
                path="trust.intermediateValidityHours",
                message=f"intermediates issued now are valid for {hours} h (until {_iso(until)}), "
                f"past root {p.root.name!r}'s expiry at {_iso(end)}: they would outlive their root",
                fix=f"set trust.intermediateValidityHours below {left}, or rotate to a longer-lived root (docs/trust.md)",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    rule_provided_root_parses,
    rule_provided_root_is_ca,
    rule_provided_root_algorithm,
    rule_provided_key_matches,
    rule_provided_root_expired,
    rule_provided_root_outlived,
)
