"""Raw-table assets: one dagster-dlt multi-asset per source over the extract step's dlt sources.

Asset keys are `raw_<source>/<table>`, exactly the keys dagster-dbt gives the dbt sources of
transform/models/staging, so lineage runs unbroken from the survey servers to the marts. A dlt resource (one
per form or sheet) also writes the form's repeat tables (`<form>__<repeat>`) and the source's metadata tables
(form_fields, form_choices, _sangam_loads). @dlt_assets declares only the resources, so this module builds the
same multi-asset from dagster-dlt's own pieces (build_dlt_asset_specs + DagsterDltResource.run) and adds
those tables, taken from the dbt sources that read them, as further outputs of the same op.
"""

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator

import dagster as dg
import duckdb
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData

from orchestration.jobs import source_group
from orchestration.resources import WAREHOUSE_POOL, SangamConfigResource
from sangam.config import SangamConfig, Source
from sangam.warehouse_lock import WarehouseLocked, retry_while_locked

log = logging.getLogger("sangam.orchestration")
METADATA_TABLES = ("form_fields", "form_choices", "form_changes", "_sangam_loads")
# Pages per dlt run for the survey servers: a long first load commits (and can resume) every chunk.
PAGES_PER_RUN = 200
MAX_RUNS = 10_000


class SangamDltTranslator(DagsterDltTranslator):
    def __init__(self, source: Source) -> None:
        self.source = source

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        name = data.resource.name
        return spec.replace_attributes(
            key=dg.AssetKey([self.source.dataset, name]),
            deps=[],
            group_name=source_group(self.source.name),
            description=f"`{self.source.dataset}.{name}` (and its repeat tables) loaded from the "
            f"{self.source.kind} source `{self.source.name}` by dlt.",
            kinds={"dlt", "duckdb"},
            tags={"sangam/source": self.source.name},
        )


@contextlib.contextmanager
def _placeholder_secrets(source: Source) -> Iterator[None]:
    """Definitions must load without the secrets (the UI, CI); the source built here only names the
    resources. Runs build their own source with the real secrets."""
    missing = [env for env in source.secret_envs if not os.environ.get(env)]
    os.environ.update({env: "unset-at-definition-time" for env in missing})
    try:
        yield
    finally:
        for env in missing:
            os.environ.pop(env, None)


def _merge(runs_metadata: list[dict]) -> dict:
    merged = dict(runs_metadata[-1])
    merged["rows_loaded"] = dg.MetadataValue.int(
        sum(int(getattr(m.get("rows_loaded"), "value", m.get("rows_loaded")) or 0) for m in runs_metadata)
    )
    return merged


def _table_rows(pipeline, table: str) -> dict[str, int]:
    """Rows normalized in the last run for `table` and its repeat tables."""
    try:
        counts = pipeline.last_trace.last_normalize_info.row_counts
    except AttributeError:
        return {}
    return {t: n for t, n in counts.items() if t == table or t.startswith(f"{table}__")}


def _stored_rows(pipeline, tables: list[str]) -> dict[str, int]:
    out = {}
    try:
        with pipeline.sql_client() as client:
            for t in tables:
                with contextlib.suppress(Exception):
                    out[t] = int(client.execute_sql(f'SELECT count(*) FROM "{t}"')[0][0])
    except Exception as exc:  # counting is informational: never fail a load over it
        log.debug("row count failed: %s", exc)
    return out


