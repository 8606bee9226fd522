"""Existing clusters (on-prem, kind): how to reach them and how to verify them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cryptography import x509

from components.config.errors import Problem
from components.config.models import (
    ExistingCluster,
    FleetSpec,
    ca_pem_of,
)


def _rule_existing_access(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster) and (c.kubeconfig is None) == (c.context is None):
            yield Problem(
                path=f"clusters[{i}].kubeconfig",
                message="set exactly one of kubeconfig and context",
                fix="store the kubeconfig with `pulumi config set --secret --path 'fleet.clusters[N].kubeconfig'`, "
                "or name a context of your own kubeconfig",
            )


def _rule_existing_ca(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, ExistingCluster):
            continue
        try:
            cert = x509.load_pem_x509_certificate(ca_pem_of(c.ca_data).encode())
        except ValueError:
            yield Problem(
                path=f"clusters[{i}].caData",
                message="is not a PEM certificate (or base64 of one); peers could not verify this API server",
                fix="copy certificate-authority-data from the cluster's kubeconfig (`kind get kubeconfig --name N`)",
            )
            continue
        constraints = (
            cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if any(e.oid == x509.ExtensionOID.BASIC_CONSTRAINTS for e in cert.extensions)
            else None
        )
        if constraints is None or not constraints.ca:
            yield Problem(
                path=f"clusters[{i}].caData",
                message=f"the certificate ({cert.subject.rfc4514_string()}) is not a CA",
                fix="use the API server's CA certificate, not its serving certificate",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_existing_access,
    _rule_existing_ca,
)
