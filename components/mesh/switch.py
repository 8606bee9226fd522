"""The mesh switch guard: refuse to replace a deployed mesh unless the config names the migration.

Changing `mesh.kind` deletes the old mesh: its Helm releases, and with them
its CRDs and every object of those kinds (policies, routes, links,
peerings), cluster-wide. The program must therefore know the kind that is
*deployed*, during preview and during up, and refuse a switch unless
`mesh.migrateFrom` names the deployed kind.

How the deployed kind is known: `MeshSwitchGuard`, a small dynamic-provider
resource whose only input is the mesh kind (and the migration field). Its
state is the kind of the last deploy in which it succeeded, and the engine
hands that old state to the provider's `check` in every preview and up,
before anything that depends on it runs; every mesh resource depends on it
(components/fleet.py), so a refused switch creates nothing and, the update
failing, deletes nothing. The decision itself is `decide`, a pure function.

Not a StackReference to the stack itself: that reads the outputs of the last
program run (a failed or cancelled update included), not of the last
successful deploy, and would copy every stack output (kubeconfigs among
them) into the stack's own state. Not a config value either: config says
what the user wants, not what is deployed.

Two limits, documented in the README: a stack deployed before the guard
existed has no guard state, so its first update with the guard cannot know
the deployed kind (deploy once without changing kind first); and
`pulumi-python` needs an explicit provider resource, because the project
disables default providers for every package but `pulumi` itself.
The provider is pickled by reference (`components.mesh.switch._GuardProvider`)
into the guard's state: keep the module and class names, or the engine cannot
load the provider of an existing guard (for its diff or delete).
Offline, `meshfleet plan --previous PLAN_DIR` reads the guard's recorded
inputs from an earlier plan and runs the same decision.

The guard also keeps the fleet's cluster names and refuses an update that
drops a deployed cluster `fleet.removeClusters` does not name
(`decide_clusters`): a removed or renamed cluster is deleted with its
network, nodes and workloads, and its peers stop admitting it. It also
refuses dropping a cluster deployed with protection on: the peers' changes
would land before its protected deletes stop the update, leaving it running
but cut off; its `protect: false` goes first, in an update of its own.
And it keeps each EKS and AKS cluster's Kubernetes version
(`decide_versions`: a control plane upgrades one minor at a time, never
back; a GKE version is a floor its release channel upgrades past) and the trust
domain (`decide_trust_domain`: a change needs Istio's alias; Linkerd has
none).

For Istio the guard also keeps the installed control-plane versions and the
stable one, and refuses a stable revision that is not installed yet
(`decide_stable`): the revision tag (the injection webhook, failurePolicy
Fail), the gateways and ztunnel follow the stable revision at once, while
its istiod only comes up later in the same update, so pod creation in
injected namespaces would fail on every cluster until then. A plain
`mesh.version` bump, or a rollback past a canary's first step, is such a
change; the canary path (install beside, then move the tag) is not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

from components.config import AwsCluster, AzureCluster, ConfigError, FleetSpec, IstioMeshSpec
from components.config.cloudfacts import minor_of

#: What replacing each mesh deletes (its releases take their CRDs, and the API server every object of them).
DELETED_WITH: dict[str, str] = {
    "istio": (
        "namespace istio-system, the istio-base/istiod/gateway releases and their CRDs (*.istio.io: "
        "VirtualService, DestinationRule, Gateway, PeerAuthentication, AuthorizationPolicy, ...) with every object "
        "of those kinds in every namespace, and the remote secrets between clusters"
    ),
    "linkerd": (
        "namespaces linkerd and linkerd-multicluster, the linkerd-crds/control-plane/multicluster releases and "
        "their CRDs (policy.linkerd.io Server/AuthorizationPolicy/HTTPRoute, ServiceProfile, Link, ...) with every "
        "object of those kinds, and every Link, mirrored service and credential between clusters"
    ),
    "consul": (
        "the consul release and its CRDs (consul.hashicorp.com ServiceIntentions, ExportedServices, Mesh, "
        "PeeringAcceptor/PeeringDialer, ...) with every object of those kinds, and every peering"
    ),
}

#: Resource type of the guard: `pulumi-python:dynamic/meshfleet:MeshSwitchGuard`.
GUARD_TYPE = "pulumi-python:dynamic/meshfleet:MeshSwitchGuard"


@dataclass(frozen=True)
class Decision:
    """Whether the update may proceed, and what to tell the user."""

    allowed: bool
    message: str = ""
    fix: str = ""


def decide(deployed: str | None, kind: str, migrate_from: str | None) -> Decision:
    """The guard's decision from the deployed kind (None: nothing recorded), the config's kind and migrateFrom."""
    if deployed is None or deployed == kind:
        if migrate_from is not None and deployed == kind:
            return Decision(
                True,
                f"mesh.migrateFrom: {migrate_from} is left over: {kind} is already the deployed mesh",
                "remove mesh.migrateFrom",
            )
        return Decision(True)
    if migrate_from == deployed:
        return Decision(True, f"replacing the deployed {deployed} mesh with {kind} (mesh.migrateFrom: {deployed})")
    named = f" (mesh.migrateFrom names {migrate_from!r}, not the deployed {deployed!r})" if migrate_from else ""
    return Decision(
        False,
        f"mesh.kind changes from the deployed {deployed} to {kind}{named}. Replacing the mesh deletes "
        f"{DELETED_WITH.get(deployed, f'the {deployed} mesh and its CRDs')}. Workloads lose mesh identity and mTLS "
        "until they restart with the new mesh's proxies; both meshes side by side is not supported",
        f"to migrate, set mesh.migrateFrom: {deployed} for this one update (README, 'Switching mesh'), then "
        f"remove it; to keep {deployed}, set mesh.kind: {deployed}",
    )


def decide_stable(deployed: Mapping[str, Any], news: Mapping[str, Any]) -> Decision:
    """Whether Istio's stable revision may move to `news`' from what the guard recorded as `deployed`
    (inputs `kind`, `istioVersions`, `istioStable`); allowed whenever the deployed versions are not known."""
    installed, stable, before = deployed.get("istioVersions"), news.get("istioStable"), deployed.get("istioStable")
    same_mesh = deployed.get("kind") == news.get("kind") == "istio"
    if not same_mesh or not isinstance(installed, list) or not isinstance(stable, str) or stable in installed:
        return Decision(True)
    return Decision(
        False,
        f"mesh.stableRevision {stable} is not installed yet (installed: {', '.join(map(str, installed))}): the "
        "revision tag, the gateways and ztunnel would follow it at once, and pod creation in injected namespaces "
        f"fails (the injection webhook's failurePolicy is Fail) until istiod {stable} comes up later in the update",
        f"install {stable} beside the running revision first (mesh.revisions: [{before}, {stable}], "
        f"mesh.stableRevision: {before}), then move mesh.stableRevision to {stable} in the next update "
        "(docs/istio.md, 'Canary upgrade')",
    )


def decide_clusters(deployed: Mapping[str, Any], news: Mapping[str, Any]) -> Decision:
    """Whether the update may drop deployed clusters: only those `fleet.removeClusters` names (inputs
    `clusters`, `removeClusters`); allowed whenever the deployed clusters are not known (a guard recorded
    before it kept them)."""
    before, after = deployed.get("clusters"), news.get("clusters") or []
    listed = news.get("removeClusters") or []
    if not isinstance(before, list):
        return Decision(True)
    dropped = [c for c in before if c not in after]
    unnamed = [c for c in dropped if c not in listed]
    guarded = [c for c in dropped if c in (deployed.get("protectedClusters") or [])]
    if unnamed:
        names = ", ".join(unnamed)
        renamed = [c for c in after if c not in before]
        also = f" (new in the config: {', '.join(renamed)}; a renamed cluster is a new one)" if renamed else ""
        return Decision(
            False,
            f"the config drops the deployed cluster(s) {names}{also}: the update would delete each of them with "
            "its network, nodes and everything running in it, and its peers stop admitting it",
            f"to remove them, list them in fleet.removeClusters: [{names}] for this one update (README, "
            "'Removing a cluster'); to keep them, put them back in clusters under their deployed names",
        )
    if guarded:
        names = ", ".join(guarded)
        return Decision(
            False,
            f"the deployed cluster(s) {names} are protected: their protected resources and the cloud's deletion "
            "protection stop the update at their deletion, after their peers stopped admitting them, which "
            "leaves them running but cut off",
            f"first set protect: false on {names} in clusters, in an update of its own; then remove them "
            "(README, 'Removing a cluster')",
        )
    left = [c for c in listed if c not in before]
    if left:
        return Decision(True, f"fleet.removeClusters names {', '.join(left)}, not deployed", "clear the list")
    return Decision(True)


def _minor(version: object) -> tuple[int, int] | None:
    """(major, minor) of a cluster version as each cloud takes it (1.33, 1.33.2, 1.33.5-gke.1200)."""
    minor = minor_of(version) if isinstance(version, str) else ""
    major, _, rest = minor.partition(".")
    return (int(major), int(rest)) if minor else None


def decide_versions(deployed: Mapping[str, Any], news: Mapping[str, Any]) -> Decision:
    """Whether each cluster's Kubernetes version may move from the recorded one (input
    `kubernetesVersions`, cluster -> version, EKS and AKS clusters): both upgrade a control plane one minor
    at a time and never back, so a skipped minor or a downgrade fails at that cluster's update, part way
    through the fleet's. Allowed whenever nothing was recorded."""
    before, after = deployed.get("kubernetesVersions"), news.get("kubernetesVersions") or {}
    if not isinstance(before, Mapping):
        return Decision(True)
    for cluster, version in sorted(after.items()):
        old, new = _minor(before.get(cluster)), _minor(version)
        if old is None or new is None or new[0] != old[0] or new[1] - old[1] in (0, 1):
            continue
        was, want = ".".join(map(str, old)), ".".join(map(str, new))
        if new < old:
            return Decision(
                False,
                f"{cluster} runs Kubernetes {was}; {want} is a downgrade, which no managed control plane does",
                f"set its kubernetesVersion back to {was} or later",
            )
        step = f"{old[0]}.{old[1] + 1}"
        return Decision(
            False,
            f"{cluster} runs Kubernetes {was}; {want} skips a minor: its control plane upgrades one minor at a "
            "time, so the cluster update would fail",
            f"upgrade to {step} first, deploy, then go on one minor at a time",
        )
    return Decision(True)


