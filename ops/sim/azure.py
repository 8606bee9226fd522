"""Simulated azure resources for the offline plan."""

from __future__ import annotations

from ops.sim import Call, Handler

HANDLERS: dict[str, Handler] = {}
CALLS: dict[str, Call] = {}
