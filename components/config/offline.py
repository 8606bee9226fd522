"""What differs when a config is checked offline: the pinned clock, unreadable secrets, no deployer.

`meshfleet plan` pins the clock (`--now`) through CLOCK_ENV, so certificate
expiry checks give the same answer on every run, and it replaces encrypted
config values, which cannot be decrypted without the stack's secrets
provider, with marked placeholders that the checks and the simulator skip.
It also sets OFFLINE_ENV: what only the deployer's machine can tell (the
contexts of its kubeconfig) is checked by `pulumi preview` and `up`, never
by the plan, which must come out the same on every machine.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

#: Environment variable pinning the clock (set by the offline plan: `meshfleet plan --now`).
CLOCK_ENV = "MESHFLEET_NOW"
#: Environment variable pinning the day Kubernetes support windows are judged on (tests; the
#: offline plan leaves it unset: the cloud refuses a version on the day you deploy, not on
#: the plan's simulated day).
TODAY_ENV = "MESHFLEET_TODAY"
#: How the offline plan shows an encrypted config value it cannot decrypt
#: (ops.stackconfig writes it; trust checks and the tls simulator skip it).
OFFLINE_PLACEHOLDER = "[encrypted value"
#: Environment variable set while the offline plan runs the program.
OFFLINE_ENV = "MESHFLEET_OFFLINE"


def is_offline() -> bool:
    """Whether the program runs as the offline plan (not under `pulumi preview` or `up`)."""
    return os.environ.get(OFFLINE_ENV) == "1"


def trust_clock() -> datetime:
    """Now, in UTC: the pinned clock of an offline plan if set, else the wall clock."""
    pinned = os.environ.get(CLOCK_ENV)
    if not pinned:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def support_today() -> date:
    """The day managed Kubernetes support windows are judged on: MESHFLEET_TODAY if set, else today (UTC)."""
    pinned = os.environ.get(TODAY_ENV)
    return date.fromisoformat(pinned) if pinned else datetime.now(UTC).date()
