"""Bench step `quality`: every check (raw + marts) on the largest world, in one process (target: < 60 s).

Runs on the warehouse the extract step loaded and the transform step built (ctx.warehouse_path(largest)).
Figures: the one-off GX import, each stage's wall time, the total, the rows the raw checks covered, the
publication time and serving file size, and the peak memory of the process.
"""

from __future__ import annotations

import resource
import time

import duckdb

TARGET_SECONDS = 60.0


def _raw_rows(warehouse) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema LIKE 'raw\\_%' "
            "ESCAPE '\\' AND table_schema NOT LIKE '%\\_staging' ESCAPE '\\' AND table_name NOT LIKE '\\_%' "
            "ESCAPE '\\' AND table_type = 'BASE TABLE'"
        ).fetchall()
        return sum(con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables)


def run(ctx) -> dict[str, object]:
    from quality.publish import PublishError, ServingPaths, publish
    from quality.settings import load_settings

    size = ctx.largest
    warehouse = ctx.warehouse_path(size)
    if not warehouse.exists():
        raise FileNotFoundError(f"{warehouse} is missing: the extract bench step loads it first")
    paths = ServingPaths(warehouse, ctx.workdir / f"serving_{size}.duckdb")
    settings = load_settings(paths)
    figures: dict[str, object] = {"submissions": size, "warehouse": str(warehouse)}
    figures["raw_rows_checked"] = _raw_rows(warehouse)

    started = time.perf_counter()
    from quality.checks import gx, run_checks

    gx()
    figures["gx_import_seconds"] = round(time.perf_counter() - started, 2)

    reports = []
    for stage in ("raw", "marts"):
        t0 = time.perf_counter()
        report = run_checks(warehouse, settings, stage)
        figures[f"{stage}_seconds"] = round(time.perf_counter() - t0, 2)
        figures[f"{stage}_checks"] = len(report.results)
        figures[f"{stage}_blocking_failed"] = [f"{r.table}: {r.name}" for r in report.blocking_failures]
        figures[f"{stage}_warnings"] = len(report.warnings)
        reports.append(report)
    total = time.perf_counter() - started
    figures["checks_seconds_total"] = round(total, 2)  # GX import included: what one pipeline step costs

    t0 = time.perf_counter()
    try:
        result = publish(paths, reports)
        figures["publish_seconds"] = round(time.perf_counter() - t0, 2)
        figures["serving_mb"] = round(result.size_bytes / 1e6, 1)
    except PublishError as exc:
        figures["publish_error"] = str(exc)[:500]
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["target_seconds"] = TARGET_SECONDS
    figures["target_met"] = total <= TARGET_SECONDS
    return figures
