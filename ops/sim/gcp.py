"""Simulated Google Cloud resources for the offline plan.

Outputs look like the real API's: compute self links, KMS resource ids,
service account emails, public addresses from Google's ranges (each stack
from its own block), and a GKE cluster CA that is a real self-signed
certificate with a key derived from the cluster's URN, so the same config
always yields the same bytes and two stacks never share one.
"""

from __future__ import annotations

import base64
import ipaddress
import uuid
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs

from ops.sim import Call, Handler, SimContext, unwrap

COMPUTE = "https://www.googleapis.com/compute/v1"
CONTAINER = "https://container.googleapis.com/v1"
#: Pools the simulated public addresses come from (Google-owned ranges), each
#: stack from its own block (ops/sim/pools.py).
EGRESS_POOL = "34.0.0.0/10"
ENDPOINT_POOL = "35.190.0.0/16"


def _inputs(args: MockResourceArgs) -> dict[str, Any]:
    return unwrap(dict(args.inputs))


def _project_number(ctx: SimContext, project: str) -> str:
    return str(100000000000 + ctx.number("gcp-project-number", project, modulo=900000000000, shared=True))


def _network(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    p, n = i["project"], i.get("name", args.name)
    return {
        "__id": f"projects/{p}/global/networks/{n}",
        "selfLink": f"{COMPUTE}/projects/{p}/global/networks/{n}",
        "numericId": str(ctx.number("network", p, n, modulo=10**19)),
        "gatewayIpv4": "",
    }


def _regional(collection: str) -> Handler:
    def handler(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
        i = _inputs(args)
        p, r, n = i["project"], i["region"], i.get("name", args.name)
        return {
            "__id": f"projects/{p}/regions/{r}/{collection}/{n}",
            "selfLink": f"{COMPUTE}/projects/{p}/regions/{r}/{collection}/{n}",
            "creationTimestamp": ctx.now.isoformat(),
        }

    return handler


def _subnetwork(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    out = _regional("subnetworks")(args, ctx)
    cidr = ipaddress.IPv4Network(_inputs(args)["ipCidrRange"])
    return {**out, "gatewayAddress": str(cidr.network_address + 1), "fingerprint": ctx.hex("subnet", args.name)}


def _address(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    out = _regional("addresses")(args, ctx)
    labels = i.get("labels") or {}
    return {
        **out,
        "address": ctx.allocate(EGRESS_POOL, args.typ, args.name),
        "status": "RESERVED",
        "users": [],
        "effectiveLabels": labels,
        "pulumiLabels": labels,
    }


def _router_nat(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    return {"__id": f"{i['project']}/{i['region']}/{i['router']}/{i['name']}"}


def _firewall(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    p, n = i["project"], i.get("name", args.name)
    return {
        "__id": f"projects/{p}/global/firewalls/{n}",
        "selfLink": f"{COMPUTE}/projects/{p}/global/firewalls/{n}",
        "creationTimestamp": ctx.now.isoformat(),
    }


def _key_ring(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    return {"__id": f"projects/{i['project']}/locations/{i['location']}/keyRings/{i['name']}"}


def _crypto_key(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    labels = i.get("labels") or {}
    return {
        "__id": f"{i['keyRing']}/cryptoKeys/{i['name']}",
        "primaries": [{"name": f"{i['keyRing']}/cryptoKeys/{i['name']}/cryptoKeyVersions/1", "state": "ENABLED"}],
        "effectiveLabels": labels,
        "pulumiLabels": labels,
    }


def _etag(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    return {"etag": "BwY" + ctx.hex("etag", args.typ, args.name, length=10)}


def _account(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    email = f"{i['accountId']}@{i['project']}.iam.gserviceaccount.com"
    return {
        "__id": f"projects/{i['project']}/serviceAccounts/{email}",
        "name": f"projects/{i['project']}/serviceAccounts/{email}",
        "email": email,
        "member": f"serviceAccount:{email}",
        "uniqueId": str(100000000000000000000 + ctx.number("sa", email, modulo=10**20)),
    }


def _cluster_ca(ctx: SimContext, project: str, location: str, name: str) -> str:
    """GKE's cluster CA (CN a UUID, 30 years)."""
    cn = str(uuid.UUID(bytes=ctx.digest("gke-ca-cn", project, location, name)[:16], version=4))
    return ctx.api_server_ca(cn, "gke", project, location, name, years=30)


def _cluster(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    p, loc, n = i["project"], i["location"], i.get("name", args.name)
    endpoint = ctx.allocate(ENDPOINT_POOL, args.typ, args.name)
    version = str(i.get("minMasterVersion") or "1.33")
    full_version = (
        version
        if "-gke." in version
        else f"{version}.5-gke.{1000 + ctx.number('gke-version', version, modulo=900, shared=True)}"
    )
    labels = i.get("resourceLabels") or {}
    private = dict(i.get("privateClusterConfig") or {})
    if private:
        # Current GKE connects nodes to the control plane through Private
        # Service Connect: no peering (empty peeringName); a given master
        # CIDR becomes a GKE-made endpoint subnet in the cluster's VPC, and
        # the internal endpoint takes its second address.
        cp = private.get("masterIpv4CidrBlock", "172.16.0.0/28")
        region = loc if loc.count("-") == 1 else loc.rsplit("-", 1)[0]
        pe_subnet = f"gke-{n[:28]}-{ctx.hex('gke-pe-subnet', p, loc, n, length=8)}-pe-subnet"
        private.update(
            {
                "privateEndpoint": str(ipaddress.IPv4Network(cp).network_address + 2),
                "publicEndpoint": endpoint,
                "privateEndpointSubnetwork": f"projects/{p}/regions/{region}/subnetworks/{pe_subnet}",
                "peeringName": "",
            }
        )
    return {
        "__id": f"projects/{p}/locations/{loc}/clusters/{n}",
        "selfLink": f"{CONTAINER}/projects/{p}/locations/{loc}/clusters/{n}",
        "endpoint": endpoint,
        "masterVersion": full_version,
        "masterAuth": {
            "clientCertificateConfig": {"issueClientCertificate": False},
            "clusterCaCertificate": base64.b64encode(_cluster_ca(ctx, p, loc, n).encode()).decode(),
        },
        "privateClusterConfig": private,
        "labelFingerprint": ctx.hex("gke-labels", p, n, length=8),
        "effectiveLabels": labels,
        "pulumiLabels": labels,
    }


def _node_pool(args: MockResourceArgs, ctx: SimContext) -> dict[str, Any]:
    i = _inputs(args)
    p, loc, cluster, n = i["project"], i["location"], i["cluster"], i["name"]
    owner = _cluster_state(ctx, p, loc, cluster)
    zones = list(i.get("nodeLocations") or owner.get("nodeLocations") or [])
    suffix = ctx.hex("gke-pool", p, loc, cluster, n, length=8)
    managers = [
        f"{COMPUTE}/projects/{p}/zones/{z}/instanceGroupManagers/gke-{cluster[:20]}-{n[:10]}-{suffix}-grp"
        for z in zones
    ]
    return {
        "__id": f"projects/{p}/locations/{loc}/clusters/{cluster}/nodePools/{n}",
        "instanceGroupUrls": managers,
        "managedInstanceGroupUrls": [m.replace("instanceGroupManagers", "instanceGroups") for m in managers],
        "nodeLocations": zones,
        "version": str(owner.get("masterVersion", "")),
    }


def _cluster_state(ctx: SimContext, project: str, location: str, physical: str) -> dict[str, Any]:
    """The simulated state of the cluster a node pool names (by its GKE name)."""
    for (typ, _name), state in ctx.state.items():
        if typ == "gcp:container/cluster:Cluster" and (
            state.get("project"),
            state.get("location"),
            state.get("name"),
        ) == (project, location, physical):
            return state
    return {}


def _project_facts(ctx: SimContext, project: str) -> dict[str, Any]:
    return {
        "projectId": project,
        "name": project,
        "number": _project_number(ctx, project),
        "labels": {},
        "effectiveLabels": {},
        "pulumiLabels": {},
    }


def _get_project(args: MockCallArgs, ctx: SimContext) -> dict[str, Any]:
    project = str(args.args.get("projectId") or ctx.project)
    return {**_project_facts(ctx, project), "id": f"projects/{project}"}


HANDLERS: dict[str, Handler] = {
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _subnetwork,
    "gcp:compute/address:Address": _address,
    "gcp:compute/router:Router": _regional("routers"),
    "gcp:compute/routerNat:RouterNat": _router_nat,
    "gcp:compute/firewall:Firewall": _firewall,
    "gcp:kms/keyRing:KeyRing": _key_ring,
    "gcp:kms/cryptoKey:CryptoKey": _crypto_key,
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": _etag,
    "gcp:projects/iAMMember:IAMMember": _etag,
    "gcp:serviceaccount/account:Account": _account,
    "gcp:container/cluster:Cluster": _cluster,
    "gcp:container/nodePool:NodePool": _node_pool,
}
CALLS: dict[str, Call] = {
    "gcp:organizations/getProject:getProject": _get_project,
}
