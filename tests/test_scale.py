"""Scale: large fleets plan, and the offline harness answers as the SDK's mock would.

Nothing here is timed (timings belong to `make bench`); these tests pin what
makes large fleets possible: registrations that never nest, so a 25-cluster
fleet plans, and answers equal to the SDK's own serialization.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.output import UNKNOWN
from pulumi.runtime import rpc

from ops.plan import RecordingMonitor, _contains_unknowns, run_program
from ops.sim import DEFAULT_NOW
from ops.sim.cloud import SimulatedCloud
from tests.helpers import existing_fleet, plan_fleet, plan_stack

#: What one existing cluster brings (sidecar Istio): namespace, cacerts,
#: base/istiod/gateway releases, the cross-network Gateway, the Gateway API
#: CRDs file and its component, the cluster component, its Kubernetes
#: provider, its intermediate CA (key, request, signed certificate), and the
#: `default` revision tag's webhook and Service, and the baseline policy set's strict
#: PeerAuthentication with its ClusterPolicies component.
PER_CLUSTER = {
    "kubernetes:security.istio.io/v1:PeerAuthentication": 1,
    "meshfleet:policy:ClusterPolicies": 1,
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration": 1,
    "kubernetes:core/v1:Service": 1,
    "kubernetes:core/v1:Namespace": 1,
    "kubernetes:core/v1:Secret": 1,
    "kubernetes:helm.sh/v3:Release": 3,
    "kubernetes:networking.istio.io/v1:Gateway": 1,
    "kubernetes:yaml/v2:ConfigFile": 1,
    "meshfleet:cluster:GatewayApiCrds": 1,
    "meshfleet:cluster:Existing": 1,
    "pulumi:providers:kubernetes": 1,
    "tls:index/privateKey:PrivateKey": 1,
    "tls:index/certRequest:CertRequest": 1,
    "tls:index/locallySignedCert:LocallySignedCert": 1,
}
#: Once per fleet: the fleet, mesh and trust components, the tls provider, the root key and certificate,
#: and the mesh switch guard with its provider.
PER_FLEET = {
    "pulumi-python:dynamic/meshfleet:MeshSwitchGuard": 1,
    "pulumi:providers:pulumi-python": 1,
    "meshfleet:index:Fleet": 1,
    "meshfleet:mesh:Istio": 1,
    "meshfleet:trust:FleetTrust": 1,
    "pulumi:providers:tls": 1,
    "tls:index/privateKey:PrivateKey": 1,
    "tls:index/selfSignedCert:SelfSignedCert": 1,
}
#: Per ordered pair (A reads B): a reader token Secret in B and a remote secret in A.
PER_PAIR = {"kubernetes:core/v1:Secret": 2}


@pytest.mark.slow
def test_25_existing_clusters_plan_with_every_pairwise_credential():
    n = 25
    names = [f"c{i}" for i in range(n)]
    plan = plan_fleet(existing_fleet(names))

    expected: Counter[str] = Counter()
    for counts, times in ((PER_CLUSTER, n), (PER_FLEET, 1), (PER_PAIR, n * (n - 1))):
        for type_, count in counts.items():
            expected[type_] += count * times
    assert Counter(r.type for r in plan.resources) == expected

    secrets = {r.name: plan.cluster_of(r) for r in plan.by_type("kubernetes:core/v1:Secret")}
    for a in names:
        for b in names:
            if a != b:
                assert secrets[f"{a}-reads-{b}-remote-secret"] == a
                assert secrets[f"{a}-reads-{b}-reader-token"] == b


def _sdk_answer(state: dict) -> dict:
    """What the SDK's MockMonitor would answer for `state`, read back as the SDK reads it."""
    struct = asyncio.run(rpc.serialize_properties(state, {}))
    return rpc.deserialize_properties(struct)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_monitor_answers_exactly_what_the_sdk_mock_would(stack, monkeypatch):
    """The monitor's synchronous answers equal the SDK's awaited serialization, resource by resource."""
    kept: list[tuple[str, dict, object]] = []
    original = RecordingMonitor._keep

    def keep(self, urn, id_, state, answer):
        kept.append((urn, state, answer))
        original(self, urn, id_, state, answer)

    monkeypatch.setattr(RecordingMonitor, "_keep", keep)
    plan = plan_stack(stack)
    assert len(kept) == len(plan.resources)
    for urn, state, answer in kept:
        assert rpc.deserialize_properties(answer) == _sdk_answer(state), urn


