# Extract and load (issue 3): dlt sources from sources.yaml into warehouse/warehouse.duckdb (raw_<source>).
.PHONY: extract extract-check
EXTRACT_ARGS ?=

# Load every source once (or: make extract EXTRACT_ARGS="--source kobo"); exits non-zero if one failed.
extract: setup
	$(BIN)/python -m extract $(EXTRACT_ARGS)

# Validate sources.yaml and the secrets it names, without contacting any server.
extract-check: setup
	$(BIN)/python -m extract --check
