# FactorTrace: `make run` sets everything up and serves the app; `make test` runs lint and the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SERVICES := $(PY) scripts/services.py exec --

.PHONY: run test lint format typecheck worker stop shell clean-local

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(SERVICES) $(PY) scripts/run.py

worker: $(STAMP)
	$(SERVICES) $(PY) manage.py rqworker default imports factors

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(SERVICES) $(VENV)/bin/mypy emissions imports factors reporting billing api factortrace accounts tenants

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	@if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then \
		docker compose config --quiet && echo "docker compose config: ok"; \
	else echo "docker compose config: skipped (no Docker here)"; fi
	$(SERVICES) $(PY) -m pytest $(PYTEST_ARGS)

typecheck: $(STAMP)
	$(SERVICES) $(VENV)/bin/mypy emissions imports factors reporting billing api factortrace accounts tenants

shell: $(STAMP)
	$(SERVICES) $(PY) manage.py shell

stop:
	$(PY) scripts/services.py stop

clean-local: stop
	rm -rf .local
