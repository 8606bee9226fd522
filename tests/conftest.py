"""Session-wide test settings."""

from __future__ import annotations

import os

from components.config.offline import TODAY_ENV

#: The day the cloud support data (components/config/data/) was last refreshed.
#: Tests judge Kubernetes support windows on it, so the suite gives the same
#: answer every day; a real `pulumi up` and `make plan` judge them on the real
#: day (the cloud refuses a version on the day you deploy), which is where
#: stale data or an outdated stack shows (README, "Cloud facts").
SUPPORT_DATA_DAY = "2026-11-30"


def pytest_configure() -> None:
    # Subprocesses (the CLI tests) inherit it too.
    os.environ.setdefault(TODAY_ENV, SUPPORT_DATA_DAY)
