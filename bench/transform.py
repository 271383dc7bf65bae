"""Bench step `transform`: `dbt build` on the largest world the extract step loaded (target: < 2 minutes).

Figures: wall time of a full build (--full-refresh), of a second build with nothing new loaded (incremental
staging reads no rows; intermediate and marts are rebuilt), the models/tests run, and the marts' row counts.
"""

from __future__ import annotations

import time

import duckdb

TARGET_SECONDS = 120.0
MARTS = [
    "mart_program_indicators_monthly",
    "mart_scheme_applications",
    "mart_field_worker_weekly",
    "mart_funder_summary",
    "mart_hmis_monthly",
    "fct_child_growth",
]


def run(ctx) -> dict[str, object]:
    from transform.dbt_runner import build

    size = ctx.largest
    warehouse = ctx.warehouse_path(size)
    if not warehouse.exists():
        raise FileNotFoundError(f"{warehouse} is missing: the extract bench step loads it first")
    target = ctx.workdir / "dbt_target"
    figures: dict[str, object] = {"submissions": size, "warehouse": str(warehouse)}
    started = time.perf_counter()
    first = build(warehouse, target_path=target, full_refresh=True)
    figures["build_seconds"] = round(time.perf_counter() - started, 2)
    figures["build_ok"] = first.success
    figures["nodes"] = len(first.statuses)
    if not first.success:
        figures["failures"] = first.failures[:10]
    started = time.perf_counter()
    second = build(warehouse, target_path=target)
    figures["rebuild_seconds"] = round(time.perf_counter() - started, 2)
    figures["rebuild_ok"] = second.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        figures["rows"] = {
            m: con.execute(f"select count(*) from marts.{m}").fetchone()[0] for m in MARTS if first.success
        }
    figures["target_seconds"] = TARGET_SECONDS
    figures["target_met"] = bool(first.success and figures["build_seconds"] <= TARGET_SECONDS)
    return figures
