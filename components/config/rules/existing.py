"""Existing clusters (on-prem, kind): how to reach them and how to verify them."""

from __future__ import annotations

import base64
import binascii
import json
import os
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
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


def _context_cluster(doc: Any, wanted: object) -> Mapping[str, Any] | None:
    """The `cluster` entry context `wanted` of a kubeconfig points at (None: there is none)."""
    if not isinstance(doc, Mapping):
        return None
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
    except (ValueError, RecursionError):
        pass
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, TypeError, ArithmeticError, RecursionError):
        # Not only YAMLError: PyYAML's constructors raise ValueError for an impossible date
        # (2024-02-30) or a bad `!!int`, and deep nesting exhausts the stack.
        return None


@dataclass(frozen=True)
class _Verdict:
    """Whom a kubeconfig's cluster entry reaches, judged by its server and the CAs it trusts."""

    #: Another fleet cluster, whose CA it trusts.
    other: _Identity | None = None
    #: This cluster's API address, with a CA other than caData.
    own_address: bool = False


def _verdict(server: object, trusted: set[bytes], me: _Identity, by_ca: Mapping[bytes, _Identity]) -> _Verdict | None:
    """None when the entry trusts this cluster's CA; else what it surely reaches, or an empty verdict
    (another address and another CA: an API proxy, or caData out of date)."""
    if trusted & me.cas:
        return None
    reached = sorted((by_ca[der] for der in trusted if der in by_ca), key=lambda other: other.index)
    if reached:
        return _Verdict(other=reached[0])
    return _Verdict(own_address=me.endpoint is not None and _endpoint(str(server or "")) == me.endpoint)


def _embedded_cas(cluster: Mapping[str, Any]) -> set[bytes] | None:
    """The certificates of a cluster entry's certificate-authority-data (empty: not base64 of a PEM;
    None: it has none)."""
    embedded = cluster.get("certificate-authority-data")
    if not embedded:
        return None
    try:
        # Like client-go (Go's base64 skips \r and \n), ignore line breaks in the value: a `|` block, a
        # JSON "\n". Not spaces: a wrapped plain YAML scalar folds its breaks into spaces, which it refuses.
        text = str(embedded).replace("\r", "").replace("\n", "")
        return _certificates(base64.b64decode(text, validate=True).decode())
    except (binascii.Error, UnicodeDecodeError):
        return set()


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
    cluster = _context_cluster(doc, doc.get("current-context"))
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
    trusted = _embedded_cas(cluster)
    if trusted is None:
        return None  # a server with a publicly trusted certificate: nothing to compare
    if not trusted:
        return "has certificate-authority-data that is not base64 of a PEM certificate", _ONE_CLUSTER_KUBECONFIG
    verdict = _verdict(cluster.get("server"), trusted, me, by_ca)
    if verdict is not None and verdict.other is not None:
        return (
            f"reaches clusters[{verdict.other.index}] ({verdict.other.name}), not this cluster: its current "
            "context trusts that cluster's CA",
            "store this cluster's own kubeconfig; " + _ONE_CLUSTER_KUBECONFIG,
        )
    if verdict is not None and verdict.own_address:
        return (
            "names this cluster's API address but trusts another CA than caData: one of the two belongs to "
            "another cluster",
            "copy caData from this cluster's kubeconfig (certificate-authority-data), or store that kubeconfig",
        )
    return None


def _existing(spec: FleetSpec) -> list[tuple[_Identity, ExistingCluster]]:
    """Every existing cluster with what identifies it (no CAs when caData is wrong: _rule_existing_ca
    says so)."""
    existing: list[tuple[_Identity, ExistingCluster]] = []
    for i, c in enumerate(spec.clusters):
        if isinstance(c, ExistingCluster):
            try:
                cas = frozenset(_certificates(ca_pem_of(c.ca_data)))
            except ValueError:
                cas = frozenset()
            existing.append((_Identity(i, c.name, _endpoint(c.api_endpoint), cas), c))
    return existing


def _rule_kubeconfig_reaches_the_cluster(spec: FleetSpec) -> Iterable[Problem]:
    existing = _existing(spec)
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


# --------------------------------------------------------------------------
# The deployer's own kubeconfig (a workstation's `context`)


@dataclass(frozen=True)
class DeployerKubeconfig:
    """The kubeconfig a provider given only a `context` reads, merged as client-go merges it."""

    #: Where it was read from, for messages ($KUBECONFIG's value is never quoted).
    where: str
    #: Context name -> the cluster entry it points at, and the folder of the file that defined that
    #: entry (a relative certificate-authority path is relative to it).
    clusters: Mapping[str, tuple[Mapping[str, Any], Path]]


