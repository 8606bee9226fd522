"""The trust spec's shape: root names, the signing root, generated vs provided, validity windows."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from components.config.errors import Problem
from components.config.models import (
    FleetSpec,
)
from components.naming import MAX_COMMON_NAME, root_common_name


def _rule_trust(spec: FleetSpec) -> Iterable[Problem]:
    trust = spec.trust
    names = [r.name for r in trust.roots]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        yield Problem(
            path="trust.roots",
            message=f"root names repeat: {', '.join(repeated)} (roots: {', '.join(names)})",
            fix="name each root once",
        )
    if trust.signing_root is not None and trust.signing_root not in names:
        yield Problem(
            path="trust.signingRoot",
            message=f"{trust.signing_root!r} is not a root; allowed values: {', '.join(names)}",
            fix="name one of trust.roots",
        )
    for i, root in enumerate(trust.roots):
        path = f"trust.roots[{i}]"
        common_name = root_common_name(spec.fleet.name, root.name)
        if root.source == "generated" and len(common_name) > MAX_COMMON_NAME:
            yield Problem(
                path=f"{path}.name",
                message=f"derived root CA common name {common_name!r} has {len(common_name)} characters; "
                f"X.509 allows at most {MAX_COMMON_NAME}",
                fix="shorten the root name (or fleet.name)",
            )
        if root.source == "provided" and (root.certificate_pem is None or root.private_key_pem is None):
            yield Problem(
                path=path,
                message="a provided root needs certificatePem and privateKeyPem",
                fix="set both (the key as an encrypted value), or use source: generated",
            )
        if root.source == "generated" and (root.certificate_pem or root.private_key_pem):
            yield Problem(
                path=path,
                message="certificatePem/privateKeyPem are only read for source: provided",
                fix="set source: provided, or remove them",
            )
        if root.source == "generated" and trust.intermediate_validity_hours >= root.validity_hours:
            yield Problem(
                path="trust.intermediateValidityHours",
                message=f"{trust.intermediate_validity_hours} h is not shorter than root {root.name!r}'s "
                f"validity ({root.validity_hours} h): intermediates would outlive their root",
                fix="make intermediates shorter-lived than the root",
            )


def rule_renewal_window(spec: FleetSpec) -> Iterable[Problem]:
    trust = spec.trust
    # The warning window is also the intermediates' early-renewal window: a window as long as
    # their validity would re-issue them at every `pulumi up`.
    if trust.expiry_warning_hours >= trust.intermediate_validity_hours:
        yield Problem(
            path="trust.expiryWarningHours",
            message=f"{trust.expiry_warning_hours} h is not shorter than trust.intermediateValidityHours "
            f"({trust.intermediate_validity_hours} h): intermediates, renewed inside this window, "
            "would be re-issued at every `pulumi up`",
            fix="keep expiryWarningHours well below intermediateValidityHours (defaults: 720 and 8760)",
        )


RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = (
    _rule_trust,
    rule_renewal_window,
)
