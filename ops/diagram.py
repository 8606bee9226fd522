"""`meshfleet diagram`: the fleet's topology from the offline plan, as Mermaid, DOT, SVG or PNG.

The graph is built from the plan.json contract alone (`Plan.to_json()` or a
written plan.json), in pure Python:

- clusters, grouped by cloud and region (the stack's per-cluster exports);
- mesh links between clusters, found by pluggable extractors over the
  recorded resources (`LINK_EXTRACTORS`): Istio remote secrets and Linkerd
  `Link`s; a Consul peering is one more function returning `MeshLink`s;
- gateways: every object whose inputs carry `loadBalancerSourceRanges`
  (east-west gateways), with those ranges;
- the trust chain: generated roots sign per-cluster intermediates, each the
  CA of the cluster whose objects consume it.

Mermaid and DOT are text renderings of that one graph; SVG and PNG come from
Graphviz `dot` when it is installed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.config import ConfigError
from components.naming import cluster_names
from ops.planfile import read_plan_doc

CLOUD_LABELS = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "existing": "Existing clusters"}
TRUST_GROUP = ("trust", "Trust chain")


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str  # cluster | gateway | root | intermediate
    #: Enclosing groups, outermost first, as (key, label): cloud then region, or the trust group.
    groups: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # mesh link kind | gateway | signs | ca
    label: str


@dataclass(frozen=True)
class MeshLink:
    """`source` reaches `target` through the mesh's cross-cluster credential `via` (a resource name)."""

    source: str
    target: str
    kind: str
    via: str


@dataclass
class FleetGraph:
    stack: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def of_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]

    def edges_of_kind(self, kind: str) -> list[Edge]:
        return [e for e in self.edges if e.kind == kind]


# --------------------------------------------------------------------------
# Reading the plan


class PlanView:
    """The plan.json contract with the lookups the extractors need."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.resources: list[dict[str, Any]] = list(doc.get("resources") or [])
        outputs = doc.get("outputs") or {}
        #: cluster name -> its export (cloud, region, apiEndpoint, egressCidrs, ...).
        self.clusters: dict[str, dict[str, Any]] = {
            name: value
            for name, value in sorted(outputs.items())
            if isinstance(value, dict) and "cloud" in value and "region" in value
        }
        fleet = next((r["name"] for r in self.resources if r["type"] == "meshfleet:index:Fleet"), None)
        by_provider_name = {cluster_names(fleet, c).k8s_provider: c for c in self.clusters} if fleet else {}
        self.mesh_cluster = {cluster_names(fleet, c).mesh_cluster: c for c in self.clusters} if fleet else {}
        self._cluster_of_provider = {
            r["urn"]: by_provider_name[r["name"]]
            for r in self.resources
            if r["type"] == "pulumi:providers:kubernetes" and r["name"] in by_provider_name
        }

    def cluster_of(self, resource: dict[str, Any]) -> str | None:
        """The cluster whose Kubernetes provider the resource uses (provider refs are `urn::id`)."""
        provider = str(resource.get("provider") or "").rsplit("::", 1)[0]
        return self._cluster_of_provider.get(provider)

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]


LinkExtractor = Callable[[PlanView], Iterable[MeshLink]]


def istio_remote_secrets(plan: PlanView) -> Iterator[MeshLink]:
    """A secret labelled `istio/multiCluster: "true"` in A, annotated with cluster B: A's istiod reads B."""
    for secret in plan.of_type("kubernetes:core/v1:Secret"):
        meta = (secret.get("inputs") or {}).get("metadata") or {}
        if (meta.get("labels") or {}).get("istio/multiCluster") != "true":
            continue
        source = plan.cluster_of(secret)
        remote = (meta.get("annotations") or {}).get("networking.istio.io/cluster")
        target = plan.mesh_cluster.get(remote or "", remote)
        if source and target:
            yield MeshLink(source, target, "istio-remote-secret", secret["name"])


