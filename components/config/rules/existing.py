"""Existing clusters (on-prem, kind): how to reach them and how to verify them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from components.config.errors import Problem
from components.config.models import (
    ExistingCluster,
    FleetSpec,
    ca_pem_of,
    store_kubeconfig_command,
)
from components.config.offline import OFFLINE_PLACEHOLDER
from components.config.rules.endpoints import endpoint_key
from components.naming import key_problems

#: How to get a self-contained kubeconfig of one cluster (its CA embedded).
_ONE_CLUSTER_KUBECONFIG = (
    "store the output of `kubectl --context <this cluster> config view --raw --minify --flatten` "
    "(kind: `kind get kubeconfig --name <cluster>`)"
)


def _rule_existing_access(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, ExistingCluster):
            continue
        if c.kubeconfig is not None and c.context is not None:
            yield Problem(
                path=f"clusters[{i}].context",
                message="is set beside kubeconfig; the deployer reaches a cluster through one of them",
                fix="remove context to deploy with the stored kubeconfig (CI), or remove kubeconfig to use "
                "your own kubeconfig's context (a workstation)",
            )
        elif c.kubeconfig is None and c.context is None:
            yield Problem(
                path=f"clusters[{i}].kubeconfig",
                message="is missing, and so is context: the deployer has no way to reach this cluster",
                fix=f"store its kubeconfig: {store_kubeconfig_command(i)}; or, on a workstation, set context to a "
                "context of your kubeconfig",
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


def _certificates(pem: str) -> set[bytes]:
    """DER of every certificate in a PEM bundle (empty when it holds none)."""
    try:
        return {cert.public_bytes(Encoding.DER) for cert in x509.load_pem_x509_certificates(pem.encode())}
    except ValueError:
        return set()


def _current_cluster(doc: Any) -> Mapping[str, Any] | None:
    """The `cluster` entry the kubeconfig's current context points at (None: there is none)."""
    if not isinstance(doc, Mapping):
        return None
    wanted = doc.get("current-context")
    contexts = [c for c in doc.get("contexts") or [] if isinstance(c, Mapping) and c.get("name") == wanted]
    if not wanted or len(contexts) != 1 or not isinstance(contexts[0].get("context"), Mapping):
        return None
    cluster_name = contexts[0]["context"].get("cluster")
    clusters = [c for c in doc.get("clusters") or [] if isinstance(c, Mapping) and c.get("name") == cluster_name]
    if len(clusters) != 1 or not isinstance(clusters[0].get("cluster"), Mapping):
        return None
    return clusters[0]["cluster"]


@dataclass(frozen=True)
class _Identity:
    """What tells one existing cluster from another: its API server's address and CA certificates (DER)."""

    index: int
    name: str
    endpoint: tuple[str, int] | None
    cas: frozenset[bytes]


def _endpoint(url: str) -> tuple[str, int] | None:
    """The (host, port) a URL dials (rules/endpoints.py), None for one with a port out of range."""
    try:
        return endpoint_key(url)
    except ValueError:
        return None


