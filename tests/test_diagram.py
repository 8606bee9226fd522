"""`meshfleet diagram`: the graph of the prod plan, its Mermaid and DOT text, the command."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ops import cli, diagram
from ops.diagram import Edge, MeshLink, PlanView, build_graph, to_dot, to_mermaid
from tests.helpers import fleet_of, plan_stack

CLOUDS = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud"}


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    return plan_stack("prod").to_json(show_secrets=False)


@pytest.fixture(scope="module")
def expected_clusters() -> dict[str, tuple[str, str]]:
    """From the stack file: cluster -> (cloud label, region)."""
    return {c["name"]: (CLOUDS[c["cloud"]], c["region"]) for c in fleet_of("prod")["clusters"]}


def test_every_cluster_sits_in_its_cloud_and_region(prod: dict[str, Any], expected_clusters: Any) -> None:
    graph = build_graph(prod)
    clusters = {n.label: (n.groups[0][1], n.groups[1][1]) for n in graph.of_kind("cluster")}
    assert clusters == expected_clusters
    assert len(clusters) == 6


def test_every_ordered_pair_is_one_istio_remote_secret_link(prod: dict[str, Any], expected_clusters: Any) -> None:
    graph = build_graph(prod)
    links = [(e.source, e.target, e.label) for e in graph.edges_of_kind("istio-remote-secret")]
    expected = [
        (f"cluster:{a}", f"cluster:{b}", "reads (remote secret)")
        for a, b in itertools.permutations(sorted(expected_clusters), 2)
    ]
    assert links == expected
    assert len(links) == 30


def test_each_cluster_has_one_gateway_open_to_its_peers_egress_only(
    prod: dict[str, Any], expected_clusters: Any
) -> None:
    graph = build_graph(prod)
    egress = {name: prod["outputs"][name]["egressCidrs"] for name in expected_clusters}
    gateway_edges = graph.edges_of_kind("gateway")
    assert sorted(e.source for e in gateway_edges) == sorted(f"cluster:{c}" for c in expected_clusters)
    for edge in gateway_edges:
        cluster = edge.source.removeprefix("cluster:")
        node = graph.node(edge.target)
        assert node.kind == "gateway"
        assert node.groups == graph.node(edge.source).groups
        lines = node.label.split("\n")
        assert lines[:2] == ["istio-eastwestgateway", "sources:"]
        shown = sorted(cidr for line in lines[2:] for cidr in line.split(", "))
        peers = sorted(cidr for other, cidrs in egress.items() if other != cluster for cidr in cidrs)
        assert shown == peers


def test_the_trust_chain_runs_root_to_intermediate_to_cluster(prod: dict[str, Any], expected_clusters: Any) -> None:
    graph = build_graph(prod)
    roots = graph.of_kind("root")
    assert [(n.id, n.label) for n in roots] == [
        ("root:acme-prod-trust-root-2026-cert", "root CA\nacme-prod root root-2026")
    ]
    signs = graph.edges_of_kind("signs")
    assert {e.source for e in signs} == {roots[0].id}
    assert sorted(e.target for e in signs) == sorted(
        f"intermediate:acme-prod-trust-{c}-ca-cert" for c in expected_clusters
    )
    ca = {(e.source, e.target) for e in graph.edges_of_kind("ca")}
    assert ca == {(f"intermediate:acme-prod-trust-{c}-ca-cert", f"cluster:{c}") for c in expected_clusters}
    assert {n.groups for n in graph.nodes if n.kind in ("root", "intermediate")} == {(("trust", "Trust chain"),)}


def _mermaid_structure(text: str) -> tuple[dict[str, list[str]], list[tuple[str, str, str]]]:
    """Node id -> enclosing subgraph labels; edges (source, label, target)."""
    where: dict[str, list[str]] = {}
    edges = []
    stack: list[str] = []
    for line in text.splitlines()[1:]:
        line = line.strip()
        if m := re.fullmatch(r'subgraph \w+\["([^"]*)"\]', line):
            stack.append(m.group(1))
        elif line == "end":
            stack.pop()
        elif m := re.fullmatch(r'(\w+) (-->|-\.->|---)\|"([^"]*)"\| (\w+)', line):
            edges.append((m.group(1), m.group(3), m.group(4)))
        elif m := re.match(r"(\w+)[\[(]", line):
            where[m.group(1)] = list(stack)
        else:
            raise AssertionError(f"unexpected Mermaid line {line!r}")
    assert stack == []
    return where, edges


def test_mermaid_nests_clusters_in_clouds_and_regions(prod: dict[str, Any], expected_clusters: Any) -> None:
    text = to_mermaid(build_graph(prod))
    assert text.startswith("flowchart LR\n")
    where, edges = _mermaid_structure(text)
    for name, (cloud, region) in expected_clusters.items():
        node_id = "cluster_" + name.replace("-", "_")
        assert where[node_id] == [cloud, region]
        assert where[f"gateway_{name.replace('-', '_')}_istio_eastwestgateway"] == [cloud, region]
    assert where["root_acme_prod_trust_root_2026_cert"] == ["Trust chain"]
    by_label: dict[str, int] = {}
    for _, label, _ in edges:
        by_label[label] = by_label.get(label, 0) + 1
    assert by_label == {"reads (remote secret)": 30, "east-west gateway": 6, "signs": 6, "CA of": 6}
    assert ("cluster_aws_use1", "reads (remote secret)", "cluster_gcp_use4") in edges


def test_dot_has_one_box_per_cloud_and_region(prod: dict[str, Any], expected_clusters: Any) -> None:
    text = to_dot(build_graph(prod))
    subgraphs = re.findall(r'subgraph "(cluster_[^"]+)" \{\n\s+label="([^"]+)";', text)
    expected = {(f"cluster_cloud:{c}", CLOUDS[c]) for c in CLOUDS}
    expected |= {(f"cluster_region:{c['cloud']}:{c['region']}", c["region"]) for c in fleet_of("prod")["clusters"]}
    expected.add(("cluster_trust", "Trust chain"))
    assert set(subgraphs) == expected
    assert len(re.findall(r'^  "[^"]+" -> "[^"]+" \[', text, flags=re.M)) == 48
    if shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg"], input=text, text=True, capture_output=True, check=True).stdout
        for name in expected_clusters:
            # SVG escapes "-" in titles (node ids).
            assert f"<title>cluster:{name.replace('-', '&#45;')}</title>" in svg


def test_mesh_links_plug_in(expected_clusters: Any) -> None:
    """A mesh adds an extractor: here a Linkerd `Link` in A targeting B."""
    doc = {
        "stack": "t",
        "outputs": {"east": {"cloud": "existing", "region": "on-prem"}, "west": {"cloud": "existing", "region": "lab"}},
        "resources": [
            {"urn": "u:fleet", "type": "meshfleet:index:Fleet", "name": "acme"},
            {"urn": "u:pe", "type": "pulumi:providers:kubernetes", "name": "east-k8s"},
            {"urn": "u:pw", "type": "pulumi:providers:kubernetes", "name": "west-k8s"},
            {
                "urn": "u:link",
                "type": "kubernetes:multicluster.linkerd.io/v1alpha3:Link",
                "name": "east-links-west",
                "provider": "u:pe::id",
                "inputs": {"spec": {"targetClusterName": "west"}},
            },
            {
                "urn": "u:gw",
                "type": "kubernetes:helm.sh/v3:Release",
                "name": "west-consul",
                "provider": "u:pw::id",
                "inputs": {
                    "name": "consul",
                    "values": {
                        "meshGateway": {"service": {"additionalSpec": ("loadBalancerSourceRanges:\n- 192.0.2.1/32\n")}}
                    },
                },
            },
        ],
    }

    def linkerd_links(plan: PlanView) -> list[MeshLink]:
        return [
            MeshLink(plan.cluster_of(r) or "", r["inputs"]["spec"]["targetClusterName"], "linkerd-link", r["name"])
            for r in plan.of_type("kubernetes:multicluster.linkerd.io/v1alpha3:Link")
        ]

    graph = build_graph(doc, {"linkerd-link": (linkerd_links, "mirrors (Link)")})
    assert graph.edges_of_kind("linkerd-link") == [
        Edge("cluster:east", "cluster:west", "linkerd-link", "mirrors (Link)")
    ]
    assert [n.label for n in graph.of_kind("gateway")] == ["consul\nsources:\n192.0.2.1/32"]
    assert {n.label: n.groups[0][1] for n in graph.of_kind("cluster")} == {
        "east": "Existing clusters",
        "west": "Existing clusters",
    }


# --------------------------------------------------------------------------
# The command


@pytest.fixture()
def plan_file(prod: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(prod))
    return path


def test_diagram_from_a_stack_writes_mermaid(prod: dict[str, Any], tmp_path: Path, monkeypatch: Any) -> None:
    planned: list[str] = []

    class Planned:
        def to_json(self, show_secrets: bool) -> dict[str, Any]:
            assert show_secrets is False
            return prod

    def fake_run_plan(project_dir: Path, config: Any) -> Planned:
        planned.append(config.stack)
        return Planned()

    monkeypatch.setattr("ops.plan.run_plan", fake_run_plan)
    out = tmp_path / "fleet.mmd"
    assert cli.main(["diagram", "--stack", "prod", "-o", str(out)]) == 0
    assert planned == ["prod"]
    assert out.read_text() == to_mermaid(build_graph(prod))


def test_a_dot_file_is_written_alone(plan_file: Path, tmp_path: Path, capsys: Any) -> None:
    """`-o fleet.dot` writes that file only (it overwrote a fleet.mmd beside it)."""
    (tmp_path / "fleet.mmd").write_text("mine\n")
    out = tmp_path / "fleet.dot"
    assert cli.main(["diagram", "--plan", str(plan_file), "-o", str(out)]) == 0
    assert out.read_text() == to_dot(build_graph(json.loads(plan_file.read_text())))
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".dot", ".mmd")) == ["fleet.dot", "fleet.mmd"]
    assert (tmp_path / "fleet.mmd").read_text() == "mine\n"
    assert capsys.readouterr().out == f"wrote {out}\n"


def test_svg_without_graphviz_says_so_and_still_writes_mermaid(
    plan_file: Path, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    monkeypatch.setattr(diagram.shutil, "which", lambda _name: None)
    out = tmp_path / "fleet.svg"
    assert cli.main(["diagram", "--plan", str(plan_file), "-o", str(out)]) == 2
    assert not out.exists()
    assert (tmp_path / "fleet.mmd").read_text().startswith("flowchart LR")
    err = capsys.readouterr().err
    assert err.startswith("meshfleet: Graphviz `dot` is not installed, so no SVG was written: install graphviz")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_svg_and_png_with_graphviz(plan_file: Path, tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"fleet{suffix}"
    assert cli.main(["diagram", "--plan", str(plan_file), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    assert (tmp_path / "fleet.mmd").exists()


def test_the_plan_is_its_out_directory_or_its_plan_json(plan_file: Path, tmp_path: Path, capsys: Any) -> None:
    by_file, by_dir = tmp_path / "file.mmd", tmp_path / "dir.mmd"
    assert cli.main(["diagram", "--plan", str(plan_file), "-o", str(by_file)]) == 0
    assert cli.main(["diagram", "--plan", str(plan_file.parent), "-o", str(by_dir)]) == 0
    assert by_dir.read_text() == by_file.read_text()
    capsys.readouterr()
    assert cli.main(["diagram", "--plan", str(tmp_path / "nowhere"), "-o", str(by_dir)]) == 2
    assert "nowhere/plan.json does not exist; write one with `meshfleet plan" in capsys.readouterr().err


def test_bad_output_extension_is_a_clear_error(plan_file: Path, capsys: Any) -> None:
    assert cli.main(["diagram", "--plan", str(plan_file), "-o", "fleet.jpg"]) == 2
    assert "unknown extension; use one of .dot, .gv, .mermaid, .mmd, .png, .svg" in capsys.readouterr().err
