"""The offline plan: the real program against a simulated cloud.

`run_plan` runs `__main__.py` under Pulumi's mock runtime with a monitor
that records every registration exactly as the engine would receive it
(parent, provider, dependencies, protect, timeouts, inputs with secrets
marked), answered by the simulated cloud of `ops.sim`. No CLI, no
credentials. The result is rendered as a tree, `plan.json` and per-cluster
manifests (the output contract in the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import os
import runpy
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import known_types, mocks, rpc, settings
from pulumi.runtime import resource as resource_runtime
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import provider_pb2, resource_pb2, source_pb2
from pulumi.runtime.stack import wait_for_rpcs

from components.config import FleetSpec
from components.config.offline import CLOCK_ENV, OFFLINE_ENV
from components.naming import cluster_names
from components.yamlio import SAFE_DUMPER
from ops.planfile import REDACTED, SECRETS_SHOWN
from ops.sim import DEFAULT_NOW, SECRET_SIG, SECRET_SIG_VALUE, SimContext
from ops.sim.cloud import SimulatedCloud
from ops.sim.pools import AddressPools, stack_pools
from ops.stackconfig import StackConfig, spec_of

#: The SDK's sentinel for a value not known at plan time.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: The SDK's sentinel key for a resource reference.
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"


@dataclass
class Recorded:
    """One resource registration as the engine received it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    custom_timeouts: dict[str, str]
    #: The inputs as the engine received them (a serialized Struct): bytes take a fraction of
    #: the memory of the same values as Python objects while the program still runs.
    raw_inputs: bytes
    read: bool = False
    #: Aliases as the engine receives them: a URN, or a spec as `key=value` pairs.
    aliases: list[str] = field(default_factory=list)

    @functools.cached_property
    def inputs(self) -> dict[str, Any]:
        """The inputs as JSON-like data, secrets and unknowns as the SDK's sentinels."""
        inputs: dict[str, Any] = json_format.MessageToDict(struct_pb2.Struct.FromString(self.raw_inputs))
        return inputs

    def contract(self, show_secrets: bool) -> dict[str, Any]:
        """This resource in the plan.json contract."""
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "parent": self.parent,
            "provider": self.provider,
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "ignoreChanges": self.ignore_changes,
            "customTimeouts": self.custom_timeouts,
            "aliases": self.aliases,
            "inputs": render_value(self.inputs, show_secrets),
            **({"read": True} if self.read else {}),
        }

    @property
    def provider_urn(self) -> str:
        """The provider reference is `urn::id`; keep the URN."""
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that keeps every request the program sent.

    Each RPC is answered synchronously and never re-enters the event loop.
    The SDK's MockMonitor serializes its answer with `_sync_await`, which
    pumps the running loop from inside the RPC: on the inline executor (see
    `new_event_loop`) that loop runs other registrations, which pump it
    again, so registrations nest until Python's recursion limit or a lost
    wake-up hangs the plan (12 clusters and up). Here the answer is built
    from protobuf values directly: inputs the simulated cloud passes through
    unchanged are copied from the request as received (no round trip), and
    only the values the simulator computed (plain data) are converted. Each
    registration costs the harness one deserialization, one conversion of
    the simulated outputs and one record.
    """

    def __init__(self, sim: SimulatedCloud):
        super().__init__(sim)
        self.recorded: dict[str, Recorded] = {}
        #: The answer sent for each URN, serialized (`pulumi:pulumi:getResource` reads it back):
        #: as bytes it takes a fraction of a live Struct's memory (about 40 MiB less at 11,000 resources).
        self._answers: dict[str, bytes] = {}

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        inputs = rpc.deserialize_properties(request.object)
        # A resource renamed with an alias is the same cloud object to the engine: simulate it under its
        # former name, so its id and derived values (an Elastic IP's allocation id) stay what they were.
        former = _former_name(request)
        args = mocks.MockResourceArgs(
            typ=request.type,
            name=former or request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        id_, state = self.mocks.new_resource(args)
        simulated = getattr(self.mocks, "context", None)
        if former and simulated is not None:
            simulated.state[(request.type, request.name)] = simulated.state.pop((request.type, former), state)
        answer = _answer(state, inputs, request.object, f"{request.type} {request.name}")
        self._keep(urn, id_ or "", state, answer)
        self._record(urn, request, request.object, read=False)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=answer)

    def ReadResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = rpc.deserialize_properties(request.properties)
        args = mocks.MockResourceArgs(
            typ=request.type, name=request.name, inputs=inputs, provider=request.provider, resource_id=request.id
        )
        id_, state = self.mocks.new_resource(args)
        answer = _answer(state, inputs, request.properties, f"{request.type} {request.name}")
        self._keep(urn, id_ or "", state, answer)
        self._record(urn, request, request.properties, read=True)
        return resource_pb2.ReadResourceResponse(urn=urn, properties=answer)

    def Invoke(self, request: Any) -> Any:
        args = rpc.deserialize_properties(request.args)
        if request.tok == "pulumi:pulumi:getResource":
            urn = args.get("urn")
            if urn not in self._answers:
                raise KeyError(f"getResource: unknown resource {urn}")
            result = struct_pb2.Struct()
            result.update({"urn": urn, "id": self.resources[urn].id})
            result["state"] = {}
            result["state"].CopyFrom(struct_pb2.Struct.FromString(self._answers[urn]))
            return resource_pb2.ResourceInvokeResponse(**{"return": result})
        ret, failures = self.mocks.call(mocks.MockCallArgs(token=request.tok, args=args, provider=request.provider))
        answer = _answer(ret, {}, struct_pb2.Struct(), request.tok)
        return resource_pb2.ResourceInvokeResponse(
            **{
                "return": answer,
                "failures": [provider_pb2.CheckFailure(property=p, reason=r) for p, r in failures or []],
            }
        )

    def _keep(self, urn: str, id_: str, state: dict[str, Any], answer: struct_pb2.Struct) -> None:
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        self._answers[urn] = answer.SerializeToString()

    def _record(self, urn: str, request: Any, props: Any, *, read: bool) -> None:
        timeouts = getattr(request, "customTimeouts", None)
        self.recorded[urn] = Recorded(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(getattr(request, "custom", True)),
            parent=request.parent,
            provider=request.provider,
            dependencies=sorted(set(request.dependencies)),
            property_dependencies={
                k: sorted(set(v.urns)) for k, v in sorted(getattr(request, "propertyDependencies", {}).items())
            },
            protect=bool(getattr(request, "protect", False)),
            retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
            ignore_changes=sorted(getattr(request, "ignoreChanges", [])),
            custom_timeouts={
                k: getattr(timeouts, k) for k in ("create", "update", "delete") if timeouts and getattr(timeouts, k)
            },
            raw_inputs=props.SerializeToString(),
            read=read,
            aliases=sorted(_alias_text(a) for a in getattr(request, "aliases", [])),
        )


def _former_name(request: Any) -> str | None:
    """The name a registration had before, from an alias that changes only its name (None: no such alias)."""
    for alias in getattr(request, "aliases", []):
        spec = None if alias.urn else alias.spec
        if spec is not None and spec.name and not (spec.type or spec.stack or spec.project or spec.parentUrn):
            return str(spec.name)
    return None


def _alias_text(alias: Any) -> str:
    """One alias of a registration: its URN, or its spec's set fields (`type=...`, `name=...`)."""
    if alias.urn:
        return str(alias.urn)
    spec = alias.spec
    fields = [f"{k}={getattr(spec, k)}" for k in ("name", "type", "stack", "project", "parentUrn") if getattr(spec, k)]
    return " ".join(fields + (["noParent"] if spec.noParent else []))


