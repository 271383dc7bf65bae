# Orchestration (Dagster): `make run` runs the whole pipeline once; `make demo` serves it all on localhost.
.PHONY: run demo demo-env demo-world demo-emulators demo-serve demo-stop dbt-parse
DAGSTER_PORT ?= 3000
DEMO_SUBMISSIONS ?= 20000
PIDS := .dagster/pids

dbt-parse: setup
	$(BIN)/python -c "from transform.dbt_runner import parse; parse().raise_for_failure()"

run: setup
	$(BIN)/python -m orchestration.run

# .env with random demo credentials (the emulators and the extractors read the same variables).
demo-env:
	@test -f .env || { umask 077; $(BIN)/python -c "import secrets; \
	print(f'SANGAM_KOBO_TOKEN={secrets.token_hex(20)}'); \
	print('SANGAM_ODK_EMAIL=data-team@demo.sangam.local'); \
	print(f'SANGAM_ODK_PASSWORD={secrets.token_urlsafe(18)}'); \
	print(f'SANGAM_DHIS2_TOKEN=d2pat_{secrets.token_hex(20)}')" > .env; echo "wrote .env with random demo secrets"; }
	@# a .env from before the DHIS2 emulator: add its token, keep the rest
	@grep -q '^SANGAM_DHIS2_TOKEN=' .env || { umask 077; $(BIN)/python -c "import secrets; \
	print(f'SANGAM_DHIS2_TOKEN=d2pat_{secrets.token_hex(20)}')" >> .env; }

# The demo world ends today, so its freshness checks are green on the day it is made.
demo-world: setup
	test -d demo/data/kobo || $(BIN)/python -m demo generate --out demo/data --submissions $(DEMO_SUBMISSIONS) --today $$(date -u +%F)

# The KoBo, ODK Central and DHIS2 emulators in the background (pid in .dagster/pids/), waiting until their
# ports answer.
demo-emulators: demo-env demo-world
	@mkdir -p $(PIDS)
	@if test -f $(PIDS)/emulators.pid && kill -0 $$(cat $(PIDS)/emulators.pid) 2>/dev/null; then \
	  echo "emulators already running"; \
	else \
	  setsid $(BIN)/python -m demo serve --data demo/data > .dagster/emulators.log 2>&1 < /dev/null & \
	  echo $$! > $(PIDS)/emulators.pid; \
	fi
	@$(BIN)/python -m orchestration.wait_for http://127.0.0.1:8765/ http://127.0.0.1:8766/ http://127.0.0.1:8767/ \
	  --timeout 120

# The Dagster webserver + daemon (schedules, sensors), DAGSTER_HOME=.dagster.
demo-serve: setup
	@mkdir -p $(PIDS)
	@if test -f $(PIDS)/dagster.pid && kill -0 $$(cat $(PIDS)/dagster.pid) 2>/dev/null; then \
	  echo "dagster already running"; \
	else \
	  PATH="$(CURDIR)/$(BIN):$$PATH" setsid $(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 \
	    -p $(DAGSTER_PORT) > .dagster/dagster.log 2>&1 < /dev/null & \
	  echo $$! > $(PIDS)/dagster.pid; \
	fi
	@$(BIN)/python -m orchestration.wait_for http://127.0.0.1:$(DAGSTER_PORT)/server_info --timeout 300

demo: setup demo-env
	$(MAKE) --no-print-directory demo-emulators
	@# Superset first (the BI fragment's background server), so the pipeline's last asset refreshes it.
	$(if $(SUPERSET_VENV),-$(MAKE) --no-print-directory superset-up)
	$(if $(SUPERSET_VENV),-$(MAKE) --no-print-directory superset-demo-users)
	@# A failed run still gets the UI, where the data team sees what failed; `make run` is the strict one.
	$(BIN)/python -m orchestration.run || echo "*** the pipeline run failed: see its summary above and the Dagster UI"
	$(MAKE) --no-print-directory demo-serve
	@echo ""
	@echo "Sangam demo is up:"
	@echo "  Dagster UI    http://127.0.0.1:$(DAGSTER_PORT)   (runs, lineage, checks, schedules)"
	$(if $(SUPERSET_VENV),@echo "  Superset      http://127.0.0.1:$(SUPERSET_PORT)   (user admin; password in $(SANGAM_SUPERSET_HOME)/admin_password)")
	$(if $(SUPERSET_VENV),@echo "                demo users: staff coordinator_mh coordinator_north analyst funder (passwords in $(SANGAM_SUPERSET_HOME)/demo_passwords.json)")
	@echo "  KoBo emulator http://127.0.0.1:8765, ODK Central emulator http://127.0.0.1:8766"
	@echo "  DHIS2 emulator http://127.0.0.1:8767   (make dhis2-push PERIOD=YYYYMM pushes a month to it)"
	@echo "Logs in .dagster/*.log. Stop everything with: make demo-stop"

# Stops only what `make demo` started: each pid file names a process group leader (setsid). The leader gets
# SIGTERM first (dagster dev then stops its webserver, daemon and code server itself); whatever is left of
# the group after 30 s is killed.
demo-stop:
	$(if $(SUPERSET_VENV),-$(MAKE) --no-print-directory superset-down)
	@for name in dagster emulators; do \
	  f=$(PIDS)/$$name.pid; \
	  if test -f $$f && kill -0 $$(cat $$f) 2>/dev/null; then \
	    pid=$$(cat $$f); kill -TERM $$pid; \
	    for i in $$(seq 30); do kill -0 -- -$$pid 2>/dev/null || break; sleep 1; done; \
	    kill -KILL -- -$$pid 2>/dev/null; echo "stopped $$name"; \
	  fi; \
	  rm -f $$f; \
	done
