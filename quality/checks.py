"""Run the quality checks of one stage in one process call and append the results to dq.check_results.

    report = run_checks(warehouse_path, config, stage="raw")    # after extract, before dbt
    report = run_checks(warehouse_path, config, stage="marts")  # after dbt, before publish

Great Expectations is imported on first use and kept for the life of the process (the import costs 8–20 s).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from quality.flags import write_submission_flags
from quality.pii import scrub_record
from quality.settings import load_settings
from quality.suites import Check, Plan, build_plan
from sangam.warehouse_lock import connect

log = logging.getLogger("sangam.quality")

CHECK_RESULTS_DDL = """
CREATE SCHEMA IF NOT EXISTS dq;
CREATE TABLE IF NOT EXISTS dq.check_results (
    run_id VARCHAR NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    check_name VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    blocking BOOLEAN NOT NULL,
    passed BOOLEAN NOT NULL,
    observed_value VARCHAR,
    failing_sample VARCHAR  -- JSON text, personal fields removed
);
"""


@dataclass(frozen=True)
class CheckResult:
    name: str
    table: str
    blocking: bool
    passed: bool
    observed_value: str
    failing_sample: list[dict[str, Any]] = field(default_factory=list)
    kind: str = ""


@dataclass
class CheckReport:
    run_id: str
    stage: str
    checked_at: datetime
    results: list[CheckResult]
    duration_s: float = 0.0

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.blocking and not r.passed]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.blocking and not r.passed]

    @property
    def passed(self) -> bool:
        """True when every blocking check passed (warnings do not stop publication)."""
        return not self.blocking_failures

    def summary(self) -> str:
        failed = ", ".join(f"{r.table}: {r.name} ({r.observed_value})" for r in self.blocking_failures)
        text = (
            f"{self.stage} checks: {len(self.results)} run, {len(self.blocking_failures)} blocking failed, "
            f"{len(self.warnings)} warnings"
        )
        return f"{text}; blocking failures: {failed}" if failed else text


_gx_module: Any = None


def gx() -> Any:
    """great_expectations, imported once per process."""
    global _gx_module
    if _gx_module is None:
        started = time.perf_counter()
        import great_expectations

        _gx_module = great_expectations
        log.info(
            "imported great_expectations %s in %.1fs",
            great_expectations.__version__,
            time.perf_counter() - started,
        )
    return _gx_module


@functools.cache
def _context(docs_dir: Path | None) -> Any:
    """An ephemeral GX context, or a file context under `docs_dir` that keeps suites, validation results and
    the Data Docs site built from them. One per process: each creation costs time (and a temp folder), and
    suites and assets are named after their frames, so later runs update them in place."""
    module = gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if logging.getLogger("great_expectations").level == logging.NOTSET:
        logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO lines are internals
    if docs_dir is None:
        context = module.get_context(mode="ephemeral")
    else:
        docs_dir.mkdir(parents=True, exist_ok=True)
        context = module.get_context(mode="file", project_root_dir=str(docs_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _plain(value: Any) -> Any:
    """A JSON-safe Python value from a pandas/numpy/DuckDB one."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _frame(con: duckdb.DuckDBPyConnection, query: str) -> pd.DataFrame:
    # Through Arrow so DATE columns stay dates (pandas would turn them into midnight timestamps).
    return con.execute(query).to_arrow_table().to_pandas(date_as_object=True)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _observed(check: Check, frame: pd.DataFrame, result: dict[str, Any]) -> str:
    if check.describe == "json":
        return json.dumps(_records(frame.head(1))[0])
    if check.describe is not None:
        row = _records(frame.head(1))[0] if len(frame) else {}
        return check.describe.format(**{k: ("null" if v is None else v) for k, v in row.items()})
    if "details" in result and "mismatched" in result["details"]:
        missing = result["details"]["mismatched"].get("missing") or []
        return f"missing columns: {', '.join(missing)}" if missing else "all required columns present"
    if "unexpected_count" in result:
        count, total = result.get("unexpected_count", 0), result.get("element_count", len(frame))
        values = [_plain(v) for v in (result.get("partial_unexpected_list") or [])[:5]]
        if check.unexpected_text:
            return check.unexpected_text.format(count=count, total=total, values=values)
        text = f"{count} of {total} rows outside {_bounds(check)}"
        return f"{text}, e.g. {values}" if count else text
    return json.dumps(_plain(result.get("observed_value")), default=str)


