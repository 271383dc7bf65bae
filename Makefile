# Sangam — every install step lives here; a fresh machine needs only `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := setup
# The pipeline runs on Python 3.11-3.13 (requirements.lock is resolved for all three); Superset 6.1 on 3.10-3.12.
PY_RANGE := 3.11 3.14
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export DAGSTER_HOME := $(CURDIR)/.dagster
export SANGAM_HOME := $(CURDIR)

.PHONY: setup test test-fast lint clean

# Each area adds its own targets (demo, run, bench, docs, dq-docs, superset, ...) in mk/<area>.mk.
include $(sort $(wildcard mk/*.mk))

setup: $(VENV)/.installed

# Re-runs only when the lock or the project metadata change, so a second `make setup` is instant.
$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(BIN)/python || { py=$$(bash mk/find_python.sh $(PY_RANGE) Sangam) && $$py -m venv $(VENV); }
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q -p $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e .
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup $(TEST_PREREQS)
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf warehouse/*.duckdb* warehouse/exports demo/data .dagster/storage .dagster/history .dagster/logs \
	       transform/target transform/logs .pytest_cache bench/reports/*.tmp
