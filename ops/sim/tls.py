"""Simulated tls resources: real certificates, encoded as terraform-provider-tls encodes them.

Every key, signature and serial is derived from a fixed seed, the
resource's URN (project, stack, type, name) and its inputs, and every
certificate starts at the plan's pinned clock, so two plans give the same
bytes and two stacks never share a key. What the simulation mirrors
(pulumi-tls 5.6.x, upstream terraform-provider-tls v4.2.1/v4.3.0, Go
crypto/x509):

- BasicConstraints is always written and always critical, for CA and
  non-CA certificates alike (the provider sets BasicConstraintsValid).
- `max_path_length` 0 (or unset, or -1) on a CA gives NO pathLenConstraint:
  the provider sets Go's MaxPathLen but never MaxPathLenZero, and Go treats
  MaxPathLen 0 without MaxPathLenZero as "unset". Only N > 0 is encoded.
- KeyUsage is critical; EKU, SKI and AKI are not. Extension order is Go's:
  KeyUsage, ExtKeyUsage, BasicConstraints, SKI, AKI, SAN.
- SKI = SHA-1 of the subjectPublicKey bits; set for CAs and when
  `set_subject_key_id`. A locally signed certificate gets AKI = the CA's SKI.
- Subject attributes in Go's order (C, ST, L, STREET, POSTALCODE, O, OU, CN,
  SERIALNUMBER, emailAddress), PrintableString when possible.
- Signature algorithm from the signing key (ECDSA P-256 -> SHA-256, P-384 ->
  SHA-384, P-521 -> SHA-512, RSA -> SHA-256 PKCS#1 v1.5, Ed25519).

See docs/trust.md for the path-length finding and its source references.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.name import _ASN1Type  # the only way to pick an attribute's string type
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from components.config.offline import OFFLINE_PLACEHOLDER
from ops.sim import SECRET_SIG, SECRET_SIG_VALUE, Call, Handler, SimContext, unwrap

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_CURVES: dict[str, ec.EllipticCurve] = {
    "P224": ec.SECP224R1(),
    "P256": ec.SECP256R1(),
    "P384": ec.SECP384R1(),
    "P521": ec.SECP521R1(),
}
_CURVE_ORDERS = {
    "P224": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFF16A2E0B8F03E13DD29455C5C2A3D,
    "P256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "P384": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16),
    "P521": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}

#: allowed_uses -> KeyUsage bit (Go x509.KeyUsage order).
_KEY_USAGE_BITS = {
    "digital_signature": 0,
    "content_commitment": 1,
    "key_encipherment": 2,
    "data_encipherment": 3,
    "key_agreement": 4,
    "cert_signing": 5,
    "crl_signing": 6,
    "encipher_only": 7,
    "decipher_only": 8,
}
_EKU = {
    "any_extended": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec_end_system": ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec_tunnel": ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec_user": ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft_server_gated_crypto": ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape_server_gated_crypto": ObjectIdentifier("2.16.840.1.113730.4.1"),
    "microsoft_commercial_code_signing": ObjectIdentifier("1.3.6.1.4.1.311.2.1.22"),
    "microsoft_kernel_code_signing": ObjectIdentifier("1.3.6.1.4.1.311.61.1.1"),
}
#: Subject fields in Go's pkix.Name.ToRDNSequence order: (engine key, OID).
_SUBJECT_ORDER: tuple[tuple[str, ObjectIdentifier], ...] = (
    ("country", NameOID.COUNTRY_NAME),
    ("province", NameOID.STATE_OR_PROVINCE_NAME),
    ("locality", NameOID.LOCALITY_NAME),
    ("streetAddresses", NameOID.STREET_ADDRESS),
    ("postalCode", NameOID.POSTAL_CODE),
    ("organization", NameOID.ORGANIZATION_NAME),
    ("organizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("commonName", NameOID.COMMON_NAME),
    ("serialNumber", NameOID.SERIAL_NUMBER),
)
_PRINTABLE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?")
#: Go strings.TrimSpace: ASCII whitespace and the UTF-8 forms of Unicode spaces.
_GO_SPACES = tuple(
    c.encode()
    for c in "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


# --------------------------------------------------------------------------
# Small encoders


def _pem_lines(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _go_trim_space(data: bytes) -> bytes:
    changed = True
    while changed and data:
        changed = False
        for space in _GO_SPACES:
            if data.endswith(space):
                data, changed = data[: -len(space)], True
            if data.startswith(space):
                data, changed = data[len(space) :], True
    return data


def _secret(value: str) -> dict[str, str]:
    """An output the provider declares secret (additional_secret_outputs), as the engine returns it."""
    return {SECRET_SIG: SECRET_SIG_VALUE, "value": value}


def hash_for_state(data: bytes) -> str:
    """The provider's resource id: SHA-1 hex of the (whitespace-trimmed) value."""
    return hashlib.sha1(_go_trim_space(data)).hexdigest() if data else ""