def test_simulated_outputs_must_be_plain_data():
    """A simulator bug (an object the engine could not carry) is named, not a hang."""

    class Broken(SimulatedCloud):
        def new_resource(self, args):
            return "id", {"when": object()}

    def program():
        import pulumi

        pulumi.CustomResource("test:index:Thing", "thing", {})

    with pytest.raises(Exception, match="test:index:Thing thing: output when: the simulated cloud returned a object"):
        run_program(program, project="p", stack="s", now=DEFAULT_NOW, cloud=Broken)


def test_the_harness_sends_no_source_positions_and_restores_the_sdk(monkeypatch):
    """Offline, nothing reads a registration's stack trace: the harness skips computing it
    (a tenth of a plan), for the plan's duration only."""
    import pulumi_tls as tls
    from pulumi.runtime import resource as resource_runtime

    frames: dict[str, int] = {}
    original = RecordingMonitor.RegisterResource

    def register(self, request):
        frames[request.type] = len(request.stackTrace.frames) + request.HasField("sourcePosition")
        return original(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", register)
    sdk_function = resource_runtime._get_stack_trace

    def program():
        # A typed resource built a few calls deep: the SDK would send those frames.
        def nested():
            tls.PrivateKey("key", algorithm="ED25519")

        nested()

    run_program(program, project="p", stack="s", now=DEFAULT_NOW)
    assert frames == {"pulumi:pulumi:Stack": 0, "tls:index/privateKey:PrivateKey": 0}
    assert resource_runtime._get_stack_trace is sdk_function


_PLAIN = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3), st.just(UNKNOWN))
_VALUES = st.recursive(
    _PLAIN,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_the_harness_unknown_check_answers_as_the_sdks(value):
    assert _contains_unknowns(value) is rpc.contains_unknowns(value)
    shared = [value, {"again": value}]  # the same container twice: each is walked once, the answer holds
    assert _contains_unknowns(shared) is rpc.contains_unknowns(shared)


def test_the_harness_unknown_check_follows_a_cycle_and_reads_items_as_the_sdk_does():
    loop: list[Any] = ["a"]
    loop.append(loop)
    assert _contains_unknowns(loop) is rpc.contains_unknowns(loop) is False
    loop.append({"x": UNKNOWN})
    assert _contains_unknowns(loop) is rpc.contains_unknowns(loop) is True

    class Fields(dict):  # an output type: a dict whose attributes are its fields
        values = None

    assert _contains_unknowns(Fields(a=[UNKNOWN])) is True


def test_the_harness_unknown_check_leaves_no_garbage_and_restores_the_sdk():
    """The SDK's check leaves a reference cycle per call (its recursive closure), which only the collector
    frees: in a 25-cluster Linkerd plan about 60 MiB alive between collections. The harness's leaves none."""
    value = {"spec": [{"a": 1}, {"b": [2, 3]}]}

    def cycles_left(check) -> int:
        gc.collect()
        gc.disable()
        try:
            before = gc.get_count()[0]
            for _ in range(1_000):
                check(value)
            return gc.get_count()[0] - before
        finally:
            gc.enable()

    assert cycles_left(rpc.contains_unknowns) >= 1_000  # what the harness avoids: planted here, red
    assert cycles_left(_contains_unknowns) < 50
    sdk_check = rpc.contains_unknowns
    seen = []
    run_program(lambda: seen.append(rpc.contains_unknowns), project="p", stack="s", now=DEFAULT_NOW)
    assert seen == [_contains_unknowns]
    assert rpc.contains_unknowns is sdk_check
