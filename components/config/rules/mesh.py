"""The mesh: a kind this release installs, a mode and topology it supports, its revisions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from components.config.errors import ConfigError, Problem
from components.config.models import (
    ISTIO_VERSION_FORM,
    SUPPORTED_MESHES,
    FleetSpec,
    IstioMeshSpec,
)

#: Meshes users still name, and where to go instead.
RETIRED_MESHES: dict[str, str] = {
    "appmesh": (
        "AWS App Mesh was shut down on 2026-09-30. Migrate to Istio (kind: istio), "
        "which runs on EKS with the same Envoy data plane; AWS's own guide points "
        "App Mesh users to Amazon ECS Service Connect or VPC Lattice for non-Kubernetes workloads."
    ),
    "osm": (
        "Open Service Mesh was archived by the CNCF in 2023 and gets no fixes. "
        "Its maintainers point users to Istio; choose kind: istio (or linkerd)."
    ),
    "traefik-mesh": (
        "Traefik Mesh is no longer developed (no release since 2022). "
        "Choose kind: linkerd for a lightweight mesh, or kind: istio."
    ),
    "smi": (
        "SMI (Service Mesh Interface) was archived in 2023; its successor is the "
        "Gateway API GAMMA initiative, which Istio and Linkerd implement. "
        "Choose kind: istio or linkerd and express routing with Gateway API."
    ),
}


def reject_retired_mesh(raw: Mapping[str, Any]) -> None:
    """Stop before parsing when mesh.kind names a retired mesh: the fix is a different mesh, not a typo."""
    mesh = raw.get("mesh")
    kind = mesh.get("kind") if isinstance(mesh, Mapping) else None
    if isinstance(kind, str) and kind.lower() in RETIRED_MESHES:
        raise ConfigError.one(
            path="mesh.kind",
            message=f"{kind!r} is retired: {RETIRED_MESHES[kind.lower()]}",
            fix=f"set mesh.kind to one of: {', '.join(SUPPORTED_MESHES)}",
        )


#: Meshes this release installs. The schema already names the others so stack
#: configs need no migration when their installers land.
INSTALLABLE_MESHES = ("istio", "linkerd", "consul")

#: Fields only Istio has, and what another kind does instead (checked before
#: parsing, so the message explains rather than saying "unknown field").
ISTIO_ONLY_FIELDS: dict[str, tuple[str, str]] = {
    "mode": (
        "ambient mode is Istio only, and the mode an Istio choice; {kind} runs sidecar proxies only",
        "remove mesh.mode (the data plane is sidecar proxies), or set mesh.kind: istio",
    ),
    "topology": ("{kind} runs a control plane in every cluster; topology is an Istio choice", "remove mesh.topology"),
    "revisions": (
        "revisions are an Istio feature; {kind} upgrades in place",
        "remove mesh.revisions and mesh.stableRevision",
    ),
    "stableRevision": (
        "revisions are an Istio feature; {kind} upgrades in place",
        "remove mesh.revisions and mesh.stableRevision",
    ),
}


def reject_foreign_mesh_fields(raw: Mapping[str, Any]) -> None:
    """Istio-only fields on another mesh kind: one clear problem per field, before parsing."""
    mesh = raw.get("mesh")
    if not isinstance(mesh, Mapping) or mesh.get("kind") not in ("linkerd", "consul"):
        return
    kind = mesh["kind"]
    problems = [
        Problem(path=f"mesh.{key}", message=message.format(kind=kind), fix=fix)
        for key, (message, fix) in ISTIO_ONLY_FIELDS.items()
        if key in mesh
    ]
    if problems:
        raise ConfigError(problems)


def _rule_mesh(spec: FleetSpec) -> Iterable[Problem]:
    mesh = spec.mesh
    if mesh.kind not in INSTALLABLE_MESHES:
        yield Problem(
            path="mesh.kind",
            message=f"this meshfleet release installs {', '.join(INSTALLABLE_MESHES)} only; {mesh.kind} is not "
            "installed yet (nothing would be deployed for it)",
            fix=f"set mesh.kind: {' or '.join(INSTALLABLE_MESHES)}",
        )
    # Linkerd's own checks: components/config/rules/linkerd.py.
    if mesh.migrate_from is not None and mesh.migrate_from == mesh.kind:
        yield Problem(
            path="mesh.migrateFrom",
            message=f"{mesh.migrate_from!r} is the mesh kind itself; migrateFrom names the deployed mesh being "
            "replaced, in the one change that switches kind",
            fix="remove mesh.migrateFrom (the switch is done), or set it to the kind deployed now",
        )
    if isinstance(mesh, IstioMeshSpec):
        yield from _istio_rules(mesh)


def _istio_rules(mesh: IstioMeshSpec) -> Iterable[Problem]:
    if mesh.topology == "primary-remote":
        if mesh.mode == "ambient":
            yield Problem(
                path="mesh.topology",
                message="Istio ambient multicluster supports only multi-primary on multiple networks; "
                "primary-remote is not supported upstream",
                fix="set mesh.topology: multi-primary, or mesh.mode: sidecar",
            )
        else:
            yield Problem(
                path="mesh.topology",
                message="meshfleet installs a control plane in every cluster; primary-remote is not supported yet",
                fix="set mesh.topology: multi-primary",
            )
    yield from _istio_version_rules(mesh)
    if mesh.trust_domain in mesh.trust_domain_aliases:
        yield Problem(
            path="mesh.trustDomainAliases",
            message=f"{mesh.trust_domain!r} is the trust domain itself; aliases name the former ones",
            fix=f"remove {mesh.trust_domain!r} from mesh.trustDomainAliases",
        )


#: An Istio release as mesh.version, mesh.revisions and mesh.stableRevision take it.
_ISTIO_VERSION = re.compile(r"\d+\.\d+\.\d+")


def _istio_version_problem(path: str, value: str) -> Problem | None:
    """What is wrong with one Istio version (mesh.version, an entry of mesh.revisions, mesh.stableRevision)."""
    if _ISTIO_VERSION.fullmatch(value):
        return None
    words, example = ISTIO_VERSION_FORM
    field = "each entry of mesh.revisions must be" if path.startswith("mesh.revisions[") else f"{path} must be"
    if re.fullmatch(r"\d+-\d+-\d+", value):
        # istiod-1-30-3, istio.io/rev=1-30-3: the revision label (components.naming), not the version.
        dotted = value.replace("-", ".")
        return Problem(
            path=path,
            message=f"{value!r} is how a revision label is written (istiod-{value}, istio.io/rev={value}), not a "
            f"version; {field} {words}",
            fix=f"write {dotted} (meshfleet derives the label {value} from it)",
        )
    if re.fullmatch(r"[vV]\d+\.\d+\.\d+", value):
        return Problem(path=path, message=f"{value!r} has a leading v; {field} {words}", fix=f"write {value[1:]}")
    if re.fullmatch(r"\d+\.\d+", value):
        return Problem(
            path=path,
            message=f"{value!r} names a minor version, not a release; {field} {words}",
            fix=f"write the {value} patch release you mean in full, e.g. {value}.0",
        )
    return Problem(path=path, message=f"{value!r} is not a version; {field} {words}", fix=f"write e.g. {example}")


def _istio_version_rules(mesh: IstioMeshSpec) -> Iterable[Problem]:
    """Each version said at its own path, once; the cross-checks only between well-formed versions.

    A malformed entry is the root: `revisions: [1-30-3]` is one problem at mesh.revisions[0], not also
    "revisions lacks version" and "stableRevision not installed" (which its correction would settle).
    """
    problems = [_istio_version_problem("mesh.version", mesh.version)]
    problems += [_istio_version_problem(f"mesh.revisions[{i}]", v) for i, v in enumerate(mesh.revisions or [])]
    if mesh.stable_revision is not None:
        problems.append(_istio_version_problem("mesh.stableRevision", mesh.stable_revision))
    found = [p for p in problems if p is not None]
    yield from found
    if found:
        return
    installed = mesh.installed_versions
    listed = ", ".join(installed)
    version_missing = mesh.version not in installed
    if version_missing:
        yield Problem(
            path="mesh.revisions",
            message=f"[{listed}] does not contain mesh.version {mesh.version!r}: version is the newest installed "
            "revision",
            fix=f"add mesh.version to mesh.revisions ([{listed}, {mesh.version}]), or set mesh.version to the "
            "newest of them",
        )
    if len(set(installed)) != len(installed) or len(installed) > 3:
        yield Problem(
            path="mesh.revisions",
            message=f"[{listed}]: list each version once, at most three side by side",
            fix="remove duplicate or old revisions",
        )
    # Unset, or set to mesh.version, the stable revision is missing exactly when mesh.version is: said above, once.
    if mesh.stable_version not in installed and not (version_missing and mesh.stable_version == mesh.version):
        yield Problem(
            path="mesh.stableRevision",
            message=f"{mesh.stable_version!r} is not an installed revision; allowed values: {listed}",
            fix="point the stable tag at an installed revision",
        )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (_rule_mesh,)
