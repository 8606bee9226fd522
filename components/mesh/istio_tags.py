"""Istio revision tags as objects of their own (what `istioctl tag set` writes).

The istiod chart can render a tag's objects (`revisionTags`), but then they
belong to one Helm release: moving the tag deletes them from one release and
creates them in another, a window in which pods of `istio-injection=enabled`
namespaces start without a sidecar, and no tag at all if the second release
rolls back. meshfleet renders no tag from any istiod release and builds the
same two objects as the chart's `revision-tags-mwc.yaml` and
`revision-tags-svc.yaml` (Istio 1.30) here; a tag move changes only the
revision inside them, in place, as `istioctl tag set <tag> --revision <rev>
--overwrite` does. tests/test_istio.py compares them with the chart's render.

What else `istioctl tag set default` does in 1.30 is covered elsewhere: it
points `istiod-default-validator` at the revision (here `base`'s
`defaultRevision`, which follows the same stable revision) and deactivates
the legacy `istio-sidecar-injector` webhook of a non-revisioned istiod
(meshfleet installs none: every istiod is revisioned).

Pure functions: the component creates the resources.
"""

from __future__ import annotations

from typing import Any

#: Every injection webhook of a tag (the chart's `core` define).
_RULES = [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]
_NOT_DISABLED = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}


def tag_webhook_name(tag: str) -> str:
    """`istio-revision-tag-<tag>`: the chart's name in `istio-system`."""
    return f"istio-revision-tag-{tag}"


def tag_service_name(tag: str) -> str:
    return f"istiod-revision-tag-{tag}"


def tag_labels(tag: str, revision: str) -> dict[str, str]:
    """Labels istiod and istioctl read: istiod patches the `caBundle` of
    webhooks labelled with its revision; `istioctl tag list` reads `istio.io/tag`."""
    return {"istio.io/tag": tag, "istio.io/rev": revision, "app.kubernetes.io/name": "istiod"}


def tag_webhooks(tag: str, revision: str, namespace: str) -> list[dict[str, Any]]:
    """The MutatingWebhookConfiguration's `webhooks` for `tag` -> `revision`.

    No `caBundle`: istiod writes it (and rewrites it when its CA rotates).
    """

    def core(
        prefix: str, namespace_selector: list[dict[str, Any]], object_selector: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "name": f"{prefix}sidecar-injector.istio.io",
            "clientConfig": {
                "service": {"name": f"istiod-{revision}", "namespace": namespace, "path": "/inject", "port": 443}
            },
            "sideEffects": "None",
            "rules": _RULES,
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "admissionReviewVersions": ["v1"],
            "namespaceSelector": {"matchExpressions": namespace_selector},
            "objectSelector": {"matchExpressions": object_selector},
        }

    no_injection_label = {"key": "istio-injection", "operator": "DoesNotExist"}
    no_rev_label = {"key": "istio.io/rev", "operator": "DoesNotExist"}
    hooks = [
        # Namespaces labelled istio.io/rev=<tag>.
        core(
            "rev.namespace.",
            [{"key": "istio.io/rev", "operator": "In", "values": [tag]}, no_injection_label],
            [_NOT_DISABLED],
        ),
        # Pods labelled istio.io/rev=<tag> in unlabelled namespaces.
        core(
            "rev.object.",
            [no_rev_label, no_injection_label],
            [_NOT_DISABLED, {"key": "istio.io/rev", "operator": "In", "values": [tag]}],
        ),
    ]
    if tag == "default":
        hooks += [
            # istio-injection=enabled namespaces.
            core(
                "namespace.",
                [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}],
                [_NOT_DISABLED],
            ),
            # Pods labelled sidecar.istio.io/inject=true without a revision.
            core(
                "object.",
                [no_injection_label, no_rev_label],
                [{"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]}, no_rev_label],
            ),
        ]
    return hooks


def tag_service_spec(revision: str) -> dict[str, Any]:
    """The tag Service: istiod's ports, selecting the tagged revision's pods."""
    return {
        "ports": [
            {"port": 15010, "name": "grpc-xds", "protocol": "TCP"},
            {"port": 15012, "name": "https-dns", "protocol": "TCP"},
            {"port": 443, "name": "https-webhook", "targetPort": 15017, "protocol": "TCP"},
            {"port": 15014, "name": "http-monitoring", "protocol": "TCP"},
        ],
        "selector": {"app": "istiod", "istio.io/rev": revision},
    }
