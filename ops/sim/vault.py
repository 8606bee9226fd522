"""Simulated Vault and random values for the offline plan (Consul's Vault mode).

Only what downstream code reads is simulated: the CSR Vault generates for an
intermediate (a real P-256 CSR, its key derived from the resource's URN, so
Pulumi's signature over it can be verified with openssl), and the random
values a `random` resource returns (derived, not random: plans are
deterministic; they stand for values the real provider draws at create time).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from pulumi.runtime import MockResourceArgs

from ops.sim import Call, Handler, SimContext, unwrap

INTERMEDIATE_CSR = "vault:pkiSecret/secretBackendIntermediateCertRequest:SecretBackendIntermediateCertRequest"
RANDOM_BYTES = "random:index/randomBytes:RandomBytes"
RANDOM_UUID = "random:index/randomUuid:RandomUuid"


def _intermediate_csr(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    inputs = unwrap(args.inputs)
    key = ctx.ec_key("vault-intermediate", args.name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(inputs.get("commonName") or args.name))])
    # RFC 6979 signatures: the same CSR at every run (same config, same bytes).
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    # type=internal: the key stays in Vault, so the provider returns none.
    return {
        "csr": csr.public_bytes(serialization.Encoding.PEM).decode(),
        "keyId": ctx.hex("vault-key-id", args.name, length=32),
        "privateKeyType": "ec",
    }


def _random_bytes(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    length = int(unwrap(args.inputs).get("length") or 32)
    raw = b"".join(ctx.digest("random-bytes", args.name, str(i)) for i in range(length // 32 + 1))[:length]
    return {"base64": base64.b64encode(raw).decode(), "hex": raw.hex()}


def _random_uuid(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    return {"result": str(uuid.UUID(bytes=ctx.digest("random-uuid", args.name)[:16], version=4))}


HANDLERS: dict[str, Handler] = {
    INTERMEDIATE_CSR: _intermediate_csr,
    RANDOM_BYTES: _random_bytes,
    RANDOM_UUID: _random_uuid,
}
CALLS: dict[str, Call] = {}
