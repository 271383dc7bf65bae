"""The run summary the data team reads: rows loaded per source and table, models built, checks passed and
failed, published or not. Built from the run's own event log, so `make run` prints exactly what the Dagster UI
stores, and publish_serving attaches it as metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

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
    warnings: dict[str, list[str]] = field(default_factory=dict)  # source asset → what a person must fix
    form_changes: dict[str, list[str]] = field(default_factory=dict)  # form asset → its definition's changes
    models_built: list[str] = field(default_factory=list)
    checks: list[CheckLine] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "<step>: <error>" (e.g. which form failed and why)
    published: bool = False
    published_tables: dict[str, int] = field(default_factory=dict)
    superset: str = ""
    programs_off: dict[str, str] = field(default_factory=dict)  # program → why its marts are not built
    schema_changes: list[str] = field(default_factory=list)  # columns widened by a retyped question

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
            lines.append(f"  {asset:<36} {detail}" + ("  WARN" if self.warnings.get(asset) else ""))
        if self.warnings:
            lines.append("Warnings:")
        for asset, messages in sorted(self.warnings.items()):
            lines.extend(f"  {asset}: {m}" for m in messages)
        if self.form_changes:
            lines.append("Form changes:")
        for asset, changes in sorted(self.form_changes.items()):
            lines.extend(f"  {asset}: {c}" for c in changes)
        lines += [f"  type change: {c}" for c in self.schema_changes]
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
        for program, reason in sorted(self.programs_off.items()):
            lines.append(f"Program marts off: {program} ({reason})")
        return "\n".join(lines)

    def as_metadata(self) -> dict[str, dg.MetadataValue]:
        return {
            "run_summary": dg.MetadataValue.md("```\n" + self.text() + "\n```"),
            "rows_loaded": dg.MetadataValue.json(self.rows_loaded),
            "warnings": dg.MetadataValue.json(self.warnings),
            "form_changes": dg.MetadataValue.json(self.form_changes),
            "models_built": dg.MetadataValue.int(len(self.models_built)),
            "checks_passed": dg.MetadataValue.int(self.checks_passed),
            "checks_failed": dg.MetadataValue.int(len(self.checks_failed)),
            "programs_off": dg.MetadataValue.json(self.programs_off),
        }


def _value(v):
    return getattr(v, "value", v)


def root_message(error) -> str:
    """The user's exception, not Dagster's "Error occurred while executing op" wrapper around it."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


def summarize_run(instance: dg.DagsterInstance, run_id: str, config=None) -> RunSummary:
    """The run's summary from its event log; with the SangamConfig, also the program marts it turns off."""
    summary = RunSummary(run_id=run_id)
    if config is not None:
        from transform.programs import program_status

        summary.programs_off = {s.program.name: s.reason for s in program_status(config) if not s.on}
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
                if _value(md.get("form_changes")):
                    summary.form_changes[key.to_user_string()] = [str(c) for c in _value(md["form_changes"])]
                if _value(md.get("warnings")):
                    summary.warnings[key.to_user_string()] = [str(w) for w in _value(md["warnings"])]
                summary.schema_changes += list(_value(md.get("schema_changes")) or [])
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
