"""Write-audit-publish: copy the shareable marts to warehouse/serving.duckdb when the blocking checks passed.

The copy is written to a temporary file in the serving file's folder and swapped in with os.replace(), which
is atomic on POSIX: a reader (Superset, read-only) sees either the old file or the new one, never a
half-written file, and keeps reading the old one if it had it open. When a blocking check failed, nothing is
written: the previous serving file stays byte-for-byte as it was.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from quality.checks import CheckReport, CheckResult, run_checks
from quality.pii import AADHAAR_VALUE, PHONE_VALUE, is_personal_column
from quality.settings import QualitySettings, load_settings
from quality.suites import load_spec, personal_columns, q, serving_tables

log = logging.getLogger("sangam.quality")


class PublishError(RuntimeError):
    """Publication refused; serving.duckdb was left untouched."""


class BlockingCheckFailed(PublishError):
    def __init__(self, failures: list[CheckResult]):
        self.failures = failures
        named = "; ".join(f"{r.name} on {r.table}: observed {r.observed_value}" for r in failures)
        super().__init__(f"not published: {len(failures)} blocking check(s) failed: {named}")


@dataclass(frozen=True)
class ServingPaths:
    warehouse_path: Path
    serving_path: Path


@dataclass
class PublishResult:
    serving_path: Path
    tables: dict[str, int]  # published table -> rows
    published_at: datetime
    size_bytes: int
    duration_s: float
    warnings: list[CheckResult] = field(default_factory=list)


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _copy(con: duckdb.DuckDBPyConnection, settings: QualitySettings, personal: set[str]) -> dict[str, int]:
    """Copy each table of serving_tables.yaml from the attached warehouse `wh` into the current temp file."""
    rows: dict[str, int] = {}
    for entry in serving_tables():
        name, source = entry["name"], entry["from"]
        if entry.get("program") in settings.programs_off:
            log.info("serving table %s not published: program %s is off", name, entry["program"])
            continue
        schema, table = source.split(".", 1)
        columns = [
            c
            for (c,) in con.execute(
                """SELECT column_name FROM information_schema.columns
                   WHERE table_catalog = 'wh' AND table_schema = ? AND table_name = ? ORDER BY
                   ordinal_position""",
                [schema, table],
            ).fetchall()
            if c not in entry.get("exclude_columns", [])
        ]
        if not columns:
            raise PublishError(f"serving table {name}: {source} not found in {settings.warehouse_path}")
        leaked = [c for c in columns if is_personal_column(c, personal)]
        if leaked:
            raise PublishError(
                f"serving table {name}: {source} has personal column(s) {leaked}; not published"
            )
        select = ", ".join(q(c) for c in columns)
        con.execute(f"CREATE TABLE main.{q(name)} AS SELECT {select} FROM wh.{q(schema)}.{q(table)}")
        text_columns = [
            c
            for (c,) in con.execute(
                """SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database()
                   AND table_schema = 'main' AND table_name = ? AND data_type = 'VARCHAR'""",
                [name],
            ).fetchall()
        ]
        for c in text_columns:
            hit = con.execute(
                f"SELECT {q(c)} IS NOT NULL FROM main.{q(name)} WHERE regexp_matches({q(c)}, ?) "
                f"OR regexp_matches({q(c)}, ?) LIMIT 1",
                [PHONE_VALUE, AADHAAR_VALUE],
            ).fetchone()
            if hit:
                raise PublishError(f"serving table {name}: column {c} holds phone- or Aadhaar-shaped values")
        rows[name] = con.execute(f"SELECT count(*) FROM main.{q(name)}").fetchone()[0]
    return rows


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


STALE_TMP_SECONDS = 3600


def _remove_stale_temp_files(serving: Path) -> None:
    """Temp files a crashed publication left behind (an hour old: no publication takes that long)."""
    for tmp in serving.parent.glob(f"{serving.name}.*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                tmp.unlink()
                log.info("removed stale %s", tmp)
        except FileNotFoundError:  # another publication finished with it meanwhile
            pass


def publish(target: Any = None, report: CheckReport | Iterable[CheckReport] | None = None) -> PublishResult:
    """Publish the serving tables when no blocking check failed in `report` (one report or several, e.g. the
    raw and marts stages of a run). Without a report, the marts checks are run first.

    `target` is the config (SangamConfig, a sources.yaml mapping, None for the default) or ServingPaths.
    Raises BlockingCheckFailed (naming each failed check and its observed value) or PublishError; in both
    cases the previous serving file is untouched.
    """
    settings = load_settings(target)
    started = time.perf_counter()
    if report is None:
        reports = [run_checks(settings.warehouse_path, settings, stage="marts")]
    elif isinstance(report, CheckReport):
        reports = [report]
    else:
        reports = list(report)
    if not any(rep.results for rep in reports):
        raise PublishError("not published: no check results were given (unchecked data is never published)")
    failures = [r for rep in reports for r in rep.blocking_failures]
    if failures:
        error = BlockingCheckFailed(failures)
        log.error("%s", error)
        raise error

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        personal = personal_columns(con, settings, load_spec())

    serving = settings.serving_path
    serving.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(serving)
    # Same folder as the target, so os.replace() is a rename on one filesystem; *.tmp is git-ignored.
    tmp = serving.with_name(f"{serving.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(f"ATTACH {_sql_string(settings.warehouse_path)} AS wh (READ_ONLY)")
            tables = _copy(con, settings, personal)
            con.execute("DETACH wh")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        Path(f"{tmp}.wal").unlink(missing_ok=True)  # empty after the checkpoint; never ship one
        _fsync(tmp)
        os.replace(tmp, serving)
        _fsync(serving.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise
    result = PublishResult(
        serving_path=serving,
        tables=tables,
        published_at=datetime.now(UTC),
        size_bytes=serving.stat().st_size,
        duration_s=round(time.perf_counter() - started, 2),
        warnings=[r for rep in reports for r in rep.warnings],
    )
    log.info(
        "published %d tables to %s in %.1fs (%d warnings)",
        len(tables),
        serving,
        result.duration_s,
        len(result.warnings),
    )
    return result