def decide_trust_domain(deployed: Mapping[str, Any], news: Mapping[str, Any]) -> Decision:
    """Whether the mesh's trust domain may change (input `trustDomain`): workloads keep certificates of
    the old domain until they renew (a day by default), and every authorization naming principals moves
    at once. Istio accepts both while `mesh.trustDomainAliases` keeps the old one; Linkerd has no alias,
    and Consul ignores the setting (its own CA names identities)."""
    old, new, kind = deployed.get("trustDomain"), news.get("trustDomain"), news.get("kind")
    if not isinstance(old, str) or old == new or deployed.get("kind") != kind or kind == "consul":
        return Decision(True)
    if kind == "istio" and old in (news.get("trustDomainAliases") or []):
        return Decision(True)
    if kind == "istio":
        return Decision(
            False,
            f"mesh.trustDomain changes from {old} to {new} without an alias: every authorization policy moves to "
            f"the new domain at once while workloads still hold {old} certificates, so their calls are denied "
            "until each renews",
            f"keep the old domain accepted: mesh.trustDomainAliases: [{old}] for at least one workload "
            "certificate lifetime, then remove it",
        )
    return Decision(
        False,
        f"mesh.trustDomain changes from {old} to {new}: Linkerd has no trust domain alias, so every identity, "
        "authorization and link moves at once while running proxies hold certificates of the old domain",
        f"keep mesh.trustDomain: {old}",
    )


