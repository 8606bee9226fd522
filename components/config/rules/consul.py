"""Consul: datacenter names, server quorum and volumes, ACL/TLS in production, the CA choice and its Vault.

Only for `mesh.kind: consul`; every rule returns nothing for another kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.cloudfacts import facts, machine_series
from components.config.errors import Problem
from components.config.models import ConsulMeshSpec, FleetSpec
from components.config.rules.machine_types import gke_pools
from components.naming import MAX_LABEL, consul_pair_names, consul_peer_name, consul_vault_names


def _mesh(spec: FleetSpec) -> ConsulMeshSpec | None:
    return spec.mesh if isinstance(spec.mesh, ConsulMeshSpec) else None


def _rule_datacenters(spec: FleetSpec) -> Iterable[Problem]:
    mesh = _mesh(spec)
    if mesh is None:
        return
    names = [c.name for c in spec.clusters]
    for cluster in mesh.datacenters:
        if cluster not in names:
            yield Problem(
                path=f"mesh.datacenters.{cluster}",
                message=f"{cluster!r} is not a cluster of the fleet; allowed values: {', '.join(names)}",
                fix="key mesh.datacenters by the names in clusters[]",
            )
    owners: dict[str, str] = {}
    for name in names:
        dc = mesh.datacenter_of(name)
        if dc in owners:
            path = f"mesh.datacenters.{name}" if name in mesh.datacenters else f"mesh.datacenters.{owners[dc]}"
            yield Problem(
                path=path,
                message=f"datacenter {dc!r} is used by both {owners[dc]} and {name}; each cluster is its own "
                "datacenter and peers know it by that name",
                fix="give each cluster a distinct datacenter name (the default is the cluster name)",
            )
        owners.setdefault(dc, name)
    # Names built from a datacenter must still be DNS labels.
    for i, name in enumerate(names):
        dc = mesh.datacenter_of(name)
        others = [n for n in names if n != name]
        derived: list[tuple[str, str]] = []
        if others:
            pair = consul_pair_names(name, others[0], mesh.datacenters)
            secret = pair.acceptor_secret if pair.dialer == name else pair.dialer_secret
            derived.append(("peering token secret name", secret))
        derived.append(("peer name", consul_peer_name(dc)))
        if mesh.vault is not None:
            derived += [(f"Vault {k}", v) for k, v in consul_vault_names(mesh.vault.path_prefix, dc).items()]
        for role, value in derived:
            if len(value) > MAX_LABEL:
                path = f"mesh.datacenters.{name}" if name in mesh.datacenters else f"clusters[{i}].name"
                yield Problem(
                    path=path,
                    message=f"{role} {value!r} is {len(value)} characters; the limit is {MAX_LABEL}",
                    fix="shorten the datacenter name (mesh.datacenters.<cluster>) or the cluster name",
                )


def _rule_servers(spec: FleetSpec) -> Iterable[Problem]:
    mesh = _mesh(spec)
    if mesh is None or spec.fleet.environment != "production":
        return
    servers = mesh.servers_for(spec.fleet.environment)
    if servers == 1 or servers % 2 == 0:
        yield Problem(
            path="mesh.serverReplicas",
            message=f"{servers} Consul servers per datacenter: production needs a Raft quorum that survives "
            "losing a server, with an odd count (an even count tolerates no more failures than one fewer server)",
            fix="set mesh.serverReplicas: 3 (or 5), or remove it for the production default of 3",
        )


def _rule_security(spec: FleetSpec) -> Iterable[Problem]:
    mesh = _mesh(spec)
    if mesh is None or spec.fleet.environment != "production":
        return
    settings = {
        "acls": "without ACLs any workload may call the Consul API and intentions default to allow",
        "tlsVerify": "without verification any certificate is accepted between Consul agents",
        "httpsOnly": "the servers' plain-HTTP API port would be open",
        "gossipEncryption": "server gossip would travel in clear text",
    }
    values = mesh.security.model_dump(by_alias=True)
    for key, why in settings.items():
        if not values[key]:
            yield Problem(
                path=f"mesh.security.{key}",
                message=f"cannot be turned off on a production stack: {why}",
                fix=f"remove mesh.security.{key} (it defaults to true)",
            )


def _rule_ca(spec: FleetSpec) -> Iterable[Problem]:
    mesh = _mesh(spec)
    if mesh is None:
        return
    if mesh.ca == "vault" and mesh.vault is None:
        yield Problem(
            path="mesh.vault",
            message="ca: vault needs the Vault that holds Consul's Connect CA, TLS CA, gossip key and ACL token",
            fix="add mesh.vault (address, egressCidrs, injector), or set mesh.ca: consul for the built-in CA",
        )
    if mesh.ca == "consul" and mesh.vault is not None:
        yield Problem(
            path="mesh.vault",
            message="mesh.vault is set but mesh.ca is consul: the built-in CA uses no Vault, so it would be ignored",
            fix="set mesh.ca: vault to chain Consul to the fleet root through Vault, or remove mesh.vault",
        )


def _rule_server_volumes_attach(spec: FleetSpec) -> Iterable[Problem]:
    """On GKE the servers' volumes are pd-balanced (`standard-rwo`), which Hyperdisk-only machines cannot attach."""
    if _mesh(spec) is None:
        return
    f = facts("gcp")
    for path, c, pool in gke_pools(spec):
        if f.boot_disk(pool.machine_type) == "hyperdisk-balanced":
            yield Problem(
                path=path,
                message=f"Consul servers keep their Raft data on standard-rwo (pd-balanced) volumes, which "
                f"{pool.machine_type!r} (series {machine_series(pool.machine_type)!r}, Hyperdisk only) cannot attach",
                fix=f"give {c.name}'s pools a series that attaches Persistent Disk, e.g. "
                f"machineType: {f.machine_example}",
            )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_datacenters,
    _rule_servers,
    _rule_security,
    _rule_ca,
    _rule_server_volumes_attach,
)
