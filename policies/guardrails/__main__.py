"""The meshfleet guardrails pack: `pulumi preview --policy-pack policies/guardrails`.

Only constructs the pack: `PolicyPack(...)` starts the analyzer server and
blocks. The rules live in `rules.py` (no pulumi_policy), the glue in `pack.py`.
"""

import sys
from pathlib import Path

# The rules read components.naming and the config package's support data: the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.guardrails.pack import policies

PolicyPack(name="meshfleet-guardrails", enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
