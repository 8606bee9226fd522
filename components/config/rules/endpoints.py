"""Existing clusters' API endpoints: reachable by the peers, one per cluster.

A syntax check only (nothing resolves offline): an address no peer can
reach (loopback, link-local, unspecified, multicast) or two clusters with
the same endpoint would pass planning and break the mesh's cross-cluster
discovery at run time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from components.config.errors import Problem
from components.config.models import ExistingCluster, FleetSpec

_FIX = (
    "use the address the other clusters reach this API server on (kind: the control-plane container's "
    "address, `docker inspect -f '{{.NetworkSettings.Networks.kind.IPAddress}}' <name>-control-plane`)"
)


def _unreachable(host: str) -> str | None:
    """Why peers can never reach `host` (None: they might)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "is a loopback name: every peer would reach itself"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if address.is_unspecified:
        return "is the unspecified address: it names no host"
    if address.is_loopback:
        return "is a loopback address: every peer would reach itself"
    if address.is_link_local:
        return "is a link-local address: it does not leave the host's own network segment"
    if address.is_multicast:
        return "is a multicast address, not a host"
    return None


def endpoint_key(url: str) -> tuple[str, int]:
    """(host, port) an API server URL names, as clients dial it: the host lowercased without a
    trailing dot, the port 443 when unwritten. ValueError for a port outside urllib's range."""
    parts = urlsplit(url)
    port = parts.port  # `or 443` would read a written :0 as the default port
    return (parts.hostname or "").lower().rstrip("."), 443 if port is None else port


def _rule_endpoints(spec: FleetSpec) -> Iterable[Problem]:
    seen: dict[tuple[str, int], tuple[int, str]] = {}
    for i, c in enumerate(spec.clusters):
        if not isinstance(c, ExistingCluster):
            continue
        path = f"clusters[{i}].apiEndpoint"
        try:
            key = endpoint_key(c.api_endpoint)
        except ValueError:
            yield Problem(
                path=path,
                message=f"{c.api_endpoint!r} has a port outside 1-65535",
                fix="write the API server's port, e.g. https://172.18.0.2:6443",
            )
            continue
        host, port = key
        if port == 0:
            yield Problem(
                path=path, message=f"{c.api_endpoint!r} has port 0", fix="write the API server's port, e.g. :6443"
            )
            continue
        why = _unreachable(host)
        if why is not None:
            yield Problem(path=path, message=f"{host} {why}; peers could never reach this API server", fix=_FIX)
            continue
        if key in seen:
            first, name = seen[key]
            yield Problem(
                path=path,
                message=f"{c.api_endpoint} is already the API endpoint of clusters[{first}] ({name}); "
                "every cluster has its own API server",
                fix="copy this cluster's own server URL from its kubeconfig (`kubectl config view --minify`)",
            )
            continue
        seen[key] = (i, c.name)


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_endpoints,)
