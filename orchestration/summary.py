"""The run summary the data team reads: rows loaded per source and table, models built, checks passed and
failed, published or not. Built from the run's own event log, so `make run` prints exactly what the Dagster UI
stores, and publish_serving attaches it as metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from orchestration.alerts import _root_message as root_message

PUBLISH_KEY = dg.AssetKey(["serving", "published_marts"])
NON_MODEL_PREFIXES = ("raw_", "serving", "superset", "exports")


@dataclass
class CheckLine:
    asset: str
    check: str
    passed: bool
    severity: str


@dataclass
class RunSummary:
    run_id: str
    status: str = ""
    rows_loaded: dict[str, dict[str, int]] = field(default_factory=dict)  # source asset → table → rows
    models_built: list[str] = field(default_factory=list)
    checks: list[CheckLine] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "<step>: <error>" (e.g. which form failed and why)
    published: bool = False
    published_tables: dict[str, int] = field(default_factory=dict)
    superset: str = ""

    @property
    def checks_passed(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def checks_failed(self) -> list[CheckLine]:
        return [c for c in self.checks if not c.passed]

    def text(self) -> str:
        lines = [f"Sangam run {self.run_id}" + (f" — {self.status}" if self.status else "")]
        lines.append("Rows loaded:")
        if not self.rows_loaded:
            lines.append("  (none)")
        for asset, tables in sorted(self.rows_loaded.items()):
            detail = ", ".join(f"{t}={n}" for t, n in sorted(tables.items())) or "nothing new"
            lines.append(f"  {asset:<36} {detail}")
        lines.append(f"Models built: {len(self.models_built)}")
        failed = self.checks_failed
        lines.append(f"Checks: {self.checks_passed} passed, {len(failed)} failed")
        for c in failed:
            lines.append(f"  FAILED ({c.severity}) {c.asset} {c.check}")
        if self.failed_steps:
            lines.append("Failed steps: " + ", ".join(self.failed_steps))
            lines += [f"  {failure}" for failure in self.failures]
        if self.published:
            lines.append(f"Published: yes ({len(self.published_tables)} tables to serving.duckdb)")
        else:
            lines.append("Published: NO (serving.duckdb left as it was)")
        if self.superset:
            lines.append(f"Superset: {self.superset}")
        return "\n".join(lines)

    def as_metadata(self) -> dict[str, dg.MetadataValue]:
        return {
            "run_summary": dg.MetadataValue.md("```\n" + self.text() + "\n```"),
            "rows_loaded": dg.MetadataValue.json(self.rows_loaded),
            "models_built": dg.MetadataValue.int(len(self.models_built)),
            "checks_passed": dg.MetadataValue.int(self.checks_passed),
            "checks_failed": dg.MetadataValue.int(len(self.checks_failed)),
        }


def _value(v):
    return getattr(v, "value", v)


def summarize_run(instance: dg.DagsterInstance, run_id: str) -> RunSummary:
    summary = RunSummary(run_id=run_id)
    run = instance.get_run_by_id(run_id)
    if run is not None:
        summary.status = run.status.value
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            key = mat.asset_key
            path = key.path
            md = mat.metadata or {}
            if path[0].startswith("raw_"):
                # a form asset reports its own table and its repeat tables; those have their own assets
                if "rows_by_table" in md:
                    rows = _value(md["rows_by_table"]) or {}
                    summary.rows_loaded[key.to_user_string()] = {k: int(v) for k, v in rows.items()}
            elif key == PUBLISH_KEY:
                summary.published = True
                summary.published_tables = dict(_value(md.get("tables")) or {})
            elif path[0] == "superset":
                summary.superset = str(_value(md.get("status")) or "refreshed")
            elif not path[0].startswith(NON_MODEL_PREFIXES):
                summary.models_built.append(key.to_user_string())
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            summary.checks.append(
                CheckLine(ev.asset_key.to_user_string(), ev.check_name, bool(ev.passed), ev.severity.value)
            )
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            summary.failed_steps.append(event.step_key or "?")
            error = event.step_failure_data.error
            if error is not None:
                summary.failures.append(f"{event.step_key}: {root_message(error)}")
    return summary