#: What the guard judges besides the mesh kind, in order: (its input, the config path a refusal names
#: offline, the decision from the recorded and the new inputs). The provider's `check` (preview and up)
#: and `check_previous` (`meshfleet plan --previous`) both run exactly these.
_JUDGES: tuple[tuple[str, str, Callable[[Mapping[str, Any], Mapping[str, Any]], Decision]], ...] = (
    ("istioStable", "mesh.stableRevision", decide_stable),
    ("clusters", "clusters", decide_clusters),
    ("kubernetesVersions", "clusters[].kubernetesVersion", decide_versions),
    ("trustDomain", "mesh.trustDomain", decide_trust_domain),
)

#: The guard's recorded inputs (and state).
_RECORDED = (
    "kind",
    "migrateFrom",
    "istioVersions",
    "istioStable",
    "clusters",
    "protectedClusters",
    "removeClusters",
    "kubernetesVersions",
    "trustDomain",
    "trustDomainAliases",
)


def guard_inputs(spec: FleetSpec) -> dict[str, Any]:
    """What the guard records of a config: the mesh kind, the migration, Istio's installed and stable
    versions (None for other meshes), the fleet's clusters, the protected ones and those the update
    removes, each cloud cluster's Kubernetes version, and the trust domain with Istio's aliases."""
    mesh = spec.mesh
    istio = mesh if isinstance(mesh, IstioMeshSpec) else None
    return {
        "kind": mesh.kind,
        "migrateFrom": mesh.migrate_from,
        "istioVersions": list(istio.installed_versions) if istio else None,
        "istioStable": istio.stable_version if istio else None,
        "clusters": sorted(c.name for c in spec.clusters),
        "protectedClusters": sorted(c.name for c in spec.clusters if spec.protect_of(c)),
        "removeClusters": sorted(spec.fleet.remove_clusters),
        # EKS and AKS only: there the config's version is the control plane's. A GKE version is a
        # floor the release channel upgrades past (a lowered floor changes nothing, a raised one may be
        # behind the running version already), and an existing cluster's is not meshfleet's.
        "kubernetesVersions": {
            c.name: c.kubernetes_version
            for c in sorted(spec.clusters, key=lambda c: c.name)
            if isinstance(c, AwsCluster | AzureCluster)
        },
        "trustDomain": mesh.trust_domain,
        "trustDomainAliases": list(istio.trust_domain_aliases) if istio else None,
    }


