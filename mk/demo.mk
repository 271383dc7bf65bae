# Demo servers (emulators of KoBoToolbox, ODK Central and DHIS2) — see demo/emulators/README.md.
.PHONY: emulators emulators-up emulators-down

DEMO_DATA ?= demo/data
KOBO_PORT ?= 8765
ODK_PORT ?= 8766
DHIS2_PORT ?= 8767
EMULATORS_PID := $(DEMO_DATA)/.emulators.pid
EMULATORS_LOG := $(DEMO_DATA)/emulators.log

# Serve the demo world in the foreground (KoBo on :8765, ODK on :8766, DHIS2 on :8767); Ctrl-C stops them.
emulators: setup
	$(BIN)/python -m demo serve --data $(DEMO_DATA) --kobo-port $(KOBO_PORT) --odk-port $(ODK_PORT) --dhis2-port $(DHIS2_PORT)

# Start them in the background (for `make demo` / `make run`) and return once both answer; idempotent.
emulators-up: setup
	@if [ -f $(EMULATORS_PID) ] && kill -0 $$(cat $(EMULATORS_PID)) 2>/dev/null; then \
		echo "emulators already running (pid $$(cat $(EMULATORS_PID)))"; \
	else \
		nohup $(BIN)/python -m demo serve --data $(DEMO_DATA) --kobo-port $(KOBO_PORT) --odk-port $(ODK_PORT) --dhis2-port $(DHIS2_PORT) \
			> $(EMULATORS_LOG) 2>&1 & echo $$! > $(EMULATORS_PID); \
		$(BIN)/python -m demo.emulators.wait --pid $$(cat $(EMULATORS_PID)) \
			http://127.0.0.1:$(KOBO_PORT) http://127.0.0.1:$(ODK_PORT) http://127.0.0.1:$(DHIS2_PORT) \
			|| { cat $(EMULATORS_LOG); kill $$(cat $(EMULATORS_PID)) 2>/dev/null; rm -f $(EMULATORS_PID); exit 1; }; \
		echo "emulators up: KoBo http://127.0.0.1:$(KOBO_PORT), ODK http://127.0.0.1:$(ODK_PORT), DHIS2 http://127.0.0.1:$(DHIS2_PORT) (log $(EMULATORS_LOG))"; \
	fi

emulators-down:
	@if [ -f $(EMULATORS_PID) ]; then kill $$(cat $(EMULATORS_PID)) 2>/dev/null || true; rm -f $(EMULATORS_PID); fi
