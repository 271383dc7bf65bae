# Quality gates (issue 5): GX Data Docs of the current warehouse, served on 127.0.0.1:8082.
.PHONY: dq-check dq-docs dq-publish
DQ_DOCS_PORT ?= 8082

# Run all checks on warehouse/warehouse.duckdb (history appended to dq.check_results).
dq-check: setup
	$(BIN)/python -m quality check --stage all

# Run all checks with GX Data Docs stored (quality/gx/, git-ignored), rebuild the site and serve it.
dq-docs: setup
	$(BIN)/python -m quality docs --serve --port $(DQ_DOCS_PORT)

# Checks, then publish warehouse/serving.duckdb when no blocking check failed.
dq-publish: setup
	$(BIN)/python -m quality check --stage all --publish
