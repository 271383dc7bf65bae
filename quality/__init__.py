"""Quality gates and publication: GX checks on raw tables and marts, dq history, write-audit-publish.

`quality.checks.run_checks` validates, `quality.publish.publish` copies the shareable marts to serving.duckdb.
Great Expectations is imported lazily (it costs 8–20 s), so importing this package stays cheap.
"""