def _parse_kubeconfig(text: str) -> Any:
    """A kubeconfig's document: JSON first (client-go reads JSON indented with tabs, which is not YAML),
    then YAML; None when it is neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _kubeconfig_problem(kubeconfig: str, me: _Identity, by_ca: Mapping[bytes, _Identity]) -> tuple[str, str] | None:
    """What is wrong with an existing cluster's kubeconfig, as (message, fix); None when nothing is.

    The deployer's provider uses the kubeconfig's current context. A
    kubeconfig of another cluster would install this cluster's mesh
    identity, gateways and peers' credentials there, over whatever that
    cluster runs. Refused where that is certain: the context trusts another
    fleet cluster's CA, or names this cluster's API address with a CA other
    than `caData`. A different address and CA may be an API proxy (Rancher,
    Teleport) in front of this cluster, so it passes. Messages never quote
    the kubeconfig: it is a secret.
    """
    doc = _parse_kubeconfig(kubeconfig)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("clusters"), list):
        return "is not a kubeconfig (YAML with clusters, contexts, users and current-context)", _ONE_CLUSTER_KUBECONFIG
    cluster = _current_cluster(doc)
    if cluster is None:
        return (
            "has no current-context naming a context and cluster it defines: the provider would not know "
            "which cluster to use",
            _ONE_CLUSTER_KUBECONFIG,
        )
    if cluster.get("insecure-skip-tls-verify"):
        return (
            "skips TLS verification (insecure-skip-tls-verify): the deployer would hand its credentials to "
            "whatever answers at that address",
            "embed the cluster's CA as certificate-authority-data instead; " + _ONE_CLUSTER_KUBECONFIG,
        )
    if cluster.get("certificate-authority"):
        return (
            "reads its CA from a file (certificate-authority), which a CI runner does not have",
            "embed it as certificate-authority-data: " + _ONE_CLUSTER_KUBECONFIG,
        )
    embedded = cluster.get("certificate-authority-data")
    if not embedded:
        return None  # a server with a publicly trusted certificate: nothing to compare
    try:
        # Like client-go (Go's base64 skips \r and \n), ignore line breaks in the value: a `|` block, a
        # JSON "\n". Not spaces: a wrapped plain YAML scalar folds its breaks into spaces, which it refuses.
        text = str(embedded).replace("\r", "").replace("\n", "")
        trusted = _certificates(base64.b64decode(text, validate=True).decode())
    except (binascii.Error, UnicodeDecodeError):
        trusted = set()
    if not trusted:
        return "has certificate-authority-data that is not base64 of a PEM certificate", _ONE_CLUSTER_KUBECONFIG
    if trusted & me.cas:
        return None
    reached = sorted((by_ca[der] for der in trusted if der in by_ca), key=lambda other: other.index)
    if reached:
        return (
            f"reaches clusters[{reached[0].index}] ({reached[0].name}), not this cluster: its current context "
            "trusts that cluster's CA",
            "store this cluster's own kubeconfig; " + _ONE_CLUSTER_KUBECONFIG,
        )
    if me.endpoint is not None and _endpoint(str(cluster.get("server", ""))) == me.endpoint:
        return (
            "names this cluster's API address but trusts another CA than caData: one of the two belongs to "
            "another cluster",
            "copy caData from this cluster's kubeconfig (certificate-authority-data), or store that kubeconfig",
        )
    return None


def _rule_kubeconfig_reaches_the_cluster(spec: FleetSpec) -> Iterable[Problem]:
    existing: list[tuple[_Identity, ExistingCluster]] = []
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            try:
                cas = frozenset(_certificates(ca_pem_of(c.ca_data)))
            except ValueError:
                cas = frozenset()  # caData itself is wrong: _rule_existing_ca says so
            existing.append((_Identity(i, c.name, _endpoint(c.api_endpoint), cas), c))
    by_ca = {der: identity for identity, _ in existing for der in identity.cas}
    for me, c in existing:
        if c.kubeconfig is None or not me.cas:
            continue
        kubeconfig = c.kubeconfig.get_secret_value()
        if kubeconfig.startswith(OFFLINE_PLACEHOLDER):
            continue  # encrypted, and offline: checked by `pulumi preview` and `up`, which decrypt it
        problem = _kubeconfig_problem(kubeconfig, me, by_ca)
        if problem is not None:
            yield Problem(path=f"clusters[{me.index}].kubeconfig", message=problem[0], fix=problem[1])


def _rule_load_balancer_annotations(spec: FleetSpec) -> Iterable[Problem]:
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, ExistingCluster):
            continue
        for key in sorted(c.load_balancer_annotations):
            for message in key_problems(key, "annotation"):
                yield Problem(
                    path=f"clusters[{i}].loadBalancerAnnotations",
                    message=message,
                    fix="copy the key from your load balancer's documentation (the Kubernetes API rejects this one)",
                )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_existing_access,
    _rule_existing_ca,
    _rule_kubeconfig_reaches_the_cluster,
    _rule_load_balancer_annotations,
)
