# Demo survey servers (emulators of KoBoToolbox and ODK Central) — see demo/emulators/.
.PHONY: emulators

# Serve the demo world in the foreground (KoBo on :8765, ODK on :8766); Ctrl-C stops both.
emulators: setup
	$(BIN)/python -m demo serve --data demo/data