def build_source_assets(
    config: SangamConfig, source: Source, extra_tables: Iterable[str] = ()
) -> dg.AssetsDefinition | None:
    """The dagster-dlt assets of one source, or None when the extractor for its kind is not installed."""
    from extract.load_status import load_failure_message, mark_failed_loads
    from extract.pending import recover
    from extract.run import build_pipeline, build_source, form_outcomes, lock_source, without_forms
    from extract.tables import new_run_id, utcnow
    from extract.type_changes import changes_since, repair_pending_packages

    try:
        with _placeholder_secrets(source):
            spec_source = build_source(source, config)
    except ImportError as exc:
        log.warning("source %s: no extractor for kind %r yet (%s); its assets are left out",
                    source.name, source.kind, exc)  # fmt: skip
        return None
    spec_pipeline = build_pipeline(source, config.warehouse.path, config=config)
    bounded = source.kind in ("kobo", "odk")

    dlt_specs = build_dlt_asset_specs(spec_source, spec_pipeline, SangamDltTranslator(source))
    extra_specs = written_table_specs(source, [spec.key.path[-1] for spec in dlt_specs], extra_tables)

    @dg.multi_asset(
        name=f"extract_{source.name}",
        specs=[*dlt_specs, *extra_specs],
        pool=WAREHOUSE_POOL,
        op_tags={"sangam/source": source.name},
        # a dlt run writes every table of the source together: the op is all or nothing
        can_subset=False,
    )
    def _extract(context: dg.AssetExecutionContext, dlt: DagsterDltResource, sangam: SangamConfigResource):
        cfg = sangam.load(require_secrets=False)
        src = cfg.source(source.name)
        by_key: dict[dg.AssetKey, list[dict]] = {}
        rows: dict[dg.AssetKey, dict[str, int]] = {}
        wait, started_at = cfg.warehouse.lock_wait_s, utcnow()
        # a live run of this source (cron beside the daemon) keeps its files; a killed one's are cleaned, and
        # its pending load finished before this run extracts (dlt would otherwise only finish it)
        failed: dict[str, str] = {}  # form (table) → error of the forms that failed alone
        with lock_source(src, cfg.warehouse.path):
            pipeline = build_pipeline(src, cfg.warehouse.path, config=cfg)
            # a package normalized before a question was retyped would fail on every run: widen first
            retry_while_locked(lambda: repair_pending_packages(pipeline), cfg.warehouse.path, wait)
            if finished := recover(pipeline):
                context.log.info(f"{src.name}: finished the load of interrupted run(s) {', '.join(finished)}")
            runs = 0
            while runs < MAX_RUNS:
                limits = {"max_pages": PAGES_PER_RUN} if bounded else {}
                run_id = new_run_id(src.name)

                # a form that failed is left out of the backlog's next runs (it resumes from its cursor next
                # time)
                forms = without_forms(src, set(failed))

                def attempt(limits: dict = limits, run_id: str = run_id, forms: Source = forms) -> list:
                    # a fresh source per attempt (a failed one may have consumed pages)
                    source = build_source(forms, cfg, run_id=run_id, **limits)
                    return list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline,
                                        dagster_dlt_translator=SangamDltTranslator(src),
                                        loader_file_format="parquet"))  # fmt: skip

                # an analyst's client on warehouse.duckdb: wait for it, then fail naming its PID
                try:
                    events = retry_while_locked(attempt, cfg.warehouse.path, wait)
                except Exception as exc:
                    if isinstance(exc, WarehouseLocked):
                        raise
                    message = load_failure_message(exc, pipeline, src.name)
                    mark_failed_loads(pipeline, run_id, message or f"{type(exc).__name__}: {exc}")
                    if message:
                        raise LoadFailed(message) from exc
                    raise
                for event in events:
                    key = event.asset_key
                    by_key.setdefault(key, []).append(dict(event.metadata or {}))
                    for table, n in _table_rows(pipeline, key.path[-1]).items():
                        rows.setdefault(key, {})[table] = rows.get(key, {}).get(table, 0) + n
                runs += 1
                failed.update(form_outcomes(pipeline, run_id)[1])
                if not bounded or not _has_resume_point(pipeline, skip=set(failed)):
                    break
                context.log.info(f"{src.name}: backlog continues, run {runs + 1}")
        changes = changes_since(pipeline, started_at)
        issues = (
            sheet_issue_metadata(cfg, src) if src.kind == "spreadsheets" else form_change_metadata(cfg, src)
        )
        for key, metas in by_key.items():
            if key.path[-1] in failed:
                continue  # not materialized: the step fails below, naming it
            metadata = _merge(metas)
            metadata.update(issues.get(key.path[-1], {}))
            tables = sorted(rows.get(key, {}) | {key.path[-1]: 0})
            stored = _stored_rows(pipeline, tables)
            metadata["rows_by_table"] = dg.MetadataValue.json(rows.get(key, {}))
            metadata["stored_rows_by_table"] = dg.MetadataValue.json(stored)
            if key.path[-1] in stored:
                metadata["dagster/row_count"] = dg.MetadataValue.int(stored[key.path[-1]])
            metadata["dlt_runs"] = dg.MetadataValue.int(runs)
            retyped = [c for c in changes if f"/{key.path[-1]}: " in c]
            if retyped:
                metadata["schema_changes"] = dg.MetadataValue.json(retyped)
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        extra_keys = [spec.key for spec in extra_specs]
        stored = _stored_rows(pipeline, [k.path[-1] for k in extra_keys])
        for key in extra_keys:
            table = key.path[-1]
            if table.split("__", 1)[0] in failed:
                continue  # a failed form's repeat table
            loaded = sum(n for r in rows.values() for t, n in r.items() if t == table)
            metadata = {"rows_loaded": dg.MetadataValue.int(loaded)}
            if table in stored:
                metadata["dagster/row_count"] = dg.MetadataValue.int(stored[table])
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        if failed:
            # the other forms are loaded and materialized; the run fails so that it is seen and alerted
            raise dg.Failure(
                description=f"{src.name}: {len(failed)} form(s) failed, the others loaded: "
                + "; ".join(failed.values()),
                metadata={"failed_forms": dg.MetadataValue.json(failed)},
            )

    return _extract


