# Public health reporting: DHIS2 dataValueSets from the published serving marts (deliver/, README section
# "Public health reporting (DHIS2)"). PERIOD=YYYYMM; without it, the last complete month of the mart.
.PHONY: dhis2-check dhis2-export dhis2-push
PERIOD ?=
DHIS2_ARGS = $(if $(PERIOD),--period $(PERIOD)) $(if $(FORCE),--force)

# The mapping (transform/deliveries/dhis2_mapping.yaml) against the server's metadata; sends no data.
dhis2-check: setup
	$(BIN)/python -m deliver.dhis2 check

# JSON (one data value set per organisation unit) and CSV files in warehouse/exports/dhis2/.
dhis2-export: setup
	$(BIN)/python -m deliver.dhis2 export $(DHIS2_ARGS)

# Dry run, then the import; FORCE=1 overwrites a month registered complete on the server.
dhis2-push: setup
	$(BIN)/python -m deliver.dhis2 push $(DHIS2_ARGS)
