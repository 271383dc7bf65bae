"""What a killed run leaves in a source's dlt working folder; the next run cleans, finishes and counts it.

Left alone, dlt gets three things wrong after a kill -9:
- `pipeline.run` finishes a pending load package and then returns without extracting (new data came one run
  late, and the runner reported "nothing new" though the package committed rows);
- the half-written files of a killed extract (`normalize/<random>/`) or normalize (`load/new/`) step stay
  on disk for ever;
- a load job whose rows the destination committed just before the kill (before dlt noted it) runs again,
  doubling its rows in an append table or in a staging table that the merge then copies twice.

`source_lock` tells a dead run's files from a live one's: a live run holds an flock on the source's lock
file, and the kernel drops it when the process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dlt
import pyarrow.parquet as pq
from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName

from extract.http import ExtractError
from extract.tables import LOADS_TABLE

log = logging.getLogger("sangam.extract")

# dlt's own folders under `normalize/`; any other folder there is an ExtractStorage of one run
NORMALIZE_KEEP = {"extracted"}


class SourceBusy(ExtractError):
    """Another live run is extracting the same source into the same warehouse."""


@contextlib.contextmanager
def source_lock(path: Path, source: str) -> Iterator[None]:
    """Hold the source's lock file for a run; fail at once, naming the holder's PID, if another run holds it.

    Taken before dlt opens the pipeline: dlt wipes a working folder that has no state yet (a first run).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise SourceBusy(
                f"{source}: another extract run (PID {holder}) is loading this source into the same "
                f"warehouse; this run left it alone. Wait for it to finish (lock file {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the flock; the file stays (deleting it would race a waiting run)


def recover(pipeline: dlt.Pipeline) -> list[str]:
    """Clean and finish what killed runs left (hold `source_lock`); the run ids of the loads finished."""
    clean_dead_run_files(pipeline)
    return finish_pending(pipeline)


def clean_dead_run_files(pipeline: dlt.Pipeline) -> int:
    """Remove what killed extract and normalize steps left half-written; the bytes removed.

    Call only while holding `source_lock`: then no live run of this pipeline owns any of these files.
    """
    work = Path(pipeline.working_dir)
    removed = 0
    normalize = work / "normalize"
    if normalize.is_dir():
        for child in normalize.iterdir():
            if child.is_dir() and child.name not in NORMALIZE_KEEP:
                removed += _remove(child)
    load = work / "load"
    # normalize writes a package into load/new/<id> and renames it to load/normalized/<id> when done; it
    # rebuilds the package from normalize/extracted/<id>, which it deletes only after that rename
    if (load / "new").is_dir():
        for child in (load / "new").iterdir():
            removed += _remove(child)
    done = {
        p.name for sub in ("normalized", "loaded") if (load / sub).is_dir() for p in (load / sub).iterdir()
    }
    if (normalize / "extracted").is_dir():
        for child in (normalize / "extracted").iterdir():
            if child.name in done:
                removed += _remove(child)
    if removed:
        log.warning("%s: removed %.1f MB of files a killed run left in %s", pipeline.pipeline_name,
                    removed / 1e6, work)  # fmt: skip
    return removed


def _remove(path: Path) -> int:
    if not path.is_dir():
        size = path.stat().st_size if path.exists() else 0
        path.unlink(missing_ok=True)
        return size
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    shutil.rmtree(path, ignore_errors=True)
    return size


def finish_pending(pipeline: dlt.Pipeline) -> list[str]:
    """Normalize and load the packages a killed run left, so the caller's run extracts new data right after.

    Returns the Sangam run ids (`_sangam_loads.load_id`) of the finished packages, for the report.
    """
    if not pipeline.has_pending_data:
        return []
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    storage = pipeline._get_load_storage()  # dlt offers no public access to a package's job files
    packages = storage.normalized_packages
    run_ids: list[str] = []
    to_load = False
    for load_id in pipeline.list_normalized_load_packages():
        if packages.has_abort_flag(load_id):  # `dlt pipeline … abort-packages` asked dlt to drop it
            continue
        log.warning("%s: finishing load package %s that an interrupted run left", pipeline.pipeline_name,
                    load_id)  # fmt: skip
        run_ids.extend(i for i in _run_ids(packages, load_id) if i not in run_ids)
        if _already_loaded(pipeline, load_id):
            _archive(pipeline, storage, load_id)
        else:
            _undo_uncertain_jobs(pipeline, packages, load_id)
            to_load = True
    if to_load:
        pipeline.load()
    return run_ids


def _job_path(packages: PackageStorage, load_id: str, state: str, file_name: str) -> str:
    return packages.storage.make_full_path(packages.get_job_file_path(load_id, state, file_name))  # type: ignore[arg-type]


def _run_ids(packages: PackageStorage, load_id: str) -> list[str]:
    ids: list[str] = []
    for state, job in packages.list_all_jobs_with_states(load_id):
        if job.table_name == LOADS_TABLE and job.file_format == "parquet":
            table = pq.read_table(_job_path(packages, load_id, state, job.file_name()), columns=["load_id"])
            ids.extend(i for i in table.column("load_id").to_pylist() if i and i not in ids)
    return ids


def _already_loaded(pipeline: dlt.Pipeline, load_id: str) -> bool:
    """The kill came after dlt recorded the package in `_dlt_loads` but before it archived it."""
    with pipeline.sql_client() as c:
        if not _exists(c, "_dlt_loads"):  # nothing was ever loaded
            return False
        rows = c.execute_sql(
            f"SELECT 1 FROM {c.make_qualified_table_name('_dlt_loads')} WHERE load_id = %s", load_id
        )
    return bool(rows)


def _exists(c, table_name: str) -> bool:
    """Whether the table is in the client's dataset (the staging one inside `with_staging_dataset`)."""
    rows = c.execute_sql(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        c.dataset_name,
        table_name,
    )
    return bool(rows)


def _archive(pipeline: dlt.Pipeline, storage, load_id: str) -> None:
    """What dlt does after recording a load: empty the staging tables, archive the package, drop its files."""
    schema = storage.normalized_packages.load_schema(load_id)
    staged = {
        job.table_name
        for _, job in storage.normalized_packages.list_all_jobs_with_states(load_id)
        if _staged(schema, job.table_name)
    }
    _truncate_staging(pipeline, staged)
    storage.complete_load_package(load_id, False)
    storage.loaded_packages.remove_completed_jobs(load_id)


def _staged(schema, table_name: str) -> bool:
    """dlt loads a merge table into the staging dataset first (DuckDB: every merge strategy we use)."""
    table = schema.tables.get(table_name) or {}
    return table.get("write_disposition") == "merge"


def _truncate_staging(pipeline: dlt.Pipeline, tables: set[str]) -> None:
    if not tables:
        return
    with pipeline.sql_client() as c, c.with_staging_dataset():
        for t in sorted(tables):
            if _exists(c, t):  # a staging table not created yet holds nothing
                c.execute_sql(f"DELETE FROM {c.make_qualified_table_name(t)}")


def _undo_uncertain_jobs(pipeline: dlt.Pipeline, packages: PackageStorage, load_id: str) -> None:
    """Make every table with a started job (committed or not: dlt cannot tell) load again from nothing.

    A staged table gets its staging table emptied and all its copy jobs re-run (the merge that follows is
    one transaction replacing by key, so running it again is harmless); so does an append table whose rows
    carry the package id (dlt's state table). Any other append table gets the rows of its uncertain files
    deleted before they run again.
    """
    schema = packages.load_schema(load_id)
    jobs = packages.list_all_jobs_with_states(load_id)
    started = [job for state, job in jobs if state == "started_jobs" and job.file_format != "sql"]
    if not started:
        return
    staged = {j.table_name for j in started if _staged(schema, j.table_name)}
    by_load_id = {j.table_name for j in started if j.table_name not in staged and _has_load_id(schema, j)}
    _truncate_staging(pipeline, staged)
    for table in by_load_id:
        _delete_rows(pipeline, table, "_dlt_load_id = %s", load_id)
    reload = staged | by_load_id
    for state, job in jobs:
        if job.table_name in reload and state == "completed_jobs" and job.file_format != "sql":
            # back to started: dlt re-runs every started job of a package it resumes
            packages.storage.rename_tree(
                packages.get_job_file_path(load_id, state, job.file_name()),
                packages.get_job_file_path(load_id, "started_jobs", job.file_name()),
            )
    for job in started:
        if job.table_name in reload:
            # a marker says the destination committed the job: dlt would skip it, but its rows are gone
            packages.clear_pending_transition(load_id, job.file_name())
        elif packages.load_pending_transition(load_id, job.file_name()) is None:
            _delete_file_rows(
                pipeline, schema, job, _job_path(packages, load_id, "started_jobs", job.file_name())
            )
    log.info("%s: package %s: loading %s again", pipeline.pipeline_name, load_id,
             ", ".join(sorted({j.table_name for j in started})))  # fmt: skip


def _has_load_id(schema, job: ParsedLoadJobFileName) -> bool:
    return "_dlt_load_id" in ((schema.tables.get(job.table_name) or {}).get("columns") or {})


def _delete_rows(pipeline: dlt.Pipeline, table_name: str, where: str, *args) -> None:
    with pipeline.sql_client() as c:
        if _exists(c, table_name):  # else nothing of it was loaded
            c.execute_sql(f"DELETE FROM {c.make_qualified_table_name(table_name)} t WHERE {where}", *args)


def _delete_file_rows(pipeline: dlt.Pipeline, schema, job: ParsedLoadJobFileName, path: str) -> None:
    """Delete from an append table the rows of one job file, in case the killed run had committed them
    (every append table of ours has a per-run timestamp in each row, so no other run's row matches)."""
    if job.file_format != "parquet":
        log.warning("%s: cannot tell whether %s was loaded before the kill; it loads again", job.table_name,
                    path)  # fmt: skip
        return
    columns = set((schema.tables.get(job.table_name) or {}).get("columns") or {})
    cols = [f.name for f in pq.read_schema(path) if f.name in columns]
    match = " AND ".join(f'p."{col}" IS NOT DISTINCT FROM t."{col}"' for col in cols)
    _delete_rows(pipeline, job.table_name, f"EXISTS (SELECT 1 FROM read_parquet(%s) p WHERE {match})", path)