def rfc3339(moment: datetime) -> str:
    """Go time.MarshalText in UTC for a whole-second time."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(value: Any, default: int) -> int:
    return default if value is None else int(value)


def _canonical(value: Any) -> str:
    return json.dumps(unwrap(value), sort_keys=True, default=str)


def _serial(ctx: SimContext, typ: str, name: str, inputs: dict[str, Any]) -> int:
    """Non-zero, below 2^127; new inputs (a replacement) give a new serial."""
    digest = ctx.digest(typ, name, "serial", _canonical(inputs))
    return (int.from_bytes(digest[:16], "big") >> 1) or 1


# --------------------------------------------------------------------------
# Deterministic keys


def _stream(seed: bytes) -> Iterator[bytes]:
    counter = 0
    while True:
        yield hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1


def _random_bits(stream: Iterator[bytes], bits: int) -> int:
    out = b""
    while len(out) * 8 < bits:
        out += next(stream)
    return int.from_bytes(out, "big") >> (len(out) * 8 - bits)


def _small_primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return [i for i in range(3, limit) if sieve[i]]


_SMALL_PRIMES = _small_primes(20000)
#: One gcd against their product sieves a candidate.
_PRIMORIAL = math.prod(_SMALL_PRIMES)


def _probably_prime(n: int, stream: Iterator[bytes], rounds: int = 8) -> bool:
    """Miller-Rabin with bases from the seed stream (candidates are already sieved)."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        a = 2 + _random_bits(stream, n.bit_length()) % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(stream: Iterator[bytes], bits: int, e: int) -> int:
    while True:
        # Top two bits set so p*q has exactly 2*bits bits, as Go's generator ensures.
        candidate = _random_bits(stream, bits) | (3 << (bits - 2)) | 1
        if math.gcd(candidate, _PRIMORIAL) != 1 or (candidate - 1) % e == 0:
            continue
        if pow(2, candidate - 1, candidate) == 1 and _probably_prime(candidate, stream):
            return candidate


