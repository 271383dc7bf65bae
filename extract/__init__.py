"""Extract and load: dlt sources for KoBoToolbox, ODK Central and spreadsheet folders into DuckDB.

`kobo_source`, `odk_source` and `spreadsheet_source` are dlt sources (importable and configurable by
arguments, so dagster-dlt can wrap them); `extract.run.load_sources` runs one dlt pipeline per configured
source and returns a `LoadReport`. The raw table contract is docs/contracts.md section 3.
"""
