"""The simulated cloud behind the offline plan.

`SimulatedCloud` (ops/sim/cloud.py) answers the mock runtime's resource
registrations and function calls with realistic, deterministic outputs: endpoints, CA data,
addresses, real certificates. Each cloud keeps its answers in its own
module (`ops/sim/aws.py`, ...) as a `HANDLERS` map from type token to a
function, and `CALLS` for invokes. Every generated id, key and certificate
derives from a fixed seed, the resource's URN (project, stack, type and
name) and the pinned clock; public addresses come sequentially from the
stack's own block of each pool (`ops/sim/pools.py`). No randomness, no wall
clock: two runs give the same bytes, and two stacks never share an id or an
address.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pulumi.runtime import MockCallArgs, MockResourceArgs

from ops.sim.pools import AddressPools

#: The sentinel key the SDK uses for a secret value inside a property map.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"

#: Order of the P-256 group: derived scalars must lie in [1, order).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

#: Default pinned clock of plans and tests.
DEFAULT_NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class SimContext:
    """What simulated resources may depend on: a seed, a clock, and each other."""

    project: str
    stack: str
    now: datetime = DEFAULT_NOW
    seed: bytes = b"meshfleet-offline-plan"
    #: Outputs of resources simulated so far, keyed by (type, name).
    state: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Where public addresses come from; by default the scratch block of every
    #: pool, which no stack of the project uses (the offline plan passes the
    #: stack's own, `pools.stack_pools`). Copies of a context share it.
    pools: AddressPools | None = None

    def __post_init__(self) -> None:
        if self.pools is None:
            self.pools = AddressPools(self.stack)

    def digest(self, *parts: str, shared: bool = False) -> bytes:
        """SHA-256 of the seed, the stack's project and name, and `parts`.

        Handlers pass the resource's type and name (or the physical name
        derived from them): with the project and stack that is what its URN
        holds, so two stacks never get the same id, key or certificate.
        `shared=True` leaves the stack out, for facts of the world a stack
        reads rather than creates (a GCP project's number, a GKE release):
        every stack sees the same.
        """
        h = hashlib.sha256(self.seed)
        for part in parts if shared else (self.project, self.stack, *parts):
            h.update(b"\x00" + part.encode())
        return h.digest()

    def number(self, *parts: str, modulo: int, shared: bool = False) -> int:
        return int.from_bytes(self.digest(*parts, shared=shared)[:8], "big") % modulo

    def hex(self, *parts: str, length: int = 16) -> str:
        return self.digest(*parts).hex()[:length]

    def allocate(self, pool: str, typ: str, name: str) -> str:
        """The public address of resource (`typ`, `name`) from this stack's block of `pool`."""
        pools = self.pools or AddressPools(self.stack)
        return pools.allocate(pool, typ, name)

    def ec_key(self, *parts: str) -> ec.EllipticCurvePrivateKey:
        """A P-256 key derived from the seed and `parts`: the same key every run."""
        scalar = 1 + int.from_bytes(self.digest("ec-key", *parts), "big") % (P256_ORDER - 1)
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def api_server_ca(self, common_name: str, *parts: str, years: int) -> str:
        """A real, deterministic self-signed Kubernetes API server CA (PEM).

        What the clouds hand back as cluster CA data: a P-256 CA whose
        certificate verifies, so downstream kubeconfigs and remote secrets
        carry something a client would accept.
        """
        key = self.ec_key("api-server-ca", *parts)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(int.from_bytes(self.digest("api-server-ca-serial", *parts)[:16], "big") >> 1)
            .not_valid_before(self.now)
            .not_valid_after(self.now + timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def address(self, pool: str, *parts: str) -> str:
        """A deterministic address inside `pool` chosen by hash: private addresses
        inside a configured subnet only (public ones come from `allocate`)."""
        net = ipaddress.IPv4Network(pool)
        offset = 1 + self.number(*parts, modulo=net.num_addresses - 2)
        return str(net.network_address + offset)


Handler = Callable[[MockResourceArgs, SimContext], dict[str, Any]]
Call = Callable[[MockCallArgs, SimContext], dict[str, Any]]


def unwrap(value: Any) -> Any:
    """Strip the SDK's secret wrapper from a (nested) input value."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_SIG_VALUE:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value
