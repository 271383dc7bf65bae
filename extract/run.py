"""Run the configured sources: one dlt pipeline per source into DuckDB, dataset `raw_<source name>`.

`load_sources(config)` is what `python -m extract` and `make run` call; `build_source` and `build_pipeline`
are the pieces the orchestration step wraps with dagster-dlt. One failing source never stops the others;
the report says which failed and why (with every secret value scrubbed from the message).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from extract.load_status import load_failure_message, mark_failed_loads
from extract.pending import SourceBusy, recover, source_lock
from extract.tables import LOADS_SCHEMA, LOADS_TABLE, utcnow
from extract.type_changes import changes_since, repair_pending_packages
from sangam.config import (
    ConfigError,
    KoboForm,
    KoboSource,
    OdkForm,
    OdkSource,
    SangamConfig,
    Source,
    SpreadsheetSource,
    WarehouseConfig,
    secret,
)
from sangam.warehouse_lock import WarehouseLocked, connect, retry_while_locked

log = logging.getLogger("sangam.extract")

# A first load of a big form is split into runs of this many pages, each committed with its cursor, so a
# killed extraction loses at most one chunk of work.
PAGES_PER_RUN = 500
MAX_RUNS = 10_000


@dataclass
class SourceResult:
    source: str
    kind: str
    status: str  # ok | warning (loaded, but a person must look: a quarantined file, …) | partial (some forms
    # failed, the others loaded) | failed
    rows: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    runs: int = 0
    error: str | None = None
    run_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    # rows (also counted in `rows`) of the load an interrupted run left, which this run finished first
    resumed_rows: dict[str, int] = field(default_factory=dict)
    form_changes: list[str] = field(default_factory=list)  # plain words, one line per changed form version
    schema_changes: list[str] = field(default_factory=list)  # columns widened by this run (type_changes)
    failed_forms: dict[str, str] = field(default_factory=dict)  # form (table) → its error

    @property
    def ok(self) -> bool:
        """Loaded (with or without warnings)."""
        return self.status in ("ok", "warning")


@dataclass
class LoadReport:
    results: list[SourceResult]
    warehouse_path: Path

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[SourceResult]:
        return [r for r in self.results if not r.ok]

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "warehouse_path": str(self.warehouse_path),
            "sources": [asdict(r) for r in self.results],
        }

    def result(self, source: str) -> SourceResult:
        return next(r for r in self.results if r.source == source)

    def summary(self) -> str:
        lines = [f"Sangam extract → {self.warehouse_path}"]
        for r in self.results:
            status = "WARN" if r.status == "warning" else r.status.upper()
            head = f"  {r.source:<12} {r.kind:<12} {status:<7} {r.duration_s:8.1f}s"
            if r.ok or r.status == "partial":
                tables = ", ".join(f"{t}={n}" for t, n in r.rows.items()) or "nothing new"
                if r.resumed_rows:
                    resumed = ", ".join(f"{t}={n}" for t, n in r.resumed_rows.items())
                    tables += f" (incl. an interrupted run's load, finished first: {resumed})"
                lines.append(f"{head}  {tables}")
                lines += [f"      FAILED {error}" for error in r.failed_forms.values()]
            else:
                lines.append(f"{head}  {r.error}")
            lines.extend(f"      ! {w}" for w in r.warnings)
            lines.extend(f"      form changed: {c}" for c in r.form_changes)
            lines.extend(f"      type change: {c}" for c in r.schema_changes)
        warned = sum(r.status == "warning" for r in self.results)
        if not self.ok:
            lines.append(f"{len(self.failed)} source(s) failed.")
        else:
            lines.append(f"All sources loaded, {warned} with warnings." if warned else "All sources loaded.")
        return "\n".join(lines)


def secret_values(source_cfg: Source) -> list[str]:
    """The values of the source's secrets (for scrubbing messages); missing ones are skipped."""
    values = []
    for env in source_cfg.secret_envs:
        with contextlib.suppress(ConfigError):
            values.append(secret(env))
    return values


