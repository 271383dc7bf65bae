"""A small serving.duckdb built from the columns of docs/contracts.md sections 4 and 5.

Used until (and alongside) the pipeline's own published file: the BI tests need a serving warehouse with
several states, so row-level security has something to hide, and every chart has rows to show.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

GEOGRAPHY = {
    ("MH", "Maharashtra"): [("MH_PUN", "Pune"), ("MH_NAG", "Nagpur")],
    ("UP", "Uttar Pradesh"): [("UP_LKO", "Lucknow"), ("UP_VAR", "Varanasi")],
    ("BR", "Bihar"): [("BR_PAT", "Patna"), ("BR_GAY", "Gaya")],
}
MONTHS = [date(2025, m, 1) for m in range(1, 13)]
SCHEMES = ["pmmvy", "janani_suraksha", "old_age_pension"]

INDICATOR_COUNTS = [
    "registered_pregnant_women",
    "deliveries",
    "institutional_deliveries",
    "women_delivered_with_anc4",
    "children_12_23_visited",
    "children_12_23_fully_immunized",
    "children_measured",
    "underweight",
    "stunted",
    "wasted",
    "home_visits",
]


def _pct(num: int | None, den: int | None) -> float | None:
    if num is None or not den:
        return None
    return round(100.0 * num / den, 1)


def _indicator_row(rng: random.Random) -> dict:
    r: dict = {}
    r["registered_pregnant_women"] = rng.randint(3, 60)
    r["deliveries"] = rng.randint(3, 50)
    r["institutional_deliveries"] = rng.randint(0, r["deliveries"])
    r["women_delivered_with_anc4"] = rng.randint(0, r["deliveries"])
    r["children_12_23_visited"] = rng.randint(2, 40)
    r["children_12_23_fully_immunized"] = rng.randint(0, r["children_12_23_visited"])
    r["children_measured"] = rng.randint(5, 80)
    for k in ("underweight", "stunted", "wasted"):
        r[k] = rng.randint(0, r["children_measured"] // 2)
    r["home_visits"] = rng.randint(20, 300)
    r["active_field_workers"] = rng.randint(2, 12)
    r["target_registrations"] = rng.randint(20, 60)
    return r


def _with_pcts(r: dict) -> dict:
    r["institutional_delivery_pct"] = _pct(r["institutional_deliveries"], r["deliveries"])
    r["anc4_pct"] = _pct(r["women_delivered_with_anc4"], r["deliveries"])
    r["fully_immunized_12_23_pct"] = _pct(r["children_12_23_fully_immunized"], r["children_12_23_visited"])
    for k in ("underweight", "stunted", "wasted"):
        r[f"{k}_pct"] = _pct(r[k], r["children_measured"])
    return r


def build_serving(path: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(
        """create table dim_geography (village_code varchar, village varchar, block_code varchar,
        block varchar, district_code varchar, district varchar, state_code varchar, state varchar)"""
    )
    con.execute(
        """create table dim_date (date_day date, month_start date, week_start date, year integer,
        month integer, iso_week integer)"""
    )
    con.execute(
        """create table mart_program_indicators_monthly (state_code varchar, state varchar,
        district_code varchar, district varchar, month date, registered_pregnant_women bigint,
        deliveries bigint, institutional_deliveries bigint, institutional_delivery_pct double,
        women_delivered_with_anc4 bigint, anc4_pct double, children_12_23_visited bigint,
        children_12_23_fully_immunized bigint, fully_immunized_12_23_pct double, children_measured bigint,
        underweight bigint, stunted bigint, wasted bigint, underweight_pct double, stunted_pct double,
        wasted_pct double, home_visits bigint, active_field_workers bigint, visits_per_field_worker double,
        target_registrations bigint, registration_coverage_pct double)"""
    )
    con.execute(
        """create table mart_scheme_applications (scheme varchar, state_code varchar, state varchar,
        district_code varchar, district varchar, month date, applications bigint, approvals bigint,
        rejections bigint, pending bigint, benefits_received bigint, median_days_to_benefit double)"""
    )
    con.execute(
        """create table mart_field_worker_weekly (worker_id varchar, supervisor_id varchar,
        state_code varchar, district_code varchar, week_start date, submissions bigint, home_visits bigint,
        late_submissions bigint, late_pct double, dq_flags bigint, dq_score double)"""
    )
    count_cols = ", ".join(f"{c} bigint" for c in INDICATOR_COUNTS)
    pct_cols = ", ".join(
        f"{c} double"
        for c in [
            "institutional_delivery_pct",
            "anc4_pct",
            "fully_immunized_12_23_pct",
            "underweight_pct",
            "stunted_pct",
            "wasted_pct",
        ]
    )
    con.execute(
        f"""create table mart_funder_summary (level varchar, geo_code varchar, state varchar,
        district varchar, month date, {count_cols}, active_field_workers bigint, target_registrations bigint,
        {pct_cols}, visits_per_field_worker double, registration_coverage_pct double, suppressed boolean)"""
    )
    con.execute(
        """create table mart_hmis_monthly (state varchar, district varchar, month date,
        indicator_code varchar, indicator_name varchar, value double)"""
    )
    con.execute(
        """create table dq_check_history (run_id varchar, checked_at timestamp, check_name varchar,
        table_name varchar, blocking boolean, passed boolean, observed_value varchar)"""
    )

    day = date(2025, 1, 1)
    while day <= date(2025, 12, 31):
        con.execute(
            "insert into dim_date values (?, ?, ?, ?, ?, ?)",
            [
                day,
                day.replace(day=1),
                day - timedelta(days=day.weekday()),
                day.year,
                day.month,
                day.isocalendar().week,
            ],
        )
        day += timedelta(days=1)

    for (state_code, state), districts in GEOGRAPHY.items():
        state_totals: dict[date, dict] = {}
        for district_code, district in districts:
            for b in (1, 2):
                for v in (1, 2):
                    con.execute(
                        "insert into dim_geography values (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            f"{district_code}_B{b}_V0{v}",
                            f"Village {v}",
                            f"{district_code}_B{b}",
                            f"Block {b}",
                            district_code,
                            district,
                            state_code,
                            state,
                        ],
                    )
            for month in MONTHS:
                r = _with_pcts(_indicator_row(rng))
                r["visits_per_field_worker"] = round(r["home_visits"] / r["active_field_workers"], 2)
                r["registration_coverage_pct"] = _pct(
                    r["registered_pregnant_women"], r["target_registrations"]
                )
                con.execute(
                    "insert into mart_program_indicators_monthly by name select * from (select "
                    + ", ".join(
                        f"? as {k}" for k in ["state_code", "state", "district_code", "district", "month", *r]
                    )
                    + ")",
                    [state_code, state, district_code, district, month, *r.values()],
                )
                keys = [*INDICATOR_COUNTS, "active_field_workers", "target_registrations"]
                totals = state_totals.setdefault(month, dict.fromkeys(keys, 0))
                for k in keys:
                    totals[k] += r[k]
                funder = {k: (r[k] if r[k] >= 5 else None) for k in INDICATOR_COUNTS}
                funder["active_field_workers"] = r["active_field_workers"]
                funder["target_registrations"] = r["target_registrations"]
                _insert_funder(con, "district", district_code, state, district, month, funder)
                for scheme in SCHEMES:
                    apps = rng.randint(5, 80)
                    approvals = rng.randint(0, apps)
                    rejections = rng.randint(0, apps - approvals)
                    con.execute(
                        "insert into mart_scheme_applications values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            scheme,
                            state_code,
                            state,
                            district_code,
                            district,
                            month,
                            apps,
                            approvals,
                            rejections,
                            apps - approvals - rejections,
                            rng.randint(0, approvals),
                            float(rng.randint(5, 90)),
                        ],
                    )
                for code, name in [("ANC4", "Women with 4+ ANC"), ("INST_DEL", "Institutional deliveries")]:
                    con.execute(
                        "insert into mart_hmis_monthly values (?, ?, ?, ?, ?, ?)",
                        [state, district, month, code, name, float(rng.randint(0, 50))],
                    )
            for w in range(1, 4):
                worker = f"W{district_code}{w:02d}"
                week = date(2025, 1, 6)
                while week < date(2025, 12, 29):
                    subs = rng.randint(0, 25)
                    late = rng.randint(0, subs)
                    con.execute(
                        "insert into mart_field_worker_weekly values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            worker,
                            f"S{district_code}",
                            state_code,
                            district_code,
                            week,
                            subs,
                            rng.randint(0, subs),
                            late,
                            _pct(late, subs),
                            rng.randint(0, 3),
                            float(rng.randint(60, 100)),
                        ],
                    )
                    week += timedelta(days=7)
        for month, totals in state_totals.items():
            _insert_funder(con, "state", state_code, state, None, month, dict(totals))

    checks = ["pregnancy_registration_unique", "gps_in_area", "ages_plausible", "weights_plausible"]
    for run in range(10):
        for i, check in enumerate(checks):
            con.execute(
                "insert into dq_check_history values (?, ?, ?, ?, ?, ?, ?)",
                [
                    f"run-{run:03d}",
                    datetime(2025, 12, 1) + timedelta(days=run),
                    check,
                    "raw_kobo.pregnancy_registration",
                    i == 0,
                    rng.random() > 0.2,
                    str(rng.randint(0, 9)),
                ],
            )
    con.close()
    return path


def _insert_funder(con, level, geo_code, state, district, month, counts: dict) -> None:
    row = _with_pcts(dict(counts))
    row["visits_per_field_worker"] = (
        None if row["home_visits"] is None else round(row["home_visits"] / row["active_field_workers"], 2)
    )
    row["registration_coverage_pct"] = _pct(row["registered_pregnant_women"], row["target_registrations"])
    suppressed = any(v is None for v in counts.values())
    cols = ["level", "geo_code", "state", "district", "month", *row, "suppressed"]
    con.execute(
        f"insert into mart_funder_summary ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
        [level, geo_code, state, district, month, *row.values(), suppressed],
    )