def _answer(state: dict[str, Any], inputs: dict[str, Any], received: Any, what: str) -> struct_pb2.Struct:
    """The simulated state as the engine would send it back, without awaiting anything.

    A top-level value the simulator passed through unchanged (the very object
    it was given) is copied from the request as received; everything else is
    plain data the simulator computed. As in the SDK's own serialization, a
    top-level None means "absent".
    """
    answer = struct_pb2.Struct()
    for key, value in state.items():
        if key in inputs and inputs[key] is value and key in received.fields:
            answer.fields[key].CopyFrom(received.fields[key])
        elif value is not None:
            answer[key] = _plain(value, f"{what}: output {key}")
    return answer


def _plain(value: Any, where: str) -> Any:
    """`value` as protobuf-compatible data (tuples as lists); anything else is a simulator bug."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    raise TypeError(f"{where}: the simulated cloud returned a {type(value).__name__}; only plain data can be answered")


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_SIG_VALUE


def render_value(value: Any, show_secrets: bool) -> Any:
    """Sentinels to readable values; secrets redacted unless asked for."""
    if is_secret(value):
        return render_value(value.get("value"), show_secrets) if show_secrets else REDACTED
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == RESOURCE_REF_SIG:
            return {"resourceRef": value.get("urn")}
        return {k: render_value(v, show_secrets) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [render_value(v, show_secrets) for v in value]
    if value == UNKNOWN:
        return "[unknown]"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class Plan:
    """The outcome of one offline run."""

    project: str
    stack: str
    spec: FleetSpec
    resources: list[Recorded]
    outputs: dict[str, Any]
    #: Provider URN -> cluster name.
    cluster_of_provider: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: Outputs the simulated cloud returned, keyed by (type, name): what `pulumi up` would read back.
    state: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: URNs in the order the program constructed them (Recording.registration_order): the
    #: order in which the engine is handed steps that become ready at the same moment.
    registration_order: list[str] = field(default_factory=list)

    def by_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def get(self, type_: str, name: str) -> Recorded:
        matches = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_} named {name}")
        return matches[0]

    def cluster_of(self, resource: Recorded) -> str | None:
        """The cluster whose Kubernetes provider `resource` uses (in-cluster objects)."""
        return self.cluster_of_provider.get(resource.provider_urn)

    def owner_of(self, resource: Recorded) -> str | None:
        """The cluster a resource belongs to: by its Kubernetes provider, else by
        its name (cloud resources are named `<cluster>-...`, components.naming);
        None for fleet-wide resources (trust)."""
        by_provider = self.cluster_of(resource)
        if by_provider is not None:
            return by_provider
        names = sorted((c.name for c in self.spec.clusters), key=len, reverse=True)
        return next((n for n in names if resource.name == n or resource.name.startswith(n + "-")), None)

    def to_json(self, show_secrets: bool = False) -> dict[str, Any]:
        doc = {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.contract(show_secrets) for r in self.resources],
            "outputs": render_value(self.outputs, show_secrets),
        }
        if show_secrets:
            # Nothing in the file says which values were secret: readers that print values
            # (`meshfleet diff`) print none from such a plan.
            doc[SECRETS_SHOWN] = True
        return doc


#: Environment variables the provider SDKs copy into a provider's inputs where the program leaves
#: an argument unset (each SDK's provider.py `_internal_init`): the deployer's machine, not the
#: stack. The offline plan runs without them, so it is the same on every machine; a test keeps
#: the list complete against the installed SDKs.
SDK_ENVIRONMENT = (
    # pulumi_aws
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    # pulumi_gcp
    "GOOGLE_PROJECT",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT",
    "GOOGLE_REGION",
    "GCLOUD_REGION",
    "CLOUDSDK_COMPUTE_REGION",
    "GOOGLE_ZONE",
    "GCLOUD_ZONE",
    "CLOUDSDK_COMPUTE_ZONE",
    # pulumi_kubernetes
    "KUBECONFIG",
    "PULUMI_K8S_DELETE_UNREACHABLE",
    "PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE",
    "PULUMI_K8S_ENABLE_PATCH_FORCE",
    "PULUMI_K8S_ENABLE_SECRET_MUTABLE",
    "PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY",
    "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE",
    "PULUMI_K8S_SUPPRESS_DEPRECATION_WARNINGS",
    "PULUMI_K8S_SUPPRESS_HELM_HOOK_WARNINGS",
    "PULUMI_K8S_UPSERT_EXISTING_OBJECTS",
    # pulumi_vault (Consul with `ca: vault`)
    "TERRAFORM_VAULT_MAX_TTL",
    "VAULT_MAX_RETRIES",
    "VAULT_SKIP_VERIFY",
)


@contextlib.contextmanager
def _program_environment(project_dir: Path) -> Iterator[None]:
    """Run the program as the CLI would: from its directory, importable; without SDK_ENVIRONMENT."""
    old_cwd, old_path = Path.cwd(), list(sys.path)
    hidden = {name: os.environ.pop(name) for name in SDK_ENVIRONMENT if name in os.environ}
    os.chdir(project_dir)
    sys.path.insert(0, str(project_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        os.environ.update(hidden)


class _Warnings:
    """Collects the program's `pulumi.log.warn` calls."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.messages.append(msg)

    def __getattr__(self, _name: str) -> Any:
        return lambda *a, **k: None