@lru_cache(maxsize=64)
def _rsa_key(seed: bytes, bits: int) -> rsa.RSAPrivateKey:
    """An RSA key derived from `seed`: primes found deterministically from a SHA-256 stream."""
    e = 65537
    stream = _stream(seed)
    p = _prime(stream, bits // 2, e)
    q = _prime(stream, bits - bits // 2, e)
    while q == p:  # pragma: no cover - astronomically unlikely
        q = _prime(stream, bits - bits // 2, e)
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


def derive_key(seed: bytes, algorithm: str, curve: str = "P256", rsa_bits: int = 2048) -> PrivateKey:
    """A private key that depends only on `seed` and the key parameters."""
    if algorithm == "ECDSA":
        if curve not in _CURVES:
            raise ValueError(f"ecdsa_curve {curve!r} is not one of {', '.join(_CURVES)}")
        order = _CURVE_ORDERS[curve]
        scalar = 1 + _random_bits(_stream(seed), order.bit_length() + 64) % (order - 1)
        return ec.derive_private_key(scalar, _CURVES[curve])
    if algorithm == "RSA":
        return _rsa_key(seed, rsa_bits)
    if algorithm == "ED25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
    raise ValueError(f"algorithm {algorithm!r} is not one of RSA, ECDSA, ED25519")


def key_algorithm(key: PrivateKey | PublicKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ECDSA"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA"
    return "ED25519"


def _load_key(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    return key


def _sign_params(key: PrivateKey) -> dict[str, Any]:
    """Go signingParamsForKey: the hash follows the signing key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        algorithm: hashes.HashAlgorithm = (
            hashes.SHA256() if size <= 256 else hashes.SHA384() if size <= 384 else hashes.SHA512()
        )
        return {"algorithm": algorithm, "ecdsa_deterministic": True}
    if isinstance(key, rsa.RSAPrivateKey):
        return {"algorithm": hashes.SHA256(), "rsa_padding": padding.PKCS1v15()}
    return {"algorithm": None}


# --------------------------------------------------------------------------
# OpenSSH encodings


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _openssh_private(key: PrivateKey, seed: bytes) -> str:
    """Go ssh.MarshalPrivateKey(key, ""): unencrypted, empty comment; "" where SSH has no key type (P-224).

    The format carries a random check integer; it is derived from `seed` here
    so the output is stable, and the PEM is wrapped at 64 columns as Go does.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp224r1":
        return ""
    raw = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    blob = bytearray(base64.b64decode("".join(raw.decode().splitlines()[1:-1])))
    offset = len(b"openssh-key-v1\x00")
    for _ in range(3):  # ciphername, kdfname, kdfoptions
        offset += 4 + int.from_bytes(blob[offset : offset + 4], "big")
    offset += 4  # number of keys
    offset += 4 + int.from_bytes(blob[offset : offset + 4], "big")  # public key
    offset += 4  # length of the private section
    check = hashlib.sha256(seed + b"openssh-check").digest()[:4]
    blob[offset : offset + 8] = check + check
    return _pem_lines("OPENSSH PRIVATE KEY", bytes(blob))


def _openssh_public(key: PrivateKey) -> tuple[str, str, str]:
    """public_key_openssh (with Go's trailing newline) and its MD5 / SHA-256 fingerprints."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp224r1":
        return "", "", ""
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    wire = base64.b64decode(line.split()[1])
    md5 = hashlib.md5(wire).hexdigest()
    md5_colons = ":".join(md5[i : i + 2] for i in range(0, len(md5), 2))
    sha = "SHA256:" + base64.b64encode(hashlib.sha256(wire).digest()).decode().rstrip("=")
    return line + "\n", md5_colons, sha


# --------------------------------------------------------------------------
# Certificate pieces


def _attribute(oid: ObjectIdentifier, value: str) -> x509.NameAttribute:
    # Go asn1 picks PrintableString when every character allows it ('*' and '&' do not).
    if oid == NameOID.COUNTRY_NAME or set(value) <= _PRINTABLE:
        return x509.NameAttribute(oid, value, _type=_ASN1Type.PrintableString)
    return x509.NameAttribute(oid, value, _type=_ASN1Type.UTF8String)


def subject_name(subject: dict[str, Any] | None, *, with_email: bool = True) -> x509.Name:
    """A tls subject (engine keys) as Go's pkix.Name.ToRDNSequence encodes it: one RDN per value."""
    subject = subject or {}
    rdns: list[x509.RelativeDistinguishedName] = []
    for key, oid in _SUBJECT_ORDER:
        value = subject.get(key)
        if value in (None, "", []):
            continue
        if key == "streetAddresses":
            rdns.append(x509.RelativeDistinguishedName([_attribute(oid, str(v)) for v in value]))
        else:
            rdns.append(x509.RelativeDistinguishedName([_attribute(oid, str(value))]))
    email = subject.get("emailAddress")
    if with_email and email:
        rdns.append(
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.EMAIL_ADDRESS, email, _type=_ASN1Type.IA5String)]
            )
        )
    return x509.Name(rdns)


def _subject_from_name(name: x509.Name) -> dict[str, Any]:
    """Go's FillFromRDNSequence: known attributes only; emailAddress and unknown OIDs are dropped."""
    by_oid = {oid: key for key, oid in _SUBJECT_ORDER}
    out: dict[str, Any] = {}
    for attr in name:
        key = by_oid.get(attr.oid)
        if key is None:
            continue
        value = attr.value if isinstance(attr.value, str) else attr.value.decode()
        if key in ("commonName", "serialNumber"):
            out[key] = value
        elif key == "streetAddresses":
            out.setdefault(key, []).append(value)
        else:
            # Go keeps a list per field; the provider schema holds one value each.
            out[key] = value
    return out


def _key_usage_der(uses: list[str]) -> bytes | None:
    """Go marshalKeyUsage: bits reversed per byte, trailing zero bits trimmed; None when empty."""
    bits = 0
    for use in uses:
        if use in _KEY_USAGE_BITS:
            bits |= 1 << _KEY_USAGE_BITS[use]
    if bits == 0:
        return None
    raw = [int(f"{bits & 0xFF:08b}"[::-1], 2), int(f"{(bits >> 8) & 0xFF:08b}"[::-1], 2)]
    data = bytes(raw[:2] if raw[1] else raw[:1])
    bit_length = len(data) * 8
    for byte in reversed(data):
        if byte:
            bit_length -= (byte & -byte).bit_length() - 1
            break
        bit_length -= 8
    unused = (8 - bit_length % 8) % 8
    content = bytes([unused]) + data[: (bit_length + 7) // 8]
    return bytes([0x03, len(content)]) + content


def _sans(dns: list[str], ips: list[str], uris: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    names += [x509.UniformResourceIdentifier(u) for u in uris]
    return names


def _ski(public: PublicKey) -> bytes:
    """SHA-1 of the subjectPublicKey bits; Ed25519 hashes Go's asn1.Marshal of the key (an OCTET STRING)."""
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha1(b"\x04\x20" + raw).digest()
    return x509.SubjectKeyIdentifier.from_public_key(public).digest


def _build_certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public: PublicKey,
    signer: PrivateKey,
    inputs: dict[str, Any],
    serial: int,
    now: datetime,
    sans: list[x509.GeneralName],
    authority_key_id: bytes | None,
    set_authority_key_id: bool,
) -> x509.Certificate:
    """Go createCertificate, as the provider fills the template."""
    is_ca = bool(inputs.get("isCaCertificate", False))
    max_path = inputs.get("maxPathLength")
    if is_ca and len(subject) == 0:
        raise ValueError(
            "Invalid Certificate Subject: when is_ca_certificate is true, the subject must contain "
            "at least one Distinguished Name"
        )
    path_length: int | None = None
    # MaxPathLen 0 without MaxPathLenZero (never set by the provider): Go omits the constraint.
    # Only N > 0 is written, and only on a CA.
    if max_path is not None and int(max_path) > 0:
        if not is_ca:
            raise ValueError("Failed to create certificate: x509: only CAs are allowed to specify MaxPathLen")
        path_length = int(max_path)
    start = now.astimezone(UTC).replace(microsecond=0)
    end = start + timedelta(hours=_int(inputs.get("validityPeriodHours"), 0))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
    )
    uses = [str(u) for u in inputs.get("allowedUses") or []]
    key_usage = _key_usage_der(uses)
    if key_usage is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, key_usage), critical=True)
    ekus = [_EKU[u] for u in uses if u in _EKU]
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True)
    ski: bytes | None = None
    if is_ca or inputs.get("setSubjectKeyId"):
        ski = _ski(public)
        builder = builder.add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
    if set_authority_key_id:
        if ski is None:
            raise ValueError("Invalid Certificate Authority: Could not determine Authority Key Identifier")
        authority_key_id = ski
    if authority_key_id:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(authority_key_id, None, None), critical=False)
    if sans:
        # Go marks SAN critical only when the subject is empty (RFC 5280).
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=len(subject) == 0)
    return builder.sign(signer, **_sign_params(signer))


