"""Per-submission data-quality flags for the field workers' weekly scores.

The raw checks listed under `submission_flags` in checks.yaml write every failing submission to
dq.submission_flags (source, form, submission_id, flag, flagged_at). dbt's int_submissions joins that table
(an optional relation) and mart_field_worker_weekly turns the flags into dq_flags and dq_score per worker and
week, so the raw stage must run before dbt.
The table is replaced on every raw run: it describes the current data.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from quality.suites import Plan, load_spec

FLAGS_DDL = """
CREATE SCHEMA IF NOT EXISTS dq;
CREATE OR REPLACE TABLE dq.submission_flags (
    source VARCHAR NOT NULL,      -- sources.yaml source name (raw_<source>)
    form VARCHAR NOT NULL,        -- form table name
    submission_id VARCHAR NOT NULL,
    flag VARCHAR NOT NULL,        -- the check's name
    flagged_at TIMESTAMP NOT NULL
);
"""


def write_submission_flags(con: duckdb.DuckDBPyConnection, plan: Plan, now: datetime) -> int:
    """Replace dq.submission_flags from the plan's flagging checks; returns the number of flags written."""
    wanted = set(load_spec().get("submission_flags", []))
    selects = []
    for check in plan.checks:
        if check.flag_sql and (check.name in wanted or check.kind in wanted):
            schema, form = check.table.split(".", 1)
            source = schema.removeprefix("raw_")
            selects.append(
                f"SELECT '{source}', '{form}', CAST(submission_id AS VARCHAR), '{check.name}', "
                f"TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}' FROM ({check.flag_sql})"
            )
    con.execute(FLAGS_DDL)
    if selects:
        con.execute("INSERT INTO dq.submission_flags " + " UNION ALL ".join(selects))
    return con.execute("SELECT count(*) FROM dq.submission_flags").fetchone()[0]
