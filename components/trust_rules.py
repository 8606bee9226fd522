"""Plan-time checks of the trust config (bring-your-own roots, expiry). (STUB: issue 4 fills this in.)"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from components.config import FleetSpec, Problem

TRUST_RULES: tuple[Callable[[FleetSpec], Iterable[Problem]], ...] = ()