def _cert_outputs(cert: x509.Certificate) -> dict[str, Any]:
    return {
        "certPem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": rfc3339(cert.not_valid_before_utc),
        "validityEndTime": rfc3339(cert.not_valid_after_utc),
        "readyForRenewal": False,
        "__id": str(cert.serial_number),
    }


def _cert_defaults(inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "isCaCertificate": bool(inputs.get("isCaCertificate", False)),
        "setSubjectKeyId": bool(inputs.get("setSubjectKeyId", False)),
        "earlyRenewalHours": _int(inputs.get("earlyRenewalHours"), 0),
    }


# --------------------------------------------------------------------------
# Handlers


def private_key(args: Any, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    algorithm = str(inputs.get("algorithm", ""))
    curve = str(inputs.get("ecdsaCurve") or "P224")  # the provider's schema default
    bits = _int(inputs.get("rsaBits"), 2048)
    seed = ctx.digest(PRIVATE_KEY, args.name, algorithm, curve if algorithm == "ECDSA" else str(bits))
    key = derive_key(seed, algorithm, curve, bits)
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        traditional = serialization.PrivateFormat.TraditionalOpenSSL
    else:
        traditional = serialization.PrivateFormat.PKCS8
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ssh_public, md5, sha256 = _openssh_public(key)
    return {
        "ecdsaCurve": curve,
        "rsaBits": bits,
        "privateKeyPem": _secret(
            key.private_bytes(serialization.Encoding.PEM, traditional, serialization.NoEncryption()).decode()
        ),
        "privateKeyPemPkcs8": _secret(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
        ),
        "privateKeyOpenssh": _secret(_openssh_private(key, seed)),
        "publicKeyPem": _pem_lines("PUBLIC KEY", public_der),
        "publicKeyOpenssh": ssh_public,
        "publicKeyFingerprintMd5": md5,
        "publicKeyFingerprintSha256": sha256,
        "__id": hash_for_state(public_der),
    }


def self_signed_cert(args: Any, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    pem = inputs.get("privateKeyPem") or inputs.get("privateKeyPemWo")
    if not pem:
        return {}  # the key is unknown: so is the certificate
    key = _load_key(str(pem))
    subject = subject_name(inputs.get("subject"))
    cert = _build_certificate(
        subject=subject,
        issuer=subject,
        public=key.public_key(),
        signer=key,
        inputs=inputs,
        serial=_serial(ctx, SELF_SIGNED_CERT, args.name, inputs),
        now=ctx.now,
        sans=_sans(inputs.get("dnsNames") or [], inputs.get("ipAddresses") or [], inputs.get("uris") or []),
        authority_key_id=None,
        set_authority_key_id=bool(inputs.get("setAuthorityKeyId", False)),
    )
    return {
        **_cert_defaults(inputs),
        "setAuthorityKeyId": bool(inputs.get("setAuthorityKeyId", False)),
        "keyAlgorithm": key_algorithm(key),
        **_cert_outputs(cert),
    }


def cert_request(args: Any, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    pem = inputs.get("privateKeyPem") or inputs.get("privateKeyPemWo")
    if not pem:
        return {}
    key = _load_key(str(pem))
    subject = subject_name(inputs.get("subject"))
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    sans = _sans(inputs.get("dnsNames") or [], inputs.get("ipAddresses") or [], inputs.get("uris") or [])
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=len(subject) == 0)
    csr = builder.sign(key, **_sign_params(key))
    return {
        "certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode(),
        "keyAlgorithm": key_algorithm(key),
        "__id": hash_for_state(csr.public_bytes(serialization.Encoding.DER)),
    }


def _ca_key(args: Any, ctx: SimContext, pem: Any) -> PrivateKey:
    """The CA key, or offline a stand-in when it is an encrypted config value (the chain will not verify)."""
    if isinstance(pem, str) and pem and not pem.startswith(OFFLINE_PLACEHOLDER):
        return _load_key(pem)
    pulumi.log.warn(
        f"offline plan: the CA key signing {args.name} is an encrypted config value; signed with a "
        "stand-in key, so this certificate's chain does not verify in the plan (it will at `pulumi up`)"
    )
    return derive_key(ctx.digest(LOCALLY_SIGNED_CERT, args.name, "stand-in-ca-key"), "ECDSA", "P256")


def locally_signed_cert(args: Any, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    csr_pem, ca_pem = inputs.get("certRequestPem"), inputs.get("caCertPem")
    if not csr_pem or not ca_pem:
        return {}
    csr = x509.load_pem_x509_csr(str(csr_pem).encode())
    ca_cert = x509.load_pem_x509_certificate(str(ca_pem).encode())
    ca_key = _ca_key(args, ctx, inputs.get("caPrivateKeyPem") or inputs.get("caPrivateKeyPemWo"))
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(f"unsupported CSR key type {type(public).__name__}")
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = _sans(
            san.get_values_for_type(x509.DNSName),
            [str(ip) for ip in san.get_values_for_type(x509.IPAddress)],
            san.get_values_for_type(x509.UniformResourceIdentifier),
        )
    except x509.ExtensionNotFound:
        sans = []
    # Go sets AKI = the CA's SKI when issuer and subject differ and the CA has one.
    subject = subject_name(_subject_from_name(csr.subject), with_email=False)
    try:
        ca_ski: bytes | None = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ca_ski = None
    same_dn = ca_cert.subject.public_bytes() == subject.public_bytes()
    cert = _build_certificate(
        subject=subject,
        issuer=ca_cert.subject,
        public=public,
        signer=ca_key,
        inputs=inputs,
        serial=_serial(ctx, LOCALLY_SIGNED_CERT, args.name, inputs),
        now=ctx.now,
        sans=sans,
        authority_key_id=None if same_dn else ca_ski,
        set_authority_key_id=False,
    )
    return {**_cert_defaults(inputs), "caKeyAlgorithm": key_algorithm(ca_key), **_cert_outputs(cert)}


HANDLERS: dict[str, Handler] = {
    PRIVATE_KEY: private_key,
    SELF_SIGNED_CERT: self_signed_cert,
    CERT_REQUEST: cert_request,
    LOCALLY_SIGNED_CERT: locally_signed_cert,
}
CALLS: dict[str, Call] = {}
