# Transform (dbt on DuckDB) — transform/: staging generated from the forms, marts, dbt docs.
.PHONY: transform transform-staging docs
DBT_DIRS := --project-dir transform --profiles-dir transform
DOCS_PORT ?= 8081

# dbt build (seeds, models, tests) on the configured warehouse, then the HMIS CSV exports.
transform: setup
	$(BIN)/python -m transform build
	$(BIN)/python -m transform export

# Regenerate models/staging/<source>/ from the loaded forms' definitions (raw_<source>.form_fields).
transform-staging: setup
	$(BIN)/python -m transform staging

# Generate and serve the dbt docs on 127.0.0.1:$(DOCS_PORT). Without a warehouse yet, the docs still
# show every model, column description and test (an empty catalog).
docs: setup
	if [ -f "$${SANGAM_WAREHOUSE:-warehouse/warehouse.duckdb}" ]; then \
	  $(BIN)/dbt docs generate $(DBT_DIRS); \
	else \
	  $(BIN)/dbt docs generate $(DBT_DIRS) --empty-catalog --no-compile; \
	fi
	$(BIN)/dbt docs serve $(DBT_DIRS) --host 127.0.0.1 --port $(DOCS_PORT) --no-browser