def _bounds(check: Check) -> str:
    lo, hi = check.kwargs.get("min_value"), check.kwargs.get("max_value")
    return f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"


def _gx_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", key).strip("_")


def _validate_frame(
    context: Any, key: str, df: pd.DataFrame, checks: list[Check], run_name: str | None
) -> list[dict[str, Any]]:
    """Validate one DataFrame against the expectations of its checks; GX results in the checks' order."""
    module = gx()
    name = _gx_name(key)
    try:
        source = context.data_sources.get("sangam")
    except (KeyError, LookupError, ValueError):
        source = context.data_sources.add_pandas("sangam")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        batch_definition = asset.get_batch_definition(name)
    except KeyError:
        batch_definition = asset.add_batch_definition_whole_dataframe(name)
    suite = module.ExpectationSuite(name=name, meta={"frame": key})
    for i, check in enumerate(checks):
        severity = "blocking" if check.blocking else "warning"
        expectation = getattr(module.expectations, check.expectation)(
            **check.kwargs, meta={"i": i, "check": check.name, "table": check.table, "severity": severity}
        )
        expectation.notes = f"{severity}: {check.name} on {check.table}"
        suite.add_expectation(expectation)
    suite = context.suites.add_or_update(suite)
    result_format = {"result_format": "COMPLETE", "partial_unexpected_count": 20}
    if run_name is not None:  # through a ValidationDefinition, so the result is stored for Data Docs
        from great_expectations.core.run_identifier import RunIdentifier

        definition = context.validation_definitions.add_or_update(
            module.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        validation = definition.run(
            batch_parameters={"dataframe": df},
            result_format=result_format,
            run_id=RunIdentifier(run_name=run_name),
        )
    else:
        batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
        validation = batch.validate(suite, result_format=result_format)
    by_index: dict[int, dict[str, Any]] = {}
    for r in validation.results:
        outcome = dict(r.result)
        if r.exception_info and r.exception_info.get("raised_exception"):
            outcome["exception"] = r.exception_info.get("exception_message")
        outcome["success"] = bool(r.success)
        by_index[int(r.expectation_config.meta["i"])] = outcome
    return [by_index[i] for i in range(len(checks))]


def _failing_sample(
    con: duckdb.DuckDBPyConnection,
    check: Check,
    frame: pd.DataFrame,
    result: dict[str, Any],
    personal: set[str],
) -> list[dict[str, Any]]:
    if check.sample_sql:
        rows = _records(_frame(con, check.sample_sql))
    elif check.sample_columns and result.get("unexpected_index_list"):
        idx = list(result["unexpected_index_list"])[:5]
        cols = [c for c in check.sample_columns if c in frame.columns]
        rows = _records(frame.loc[idx, cols])
    else:
        return []
    return [scrub_record(r, personal) for r in rows]


def _execute(
    con: duckdb.DuckDBPyConnection, plan: Plan, docs_dir: Path | None, run_name: str
) -> list[CheckResult]:
    context = _context(docs_dir)
    by_frame: dict[str, list[Check]] = {}
    for check in plan.checks:
        by_frame.setdefault(check.frame, []).append(check)
    results: list[CheckResult] = []
    for key, checks in by_frame.items():
        frame = _frame(con, plan.frames[key])
        for check, outcome in zip(
            checks, _validate_frame(context, key, frame, checks, run_name if docs_dir else None), strict=True
        ):
            passed = outcome["success"]
            observed = outcome.get("exception") or _observed(check, frame, outcome)
            sample = [] if passed else _failing_sample(con, check, frame, outcome, plan.personal_columns)
            results.append(
                CheckResult(check.name, check.table, check.blocking, passed, observed, sample, check.kind)
            )
    if docs_dir is not None:
        context.build_data_docs()
    return results


def append_history(con: duckdb.DuckDBPyConnection, report: CheckReport) -> None:
    con.execute(CHECK_RESULTS_DDL)
    rows = [
        (
            report.run_id,
            report.checked_at,
            r.name,
            r.table,
            r.blocking,
            r.passed,
            r.observed_value,
            json.dumps(r.failing_sample, default=str),
        )
        for r in report.results
    ]
    if rows:
        con.executemany("INSERT INTO dq.check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def accept_row_counts(
    warehouse_path: str | Path, tables: list[str] | None = None, *, reason: str = "accepted by an operator"
) -> dict[str, int]:
    """Make the current row counts the baseline of row_count_not_dropped, after a drop that is legitimate
    (e.g. a district leaving the programme): the check compares with the last accepted count, so without
    this a real drop would block every later run. Recorded in dq.check_results as an accepted result.
    `tables`: names like "marts.mart_hmis_monthly" or "mart_hmis_monthly" (default: every checked mart)."""
    from quality.suites import list_tables, load_spec, serving_tables

    schema = load_spec()["marts"]["schema"]
    wanted = set(tables or [])
    now = datetime.now(UTC).replace(tzinfo=None)
    run_id = f"accepted-{uuid.uuid4().hex}"
    accepted: dict[str, int] = {}
    with connect(warehouse_path) as con:  # waits for the write lock (sangam.warehouse_lock)
        con.execute(CHECK_RESULTS_DDL)
        present = {t.name: t for t in list_tables(con, schema)}
        targets = []
        for entry in serving_tables():
            src_schema, name = entry["from"].split(".", 1)
            label = f"{src_schema}.{name}"
            if src_schema == schema and name in present and (not wanted or wanted & {label, name}):
                targets.append((label, present[name]))
        unknown = wanted - {label for label, _ in targets} - {t.name for _, t in targets}
        if unknown:
            raise ValueError(f"no checked mart named {', '.join(sorted(unknown))}")
        for label, table in targets:
            rows = con.execute(f"SELECT count(*) FROM {table.ref}").fetchone()[0]
            observed = json.dumps({"rows": rows, "accepted": reason})
            con.execute(
                "INSERT INTO dq.check_results VALUES (?, ?, 'row_count_not_dropped', ?, true, true, ?, '[]')",
                [run_id, now, label, observed],
            )
            accepted[label] = rows
    log.warning("row-count baselines accepted (%s): %s", reason, accepted)
    return accepted


def run_checks(
    warehouse_path: str | Path,
    config: Any = None,
    stage: str = "raw",
    *,
    run_id: str | None = None,
    docs_dir: Path | None = None,
) -> CheckReport:
    """Run every check of `stage` ("raw" or "marts") on the warehouse and append the results to
    dq.check_results. The raw stage also replaces dq.submission_flags, which dbt's mart_field_worker_weekly
    joins: run it after extract and before dbt. With `docs_dir` (e.g. quality.docs.DOCS_DIR), the GX results
    are also stored in a GX file context there and its Data Docs rebuilt."""
    settings = load_settings(config)
    started = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    with connect(warehouse_path, settings.lock_wait_s) as con:  # waits for the write lock
        plan = build_plan(con, stage, settings, now)
        run_id = run_id or uuid.uuid4().hex
        results = _execute(con, plan, docs_dir, f"{stage}-{run_id}")
        report = CheckReport(run_id, stage, now, results)
        if stage == "raw":
            write_submission_flags(con, plan, now)
        append_history(con, report)
    report.duration_s = round(time.perf_counter() - started, 2)
    log.info("%s (%.1fs)", report.summary(), report.duration_s)
    for r in report.blocking_failures + report.warnings:
        log.warning(
            "%s check %s on %s failed: %s",
            "blocking" if r.blocking else "warning",
            r.name,
            r.table,
            r.observed_value,
        )
    return report