def run_plan(
    project_dir: Path,
    config: StackConfig,
    *,
    now: datetime = DEFAULT_NOW,
    prevalidate: bool = True,
) -> Plan:
    """Validate the config, then run the program offline and record what it registers.

    Raises ConfigError (before anything runs) for a bad config. With
    `prevalidate=False` the program validates it itself, as under `pulumi up`
    (raising pulumi.RunError).
    """
    with pinned_clock(now), _environment(OFFLINE_ENV, "1"):
        return _run(project_dir, config, now, prevalidate)


class _InlineExecutor(ThreadPoolExecutor):
    """Runs each submitted call at once, on the calling (event loop) thread."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the awaiting coroutine
            future.set_exception(exc)
        return future


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh event loop whose mock RPCs run on the loop's own thread.

    The SDK sends each registration to the (mock) monitor through the loop's
    default executor, normally a thread pool. Offline there is no I/O to wait
    for, and one thread is what keeps two things safe on CPython 3.11.7
    (fixed only in 3.11.8 / 3.12.2): ast.parse on two threads at once
    (pytest's assertion rewriting, traceback formatting) corrupts a shared
    counter and later fails with "AST constructor recursion depth mismatch"
    (gh-106905); and the simulated cloud, whose clock tests age per resource
    (tests/test_trust.py), is never entered by two registrations at once.
    Running the RPC inline is only sound because the monitor answers without
    pumping the loop (RecordingMonitor: no `_sync_await` inside an RPC);
    the SDK's own MockMonitor would nest one registration inside another.
    """
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_InlineExecutor())
    # Futures abandoned after a failure (a bad config, a RunError) report
    # "exception never retrieved" from their finalizers, at whatever moment
    # the garbage collector runs them. The default handler formats a
    # traceback there, which in CPython 3.11 may run ast.parse inside
    # another ast.parse and break it (gh-106905). The failure itself already
    # reached the caller; keep only the message.
    loop.set_exception_handler(_note_abandoned)
    asyncio.set_event_loop(loop)
    return loop