def linkerd_links(plan: PlanView) -> Iterator[MeshLink]:
    """A Linkerd `Link` in A targeting cluster B: A mirrors B's exported services."""
    for link in plan.of_type("kubernetes:multicluster.linkerd.io/v1alpha3:Link"):
        spec = (link.get("inputs") or {}).get("spec") or {}
        remote = spec.get("targetClusterName") if isinstance(spec, dict) else None
        source = plan.cluster_of(link)
        target = plan.mesh_cluster.get(remote or "", remote)
        if source and target:
            yield MeshLink(source, target, "linkerd-link", link["name"])


#: Mesh link kind -> (extractor, edge label). A mesh adds its own entry.
LINK_EXTRACTORS: dict[str, tuple[LinkExtractor, str]] = {
    "istio-remote-secret": (istio_remote_secrets, "reads (remote secret)"),
    "linkerd-link": (linkerd_links, "mirrors (Link)"),
}


def _find_ranges(value: Any) -> list[str] | None:
    """`loadBalancerSourceRanges` anywhere in inputs, including YAML strings (Consul's additionalSpec)."""
    if isinstance(value, dict):
        if isinstance(value.get("loadBalancerSourceRanges"), list):
            return [str(v) for v in value["loadBalancerSourceRanges"]]
        for inner in value.values():
            found = _find_ranges(inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for inner in value:
            found = _find_ranges(inner)
            if found is not None:
                return found
    elif isinstance(value, str) and "loadBalancerSourceRanges" in value:
        try:
            return _find_ranges(yaml.safe_load(value))
        except yaml.YAMLError:
            return None
    return None


# --------------------------------------------------------------------------
# The graph


def _cluster_groups(info: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    cloud, region = str(info["cloud"]), str(info["region"])
    return ((f"cloud:{cloud}", CLOUD_LABELS.get(cloud, cloud)), (f"region:{cloud}:{region}", region))


def build_graph(doc: dict[str, Any], extractors: dict[str, tuple[LinkExtractor, str]] | None = None) -> FleetGraph:
    """The fleet graph of one plan.json document."""
    plan = PlanView(doc)
    graph = FleetGraph(stack=str(doc.get("stack", "")))
    for name, info in plan.clusters.items():
        graph.nodes.append(Node(f"cluster:{name}", name, "cluster", _cluster_groups(info)))

    for kind, (extract, label) in sorted((extractors or LINK_EXTRACTORS).items()):
        links = sorted(set(extract(plan)), key=lambda link: (link.source, link.target, link.via))
        for link in links:
            graph.edges.append(Edge(f"cluster:{link.source}", f"cluster:{link.target}", kind, label))

    for resource in plan.resources:
        cluster = plan.cluster_of(resource)
        ranges = _find_ranges(resource.get("inputs"))
        if cluster is None or ranges is None:
            continue
        inputs = resource.get("inputs") or {}
        shown = inputs.get("name") or ((inputs.get("metadata") or {}).get("name")) or resource["name"]
        node_id = f"gateway:{resource['name']}"
        rows = [", ".join(ranges[i : i + 3]) for i in range(0, len(ranges), 3)] or ["none"]
        label = "\n".join([str(shown), "sources:", *rows])
        graph.nodes.append(Node(node_id, label, "gateway", _cluster_groups(plan.clusters[cluster])))
        graph.edges.append(Edge(f"cluster:{cluster}", node_id, "gateway", "east-west gateway"))

    _trust_chain(plan, graph)
    return graph


def _trust_chain(plan: PlanView, graph: FleetGraph) -> None:
    roots = plan.of_type("tls:index/selfSignedCert:SelfSignedCert")
    root_ids = {}
    for root in roots:
        subject = ((root.get("inputs") or {}).get("subject") or {}).get("commonName") or root["name"]
        root_ids[root["urn"]] = f"root:{root['name']}"
        graph.nodes.append(Node(f"root:{root['name']}", f"root CA\n{subject}", "root", (TRUST_GROUP,)))
    provided = "root:provided"
    for cert in plan.of_type("tls:index/locallySignedCert:LocallySignedCert"):
        node_id = f"intermediate:{cert['name']}"
        users = sorted(
            {c for r in plan.resources if cert["urn"] in (r.get("dependencies") or []) and (c := plan.cluster_of(r))}
        )
        label = f"intermediate CA\n{', '.join(users) or cert['name']}"
        graph.nodes.append(Node(node_id, label, "intermediate", (TRUST_GROUP,)))
        signers = [root_ids[u] for u in (cert.get("propertyDependencies") or {}).get("caCertPem", []) if u in root_ids]
        if not signers:
            # A brought-your-own root is a config value, not a resource.
            if not any(n.id == provided for n in graph.nodes):
                graph.nodes.append(Node(provided, "root CA\n(provided in config)", "root", (TRUST_GROUP,)))
            signers = [provided]
        for signer in signers:
            graph.edges.append(Edge(signer, node_id, "signs", "signs"))
        for cluster in users:
            graph.edges.append(Edge(node_id, f"cluster:{cluster}", "ca", "CA of"))


# --------------------------------------------------------------------------
# Text renderings


def _groups_tree(nodes: list[Node]) -> dict[tuple[str, str], Any]:
    """Nested {group: {subgroup: ..., None: [nodes]}} in first-seen order."""
    tree: dict[Any, Any] = {}
    for node in nodes:
        level = tree
        for group in node.groups:
            level = level.setdefault(group, {})
        level.setdefault(None, []).append(node)
    return tree


def _mermaid_id(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", value)


def _mermaid_label(value: str) -> str:
    return value.replace('"', "#quot;").replace("\n", "<br/>")


MERMAID_SHAPES = {
    "cluster": ('["', '"]'),
    "gateway": ('[/"', '"/]'),
    "root": ('(["', '"])'),
    "intermediate": ('("', '")'),
}
MERMAID_ARROWS = {"signs": "-->", "ca": "-.->", "gateway": "---"}


def to_mermaid(graph: FleetGraph) -> str:
    lines = ["flowchart LR"]

    def emit(tree: dict[Any, Any], depth: int) -> None:
        pad = "  " * depth
        for node in tree.get(None, []):
            left, right = MERMAID_SHAPES[node.kind]
            lines.append(f"{pad}{_mermaid_id(node.id)}{left}{_mermaid_label(node.label)}{right}")
        for key, sub in tree.items():
            if key is None:
                continue
            group_id, label = key
            lines.append(f'{pad}subgraph {_mermaid_id(group_id)}["{_mermaid_label(label)}"]')
            emit(sub, depth + 1)
            lines.append(f"{pad}end")

    emit(_groups_tree(graph.nodes), 1)
    for edge in graph.edges:
        arrow = MERMAID_ARROWS.get(edge.kind, "-->")
        lines.append(f'  {_mermaid_id(edge.source)} {arrow}|"{_mermaid_label(edge.label)}"| {_mermaid_id(edge.target)}')
    return "\n".join(lines) + "\n"


def _dot_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


DOT_SHAPES = {"cluster": "box3d", "gateway": "note", "root": "doubleoctagon", "intermediate": "octagon"}
DOT_EDGES = {"signs": 'color="darkgreen"', "ca": 'style="dashed" color="darkgreen"', "gateway": 'arrowhead="none"'}


def to_dot(graph: FleetGraph) -> str:
    lines = [
        f"digraph {_dot_quote('fleet ' + graph.stack)} {{",
        '  graph [rankdir="LR" fontname="Helvetica"];',
        '  node [shape="box" fontname="Helvetica"];',
        '  edge [fontname="Helvetica" fontsize="10"];',
    ]

    def emit(tree: dict[Any, Any], depth: int) -> None:
        pad = "  " * depth
        for node in tree.get(None, []):
            lines.append(
                f'{pad}{_dot_quote(node.id)} [label={_dot_quote(node.label)} shape="{DOT_SHAPES[node.kind]}"];'
            )
        for key, sub in tree.items():
            if key is None:
                continue
            group_id, label = key
            # Graphviz draws a subgraph as a box only when its name starts with "cluster".
            lines.append(f"{pad}subgraph {_dot_quote('cluster_' + group_id)} {{")
            lines.append(f"{pad}  label={_dot_quote(label)};")
            emit(sub, depth + 1)
            lines.append(f"{pad}}}")

    emit(_groups_tree(graph.nodes), 1)
    for edge in graph.edges:
        style = DOT_EDGES.get(edge.kind, 'color="steelblue"')
        lines.append(
            f"  {_dot_quote(edge.source)} -> {_dot_quote(edge.target)} [label={_dot_quote(edge.label)} {style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# The subcommand


class DotMissing(Exception):
    pass


def render_image(dot_text: str, out: Path, fmt: str, dot_binary: str | None = None) -> None:
    """SVG/PNG through Graphviz `dot`; DotMissing when it is not installed."""
    binary = dot_binary or shutil.which("dot")
    if binary is None:
        raise DotMissing(
            f"Graphviz `dot` is not installed, so no {fmt.upper()} was written: install graphviz "
            "(apt-get install graphviz, brew install graphviz), or use the Mermaid file"
        )
    subprocess.run([binary, f"-T{fmt}", "-o", str(out)], input=dot_text, text=True, check=True, capture_output=True)


FORMATS = {".mmd": "mmd", ".mermaid": "mmd", ".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png"}


def add_subcommand(sub: Any, project_dir: Path) -> None:
    parser = sub.add_parser("diagram", help="draw the fleet topology from the offline plan (Mermaid, DOT, SVG, PNG)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stack", default=None, help="plan this stack offline first (default: dev)")
    which.add_argument(
        "--plan", type=Path, default=None, help="a plan written by `meshfleet plan --out DIR`: DIR or DIR/plan.json"
    )
    parser.add_argument(
        "-o", "--out", type=Path, default=Path("fleet.mmd"), help="output: .mmd, .dot, .svg or .png (default fleet.mmd)"
    )
    parser.add_argument("--project-dir", type=Path, default=project_dir, help=argparse.SUPPRESS)
    parser.set_defaults(handler=command)


def _plan_doc(args: argparse.Namespace) -> dict[str, Any]:
    if args.plan is not None:
        return dict(read_plan_doc(args.plan))
    # Imported here: the plan machinery loads the Pulumi SDKs, which `--plan` does not need.
    from ops.plan import run_plan
    from ops.stackconfig import read_stack_config

    config = read_stack_config(args.project_dir, args.stack or "dev")
    return run_plan(args.project_dir, config).to_json(show_secrets=False)


def command(args: argparse.Namespace) -> int:
    """Exit 0 written; 2 bad input, bad config or `dot` missing for SVG/PNG (the Mermaid file is still written)."""
    fmt = FORMATS.get(args.out.suffix.lower())
    if fmt is None:
        print(
            f"meshfleet: --out {args.out}: unknown extension; use one of {', '.join(sorted(FORMATS))}", file=sys.stderr
        )
        return 2
    try:
        doc = _plan_doc(args)
    except ConfigError as exc:
        print(f"meshfleet: {exc.render()}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"meshfleet: {exc}", file=sys.stderr)
        return 2
    graph = build_graph(doc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":  # the file asked for, and nothing beside it
        args.out.write_text(to_dot(graph))
        print(f"wrote {args.out}")
        return 0
    # An image comes with its Mermaid source beside it: what is left when Graphviz is missing.
    mermaid = args.out if fmt == "mmd" else args.out.with_suffix(".mmd")
    mermaid.write_text(to_mermaid(graph))
    print(f"wrote {mermaid}")
    if fmt == "mmd":
        return 0
    try:
        render_image(to_dot(graph), args.out, fmt)
    except DotMissing as exc:
        print(f"meshfleet: {exc} ({mermaid})", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"meshfleet: dot failed: {exc.stderr.strip()}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0
