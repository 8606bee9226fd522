"""The Kubernetes support data, as the rules' `SupportCheck`: the config package's one verdict.

`components.config.cloudfacts.support_verdict(cloud, version, today)` (issue
11) reads the one support-window data file per cloud that the config checks
use; the advisory `kubernetes-version-support` rule asks it too, so the two
can never disagree and there is no second copy of the calendar. Until that
module is present, `support_check()` returns None and the rule stays silent
(`meshfleet plan` says so). Pure: no pulumi, no pulumi_policy.
"""

from __future__ import annotations

import importlib
from datetime import date

from policies.guardrails.rules import SupportCheck, VersionSupport

VERDICT_MODULE = "components.config.cloudfacts"

#: Verdict statuses that say nothing about support ending (a newer or unreleased minor).
_UNKNOWN = frozenset({"unknown", "not-yet-available"})


def support_check() -> SupportCheck | None:
    """`(cloud, version, day) -> VersionSupport` from the config package's verdict, or None if it is absent."""
    try:
        module = importlib.import_module(VERDICT_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != VERDICT_MODULE:
            raise  # a dependency of the config package is missing: a broken environment, not "no data"
        return None
    verdict = getattr(module, "support_verdict", None)
    if verdict is None:
        return None

    def supported(cloud: str, version: str, day: date) -> VersionSupport | None:
        v = verdict(cloud, version, day)
        if v.status in _UNKNOWN:
            return None
        window = v.window  # None for a minor older than every one the calendar lists (end-of-life)
        return VersionSupport(
            status=v.status,
            standard_end=window.standard_end if window is not None else None,
            extended_end=window.extended_end if window is not None else None,
            extended=v.extended,
            extended_usable=v.extended_usable,
        )

    return supported
