"""Policy as code: the guardrails pack under policies/guardrails."""
