# Superset (BI) — its own virtualenv, a hardened config from the environment, and headless Chromium for tests.
.PHONY: superset-setup superset superset-apply superset-export browser-setup
SUPERSET_VENV := .venv-superset
SUPERSET_BIN := $(SUPERSET_VENV)/bin
export SANGAM_SUPERSET_HOME ?= $(CURDIR)/bi_config/.superset_home
SUPERSET_PORT ?= 8088
SUPERSET_PY ?=

# Instant when done: the venv re-installs only when the constraints change, and `bi_config setup` skips the
# database set-up once it has completed (marker file in the git-ignored home).
superset-setup: $(SUPERSET_VENV)/.installed
	$(BIN)/python -m bi_config setup

$(SUPERSET_VENV)/.installed: bi_config/superset-constraints.txt | setup
	@test -x $(SUPERSET_BIN)/python || { py=$$(PY=$(SUPERSET_PY) bash mk/find_python.sh 3.10 3.13 'Superset 6.1') && $$py -m venv $(SUPERSET_VENV); }
	$(BIN)/uv pip install -q -p $(SUPERSET_BIN)/python -r bi_config/superset-constraints.txt
	touch $@

superset: superset-setup
	$(BIN)/python -m bi_config serve --host 127.0.0.1 --port $(SUPERSET_PORT)

superset-apply: setup
	$(BIN)/python -m bi_config apply

superset-export: setup
	$(BIN)/python -m bi_config export

# Debian's Chromium only (never a downloaded browser build); Playwright drives it via executable_path.
browser-setup:
	test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)

TEST_PREREQS += superset-setup browser-setup

# For `make demo`: Superset in the background on :8088 with the bundle applied; `make superset-down` stops it.
.PHONY: superset-up superset-down
superset-up: superset-setup
	$(BIN)/python -m bi_config up --host 127.0.0.1 --port $(SUPERSET_PORT)

superset-down: setup
	$(BIN)/python -m bi_config down

# The demo's users of roles.yaml (demo_users:), one per role; passwords generated once, printed once, kept in
# $(SANGAM_SUPERSET_HOME)/demo_passwords.json. Needs a running Superset (superset-up).
.PHONY: superset-demo-users
superset-demo-users: setup
	$(BIN)/python -m bi_config demo-users

# bench/superset.py starts a real Superset from .venv-superset.
bench: superset-setup
