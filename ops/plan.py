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
import gc
import json
import logging
import os
import runpy
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import wait_for_rpcs

from components.config import FleetSpec
from components.config.offline import CLOCK_ENV
from components.naming import cluster_names
from ops.sim import DEFAULT_NOW, SECRET_SIG, SECRET_SIG_VALUE, SimContext
from ops.sim.cloud import SimulatedCloud
from ops.sim.pools import stack_pools
from ops.stackconfig import StackConfig, spec_of

#: The SDK's sentinel for a value not known at plan time.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: The SDK's sentinel key for a resource reference.
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
REDACTED = "[secret]"


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
    inputs: dict[str, Any]
    read: bool = False

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
            "inputs": render_value(self.inputs, show_secrets),
            **({"read": True} if self.read else {}),
        }

    @property
    def provider_urn(self) -> str:
        """The provider reference is `urn::id`; keep the URN."""
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that keeps every request the program sent."""

    def __init__(self, sim: SimulatedCloud):
        super().__init__(sim)
        self.recorded: dict[str, Recorded] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self._record(response.urn, request, request.object, read=False)
        return response

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)
        self._record(response.urn, request, request.properties, read=True)
        return response

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
            inputs=json_format.MessageToDict(props),
            read=read,
        )


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
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.contract(show_secrets) for r in self.resources],
            "outputs": render_value(self.outputs, show_secrets),
        }


@contextlib.contextmanager
def _program_environment(project_dir: Path) -> Iterator[None]:
    """Run the program as the CLI would: from its directory, importable."""
    old_cwd, old_path = Path.cwd(), list(sys.path)
    os.chdir(project_dir)
    sys.path.insert(0, str(project_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


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
    # Every registration in flight re-enters the event loop (the SDK's
    # MockMonitor serializes its answer with `_sync_await`), so the stack
    # deepens with the objects registered at once (a cluster's policies).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    with pinned_clock(now):
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
    for, and one thread keeps the simulated cloud free of races and avoids a
    CPython 3.11 bug (gh-106905): ast.parse on two threads at once (pytest's
    assertion rewriting, traceback formatting) corrupts a shared counter and
    later fails with "AST constructor recursion depth mismatch". The monitor
    copes with being called inside the running loop (pulumi's _sync_await).
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
    """Close a plan's loop after collecting what it abandoned (see new_event_loop)."""
    gc.collect()
    asyncio.set_event_loop(None)
    loop.close()


@contextlib.contextmanager
def pinned_clock(now: datetime) -> Iterator[None]:
    """Clock-dependent checks (certificate expiry) read the plan's clock from CLOCK_ENV."""
    old = os.environ.get(CLOCK_ENV)
    os.environ[CLOCK_ENV] = now.isoformat()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(CLOCK_ENV, None)
        else:
            os.environ[CLOCK_ENV] = old


def _run(project_dir: Path, config: StackConfig, now: datetime, prevalidate: bool) -> Plan:
    if prevalidate:
        spec_of(config)
    context = SimContext(project=config.project, stack=config.stack, now=now, pools=stack_pools(project_dir, config))
    sim = SimulatedCloud(context)
    monitor = RecordingMonitor(sim)
    warnings = _Warnings()

    loop = new_event_loop()
    try:
        set_all_config(config.runtime_config(), config.secret_keys)
        mocks.set_mocks(
            sim,
            project=config.project,
            stack=config.stack,
            preview=False,
            monitor=monitor,
            logger=warnings,  # type: ignore[arg-type]
        )
        with _program_environment(project_dir):
            runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
            loop.run_until_complete(wait_for_rpcs())
            root = settings.get_root_resource()
            outputs = loop.run_until_complete(_resolve_outputs(root)) if root is not None else {}
    finally:
        settings.reset_options()
        set_all_config({}, [])
        close_event_loop(loop)

    spec = spec_of(config)
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
        warnings=list(warnings.messages),
        state=context.state,
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
            path = f"{cluster}/{kind}-{ns}-{meta.get('name', r.name)}.yaml"
            files[path] = _dump(body)
    return dict(sorted(files.items()))


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=120)


def write_plan(plan: Plan, out: Path, show_secrets: bool = False) -> list[Path]:
    """Write plan.json and manifests/ under `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
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
