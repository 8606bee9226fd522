"""Fleet trust: one root CA per fleet (two during a rotation), one intermediate CA per cluster.

Every mesh's workload certificates must chain to a common root for
cross-cluster mTLS. Each cluster gets its own intermediate (its mesh CA),
signed by the fleet's signing root, so a compromised cluster key never
exposes the root. What installers need (Istio `cacerts`, Linkerd trust
anchors + issuer, a Consul CA) comes from one typed object, `ClusterCa`;
nothing here knows a mesh.

Rotation (docs/trust.md) is three config phases: add the new root second
(bundle = both), set `signingRoot` to it (intermediates re-signed), drop the
old root (bundle = new). Root resources are named after the root, so a phase
adds or removes a root and never renames one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import pulumi
import pulumi_tls as tls
from cryptography import x509

from components.common import protected
from components.config import FleetSpec, RootCa
from components.config.offline import trust_clock
from components.naming import intermediate_common_name, root_common_name

#: Config algorithm -> (tls algorithm, ecdsa_curve, rsa_bits). The curve is always explicit:
#: the provider's default curve is P-224, which no mesh accepts.
KEY_PARAMS: dict[str, tuple[str, str | None, int | None]] = {
    "ECDSA-P256": ("ECDSA", "P256", None),
    "ECDSA-P384": ("ECDSA", "P384", None),
    "RSA-3072": ("RSA", None, 3072),
}
ROOT_USES = ["cert_signing", "crl_signing"]
INTERMEDIATE_USES = ["cert_signing", "crl_signing", "digital_signature"]


@dataclass(frozen=True)
class FleetRoot:
    """One root CA of the fleet."""

    name: str
    #: Config algorithm of its key (ECDSA-P256, ECDSA-P384, RSA-3072).
    algorithm: str
    #: Self-signed root certificate (PEM, ends with a newline).
    cert_pem: pulumi.Output[str]
    #: Its private key (PEM, secret).
    key_pem: pulumi.Output[str]
    #: RFC 3339 UTC end of validity.
    validity_end_time: pulumi.Output[str]
    #: The resources that make it (none for a provided root).
    resources: list[pulumi.Resource] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterCa:
    """What a mesh installer needs to plug a cluster into the fleet's trust chain.

    Istio `cacerts`: ca-cert.pem = cert_pem, ca-key.pem = key_pem,
    root-cert.pem = bundle_pem, cert-chain.pem = chain_pem.
    Linkerd: identityTrustAnchorsPEM = bundle_pem, issuer crt/key = cert_pem/key_pem
    (all ECDSA P-256 when the roots are). Consul (Vault PKI or a custom CA):
    cert_pem/key_pem with bundle_pem as trusted roots.
    """

    cluster: str
    #: The cluster's intermediate CA certificate (PEM). Resolving it runs the expiry guard.
    cert_pem: pulumi.Output[str]
    #: Its private key (PEM, secret).
    key_pem: pulumi.Output[str]
    #: Intermediate followed by its signing root (PEM), e.g. Istio `cert-chain.pem`.
    chain_pem: pulumi.Output[str]
    #: Every root workloads must trust (one, or two during a rotation), in config order.
    bundle_pem: pulumi.Output[str]
    #: Resources an installer should depend on.
    resources: list[pulumi.Resource] = field(default_factory=list)
    #: Name of the root that signed the intermediate.
    signing_root: str = ""
    #: The signing root's certificate alone (PEM).
    signing_root_pem: pulumi.Output[str] | None = None
    #: Config algorithm of the intermediate's key (that of its signing root).
    key_algorithm: str = "ECDSA-P256"
    #: RFC 3339 UTC end of the intermediate's validity.
    validity_end_time: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class TrustArgs:
    spec: FleetSpec
    #: Cluster names, one intermediate each.
    clusters: list[str]
    #: DNS names every intermediate carries as SANs (the fleet adds Linkerd's conventional issuer
    #: name, identity.linkerd.<trust domain>, whatever the mesh). Empty by default.
    issuer_dns_names: Sequence[str] = ()


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def check_not_outlived(cluster: str, root: str, intermediate_end: str, root_end: str) -> str:
    """Apply-time guard: an intermediate must not outlive the root that signed it."""
    if _parse_time(intermediate_end) > _parse_time(root_end):
        raise pulumi.RunError(
            f"trust: the intermediate CA of cluster {cluster!r} is valid until {intermediate_end}, "
            f"after its root {root!r} expires ({root_end}); workloads would hold certificates that stop "
            "verifying when the root expires.\n"
            "    fix: rotate to a new root (docs/trust.md, 'Rotating the root'), or lower "
            "trust.intermediateValidityHours below the root's remaining lifetime"
        )
    return intermediate_end


def warn_if_expiring(
    what: str, end: str, *, window_hours: int, advice: str, window: str = "trust.expiryWarningHours"
) -> bool:
    """Warn (never fail) when a certificate ends within `window_hours` (named `window`) of now."""
    left = _parse_time(end) - trust_clock()
    if left <= timedelta(hours=window_hours):
        hours = int(left.total_seconds() // 3600)
        pulumi.log.warn(
            f"trust: {what} expires at {end} ({hours} h from now), within {window} ({window_hours} h): {advice}"
        )
        return True
    return False


class FleetTrust(pulumi.ComponentResource):
    """The fleet's roots and one intermediate CA per cluster, signed by the signing root."""

    roots: dict[str, FleetRoot]
    #: Every root's certificate in config order (what workloads trust).
    bundle_pem: pulumi.Output[str]

    def __init__(self, name: str, args: TrustArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("meshfleet:trust:FleetTrust", name, None, opts)
        spec, trust = args.spec, args.spec.trust
        meta = spec.fleet
        # The project disables default providers; tls needs its own (it talks to no cloud).
        provider = tls.Provider(f"{name}-tls", opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        keep = protected(meta, child)

        self.roots = {root.name: self._root(name, spec, root, keep) for root in trust.roots}
        signing = self.roots[trust.signing_root_name]
        bundle = pulumi.Output.concat(*(root.cert_pem for root in self.roots.values()))

        window = trust.expiry_warning_hours
        rotate = "rotate to a new root now (docs/trust.md, 'Rotating the root')"
        checks: list[pulumi.Output[bool]] = [
            root.validity_end_time.apply(
                partial(warn_if_expiring, f"root {root.name!r}", window_hours=window, advice=rotate)
            )
            for root in self.roots.values()
            if root is not signing
        ]
        # The signing root warns an intermediate's lifetime earlier: within
        # expiryWarningHours of then, an intermediate re-issued (early renewal)
        # would outlive it, and `check_not_outlived` fails the `up` that
        # creates one; the warning leaves that much time to rotate.
        checks.append(
            signing.validity_end_time.apply(
                partial(
                    warn_if_expiring,
                    f"root {signing.name!r}, which signs the intermediates,",
                    window_hours=window + trust.intermediate_validity_hours,
                    window="trust.expiryWarningHours + trust.intermediateValidityHours",
                    advice="an intermediate re-issued once less than trust.intermediateValidityHours remain would "
                    "outlive it, which `pulumi up` refuses: " + rotate,
                )
            )
        )

        self._cas: dict[str, ClusterCa] = {}
        for cluster in args.clusters:
            ca, end = self._intermediate(name, spec, cluster, signing, bundle, child, keep, list(args.issuer_dns_names))
            self._cas[cluster] = ca
            checks.append(
                end.apply(
                    partial(
                        warn_if_expiring,
                        f"the intermediate CA of {cluster!r}",
                        window_hours=window,
                        advice="it is re-issued at the next `pulumi up` (early renewal)",
                    )
                )
            )

        self.bundle_pem = bundle
        self.register_outputs(
            {
                "bundlePem": bundle,
                "signingRoot": signing.name,
                "roots": {r.name: r.cert_pem for r in self.roots.values()},
                # Resolving the intermediates runs the apply-time expiry guard.
                "intermediates": {c: ca.cert_pem for c, ca in self._cas.items()},
                "expiryWarnings": pulumi.Output.all(*checks),
            }
        )

    def for_cluster(self, cluster: str) -> ClusterCa:
        return self._cas[cluster]

    # ----------------------------------------------------------------------

    def _root(self, name: str, spec: FleetSpec, root: RootCa, keep: pulumi.ResourceOptions) -> FleetRoot:
        if root.source == "provided":
            return _provided_root(root)
        key = _private_key(f"{name}-{root.name}-key", root.algorithm, keep)
        cert = tls.SelfSignedCert(
            f"{name}-{root.name}-cert",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=root_common_name(spec.fleet.name, root.name),
                organization=spec.fleet.name,
            ),
            validity_period_hours=root.validity_hours,
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=ROOT_USES,
            opts=keep,
        )
        return FleetRoot(
            name=root.name,
            algorithm=root.algorithm,
            cert_pem=cert.cert_pem,
            key_pem=pulumi.Output.secret(key.private_key_pem),
            validity_end_time=cert.validity_end_time,
            resources=[key, cert],
        )

    def _intermediate(
        self,
        name: str,
        spec: FleetSpec,
        cluster: str,
        signing: FleetRoot,
        bundle: pulumi.Output[str],
        child: pulumi.ResourceOptions,
        keep: pulumi.ResourceOptions,
        dns_names: list[str],
    ) -> tuple[ClusterCa, pulumi.Output[str]]:
        trust = spec.trust
        key = _private_key(f"{name}-{cluster}-ca-key", signing.algorithm, keep)
        csr = tls.CertRequest(
            f"{name}-{cluster}-ca-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(
                common_name=intermediate_common_name(cluster),
                organization=spec.fleet.name,
            ),
            dns_names=dns_names or None,
            opts=child,
        )
        # Not protected: rotation phase 2 and early renewal replace this certificate.
        cert = tls.LocallySignedCert(
            f"{name}-{cluster}-ca-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_cert_pem=signing.cert_pem,
            ca_private_key_pem=signing.key_pem,
            validity_period_hours=trust.intermediate_validity_hours,
            # Re-issued by `pulumi up` once inside the warning window (the provider plans a replacement).
            early_renewal_hours=trust.expiry_warning_hours,
            is_ca_certificate=True,
            # Requested so no further CA may sit below; the provider encodes 0 as "no constraint"
            # (docs/trust.md, "Path length").
            max_path_length=0,
            set_subject_key_id=True,
            allowed_uses=INTERMEDIATE_USES,
            opts=child,
        )
        guarded = pulumi.Output.all(cert.cert_pem, cert.validity_end_time, signing.validity_end_time).apply(
            lambda v: (check_not_outlived(cluster, signing.name, v[1], v[2]), v[0])[1]
        )
        ca = ClusterCa(
            cluster=cluster,
            cert_pem=guarded,
            key_pem=pulumi.Output.secret(key.private_key_pem),
            chain_pem=pulumi.Output.concat(guarded, signing.cert_pem),
            bundle_pem=bundle,
            resources=[key, csr, cert, *signing.resources],
            signing_root=signing.name,
            signing_root_pem=signing.cert_pem,
            key_algorithm=signing.algorithm,
            validity_end_time=cert.validity_end_time,
        )
        return ca, cert.validity_end_time


def _private_key(resource_name: str, algorithm: str, opts: pulumi.ResourceOptions) -> tls.PrivateKey:
    """A CA key of a config algorithm (ECDSA-P256, ECDSA-P384, RSA-3072)."""
    kind, curve, bits = KEY_PARAMS[algorithm]
    return tls.PrivateKey(resource_name, algorithm=kind, ecdsa_curve=curve, rsa_bits=bits, opts=opts)


def _provided_root(root: RootCa) -> FleetRoot:
    """A bring-your-own root: certificate from config, key from an encrypted config value."""
    if root.certificate_pem is None or root.private_key_pem is None:  # rejected by config rules
        raise pulumi.RunError(f"trust: provided root {root.name!r} needs certificatePem and privateKeyPem")
    pem = root.certificate_pem.strip() + "\n"
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:  # rejected by components/config/rules/provided_roots.py at plan time
        raise pulumi.RunError(f"trust: provided root {root.name!r} is not a PEM certificate") from None
    end = cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return FleetRoot(
        name=root.name,
        algorithm=root.algorithm,
        cert_pem=pulumi.Output.from_input(pem),
        key_pem=pulumi.Output.secret(root.private_key_pem.get_secret_value()),
        validity_end_time=pulumi.Output.from_input(end),
    )
