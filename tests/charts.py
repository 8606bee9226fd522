"""Render the plan's Helm releases with the real upstream charts (../shared/tools/helm_render.py).

Rendering is cached per (chart, version, namespace, release name, values)
for the whole test run: the same release of two fixtures renders once.
Tests that need it call `require_renderer()` first, which skips them with
the reason when ../shared or helm-python-sdk is missing.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers import SHARED, require_shared

HELM_RENDER = SHARED / "tools" / "helm_render.py"
CHARTS = SHARED / "upstream" / "charts"
#: The one Istio version vendored under ../shared/upstream/charts. Releases of
#: a version that is not vendored (the canary's second revision) are rendered
#: with these charts: the templates that matter here (tags, gateway, HPA,
#: PDB) are the same across the patch and minor versions the tests use.
VENDORED_ISTIO = "1.30.3"


@functools.cache
def _module() -> ModuleType | None:
    if not HELM_RENDER.exists():
        return None
    spec = importlib.util.spec_from_file_location("helm_render", HELM_RENDER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def charts_available() -> bool:
    """Whether releases can be rendered here (../shared and helm-python-sdk present)."""
    module = _module()
    return module is not None and bool(module.sdk_available())


def require_renderer() -> ModuleType:
    module = _module()
    if module is None:
        require_shared(HELM_RENDER)  # skips for a developer without ../shared; fails in CI
    if not module.sdk_available():
        pytest.skip("helm-python-sdk is not installed (pip install -r requirements-dev.txt): chart renders skipped")
    return module


@functools.cache
def _render_cached(key: str) -> tuple[dict[str, Any], ...]:
    release, name, include_crds = json.loads(key)
    module = require_renderer()
    return tuple(module.render(release, name, str(CHARTS), include_crds=include_crds, skip_tests=True))


def render_release(inputs: dict[str, Any], include_crds: bool = False) -> list[dict[str, Any]]:
    """Objects a `kubernetes:helm.sh/v3:Release`'s recorded inputs install (no test hooks; CRDs if asked).

    A deep copy: callers may mutate what they get.
    """
    version = str(inputs["version"])
    if inputs["repositoryOpts"]["repo"].startswith("https://istio-release"):
        version = VENDORED_ISTIO
    release = {
        "chart": inputs["chart"],
        "repository": inputs["repositoryOpts"]["repo"],
        "version": version,
        "namespace": inputs["namespace"],
        "values": inputs.get("values") or {},
    }
    key = json.dumps([release, inputs["name"], include_crds], sort_keys=True)
    return copy.deepcopy(list(_render_cached(key)))


def vendored_chart_dir(chart: str) -> Path:
    """Folder of a vendored Istio chart by its published name."""
    folder = {"cni": "istio-cni"}.get(chart, chart)
    return CHARTS / "istio" / VENDORED_ISTIO / folder
