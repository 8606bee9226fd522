# The two commands of the quick start: `make plan` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
STAMP := $(VENV)/.installed
# The guardrails policy pack runs in its own virtualenv (PulumiPolicy.yaml):
# pulumi-policy pins protobuf 5.29, the program's environment has protobuf 6.
PACK := policies/guardrails
PACK_STAMP := $(PACK)/.venv/.installed

.PHONY: plan test lint actionlint typecheck unit install clean bench schema

# Create the virtualenv and install pinned dependencies (re-run when pins change).
$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# Byte-compile the SDKs once: with PYTHONDONTWRITEBYTECODE set (common in
	# CI images) every plan would otherwise re-compile them (about 2x slower).
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	$(BIN)/python -m pip check
	touch $(STAMP)

# The pack's environment, next to the program's and independent of it.
$(PACK_STAMP): $(PACK)/requirements.txt $(PACK)/constraints.txt
	test -x $(PACK)/.venv/bin/python || $(PY) -m venv $(PACK)/.venv
	$(PACK)/.venv/bin/python -m pip install --quiet --upgrade pip
	$(PACK)/.venv/bin/python -m pip install --quiet -r $(PACK)/requirements.txt -c $(PACK)/constraints.txt
	$(PACK)/.venv/bin/python -m pip check
	touch $(PACK_STAMP)

install: $(STAMP) $(PACK_STAMP)

# Offline plan of a stack: no Pulumi CLI, no cloud credentials.
plan: $(STAMP)
	$(BIN)/meshfleet plan --stack $(STACK)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The GitHub workflows and local actions under .github/ (the wheel bundles the
# actionlint binary: no download at install time).
actionlint: $(STAMP)
	$(BIN)/actionlint

# One mypy run over the program (the cloud SDKs make a cold run take minutes;
# the cache stays in .mypy_cache, out of git). `__main__.py` is named as a
# file, so no other `__main__` module (a policy pack's) can shadow it.
typecheck: $(STAMP)
	$(BIN)/mypy components ops policies __main__.py

unit: $(STAMP) $(PACK_STAMP)
	$(BIN)/pytest -n 2

test: lint actionlint typecheck unit

# Plan time and memory against the floor for 3-50 clusters and every mesh,
# policy compile for 10-1,000 rules, and the deploy critical path: writes
# benchmarks/RESULTS.md and results.png (each point a process forked after the
# SDK imports; about 6-7 min on a 2-core machine).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) $(PACK)/.venv .mypy_cache .ruff_cache
