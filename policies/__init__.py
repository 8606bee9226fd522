"""CrossGuard policy pack for meshfleet stacks (rules grow with the policy issue)."""
