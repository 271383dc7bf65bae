"""Write-audit-publish: copy the checked marts to serving.duckdb (quality.publish), and the HMIS CSV exports.

publish_serving sits downstream of every served mart, so the marts' blocking `gx` checks gate it; it also
re-reads this run's dq.check_results and refuses to publish when any blocking check (raw stage included)
failed, leaving the previous serving file untouched.
"""

import dagster as dg

from orchestration.resources import WAREHOUSE_POOL, SangamConfigResource
from orchestration.summary import PUBLISH_KEY, summarize_run

HMIS_KEY = dg.AssetKey(["exports", "hmis_monthly_csv"])


def served_tables() -> list[tuple[str, str]]:
    """(serving table name, warehouse relation) from quality/serving_tables.yaml."""
    from quality.suites import serving_tables

    return [(e["name"], e["from"]) for e in serving_tables()]


def this_run_reports(warehouse_path, run_id: str) -> list:
    """The check results the GX op recorded for this run, as quality CheckReports (empty if none)."""
    import duckdb

    from quality.checks import CheckReport, CheckResult

    try:
        with duckdb.connect(str(warehouse_path), read_only=True) as con:
            rows = con.execute(
                "SELECT check_name, table_name, blocking, passed, observed_value, checked_at "
                "FROM dq.check_results WHERE run_id = ?",
                [run_id],
            ).fetchall()
    except duckdb.CatalogException:
        return []
    if not rows:
        return []
    results = [CheckResult(name, table, bool(b), bool(p), obs or "") for name, table, b, p, obs, _ in rows]
    return [CheckReport(run_id=run_id, stage="run", checked_at=max(r[5] for r in rows), results=results)]


def build_publish_assets(mart_keys: dict[str, dg.AssetKey]) -> list[dg.AssetsDefinition]:
    names = [rel.split(".", 1)[1] for _, rel in served_tables()]
    deps = [mart_keys[name] for name in names if name in mart_keys]

    @dg.asset(
        key=PUBLISH_KEY,
        deps=deps,
        group_name="serving",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        description="warehouse/serving.duckdb: the shareable marts (quality/serving_tables.yaml), swapped in "
        "atomically, only when no blocking check failed. Superset reads this file, read-only.",
    )
    def published_marts(
        context: dg.AssetExecutionContext, sangam: SangamConfigResource
    ) -> dg.MaterializeResult:
        from quality.publish import publish

        config = sangam.load(require_secrets=False)
        reports = this_run_reports(config.warehouse.path, context.run_id)
        if not reports:
            context.log.info("no checks recorded for this run: publish runs the marts checks itself")
        # Raises BlockingCheckFailed (naming each check) and leaves serving.duckdb untouched.
        result = publish(config, reports or None)
        summary = summarize_run(context.instance, context.run_id, config)
        return dg.MaterializeResult(
            metadata={
                "tables": dg.MetadataValue.json(result.tables),
                "path": dg.MetadataValue.path(str(result.serving_path)),
                "size_bytes": dg.MetadataValue.int(result.size_bytes),
                "warnings": dg.MetadataValue.int(len(result.warnings)),
                "dagster/row_count": dg.MetadataValue.int(sum(result.tables.values())),
                **summary.as_metadata(),
            }
        )

    assets = [published_marts]
    if "mart_hmis_monthly" in mart_keys:

        @dg.asset(
            key=HMIS_KEY,
            deps=[mart_keys["mart_hmis_monthly"]],
            group_name="serving",
            kinds={"csv"},
            pool=WAREHOUSE_POOL,
            description="warehouse/exports/hmis_<YYYY-MM>.csv for public health systems (transform.exports).",
        )
        def hmis_monthly_csv(context: dg.AssetExecutionContext, sangam: SangamConfigResource):
            from transform.exports import write_hmis_csv

            config = sangam.load(require_secrets=False)
            written = write_hmis_csv(config.warehouse.path, config.warehouse.exports_dir)
            return dg.MaterializeResult(
                metadata={
                    "files": dg.MetadataValue.int(len(written)),
                    "folder": dg.MetadataValue.path(str(config.warehouse.exports_dir)),
                    "latest": dg.MetadataValue.text(written[-1].name if written else "none"),
                }
            )

        assets.append(hmis_monthly_csv)
    return assets
