# shannon-observability: the two commands are `make test` and `make up-dev`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= venv
BIN := $(VENV)/bin
STACK ?= prod
# A local file backend and passphrase secrets: no Pulumi Cloud account needed.
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL

.PHONY: setup tools venv test test-fast e2e lint render check rules up-dev down-dev status-dev preview-dev bench clean

setup: tools venv

# The live binaries, pinned in .ci/tools.lock, extracted from Debian's archive (needs root or sudo).
SHANNON_TOOLS ?= /opt/shannon-observability/tools
TOOLS_BIN := $(SHANNON_TOOLS)/bin
export SHANNON_TOOLS
tools:
	@if [ "$$(id -u)" = "0" ] || command -v sudo >/dev/null 2>&1; then \
	  bash .ci/install-tools.sh; \
	else \
	  echo "note: not root and no sudo: skipping the tools; tests needing promtool/amtool will be skipped"; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

venv: $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt

# Everything: lint, unit, mock, tool and end-to-end tests.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not e2e"

e2e: venv
	$(BIN)/python -m pytest -m e2e tests/e2e

lint: venv
	$(BIN)/ruff check .

# Offline view of what a stack deploys: make render STACK=prod
render: venv
	$(BIN)/python -m components.render --stack $(STACK) --out build/$(STACK)

# Render and check with the real consumers.
# The quick check, in seconds: rules and dashboards linted against the catalog (unknown series,
# raw rates in range panels, recorded series not generated), then the rendered stack checked
# by the real consumers.
# Any stack, own or operator mode: components/check.py picks the checks the render calls for.
check: render
	$(BIN)/python -m components.lint
	$(BIN)/python -m components.check build/$(STACK) --tools $(TOOLS_BIN)

# Regenerate from rules/slos.yaml the SLO rules, their promtool cases (rules/tests/slo.generated.test.yml) and
# runbook sections (docs/runbooks.md), and rules/dashboards.generated.yml from dashboards/.
rules: venv
	$(BIN)/python -m components.builders.slo_files
	$(BIN)/python -m components.builders.dashboard_rules

# The dev settings on the local Docker engine, as your own stack dev-local (Pulumi.dev-local.yaml,
# gitignored, made from Pulumi.dev.yaml, which stays CI's): the pinned Pulumi CLI into .tools/
# (checksum verified), a generated passphrase in .pulumi-local/ unless you give one, preflight
# checks, then `pulumi up`. components/devstack.py has every step.
LOCAL_STACK ?= dev-local
up-dev: venv
	$(BIN)/python -m components.devstack up --stack $(LOCAL_STACK)

# Destroy the local stack; its data volumes stay unless PURGE=1.
down-dev: venv
	$(BIN)/python -m components.devstack down --stack $(LOCAL_STACK)

status-dev: venv
	$(BIN)/python -m components.devstack status --stack $(LOCAL_STACK)

# What `make up-dev` would change, the same steps up to `pulumi preview --diff`.
preview-dev: venv
	$(BIN)/python -m components.devstack preview --stack $(LOCAL_STACK)

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf build .pytest_cache .ruff_cache