def _note_abandoned(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    logging.getLogger("meshfleet.plan").debug("%s", context.get("message"))


def close_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a plan's loop (what it abandoned is reported quietly, see new_event_loop).

    A plan that succeeded leaves no task behind. One that failed (a
    RunError inside the program) leaves registrations that never started;
    they are cancelled and run to their cancellation first, as `asyncio.run`
    does, so that none is destroyed unstarted ("coroutine ... was never
    awaited" at some later collection).
    """
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    asyncio.set_event_loop(None)
    loop.close()


@contextlib.contextmanager
def pinned_clock(now: datetime) -> Iterator[None]:
    """Clock-dependent checks (certificate expiry) read the plan's clock from CLOCK_ENV."""
    with _environment(CLOCK_ENV, now.isoformat()):
        yield


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """Environment variable `name` set to `value` for the block, then as it was."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@contextlib.contextmanager
def young_objects_only() -> Iterator[None]:
    """Let the garbage collector scan only what the plan allocates.

    A plan allocates hundreds of thousands of short-lived objects (outputs,
    futures, protobuf values) in a process that already holds the cloud
    SDKs' modules (about 650,000 objects): with the default thresholds the
    collector re-scans those modules dozens of times per plan, which cost
    about half the plan time. Objects that existed before the plan are
    frozen (not scanned, still alive) and handed back afterwards, so garbage
    of earlier plans is still collected. Young collections run every 500,000
    allocations instead of 700, and the middle generation is left alone
    during a plan. Most of a plan's garbage is freed by reference counting;
    what needs the collector is the SDK's small reference cycles (futures
    and their callbacks; the recursive closure of each `contains_unknowns`
    call, once the largest share, is avoided: acyclic_unknown_checks). Each
    collection costs more than its share (at 50 clusters a young one took
    about 0.15 s and a middle one 1.5 s, whatever the threshold), so fewer,
    larger ones win: a 50-cluster Linkerd plan took 25 s with 7.6 s of
    collections at 200,000, and 18 s with 1.1 s at 500,000, for 5% more
    peak memory (983 MiB against 937 MiB; both measured before the
    closures went, which took that plan to 900 MiB).
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(500_000, 1_000, old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextlib.contextmanager
def without_source_positions() -> Iterator[None]:
    """Skip the source position the SDK computes for every registration.

    For each resource the SDK walks the Python stack below its constructor
    and turns every frame into a file URI (`pathlib.Path.as_uri`), which the
    engine shows in diagnostics. Nothing offline reads them: the recording
    monitor keeps no source position and plan.json has none. The frames
    include the harness's own (the CLI's, or pytest's forty or so), so they
    cost about a tenth of a plan: a 25-cluster Istio plan took 3.9 s with
    them and 3.5 s without, and the test suite about 10% less. `pulumi up`
    still sends them; only the offline harness (plan and floor alike) skips
    them. The SDK looks the function up by name at each registration, so
    replacing it for the plan's duration is enough. An SDK that renamed it
    would fail every plan here at once (AttributeError), and
    tests/test_scale.py checks that no frame reaches the monitor.
    """
    original = resource_runtime._get_stack_trace
    resource_runtime._get_stack_trace = _no_stack_trace
    try:
        yield
    finally:
        resource_runtime._get_stack_trace = original


def _contains_unknowns(val: Any) -> bool:
    """`rpc.contains_unknowns`, the same answer without a closure per call.

    The SDK asks this of nearly every value it resolves (a 25-cluster Linkerd
    plan: about 260,000 times). Its version defines a recursive inner function
    at each call, and a function that refers to itself is a reference cycle:
    only the garbage collector frees it. Between two young collections
    (young_objects_only) those cycles were the largest thing alive, about 60
    MiB in that plan. This walk keeps its own stack: nothing outlives the
    call. Same traversal rules: dict values and list items, each container
    once, the unknown sentinel anywhere.
    """
    is_unknown = known_types.is_unknown
    if is_unknown(val):
        return True
    if not isinstance(val, (dict, list)):
        return False
    pending: list[Any] = [val]
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if is_unknown(item):
            return True
        if isinstance(item, (dict, list)) and id(item) not in seen:
            seen.add(id(item))
            # `item[k]`, as the SDK walks it: an output type is a dict whose attributes (`values`) are fields.
            pending.extend([item[k] for k in item] if isinstance(item, dict) else item)
    return False


@contextlib.contextmanager
def acyclic_unknown_checks() -> Iterator[None]:
    """Swap in `_contains_unknowns` for the plan's duration (the SDK looks it up as `rpc.contains_unknowns`
    at each call, as `without_source_positions` relies on too); `pulumi up` keeps the SDK's own."""
    original = rpc.contains_unknowns
    rpc.contains_unknowns = _contains_unknowns
    try:
        yield
    finally:
        rpc.contains_unknowns = original


class _ConstructionOrder:
    """A stack transformation that notes each resource's URN as the program constructs it.

    The order in which registrations reach the monitor is not the program's:
    the SDK awaits a component's children from a set (`Resource._childResources`),
    whose order follows memory addresses, so the same plan arrived in a
    different order from one run to the next (and prod's simulated `up` in the
    benchmarks moved with it). Construction is synchronous and in program
    order, and the SDK runs the stack's transformations in each constructor;
    this one changes nothing. The URN is the mock monitor's, from the parent's.
    """

    def __init__(self, monitor: RecordingMonitor, root: pulumi.Resource, root_urn: str):
        self._monitor = monitor
        self._urn_of: dict[pulumi.Resource, str] = {root: root_urn}
        self._root = root
        self.urns: list[str] = []

    def __call__(self, args: pulumi.ResourceTransformationArgs) -> None:
        parent = args.opts.parent if args.opts is not None and args.opts.parent is not None else self._root
        parent_urn = self._urn_of.get(parent)
        if parent_urn is not None:
            urn = self._monitor.make_urn(parent_urn, args.type_, args.name)
            self._urn_of[args.resource] = urn
            self.urns.append(urn)

    def of(self, recorded: Mapping[str, Recorded]) -> list[str]:
        """The recorded URNs in construction order (any the transformation missed, as they arrived)."""
        seen = set(self.urns)
        return [u for u in self.urns if u in recorded] + [u for u in recorded if u not in seen]


@dataclass
class Recording:
    """What one run under the mock runtime produced."""

    monitor: RecordingMonitor
    outputs: dict[str, Any]
    warnings: list[str]
    context: SimContext
    #: The recorded URNs in the order the program constructed them (_ConstructionOrder).
    registration_order: list[str] = field(default_factory=list)


def run_program(
    program: Callable[[], object],
    *,
    project: str,
    stack: str,
    now: datetime,
    config: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    cloud: type[SimulatedCloud] = SimulatedCloud,
    pools: AddressPools | None = None,
) -> Recording:
    """Run `program` under Pulumi's mock runtime, answered by the simulated cloud.

    The one harness of the offline plan; the benchmarks' floor (the same
    registrations with no program logic) runs through it too.
    """
    context = SimContext(project=project, stack=stack, now=now, pools=pools)
    sim = cloud(context)
    monitor = RecordingMonitor(sim)
    warnings = _Warnings()
    loop = new_event_loop()
    try:
        with young_objects_only(), without_source_positions(), acyclic_unknown_checks():
            set_all_config(config or {}, secret_keys or [])
            mocks.set_mocks(
                sim,
                project=project,
                stack=stack,
                preview=False,
                monitor=monitor,
                logger=warnings,  # type: ignore[arg-type]
            )
            order = _construction_order(monitor, project, stack)
            program()
            loop.run_until_complete(wait_for_rpcs())
            root = settings.get_root_resource()
            outputs = loop.run_until_complete(_resolve_outputs(root)) if root is not None else {}
    finally:
        settings.reset_options()
        set_all_config({}, [])
        close_event_loop(loop)
    return Recording(monitor, outputs, list(warnings.messages), context, order.of(monitor.recorded))


def _construction_order(monitor: RecordingMonitor, project: str, stack: str) -> _ConstructionOrder:
    root = settings.get_root_resource()
    if root is None:  # pragma: no cover - set_mocks creates the stack
        raise RuntimeError("the mock runtime has no root stack")
    order = _ConstructionOrder(monitor, root, monitor.make_urn("", "pulumi:pulumi:Stack", f"{project}-{stack}"))
    pulumi.runtime.register_stack_transformation(order)
    return order


def _run(project_dir: Path, config: StackConfig, now: datetime, prevalidate: bool) -> Plan:
    # Validated once here (ConfigError before anything runs) and reused below;
    # without prevalidation a bad config fails inside the program, as under `pulumi up`.
    checked = spec_of(config) if prevalidate else None
    clusters = [c.name for c in checked.clusters] if checked else None

    with _program_environment(project_dir):
        run = run_program(
            lambda: runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__"),
            project=config.project,
            stack=config.stack,
            now=now,
            config=config.runtime_config(),
            secret_keys=config.secret_keys,
            pools=stack_pools(project_dir, config, clusters),
        )
    monitor, outputs, warnings, context = run.monitor, run.outputs, run.warnings, run.context

    spec = checked or spec_of(config)
    resources = sorted(monitor.recorded.values(), key=lambda r: r.urn)
    provider_names = {cluster_names(spec.fleet.name, c.name).k8s_provider: c.name for c in spec.clusters}
    cluster_of_provider = {
        r.urn: provider_names[r.name]
        for r in resources
        if r.type == "pulumi:providers:kubernetes" and r.name in provider_names
    }
    return Plan(
        project=config.project,
        stack=config.stack,
        spec=spec,
        resources=resources,
        outputs=outputs,
        cluster_of_provider=cluster_of_provider,
        warnings=warnings,
        state=context.state,
        registration_order=run.registration_order,
    )


async def _resolve_outputs(root: Any) -> dict[str, Any]:
    """The stack's exports, secrets kept marked so they can be redacted."""
    resolved: dict[str, Any] = {}
    for key, value in sorted(getattr(root, "outputs", {}).items()):
        resolved[key] = await _resolve(value)
    return resolved


async def _resolve(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        inner = await value.future()
        secret = await value.is_secret()
        inner = await _resolve(inner)
        return {SECRET_SIG: SECRET_SIG_VALUE, "value": inner} if secret else inner
    if isinstance(value, dict):
        return {k: await _resolve(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [await _resolve(v) for v in value]
    return value


# --------------------------------------------------------------------------
# Rendering


def manifests(plan: Plan, show_secrets: bool = False) -> dict[str, str]:
    """Relative path -> YAML text of every Kubernetes object and Helm release, per cluster."""
    files: dict[str, str] = {}
    for r in plan.resources:
        cluster = plan.cluster_of(r)
        if cluster is None or not r.custom:
            continue
        body = render_value(r.inputs, show_secrets)
        if r.type == "kubernetes:helm.sh/v3:Release":
            release = {
                "chart": body.get("chart"),
                "repository": (body.get("repositoryOpts") or {}).get("repo"),
                "version": body.get("version"),
                "namespace": body.get("namespace"),
                "values": body.get("values", {}),
            }
            path = f"{cluster}/helm/{body.get('name') or r.name}.yaml"
            files[path] = _dump(release)
        elif isinstance(body.get("metadata"), dict) and "kind" in body:
            meta = body["metadata"]
            ns = meta.get("namespace") or "_cluster"
            kind = str(body["kind"]).lower()
            name = f"{kind}-{ns}-{meta.get('name', r.name)}.yaml"
            if r.type.endswith("Patch"):
                # A few fields on an object meshfleet does not own (an app namespace's label): under
                # patches/, so `kubectl apply -f manifests/<cluster>/` never creates the object itself.
                files[f"{cluster}/patches/{name}"] = _PATCH_HEADER.format(type=r.type) + _dump(body)
            else:
                files[f"{cluster}/{name}"] = _dump(body)
    return dict(sorted(files.items()))


_PATCH_HEADER = (
    "# Server-side apply patch ({type}): meshfleet manages only these fields of an object it does not own.\n"
)


def _dump(doc: Any) -> str:
    # libyaml's dumper (same text, ~12x faster): a 50-cluster plan writes thousands of manifests.
    return yaml.dump(doc, Dumper=SAFE_DUMPER, sort_keys=True, default_flow_style=False, width=120)


def write_plan(plan: Plan, out: Path, show_secrets: bool = False) -> list[Path]:
    """Write plan.json and manifests/ under `out`; returns the files written.

    manifests/ is replaced whole: an object the plan no longer has must not
    keep its file, and a redacted plan written over one made with
    `--show-secrets` must not leave that one's keys behind.
    """
    out.mkdir(parents=True, exist_ok=True)
    old = out / "manifests"
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old)
    elif old.exists() or old.is_symlink():
        old.unlink()
    written = []
    plan_file = out / "plan.json"
    plan_file.write_text(json.dumps(plan.to_json(show_secrets), indent=2, sort_keys=True) + "\n")
    written.append(plan_file)
    for rel, text in manifests(plan, show_secrets).items():
        path = out / "manifests" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def render_tree(plan: Plan) -> str:
    """A readable summary: per cluster, resources by type with counts."""
    by_cluster: dict[str, dict[str, int]] = {}
    for r in plan.resources:
        if r.type.startswith("meshfleet:"):
            continue
        owner = plan.owner_of(r) or "(fleet)"
        counts = by_cluster.setdefault(owner, {})
        counts[r.type] = counts.get(r.type, 0) + 1
    lines = [f"meshfleet plan: project {plan.project}, stack {plan.stack}, {len(plan.resources)} resources"]
    for owner in sorted(by_cluster):
        counts = by_cluster[owner]
        lines.append(f"{owner} ({sum(counts.values())})")
        for type_, count in sorted(counts.items()):
            lines.append(f"  {count:3d}  {type_}")
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