def sheet_issue_metadata(config: SangamConfig, source: Source) -> dict[str, dict[str, dg.MetadataValue]]:
    """Per sheet table: what is wrong with its files now (extract.sheet_status), for its asset's metadata.
    `warnings` is what the run summary prints; the quality step's sheet checks fail on the same issues."""
    from extract.sheet_status import QUARANTINED_FILE, UNPARSED_DATE, read_current_issues

    out: dict[str, dict[str, dg.MetadataValue]] = {}
    by_table: dict[str, list] = {}
    for issue in read_current_issues(config.warehouse.path, source.dataset):
        by_table.setdefault(issue.table, []).append(issue)
    for table in [f.table for f in source.files]:
        found = by_table.get(table, []) + by_table.get("*", [])
        unparsed: dict[str, int] = {}
        for i in found:
            if i.kind == UNPARSED_DATE and i.column:
                unparsed[i.column] = unparsed.get(i.column, 0) + i.count
        out[table] = {
            "warnings": dg.MetadataValue.json([i.message for i in found]),
            "quarantined_files": dg.MetadataValue.json(
                sorted({i.file for i in found if i.kind == QUARANTINED_FILE})
            ),
            "unparsed_dates": dg.MetadataValue.json(unparsed),
        }
    return out


def form_change_metadata(config: SangamConfig, source: Source) -> dict[str, dict[str, dg.MetadataValue]]:
    """Per form: how its definition changed since the last run (extract.form_changes records it now), in
    the words the run summary and the alerts use. A form with no change gets an empty list."""
    from extract.form_changes import describe, record_form_changes

    try:
        changes = record_form_changes(config.warehouse.path, source.name, source.dataset)
    except duckdb.Error as exc:  # the load itself stands: say so on every form instead of failing it
        warning = dg.MetadataValue.json([f"form changes could not be recorded: {exc}"])
        return {form.table: {"warnings": warning} for form in source.forms}
    return {
        form.table: {
            "form_changes": dg.MetadataValue.json(describe([c for c in changes if c.form == form.table]))
        }
        for form in source.forms
    }


class LoadFailed(RuntimeError):
    """A load job failed on a table's data; the message names the source, form, column and what to do."""


def _has_resume_point(pipeline, skip: set[str] = frozenset()) -> bool:
    """A resource (other than those in `skip`) stopped at the page bound and has more to read."""
    for src in (pipeline.state.get("sources") or {}).values():
        for name, res in (src.get("resources") or {}).items():
            if name not in skip and isinstance(res, dict) and res.get("resume"):
                return True
    return False


def written_table_specs(source: Source, resources: list[str], tables: Iterable[str]) -> list[dg.AssetSpec]:
    """Specs of the tables a source's dlt run writes besides its resources' own (repeat and metadata)."""
    specs = []
    for table in sorted(set(tables) - set(resources)):
        parent = table.split("__", 1)[0]
        if parent in resources:
            description = f"`{source.dataset}.{table}`: repeat rows of `{parent}`, loaded with it."
        elif table in METADATA_TABLES or table.startswith("_sangam"):
            description = f"`{source.dataset}.{table}`: written by every load of source `{source.name}`."
        else:
            continue  # a dbt source no resource writes: not ours to claim
        specs.append(
            dg.AssetSpec(
                key=dg.AssetKey([source.dataset, table]),
                group_name=source_group(source.name),
                description=description,
                kinds={"dlt", "duckdb"},
                tags={"sangam/source": source.name},
            )
        )
    return specs


def build_extract_assets(
    config: SangamConfig, dbt_source_tables: dict[str, list[str]] | None = None
) -> tuple[list[dg.AssetsDefinition], dict[str, list[dg.AssetKey]]]:
    """(one multi-asset per source, source name → the keys of its form/sheet tables).

    `dbt_source_tables`: raw schema → the tables dbt reads from it (the repeat and metadata tables to add)."""
    assets, forms = [], {}
    for source in config.sources:
        a = build_source_assets(config, source, (dbt_source_tables or {}).get(source.dataset, []))
        if a is not None:
            assets.append(a)
            forms[source.name] = sorted(
                (k for k in a.keys if "__" not in k.path[-1] and k.path[-1] not in METADATA_TABLES
                 and not k.path[-1].startswith("_")), key=lambda k: k.to_user_string()
            )  # fmt: skip
    return assets, forms
