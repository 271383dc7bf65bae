"""What a failed load really stored (so `_sangam_loads` never says `ok` for rows not in the warehouse), and
one clear line for a load job that failed.

A source's rows and its `_sangam_loads` rows travel in one dlt load package, but dlt loads each table on its
own: the append to `_sangam_loads` can be committed while a form's merge fails. After a failed run the rows of
that run whose table still has unfinished jobs in a pending package are marked `failed` with the error.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import dlt

from extract.tables import LOADS_TABLE

log = logging.getLogger("sangam.extract")

_UNFINISHED = ("new_jobs", "started_jobs", "failed_jobs")
_COLUMN = re.compile(r"(?:source column|column) \"?([A-Za-z_][A-Za-z0-9_]*)")


def unloaded_tables(pipeline: dlt.Pipeline) -> set[str]:
    """Tables with a job not yet loaded in any pending package of the pipeline."""
    tables: set[str] = set()
    for load_id in pipeline.list_normalized_load_packages():
        jobs = pipeline.get_load_package_info(load_id).jobs
        for state in _UNFINISHED:
            tables.update(job.job_file_info.table_name for job in jobs.get(state) or [])
    return tables


def mark_failed_loads(pipeline: dlt.Pipeline, run_id: str | None, error: str) -> int:
    """Mark the `ok` rows of run `run_id` whose table did not load as `failed` with `error`; returns how
    many. Never raises (the run has failed already; this only corrects its record)."""
    if not run_id:
        return 0
    try:
        tables = sorted(unloaded_tables(pipeline))
        if not tables:
            return 0
        with pipeline.sql_client() as client:
            name = client.make_qualified_table_name(LOADS_TABLE)
            marks = ", ".join(["%s"] * len(tables))
            rows = client.execute_sql(
                f"UPDATE {name} SET status = 'failed', error = %s "
                f"WHERE load_id = %s AND status = 'ok' AND table_name IN ({marks}) RETURNING 1",
                f"not loaded: {error}"[:2000], run_id, *tables,
            )  # fmt: skip
        return len(rows or [])
    except Exception as exc:  # no loads table yet, or the warehouse is unreachable
        log.warning("%s: could not mark the failed load in %s: %s", pipeline.pipeline_name, LOADS_TABLE, exc)
        return 0


def load_failure_message(exc: BaseException, pipeline: dlt.Pipeline, source: str) -> str | None:
    """One line for a load that failed on a table's data (dlt's own message is a traceback): the source,
    form, table and column, and what to do. None when `exc` is not a failed load step."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    e: BaseException | None = exc
    for _ in range(20):
        if e is None or (isinstance(e, PipelineStepFailed) and e.step == "load"):
            break
        e = e.__cause__ or e.__context__
    if not isinstance(e, PipelineStepFailed) or not e.load_id:
        return None
    try:
        jobs = pipeline.get_load_package_info(e.load_id).jobs
    except Exception:  # the package is gone: nothing pending to explain
        return None
    retried = [j.job_file_info.table_name for state in _UNFINISHED for j in jobs.get(state) or []
               if j.job_file_info.retry_count > 0 or state == "failed_jobs"]  # fmt: skip
    if not retried:
        return None
    table = retried[0]
    inner: BaseException = e
    while (nxt := inner.__cause__ or inner.__context__) is not None and nxt is not e:
        inner = nxt  # the database's own error, under dlt's wrappers
    reason = next((ln.strip() for ln in str(inner).splitlines() if ln.strip()), type(inner).__name__)
    column = _COLUMN.search(reason)
    return (
        f"{source}/{table.split('__', 1)[0]}: table {table}"
        + (f", column {column.group(1)}" if column else "")
        + f" could not be loaded ({reason[:300]}). Load package {e.load_id} stays pending and is retried by "
        f"the next run; to give it up (its submissions are then read again from the server): "
        f"dlt pipeline --pipelines-dir {Path(pipeline.pipelines_dir)} {pipeline.pipeline_name} abort-packages"
    )