class _GuardProvider(pulumi.dynamic.ResourceProvider):
    """Keeps the deployed mesh kind in state; refuses a switch in `check` (preview and up)."""

    # The provider holds no secret: keep its serialized form readable in state and plans.
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        olds = _olds or {}
        deployed = olds.get("kind")
        failures = []
        decision = decide(deployed if isinstance(deployed, str) else None, news["kind"], news.get("migrateFrom"))
        if not decision.allowed:
            failures.append(pulumi.dynamic.CheckFailure("kind", f"{decision.message}. fix: {decision.fix}"))
        for prop, _path, judge in _JUDGES:
            judged = judge(olds, news)
            if not judged.allowed:
                failures.append(pulumi.dynamic.CheckFailure(prop, f"{judged.message}. fix: {judged.fix}"))
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [k for k in _RECORDED if (_olds or {}).get(k) != _news.get(k)]
        return pulumi.dynamic.DiffResult(changes=bool(changed))

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult("mesh-switch-guard", {k: props.get(k) for k in _RECORDED})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult({k: news.get(k) for k in _RECORDED})


class MeshSwitchGuard(pulumi.dynamic.Resource, module="meshfleet", name="MeshSwitchGuard"):
    """The deployed mesh kind (and Istio's revisions), kept in state; its check refuses an unnamed switch
    and a stable revision not installed yet."""

    kind: pulumi.Output[str]

    def __init__(self, name: str, spec: FleetSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__(_GuardProvider(), name, guard_inputs(spec), opts)


def python_provider(name: str, parent: pulumi.Resource) -> pulumi.ProviderResource:
    """An explicit provider for dynamic resources (the project disables default providers)."""
    return pulumi.ProviderResource("pulumi-python", name, {}, pulumi.ResourceOptions(parent=parent))


# --------------------------------------------------------------------------
# Offline: `meshfleet plan --previous PLAN_DIR`


def deployed_kind(plan: Mapping[str, Any]) -> str | None:
    """The mesh kind an earlier plan's guard recorded (None when it has no guard); `plan` is its
    plan.json document (ops.planfile.read_plan_doc)."""
    for resource in plan.get("resources", []):
        if resource.get("type") == GUARD_TYPE:
            kind = (resource.get("inputs") or {}).get("kind")
            return kind if isinstance(kind, str) else None
    return None


def check_previous(plan: Mapping[str, Any], spec: FleetSpec) -> Decision:
    """The guard's decision against an earlier offline plan's document; a refusal is a config error (exit 2)."""
    decision = decide(deployed_kind(plan), spec.mesh.kind, spec.mesh.migrate_from)
    if not decision.allowed:
        raise ConfigError.one(path="mesh.kind", message=decision.message, fix=decision.fix)
    recorded = next((r.get("inputs") or {} for r in plan.get("resources", []) if r.get("type") == GUARD_TYPE), {})
    news = guard_inputs(spec)
    notes = []
    for _prop, path, judge in _JUDGES:
        judged = judge(recorded, news)
        if not judged.allowed:
            raise ConfigError.one(path=path, message=judged.message, fix=judged.fix)
        if judged.message:
            notes.append(f"{judged.message}: {judged.fix}")
    if notes and not decision.message:
        return Decision(True, "; ".join(notes))
    return decision
