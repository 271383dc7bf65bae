"""Per-field-worker weekly data-quality scores, computed in DuckDB from the raw form tables.

A submission is flagged when it breaks any row-level rule of checks.yaml (GPS outside the area, implausible
measurements, dates out of order) or is a resubmitted duplicate of a natural key. dq_flags counts the flagged
submissions of a worker in a week (by event date); dq_score = 100 x (1 - flagged / submissions).
Written to dq.field_worker_weekly_scores (worker_id, week_start, submissions, dq_flags, dq_score) for dbt's
mart_field_worker_weekly to join on (worker_id, week_start).
"""

from __future__ import annotations

import duckdb

from quality.settings import QualitySettings
from quality.suites import list_tables, load_spec, q

# The event date of each form (docs/contracts.md section 4) and its natural key for duplicates.
EVENT_DATES = {
    "pregnancy_registration": ("registration_date", ["woman_id"]),
    "child_health": ("visit_date", ["household_id", "visit_date"]),
    "anc_visit": ("visit_date", ["woman_id", "visit_date"]),
    "delivery": ("delivery_date", ["woman_id"]),
    "scheme_application": ("applied_date", ["application_id"]),
}

SCORES_DDL = """
CREATE SCHEMA IF NOT EXISTS dq;
CREATE OR REPLACE TABLE dq.field_worker_weekly_scores (
    worker_id VARCHAR NOT NULL,
    week_start DATE NOT NULL,
    submissions BIGINT NOT NULL,
    dq_flags BIGINT NOT NULL,
    dq_score DOUBLE NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (worker_id, week_start)
);
"""


def _flag_conditions(
    table_name: str, columns: dict[str, str], settings: QualitySettings, spec: dict
) -> list[str]:
    area = settings.area
    conditions = []
    for lat in [c for c in columns if c.endswith("_latitude")]:
        lon = lat.removesuffix("_latitude") + "_longitude"
        if lon in columns:
            conditions.append(
                f"({q(lat)} IS NOT NULL AND ({q(lat)} NOT BETWEEN {area.min_lat} AND {area.max_lat} OR "
                f"coalesce({q(lon)}, -999) NOT BETWEEN {area.min_lon} AND {area.max_lon}))"
            )
    for key, (lo, hi) in spec.get("plausible_ranges", {}).items():
        table, column = key.split(".", 1)
        if table == table_name and column in columns:
            conditions.append(f"(TRY_CAST({q(column)} AS DOUBLE) NOT BETWEEN {lo} AND {hi})")
    for rule in spec.get("date_order", []):
        if (
            rule["table"] == table_name
            and "earlier_table" not in rule
            and {rule["earlier"], rule["later"]} <= set(columns)
        ):
            conditions.append(
                f"(TRY_CAST({q(rule['earlier'])} AS DATE) > TRY_CAST({q(rule['later'])} AS DATE))"
            )
    return conditions


def scores_sql(con: duckdb.DuckDBPyConnection, settings: QualitySettings) -> str | None:
    spec = load_spec()
    parts = []
    for t in list_tables(con, "raw\\_%"):
        if t.name not in EVENT_DATES:
            continue
        event, key = EVENT_DATES[t.name]
        if not {"worker_id", event, "submitted_at", *key} <= t.columns.keys():
            continue
        conditions = _flag_conditions(t.name, t.columns, settings, spec)
        # A resubmission of an already-submitted natural key (the earliest one wins, the others are flagged).
        partition = ", ".join(q(k) for k in key)
        conditions.append(
            f"(row_number() OVER (PARTITION BY {partition} ORDER BY submitted_at, submission_id) > 1)"
        )
        live = "WHERE deleted_at IS NULL" if "deleted_at" in t.columns else ""
        parts.append(
            f"SELECT worker_id, "
            f"CAST(date_trunc('week', TRY_CAST({q(event)} AS DATE)) AS DATE) AS week_start, "
            f"({' OR '.join(conditions)}) AS flagged FROM {t.ref} {live}"
        )
    if not parts:
        return None
    union = " UNION ALL ".join(parts)
    return (
        f"SELECT worker_id, week_start, count(*) AS submissions, "
        f"count(*) FILTER (WHERE flagged) AS dq_flags, "
        f"round(100.0 * (1 - count(*) FILTER (WHERE flagged) / count(*)), 1) AS dq_score, "
        f"CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AS computed_at "
        f"FROM ({union}) WHERE worker_id IS NOT NULL AND week_start IS NOT NULL GROUP BY 1, 2"
    )


def write_field_worker_scores(con: duckdb.DuckDBPyConnection, settings: QualitySettings) -> int:
    """Replace dq.field_worker_weekly_scores; returns its row count (the table exists, maybe empty)."""
    select = scores_sql(con, settings)
    con.execute(SCORES_DDL)
    if select is not None:
        con.execute(f"INSERT INTO dq.field_worker_weekly_scores {select}")
    return con.execute("SELECT count(*) FROM dq.field_worker_weekly_scores").fetchone()[0]
