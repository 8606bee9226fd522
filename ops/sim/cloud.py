"""`SimulatedCloud`: the Pulumi mocks that dispatch to the per-cloud simulators.

It lives apart from ops/sim/__init__.py, which holds what the simulators
share (SimContext, unwrap): the simulators import that package, and the
package must not import them back (no import cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from ops.sim import Call, Handler, SimContext, aws, azure, gcp, k8s, tls, vault


def _registry() -> tuple[dict[str, Handler], dict[str, Call]]:
    handlers: dict[str, Handler] = {}
    calls: dict[str, Call] = {}
    for module in (aws, azure, gcp, k8s, tls, vault):
        handlers.update(module.HANDLERS)
        calls.update(module.CALLS)
    return handlers, calls


class SimulatedCloud(Mocks):
    """Pulumi mocks backed by the per-cloud simulators."""

    def __init__(self, context: SimContext):
        self.context = context
        self.handlers, self.calls = _registry()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return self.simulate(args, self.context)

    def simulate(self, args: MockResourceArgs, context: SimContext) -> tuple[str | None, dict[str, Any]]:
        """Answer one registration under `context`.

        Registrations arrive on several threads at once: a caller that needs
        another clock for one resource passes a copy of the context (its
        `state` is shared) rather than changing the shared one.
        """
        handler = self.handlers.get(args.typ)
        outputs: Mapping[str, Any] = handler(args, context) if handler else {}
        state = {**args.inputs, **outputs}
        resource_id = str(
            state.pop("__id", None) or args.resource_id or f"{args.name}-{context.hex(args.typ, args.name, length=8)}"
        )
        context.state[(args.typ, args.name)] = state
        return resource_id, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # The mock monitor iterates the failures list: never return None.
        fn = self.calls.get(args.token)
        if fn is None:
            return {}, []
        return fn(args, self.context), []
