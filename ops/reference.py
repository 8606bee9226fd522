"""The README's config reference, generated from the config models.

Each field is documented once, in its `Field(description=...)` in
components/config/models.py; this renders those descriptions as Markdown tables so
the README can never drift (a test compares them).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from components import config as cfg
from components.policy import model as pm
from components.policy.capabilities import markdown_table

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"

#: Models in reading order: (heading, model).
SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("top level (`meshfleet:fleet`)", cfg.FleetSpec),
    ("`fleet`", cfg.FleetMeta),
    ("`fleet.apiAccess`", cfg.ApiAccess),
    ("`fleet.deployers.aws`", cfg.AwsDeployer),
    ("`fleet.deployers.azure`", cfg.AzureDeployer),
    ("`fleet.deployers.gcp`", cfg.GcpDeployer),
    ("`fleet.maintenanceWindow`, `clusters[].maintenanceWindow` (azure, gcp)", cfg.MaintenanceWindow),
    ("`clusters[]` with `cloud: aws`", cfg.AwsCluster),
    ("`clusters[]` with `cloud: azure`", cfg.AzureCluster),
    ("`clusters[]` with `cloud: gcp`", cfg.GcpCluster),
    ("`clusters[]` with `cloud: existing`", cfg.ExistingCluster),
    ("`clusters[].network`", cfg.Network),
    ("`clusters[].network` (azure, adds)", cfg.AzureNetwork),
    ("`clusters[].network` (gcp, adds)", cfg.GcpNetwork),
    ("`clusters[].nodePools[]`", cfg.NodePool),
    ("`mesh` with `kind: istio`", cfg.IstioMeshSpec),
    ("`mesh` with `kind: linkerd`", cfg.LinkerdMeshSpec),
    ("`mesh.charts` (linkerd)", cfg.LinkerdCharts),
    ("`mesh.clusters.<name>` (linkerd)", cfg.LinkerdClusterSpec),
    ("`mesh` with `kind: consul`", cfg.ConsulMeshSpec),
    ("`mesh.vault` (consul)", cfg.ConsulVault),
    ("`mesh.security` (consul)", cfg.ConsulSecurity),
    ("`trust`", cfg.TrustSpec),
    ("`trust.roots[]`", cfg.RootCa),
    ("`addons`", cfg.Addons),
    ("`addons.eks`", cfg.EksAddons),
    ("`addons.eks.otherMinors[]`", cfg.EksMinorPins),
    ("`addons.awsLoadBalancerController`, `addons.clusterAutoscaler`", cfg.ChartPin),
    ("`policies`", cfg.Policies),
    ("`policies.rules.<name>` with `kind: mtls`", pm.MtlsRule),
    ("`policies.rules.<name>` with `kind: default-deny`", pm.DefaultDenyRule),
    ("`policies.rules.<name>` with `kind: authorization`", pm.AuthorizationRule),
    ("`...allow[]`", pm.Allow),
    ("`policies.rules.<name>` with `kind: traffic`", pm.TrafficRule),
    ("`...retries`", pm.Retries),
    ("`...circuitBreaker`", pm.CircuitBreaker),
    ("`policies.rules.<name>` with `kind: visibility`", pm.VisibilityRule),
    ("`...service`", pm.ServiceRef),
    ("`...from[]`, `...callers[]`", pm.Identity),
]


_NAMED = {"_cidr": "CIDR", "_dns_label": "DNS label", "_pinned": "pinned version"}


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is None:
        if isinstance(annotation, type):
            return {"str": "string", "SecretStr": "encrypted string", "bool": "boolean", "int": "integer"}.get(
                annotation.__name__, annotation.__name__
            )
        return str(annotation)
    if str(origin).endswith("Literal"):
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is Annotated:
        for meta in annotation.__metadata__:
            name = getattr(getattr(meta, "func", None), "__name__", "")
            if name in _NAMED:
                return _NAMED[name]
        return _type_name(args[0])
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    names = [_type_name(a) for a in args if a is not type(None)]
    optional = " (optional)" if type(None) in args else ""
    return " or ".join(names) + optional


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return "" if field.default is None else f"`{field.default}`"
    if field.default_factory is not None:
        return "empty"
    return "required"


def render() -> str:
    lines = [START, ""]
    for heading, model in SECTIONS:
        own = model.model_fields
        if model in (cfg.AzureNetwork, cfg.GcpNetwork):
            own = {k: v for k, v in own.items() if k not in cfg.Network.model_fields}
        lines += [f"#### {heading}", ""]
        doc = (model.__doc__ or "").strip().split("\n\n")[0]
        if doc and not doc.startswith(("Base", "A whole")):
            lines += [re.sub(r"\s+", " ", doc), ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for name, field in own.items():
            key = field.alias or name
            desc = re.sub(r"\s+", " ", field.description or "")
            lines.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {desc} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


MATRIX_START = "<!-- policy-matrix:start -->"
MATRIX_END = "<!-- policy-matrix:end -->"


def update(readme: str) -> str:
    """README text with its reference section and policy capability matrix regenerated."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    readme = head + render() + tail
    if MATRIX_START in readme:
        head, _, rest = readme.partition(MATRIX_START)
        _, _, tail = rest.partition(MATRIX_END)
        readme = f"{head}{MATRIX_START}\n{markdown_table()}\n{MATRIX_END}{tail}"
    return readme