def scrub(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


def _form(form: KoboForm | OdkForm, **key: str) -> dict:
    """A configured form as the dlt sources take it (plain values: dlt may keep them in its config)."""
    out = {**key, "table": form.table}
    if form.xlsform:
        out["xlsform"] = str(form.xlsform)
    return out


def build_source(source_cfg: Source, config: SangamConfig | None = None, *, max_pages: int | None = None,
                 **overrides):  # fmt: skip
    """The dlt source of one configured source, secrets read from the environment now."""
    personal = tuple(config.personal_fields) if config else ()
    if isinstance(source_cfg, KoboSource | OdkSource):
        server = dict(
            url=source_cfg.url, source_name=source_cfg.name, page_size=source_cfg.page_size,
            overlap_minutes=source_cfg.overlap_minutes, personal_fields=personal,
            timeout_s=source_cfg.timeout_s, max_retries=source_cfg.max_retries, max_pages=max_pages,
        )  # fmt: skip
    if isinstance(source_cfg, KoboSource):
        from extract.kobo import kobo_source

        kwargs = dict(
            server,
            forms=[_form(f, uid=f.uid) for f in source_cfg.forms],
            token=secret(source_cfg.token_env),
            reconcile_deletes_every_hours=source_cfg.reconcile_deletes_every_hours,
        )
        kwargs.update(overrides)
        return kobo_source(**kwargs)
    if isinstance(source_cfg, OdkSource):
        from extract.odk import odk_source

        kwargs = dict(
            server,
            project_id=source_cfg.project_id,
            forms=[_form(f, xml_form_id=f.xml_form_id) for f in source_cfg.forms],
            email=secret(source_cfg.email_env),
            password=secret(source_cfg.password_env),
        )
        kwargs.update(overrides)
        return odk_source(**kwargs)
    if isinstance(source_cfg, SpreadsheetSource):
        from extract.sheets import spreadsheet_source

        kwargs = dict(
            path=str(source_cfg.path),
            files=[
                {
                    "pattern": f.pattern,
                    "table": f.table,
                    "header_row": f.header_row,
                    "required_columns": list(f.required_columns),
                    "column_map": dict(f.column_map),
                    "sheet": f.sheet,
                    "date_order": f.date_order,
                }
                for f in source_cfg.files
            ],
            source_name=source_cfg.name,
        )
        kwargs.update(overrides)
        kwargs.pop("max_pages", None)
        return spreadsheet_source(**kwargs)
    raise ConfigError(f"sources: unknown source kind {getattr(source_cfg, 'kind', None)!r}")


def build_pipeline(
    source_cfg: Source,
    warehouse_path: Path | str | None = None,
    pipelines_dir: Path | str | None = None,
    config: SangamConfig | None = None,
) -> dlt.Pipeline:
    """The dlt pipeline of one source: DuckDB at the warehouse path, dataset raw_<name>."""
    if warehouse_path is None:
        if config is None:
            from sangam.config import load_config

            config = load_config(require_secrets=False)
        warehouse_path = config.warehouse.path
    warehouse_path = Path(warehouse_path)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    pipelines_dir = _pipelines_dir(warehouse_path, pipelines_dir)
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    # dlt keeps every loaded file and the last staged copy of each merged table by default: at 1M
    # submissions that is ~170 MB of parquet per first load, and a second copy of personal answers in the
    # `raw_*_staging` schemas of the warehouse
    dlt.config["load.delete_completed_jobs"] = True
    dlt.config["load.truncate_staging_dataset"] = True
    return dlt.pipeline(
        pipeline_name=_pipeline_name(source_cfg),
        destination=dlt.destinations.duckdb(credentials=str(warehouse_path)),
        dataset_name=source_cfg.dataset,
        pipelines_dir=str(pipelines_dir),
    )


def _pipelines_dir(warehouse_path: Path, pipelines_dir: Path | str | None) -> Path:
    # one working dir per warehouse file: two warehouses side by side never share cursors
    if pipelines_dir:
        return Path(pipelines_dir)
    return WarehouseConfig(warehouse_path, warehouse_path, warehouse_path).dlt_pipelines_dir


def _pipeline_name(source_cfg: Source) -> str:
    return f"sangam_{source_cfg.name}"


def lock_source(source_cfg: Source, warehouse_path: Path | str, pipelines_dir: Path | str | None = None):
    """The lock a run holds on one source's dlt pipeline (see extract.pending.source_lock)."""
    folder = _pipelines_dir(Path(warehouse_path), pipelines_dir)
    return source_lock(folder / f"{_pipeline_name(source_cfg)}.lock", source_cfg.name)


def _pending_resources(pipeline: dlt.Pipeline) -> list[str]:
    """Resources whose last run stopped at the page bound (their state holds a resume point)."""
    sources = pipeline.state.get("sources") or {}
    pending = []
    for src in sources.values():
        for name, res in (src.get("resources") or {}).items():
            if isinstance(res, dict) and res.get("resume"):
                pending.append(name)
    return pending


def _table_counts(pipeline: dlt.Pipeline, run_id: str) -> dict[str, int]:
    """Rows stored per table by this run, as its `_sangam_loads` rows say (tombstones not counted)."""
    try:
        with pipeline.sql_client() as c:
            table = c.make_qualified_table_name(LOADS_TABLE)
            rows = c.execute_sql(
                f"SELECT table_name, sum(rows) FROM {table} WHERE load_id = %s AND status = 'ok' "
                "AND table_name IS NOT NULL GROUP BY 1 ORDER BY 1",
                run_id,
            )
    except Exception:  # no loads table yet
        return {}
    return {r[0]: int(r[1]) for r in rows or []}


def run_source(
    source_cfg: Source,
    config: SangamConfig,
    warehouse_path: Path | None = None,
    pipelines_dir: Path | None = None,
    pages_per_run: int | None = PAGES_PER_RUN,
    **overrides,
) -> SourceResult:
    """Load one source to completion (several bounded runs for a big backlog); never raises."""
    started = time.perf_counter()
    started_at = utcnow()
    result = SourceResult(source=source_cfg.name, kind=source_cfg.kind, status="ok")
    secrets = secret_values(source_cfg)
    warehouse_path = Path(warehouse_path or config.warehouse.path)
    held = contextlib.ExitStack()
    lock_wait = config.warehouse.lock_wait_s
    pipeline: dlt.Pipeline | None = None
    try:
        held.enter_context(lock_source(source_cfg, warehouse_path, pipelines_dir))
        pipeline = build_pipeline(source_cfg, warehouse_path, pipelines_dir, config)
        # a package normalized before a question was retyped would fail on every run: widen first
        retry_while_locked(lambda: repair_pending_packages(pipeline), warehouse_path, lock_wait)
        _finish_interrupted(pipeline, result)
        bounded = pages_per_run if source_cfg.kind in ("kobo", "odk") else None
        loaded_forms: set[str] = set()
        while result.runs < MAX_RUNS:
            # unique even for two runs in one clock tick: the counts and errors of a run are read back by it
            run_id = result.run_id = f"{source_cfg.name}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
            limits = {"max_pages": bounded} if bounded else {}
            # a form that failed is not asked again by the backlog's next runs: it waits for the next call
            cfg = without_forms(source_cfg, set(result.failed_forms))

            def attempt(run_id: str = run_id, limits: dict = limits, cfg: Source = cfg) -> None:
                # a fresh source per attempt: a failed attempt may have consumed the last one's pages
                source = build_source(cfg, config, run_id=run_id, **limits, **overrides)
                pipeline.run(source, loader_file_format="parquet")

            retry_while_locked(attempt, warehouse_path, lock_wait)
            result.runs += 1
            ok_forms, failed = form_outcomes(pipeline, run_id)
            loaded_forms |= ok_forms
            result.failed_forms.update({form: scrub(error, secrets) for form, error in failed.items()})
            for table, n in _table_counts(pipeline, run_id).items():
                result.rows[table] = result.rows.get(table, 0) + n
            result.schema_changes = changes_since(pipeline, started_at)
            if not bounded or not set(_pending_resources(pipeline)) - set(result.failed_forms):
                break
            log.info("%s: continuing the backlog (run %d)", source_cfg.name, result.runs + 1)
        if result.failed_forms:
            result.status = "partial" if loaded_forms - set(result.failed_forms) else "failed"
            result.error = "; ".join(result.failed_forms.values())
    except Exception as exc:  # one failing source must not stop the others
        result.status = "failed"
        described = pipeline and load_failure_message(exc, pipeline, source_cfg.name)
        result.error = scrub(described or _describe(exc), secrets)
        log.error("%s: failed: %s", source_cfg.name, result.error)
        if pipeline is not None and not isinstance(exc, WarehouseLocked | SourceBusy):
            mark_failed_loads(pipeline, result.run_id, result.error)  # `ok` rows of what did not load
        if not isinstance(exc, SourceBusy):  # the live run records its own loads
            # the warehouse still locked after the wait: recording the failure would wait for nothing
            wait = 0 if isinstance(exc, WarehouseLocked) else lock_wait
            _record_failure(warehouse_path, source_cfg, started_at, result, wait)
    finally:
        held.close()
    if isinstance(source_cfg, SpreadsheetSource):
        _sheet_warnings(warehouse_path, source_cfg, result)
    elif result.runs:
        _form_changes(warehouse_path, source_cfg, result)
    result.duration_s = round(time.perf_counter() - started, 3)
    for counts in (result.rows, result.resumed_rows):
        for table in list(counts):
            if table.startswith("_sangam") or table in ("form_fields", "form_choices"):
                counts.pop(table)
    return result


def _sheet_warnings(warehouse_path: Path, source_cfg: SpreadsheetSource, result: SourceResult) -> None:
    """What a person must look at in the source's files now (extract.sheet_status), as warnings."""
    from extract.sheet_status import read_current_issues

    result.warnings = [str(i) for i in read_current_issues(warehouse_path, source_cfg.dataset)]
    if result.warnings:
        for w in result.warnings:
            log.warning("%s: %s", source_cfg.name, w)
        if result.status == "ok":
            result.status = "warning"


def _finish_interrupted(pipeline: dlt.Pipeline, result: SourceResult) -> None:
    """Clean and load what a killed run left (dlt would load it instead of extracting), counting its rows."""
    for run_id in recover(pipeline):
        for table, n in _table_counts(pipeline, run_id).items():
            result.resumed_rows[table] = result.resumed_rows.get(table, 0) + n
            result.rows[table] = result.rows.get(table, 0) + n


def _form_changes(warehouse_path: Path, source_cfg: Source, result: SourceResult) -> None:
    """Record how the source's form definitions changed since the last run (extract.form_changes)."""
    from extract.form_changes import describe, record_form_changes

    try:
        result.form_changes = describe(
            record_form_changes(warehouse_path, source_cfg.name, source_cfg.dataset)
        )
    except duckdb.Error as exc:  # the load itself stands: say so instead of failing it
        result.warnings.append(f"form changes could not be recorded: {exc}")
        log.warning("%s: form changes could not be recorded: %s", source_cfg.name, exc)
        if result.status == "ok":
            result.status = "warning"


def form_outcomes(pipeline: dlt.Pipeline, run_id: str) -> tuple[set[str], dict[str, str]]:
    """(forms loaded by this run, form → error of those that failed alone in it), from `_sangam_loads`."""
    try:
        with pipeline.sql_client() as c:
            table = c.make_qualified_table_name(LOADS_TABLE)
            rows = c.execute_sql(
                f"SELECT form, status, error FROM {table} WHERE load_id = %s ORDER BY finished_at", run_id
            )
    except Exception:  # no loads table yet
        return set(), {}
    ok = {r[0] for r in rows or [] if r[1] == "ok"}
    return ok, {r[0]: r[2] for r in rows or [] if r[1] == "failed"}


def without_forms(source_cfg: Source, forms: set[str]) -> Source:
    """The source without the forms (by table name) in `forms`."""
    if not forms or not isinstance(source_cfg, KoboSource | OdkSource):
        return source_cfg
    return dataclasses.replace(source_cfg, forms=tuple(f for f in source_cfg.forms if f.table not in forms))


def _describe(exc: BaseException) -> str:
    """The innermost useful message (dlt wraps resource errors in pipeline step errors)."""
    from extract.http import ExtractError

    chain = [exc]
    e: BaseException | None = exc
    while (e := (e.__cause__ or e.__context__)) is not None and len(chain) < 20:
        chain.append(e)
    for e in chain:
        if isinstance(e, ExtractError | ConfigError | WarehouseLocked):
            return str(e)
    inner = chain[-1]
    return f"{type(inner).__name__}: {inner}"[:1000]


def _record_failure(warehouse_path: Path, source_cfg: Source, started_at, result: SourceResult,
                    lock_wait_s: float | None = None) -> None:  # fmt: skip
    """A failed run still leaves a `_sangam_loads` row (the pipeline itself stored nothing)."""
    row = {
        "load_id": result.run_id, "source": source_cfg.name, "form": "*", "table_name": None, "rows": 0,
        "pages": None,
        "started_at": started_at, "finished_at": utcnow(), "duration_s": None, "cursor": None,
        "status": "failed", "error": result.error,
    }  # fmt: skip
    try:
        with connect(warehouse_path, lock_wait_s) as con:
            con.register("failed_load", pa.Table.from_pylist([row], schema=LOADS_SCHEMA))
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{source_cfg.dataset}"')
            name = f'"{source_cfg.dataset}"."{LOADS_TABLE}"'
            con.execute(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT * FROM failed_load LIMIT 0")
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM failed_load")
    except (duckdb.Error, WarehouseLocked) as exc:
        log.warning("%s: could not record the failed load: %s", source_cfg.name, exc)


def load_sources(
    config: SangamConfig,
    only: list[str] | None = None,
    warehouse_path: Path | str | None = None,
    pipelines_dir: Path | str | None = None,
    pages_per_run: int | None = PAGES_PER_RUN,
) -> LoadReport:
    """Load every configured source (or those named in `only`), each in its own dlt pipeline."""
    if only:
        unknown = [n for n in only if n not in config.source_names]
        if unknown:
            raise ConfigError(f"sources: no source named {', '.join(map(repr, unknown))}")
    selected = [s for s in config.sources if not only or s.name in only]
    wh = Path(warehouse_path) if warehouse_path else config.warehouse.path
    results = []
    for src in selected:
        log.info("%s: extracting (%s)", src.name, src.kind)
        results.append(
            run_source(src, config, wh, Path(pipelines_dir) if pipelines_dir else None, pages_per_run)
        )
    return LoadReport(results=results, warehouse_path=wh)