def deployer_kubeconfig(environ: Mapping[str, str], home: Path | None) -> DeployerKubeconfig:
    """The deployer's kubeconfig, loaded as client-go's default rules load it (the provider of a
    `context` cluster is given an empty kubeconfig so that it does too: components/handle.py): the
    files listed in $KUBECONFIG (os.pathsep between them, empty entries ignored; a missing or unreadable
    file is skipped), each context and cluster taken from the first file that defines its name; without
    $KUBECONFIG, ~/.kube/config (`home` None: no home directory, so no file)."""
    if environ.get("KUBECONFIG"):
        files = [Path(p) for p in environ["KUBECONFIG"].split(os.pathsep) if p]
        # Never the variable's value: some put a whole kubeconfig there, and it is a secret.
        where = "the files in $KUBECONFIG"
    else:
        files = [home / ".kube" / "config"] if home is not None else []
        where = "~/.kube/config"
    contexts: dict[str, Mapping[str, Any]] = {}
    clusters: dict[str, tuple[Mapping[str, Any], Path]] = {}
    for file in files:
        try:
            doc = _parse_kubeconfig(file.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if not isinstance(doc, Mapping):
            continue
        for entry in _named_entries(doc, "contexts", "context"):
            contexts.setdefault(entry["name"], entry["context"])
        for entry in _named_entries(doc, "clusters", "cluster"):
            clusters.setdefault(entry["name"], (entry["cluster"], file.parent))
    by_context = {
        name: clusters[context["cluster"]] for name, context in contexts.items() if context.get("cluster") in clusters
    }
    return DeployerKubeconfig(where=where, clusters=by_context)


def _named_entries(doc: Mapping[str, Any], key: str, body: str) -> Iterator[Mapping[str, Any]]:
    """The entries of list `key` that have a string name and a mapping `body`; anything else is skipped."""
    entries = doc.get(key)
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str) and isinstance(entry.get(body), Mapping):
            yield entry


def _file_cas(cluster: Mapping[str, Any], folder: Path) -> set[bytes] | None:
    """The certificates of a cluster entry's certificate-authority file (None: none, or unreadable)."""
    name = cluster.get("certificate-authority")
    if not name:
        return None
    try:
        # Relative to the file that defined the entry, as client-go resolves it (no `~` expansion).
        return _certificates((folder / str(name)).read_text()) or None
    except (OSError, UnicodeDecodeError, ValueError):  # ValueError: a NUL in the path
        return None


def context_findings(spec: FleetSpec, kubeconfig: DeployerKubeconfig) -> tuple[list[Problem], list[str]]:
    """What is wrong with each existing cluster's `context` in the deployer's kubeconfig: problems where
    it is certain (no such context; it trusts another fleet cluster's CA; it names this cluster's address
    with a CA other than caData), warnings where it is likely (another address and another CA: a proxy,
    or caData out of date, as after re-creating a kind cluster, which peers would then fail to reach)."""
    existing = _existing(spec)
    by_ca = {der: identity for identity, _ in existing for der in identity.cas}
    problems: list[Problem] = []
    warnings: list[str] = []
    for me, c in existing:
        if c.context is None:
            continue
        path = f"clusters[{me.index}].context"
        found = kubeconfig.clusters.get(c.context)
        if found is None:
            problems.append(
                Problem(
                    path=path,
                    message=f"{c.context!r} is not a context of the deployer's kubeconfig ({kubeconfig.where}) "
                    "that names a cluster it defines",
                    fix="use a name from `kubectl config get-contexts`; a CI runner has no contexts: store the "
                    f"cluster's kubeconfig instead ({store_kubeconfig_command(me.index)}) and remove context",
                )
            )
            continue
        cluster, folder = found
        # Embedded data takes precedence over a file, as in client-go.
        embedded = _embedded_cas(cluster)
        trusted = embedded if embedded is not None else _file_cas(cluster, folder)
        if not me.cas or not trusted:
            continue  # caData is wrong (its own rule), or the context's CA is not readable: nothing to compare
        verdict = _verdict(cluster.get("server"), trusted, me, by_ca)
        if verdict is None:
            continue
        copy_ca = (
            f"`kubectl config view --raw --minify --context {shlex.quote(c.context)} "
            "-o jsonpath='{.clusters[0].cluster.certificate-authority-data}'`"
        )
        if verdict.other is not None:
            problems.append(
                Problem(
                    path=path,
                    message=f"{c.context!r} reaches clusters[{verdict.other.index}] ({verdict.other.name}), not "
                    "this cluster: that context trusts its CA",
                    fix="set context to this cluster's own context (`kubectl config get-contexts`)",
                )
            )
        elif verdict.own_address:
            problems.append(
                Problem(
                    path=path,
                    message=f"{c.context!r} names this cluster's API address but trusts another CA than caData: "
                    "caData is out of date (a re-created cluster) or another cluster's",
                    fix=f"copy caData from {copy_ca}",
                )
            )
        else:
            warnings.append(
                f"clusters[{me.index}] ({me.name}): context {c.context!r} trusts a CA other than caData. Unless "
                "it reaches the cluster through a proxy (Rancher, Teleport), caData is out of date (a re-created "
                f"kind cluster?) and peers will not reach this cluster's API: copy caData from {copy_ca}."
            )
    return problems, warnings


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
