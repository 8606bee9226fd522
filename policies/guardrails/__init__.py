"""The guardrails: a CrossGuard pack (`__main__.py`, `pack.py`) over pure rules (`rules.py`, `config.py`)."""
